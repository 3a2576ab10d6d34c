"""Judge an eval run's cached predictions: pointwise scores, or pairwise verdicts with swapped positions.

Inputs come from an eval report directory (``OUT``): its ``report.json`` (models in order, datasets,
dataset_dir) and ``scores/<model>/<dataset>.jsonl`` (each record's prediction, exactly as scored).
Nothing is regenerated. Every judge call's reply is cached in ``OUT/judge/cache.jsonl``; an
unparsable reply gets one retry (the conversation so far plus the rubric's reminder of the format),
and if that fails too the call counts as *unparsed*: reported, and excluded from every mean and rate.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

from eval.heldout import HeldoutError, load_records
from eval.judge import cache
from eval.judge.rubric import Messages, Rubric
from medft.names import name_problem

MODES = ("pointwise", "pairwise")
#: What the judge sees for an empty prediction: an empty slot in the prompt reads like a formatting slip.
NO_ANSWER = "（无回答）"


class JudgeError(ValueError):
    """The judge cannot run as asked (the message names the file, model or option)."""


@dataclass(frozen=True)
class Call:
    """One judge call: what it judges and the messages that ask it.

    ``models`` is ``(model,)`` for pointwise and ``(shown as A, shown as B)`` for pairwise.
    """

    dataset: str
    index: int
    models: tuple[str, ...]
    messages: Messages


@dataclass
class Outcome:
    """A call after at most one retry: the parsed verdict (None = unparsed) and the reply it came from."""

    call: Call
    parsed: dict | str | None
    reply: str
    attempts: int


@dataclass
class Answers:
    """The held-out records of one dataset and every model's prediction for them, in record order."""

    records: list[dict]
    predictions: dict[str, list[str]] = field(default_factory=dict)


def question_of(record: dict) -> str:
    """The question as the model saw it: ``instruction`` and ``input`` joined by a newline."""
    return "\n".join(part for part in (record.get("instruction"), record.get("input")) if part)


def load_answers(out_dir: Path, models: list[str] | None = None, datasets: list[str] | None = None,
                 dataset_dir: Path | None = None, limit: int | None = None, allow_partial: bool = False,
                 warn: Callable[[str], None] | None = None) -> tuple[list[str], dict[str, Answers]]:
    """Models (in the report's order, the first is the baseline) and each dataset's records + predictions.

    Every model is judged on the same records. Where some models have scored predictions for fewer records
    than others (eval run with another ``--limit``, or interrupted), JudgeError names each model's count,
    unless ``allow_partial``: then the records all of them answered are judged and ``warn`` is told.
    """
    report_path = out_dir / "report.json"
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise JudgeError(f"{report_path} does not exist: run `make eval ... OUT={out_dir}` first (the judge "
                         "reads its scored predictions)") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise JudgeError(f"{report_path} is not valid JSON: {exc}") from exc
    known = list(report.get("models") or report.get("results") or {})
    chosen = list(models) if models else known
    for label in chosen:
        if label not in known:
            raise JudgeError(f"model {label!r} is not in {report_path}; its models: {known}")
        if name_problem(label):  # a label is read back as OUT/scores/<label>/: a forged report must not steer it
            raise JudgeError(f"{report_path}: model label {label!r} is not allowed: {name_problem(label)}")
    if len(set(chosen)) != len(chosen):
        raise JudgeError(f"models must be unique, got {chosen}")
    sets = list(datasets) if datasets else list(report.get("datasets") or [])
    for name in sets:
        if name not in (report.get("datasets") or []):
            raise JudgeError(f"dataset {name!r} is not in {report_path}; its datasets: {report.get('datasets')}")
    source = Path(dataset_dir or report.get("dataset_dir") or "dataset_info")
    answers = {}
    for name in sets:
        try:
            # The records eval scored: its --limit (first N, or its seeded sample) taken the same way again.
            records = load_records(source, name, report.get("limit"), report.get("limit_mode", "first"),
                                   report.get("sample_seed", 42))
        except HeldoutError as exc:
            raise JudgeError(f"{exc} (pass --dataset-dir where eval read {name!r})") from exc
        entry = Answers(records)
        for label in chosen:
            entry.predictions[label] = _scored_predictions(out_dir, label, name, records)
        size = min(len(p) for p in entry.predictions.values()) if chosen else 0
        wanted = min(len(records), limit) if limit else len(records)
        counts = {label: min(len(p), wanted) for label, p in entry.predictions.items()}
        if len(set(counts.values())) > 1:
            shown = ", ".join(f"{label} {count}" for label, count in counts.items())
            problem = (f"{name}: the models have predictions for different numbers of its {wanted} records "
                       f"({shown}); only the first {size} could be judged")
            if not allow_partial:
                raise JudgeError(f"{problem}. Rerun eval for the missing ones (same OUT: answers already there are "
                                 f"reused), or pass --allow-partial (ALLOW_PARTIAL=1) to judge those {size}")
            if warn:
                warn(problem)
        size = min(size, limit) if limit else size
        entry.records = records[:size]
        entry.predictions = {label: p[:size] for label, p in entry.predictions.items()}
        answers[name] = entry
    return chosen, answers


def _scored_predictions(out_dir: Path, label: str, dataset: str, records: list[dict]) -> list[str]:
    path = out_dir / "scores" / label / f"{dataset}.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise JudgeError(f"{path} does not exist: eval has not scored {label!r} on {dataset!r} in {out_dir}") from exc
    predictions = []
    for number, line in enumerate(lines, 1):
        try:
            entry = json.loads(line)
            index, prediction = entry["index"], entry["prediction"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise JudgeError(f"{path}, line {number}: not a scored prediction ({exc})") from exc
        if index != len(predictions) or index >= len(records):
            raise JudgeError(f"{path}, line {number}: record index {index} out of order or beyond {dataset!r}")
        if "reference" in entry and entry["reference"] != records[index].get("output"):
            raise JudgeError(f"{path}, line {number}: its reference differs from record {index} of {dataset!r}: "
                             "eval read another file (pass the --dataset-dir it used)")
        predictions.append(str(prediction))
    return predictions


def plan_calls(rubric: Rubric, mode: str, models: list[str], answers: dict[str, Answers]) -> list[Call]:
    """Every judge call, in a fixed order: dataset, record, then model (pointwise) or pair and order."""
    if mode not in MODES:
        raise JudgeError(f"--mode {mode!r}: choose pointwise or pairwise")
    if mode == "pairwise" and len(models) < 2:
        raise JudgeError(f"pairwise judging needs two or more models, got {models}")
    calls = []
    for dataset, entry in answers.items():
        for index, record in enumerate(entry.records):
            fields = {"question": question_of(record), "reference": str(record.get("output", ""))}
            if mode == "pointwise":
                for model in models:
                    messages = rubric.messages(mode, answer=entry.predictions[model][index] or NO_ANSWER, **fields)
                    calls.append(Call(dataset, index, (model,), messages))
                continue
            for first, second in combinations(models, 2):
                for a, b in ((first, second), (second, first)):  # both positions, so position bias cancels
                    messages = rubric.messages(mode, answer_a=entry.predictions[a][index] or NO_ANSWER,
                                               answer_b=entry.predictions[b][index] or NO_ANSWER, **fields)
                    calls.append(Call(dataset, index, (a, b), messages))
    return calls


@dataclass
class Costs:
    """What judging will ask: calls in all, those the cache answers, and the distinct prompts left to send
    (two models with the same answer to a question make one prompt, judged once)."""

    calls: int
    cached: int
    to_make: int


def costs(calls: list[Call], judge, cache_path: Path) -> Costs:
    """Count the first-attempt calls, how many the cache already answers, and how many will be sent."""
    replies = cache.read(cache_path)
    settings = judge.cache_settings()
    keys = [cache.call_key(judge.identity, c.messages, settings) for c in calls]
    return Costs(len(calls), sum(key in replies for key in keys), len({key for key in keys if key not in replies}))


def judge_calls(calls: list[Call], judge, rubric: Rubric, mode: str, cache_path: Path,
                on_reply: Callable[[int], None] | None = None) -> list[Outcome]:
    """Ask the judge every call not yet cached, retry unparsable replies once, return one outcome per call."""
    settings = judge.cache_settings()
    replies = cache.read(cache_path)
    first_keys = [cache.call_key(judge.identity, c.messages, settings) for c in calls]

    def ask(conversations: dict[int, Messages], keys: dict[int, str], attempt: int, appender) -> None:
        def keep(i: int, reply: str) -> None:
            replies[keys[i]] = reply
            call = calls[i]
            appender.add(keys[i], reply, judge=judge.identity, mode=mode, dataset=call.dataset, index=call.index,
                         models=list(call.models), attempt=attempt)
            if on_reply:
                on_reply(1)

        first_of_key: dict[str, int] = {}
        for i in sorted(conversations):
            first_of_key.setdefault(keys[i], i)  # identical prompts (same answer from two models): ask once
        judge.complete([(i, conversations[i]) for i in first_of_key.values()], keep)

    with cache.Appender(cache_path) as appender:
        todo = {i: c.messages for i, c in enumerate(calls) if first_keys[i] not in replies}
        ask(todo, dict(enumerate(first_keys)), 1, appender)
        retry_messages, retry_keys = {}, {}
        for i, call in enumerate(calls):
            reply = replies[first_keys[i]]
            if rubric.parse(mode, reply) is None:
                retry_messages[i] = rubric.retry_messages(mode, call.messages, reply)
                retry_keys[i] = cache.call_key(judge.identity, retry_messages[i], settings)
        ask({i: m for i, m in retry_messages.items() if retry_keys[i] not in replies}, retry_keys, 2, appender)
    outcomes = []
    for i, call in enumerate(calls):
        reply = replies[first_keys[i]]
        if i not in retry_keys:
            outcomes.append(Outcome(call, rubric.parse(mode, reply), reply, 1))
            continue
        second = replies[retry_keys[i]]
        outcomes.append(Outcome(call, rubric.parse(mode, second), second, 2))
    return outcomes
