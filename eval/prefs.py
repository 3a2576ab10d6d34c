"""Preference data from medft's own signals: graded exam answers, and the judge's pairwise verdicts.

Lives at eval's floor because it generates with eval's predict / remote paths, grades with eval's mcq
scorer and reads the judge's verdicts; the record formats, the leak check and the registration are
bridge's (``bridge.prefs``), imported here.

**Exam answers** (:func:`exam_preferences`). For each question of an exam's *training* split (``med_cmb``,
``med_cmexam``), ``k`` answers are sampled from a model (temperature > 0; sample ``j`` is generated with
seed ``seed + j``, so the set is reproducible and a rerun reuses the cached samples), each graded against
the key by the mcq scorer (``eval.tasks.mcq``: letters extracted by ``eval.mcq_extract``, set equality; an
answer with no letter is wrong, as in eval). A question with at least one right and one wrong answer gives a
pair: chosen = its first right sample, rejected = its first wrong one (in sample order). The others are
counted by reason: ``all_correct``, ``all_wrong``, ``no_options`` (a prompt whose options cannot be read).

**Judge verdicts** (:func:`judge_preferences`). An eval report directory that was judged pairwise (``eval
judge --mode pairwise``) on training-split prompts: a record gives a pair when both position orders were
parsed and name the same winner (swap-consistent, not a tie, ``eval.judge.aggregate.combined``); chosen =
the winner's answer, rejected = the loser's. Counted otherwise: ``tie``, ``inconsistent``, ``unparsed``.
Verdicts on a held-out set are refused: their prompts are what evaluation measures.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bridge.exam import parse_options
from bridge.heldout import heldout_names
from bridge.prefs import RANKING, SUFFIXES, kto_records, ranking_record, write_preferences
from eval.heldout import load_records, task_of
from eval.models import ModelSpec
from eval.predict import GenerationSettings


class PrefsError(ValueError):
    """Preferences cannot be built as asked (the message names the dataset, model or file)."""


@dataclass(frozen=True)
class Sampling:
    """How exam answers are sampled: ``k`` per question, at ``temperature`` (must be > 0), seeded."""

    k: int = 4
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 16
    seed: int = 42

    def settings(self, j: int) -> GenerationSettings:
        """The generation settings of sample ``j`` (its own seed, so its cache key differs)."""
        return GenerationSettings(max_new_tokens=self.max_new_tokens, do_sample=True, temperature=self.temperature,
                                  top_p=self.top_p, seed=self.seed + j)


def graded_records(records: Sequence[dict]) -> list[dict | None]:
    """Each training record with the ``options`` its prompt lists (bridge.exam's rendering), None when the
    prompt lists none — the mcq scorer needs the options to tell a wrong letter from no letter."""
    out: list[dict | None] = []
    for record in records:
        options = parse_options("\n".join(p for p in (record.get("instruction"), record.get("input")) if p))
        out.append({**record, "options": options} if options else None)
    return out


def exam_pairs(records: Sequence[dict], samples: Sequence[Sequence[str]]) -> tuple[list[dict], Counter]:
    """Ranking pairs from ``samples[j][i]`` (sample ``j`` of question ``i``) graded by the mcq scorer, and the
    count of questions left out by reason (see the module docstring)."""
    from eval.tasks import mcq

    dropped: Counter = Counter()
    graded = graded_records(records)
    usable = [i for i, record in enumerate(graded) if record is not None]
    dropped["no_options"] += len(records) - len(usable)
    correct = [[False] * len(records) for _ in samples]
    for j, texts in enumerate(samples):
        columns = mcq.score([texts[i] for i in usable], [graded[i] for i in usable]) if usable else []
        for i, row in zip(usable, columns, strict=True):
            correct[j][i] = row["correct"] == 1.0
    pairs = []
    for i in usable:
        right = [samples[j][i] for j in range(len(samples)) if correct[j][i]]
        wrong = [samples[j][i] for j in range(len(samples)) if not correct[j][i]]
        if not right:
            dropped["all_wrong"] += 1
        elif not wrong:
            dropped["all_correct"] += 1
        else:
            record = records[i]
            pairs.append(ranking_record(record["instruction"], right[0], wrong[0], record.get("input", "")))
    return pairs, dropped


def sample_answers(spec: ModelSpec, records: Sequence[dict], sampling: Sampling, cache_dir: Path, dataset: str,
                   template: str = "qwen", batch_size: int = 8, concurrency: int = 8) -> list[list[str]]:
    """``sampling.k`` sampled answers per record, in-process or through ``spec``'s server; cached in
    ``cache_dir/<label>/<dataset>.jsonl`` (eval.predict's append-only file: a rerun reuses them)."""
    from eval import remote
    from eval.predict import generate

    path = cache_dir / spec.label / f"{dataset}.jsonl"
    samples = []
    for j in range(sampling.k):
        settings = sampling.settings(j)
        if spec.endpoint:
            samples.append(list(remote.generate(spec, list(records), path, settings, concurrency)))
        else:
            samples.append(list(generate(spec, list(records), path, template, settings, batch_size=batch_size)))
    return samples


def _check_training_set(dataset_dir: Path, dataset: str) -> None:
    held = heldout_names(dataset_dir)
    if dataset in held:
        raise PrefsError(f"{dataset} is a held-out set ({held[dataset]}): preferences are built from an exam's "
                         f"training split (e.g. {dataset.rsplit('_', 1)[0]}), never from what eval scores")


def _name(dataset: str, kind: str, name: str | None) -> str:
    return name or f"{dataset}{SUFFIXES[kind]}"


def _as_kind(pairs: list[dict], kind: str) -> list[dict]:
    return pairs if kind == RANKING else [record for pair in pairs for record in kto_records(pair)]


def exam_preferences(dataset_dir: Path, dataset: str, spec: ModelSpec, cache_dir: Path,
                     sampling: Sampling = Sampling(), template: str | None = None, kind: str = RANKING,
                     name: str | None = None, limit: int | None = None, batch_size: int = 8, concurrency: int = 8,
                     force: bool = False) -> dict:
    """Sample, grade and pair an exam training split's answers; write and register the (leak-checked) set.

    Returns bridge.prefs.write_preferences' summary. ``limit`` takes the first N questions.
    """
    if sampling.temperature <= 0 or sampling.k < 2:
        raise PrefsError(f"sampling needs a temperature above 0 and k of at least 2 answers per question (got "
                         f"temperature {sampling.temperature}, k {sampling.k}): greedy answers are all the same")
    _check_training_set(dataset_dir, dataset)
    if task_of(dataset) != "mcq":
        raise PrefsError(f"{dataset} is not an exam set (its task is {task_of(dataset)}): exam preferences grade "
                         "answers against an answer key (med_cmb, med_cmexam)")
    records = load_records(dataset_dir, dataset, limit)
    template = template or spec.template or "qwen"
    samples = sample_answers(spec, records, sampling, cache_dir, dataset, template, batch_size, concurrency)
    pairs, dropped = exam_pairs(records, samples)
    if not pairs:
        raise PrefsError(f"{dataset}: no question of {len(records)} had both a right and a wrong answer among "
                         f"{sampling.k} samples ({dict(sorted(dropped.items()))}); raise k or the temperature, or "
                         "sample from a model that answers some questions right")
    provenance = {"source": "exam", "dataset": dataset, "questions": len(records),
                  "generator": {"label": spec.label, "model": spec.model, "adapter": spec.adapter,
                                "endpoint": spec.endpoint, "template": None if spec.endpoint else template},
                  "sampling": {**sampling.__dict__, "seeds": [sampling.seed + j for j in range(sampling.k)]},
                  "grading": "eval.tasks.mcq (eval.mcq_extract letters, set equality; no letter = wrong)",
                  "pairs": len(pairs), "seed": sampling.seed}
    return write_preferences(dataset_dir, _name(dataset, kind, name), _as_kind(pairs, kind), kind, provenance,
                             dropped, force)


def judge_pairs(out_dir: Path, rubric: str = "medical_zh", models: tuple[str, str] | None = None,
                dataset_dir: Path | None = None) -> tuple[list[dict], Counter, dict]:
    """Ranking pairs from the swap-consistent, non-tie pairwise verdicts in ``out_dir/judge/<rubric>/pairwise``,
    the count of records left out by reason, and the provenance (judge, rubric, models)."""
    from eval.judge.aggregate import combined
    from eval.judge.report import read_judgements
    from eval.judge.run import JudgeError, load_answers

    judged = out_dir / "judge" / rubric / "pairwise"
    try:
        report = json.loads((judged / "report.json").read_text(encoding="utf-8"))
        found = read_judgements(judged / "judgements.jsonl")
    except FileNotFoundError as exc:
        raise PrefsError(f"{exc.filename} does not exist: judge the report pairwise first "
                         f"(python -m eval judge {out_dir} --judge ... --mode pairwise)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PrefsError(f"{judged}/report.json is not valid JSON: {exc}") from None
    except ValueError as exc:
        raise PrefsError(str(exc)) from None
    judged_models = list(report.get("models") or [])
    pair = tuple(models) if models else tuple(judged_models[:2])
    if len(pair) != 2 or any(m not in judged_models for m in pair):
        raise PrefsError(f"{judged}: choose two of its judged models {judged_models} (got {list(pair)})")
    outcomes = {(o.call.dataset, o.call.index, o.call.models): o for o in found}
    datasets = sorted({key[0] for key in outcomes})
    source = Path(dataset_dir or report.get("dataset_dir") or _report_dataset_dir(out_dir))
    held = heldout_names(source)
    refused = [d for d in datasets if d in held]
    if refused:
        raise PrefsError(f"{judged} judged held-out set(s) {', '.join(refused)}: preferences come from training-"
                         "split prompts only (eval + judge a training set, e.g. med_dialog, with --limit)")
    try:
        _, answers = load_answers(out_dir, list(pair), datasets, source)
    except JudgeError as exc:
        raise PrefsError(str(exc)) from None
    a, b = pair
    dropped: Counter = Counter()
    pairs = []
    for dataset in datasets:
        entry = answers[dataset]
        for index, record in enumerate(entry.records):
            first, swapped = outcomes.get((dataset, index, (a, b))), outcomes.get((dataset, index, (b, a)))
            if first is None and swapped is None:
                continue
            winner, consistent = combined(first, swapped, a, b)
            if winner is None:
                dropped["unparsed"] += 1
            elif winner == "tie":
                dropped["tie" if consistent else "inconsistent"] += 1
            else:
                loser = b if winner == a else a
                chosen, rejected = entry.predictions[winner][index], entry.predictions[loser][index]
                if chosen.strip() and rejected.strip() and chosen != rejected:
                    pairs.append(ranking_record(record["instruction"], chosen, rejected, record.get("input", "")))
                else:
                    dropped["empty_or_same_answer"] += 1
    provenance = {"source": "judge", "report": str(out_dir.resolve()), "judge": report.get("judge"),
                  "judge_id": report.get("judge_id"), "rubric": report.get("rubric"), "models": list(pair),
                  "datasets": datasets, "rule": "both position orders parsed and naming the same model; ties and "
                  "inconsistent orders dropped", "pairs": len(pairs)}
    return pairs, dropped, provenance


def _report_dataset_dir(out_dir: Path) -> str:
    try:
        return json.loads((out_dir / "report.json").read_text(encoding="utf-8")).get("dataset_dir") or "dataset_info"
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return "dataset_info"


def judge_preferences(out_dir: Path, dataset_dir: Path, name: str, rubric: str = "medical_zh",
                      models: tuple[str, str] | None = None, kind: str = RANKING, force: bool = False) -> dict:
    """Write and register the (leak-checked) preference set of a pairwise-judged report as ``name``."""
    pairs, dropped, provenance = judge_pairs(out_dir, rubric, models, dataset_dir)
    if not pairs:
        raise PrefsError(f"{out_dir}: no swap-consistent, non-tie verdict to learn from "
                         f"({dict(sorted(dropped.items()))})")
    return write_preferences(dataset_dir, name, _as_kind(pairs, kind), kind, provenance, dropped, force)

