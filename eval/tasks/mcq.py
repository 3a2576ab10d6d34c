"""mcq: medical licensing-exam multiple choice (CMB-Exam, CMExam, CMMLU), converted by bridge's exam sources.

Per record: the letters the model chose (``eval.mcq_extract``; a ``loglik`` prediction is already one
letter) against the answer, by set equality — ``AC`` and ``CA`` are the same answer, ``A`` for ``AC`` is
wrong. An answer with no extractable letter is wrong and counted in ``unextracted``.

Metrics:

- ``accuracy``: correct / questions (CMExam's paper reports this number).
- ``score``: the benchmark's own headline. CMB: accuracy per ``exam_class`` (subject), averaged within
  each ``exam_type`` (category), then averaged over the exam types — the per-type numbers are exactly
  those of CMB's official ``score.py`` (``accuracy_per_category``), the headline their mean. CMMLU:
  the mean of the per-subject accuracies, as its authors' ``get_results`` reports "Overall". CMExam and
  anything else: ``accuracy``.
- ``category/<name>``: CMB and CMMLU average their subjects' accuracies (score.py; CMMLU's per-category
  averages); CMExam pools the questions. ``subject/<name>``: accuracy over the subject's questions.
  ``type/单项选择题``, ``type/多项选择题``: accuracy per question type. ``unextracted``: share with no answer.

Every metric is computed from per-record indicator columns (``n|category|subject`` and
``correct|category|subject`` per group, a ``rule|…`` marker), so the paired bootstrap recomputes the
per-group averages on every resample.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from bridge.exam import MULTI, answer_letters
from eval.bootstrap import safe_ratio
from eval.mcq_extract import extract_choice
from eval.tasks.base import Columns, Task

#: How each exam's headline and category averages are formed (see the module docstring).
RULES = {"cmb": "cmb", "cmmlu": "cmmlu"}
MICRO = "micro"
SEP = "|"


def _clean(name) -> str:
    return str(name or "—").replace(SEP, "/")


def groups_of(record: Mapping) -> list[tuple[str, str]]:
    """The (category, subject) groups a question counts in: one, or one per category (CMMLU's 中医中药 is in
    Other and China specific)."""
    categories = record.get("categories") or [record.get("category")]
    return [(_clean(category), _clean(record.get("subject"))) for category in categories]


def rule_of(records: Sequence[Mapping]) -> str:
    """The headline rule of a set: its exam's own when every record comes from that exam, else plain accuracy."""
    exams = {record.get("exam") for record in records}
    return RULES.get(exams.pop(), MICRO) if len(exams) == 1 else MICRO


def is_multi(record: Mapping) -> bool:
    """A multi-answer question (多项选择题), by its type or by its answer."""
    return record.get("question_type") == MULTI or len(answer_letters(record.get("answer", record["output"])) or "") > 1


def chance_of(records: Sequence[Mapping]) -> float | None:
    """Expected accuracy of a uniform guess: the mean of 1/number of options over the set's questions (a
    multi-answer question counted the same; None when no record lists options)."""
    counts = [len(record["options"]) for record in records if record.get("options")]
    return sum(1 / c for c in counts) / len(counts) if counts else None


def score(predictions: Sequence[str], records: Sequence[dict]) -> Columns:
    """Per record: ``correct``, ``unextracted``, the question type and its groups as indicator columns.

    Every record gets every column of the set (zeros elsewhere), so the columns line up for the bootstrap.
    """
    rule = f"rule{SEP}{rule_of(records)}"
    groups = sorted({group for record in records for group in groups_of(record)})
    types = sorted({_clean(record.get("question_type")) for record in records})
    columns = []
    for prediction, record in zip(predictions, records, strict=True):
        gold = answer_letters(record.get("answer", record["output"]))
        options = record.get("options") or {letter: "" for letter in gold or ""}
        chosen = extract_choice(prediction, options, multi=is_multi(record))
        correct = float(chosen is not None and chosen == gold)
        row = {"correct": correct, "unextracted": float(chosen is None), rule: 1.0}
        mine = set(groups_of(record))
        for category, subject in groups:
            hit = (category, subject) in mine
            row[f"n{SEP}{category}{SEP}{subject}"] = float(hit)
            row[f"correct{SEP}{category}{SEP}{subject}"] = correct if hit else 0.0
        for kind in types:
            hit = _clean(record.get("question_type")) == kind
            row[f"n{SEP}type{SEP}{kind}"] = float(hit)
            row[f"correct{SEP}type{SEP}{kind}"] = correct if hit else 0.0
        columns.append(row)
    return columns


def _macro(accuracies: list[np.ndarray], counts: list[np.ndarray]) -> np.ndarray:
    """The mean of the group accuracies over the groups that have questions (in this resample)."""
    present = sum((c > 0).astype(np.float64) for c in counts)
    return safe_ratio(sum(a * (c > 0) for a, c in zip(accuracies, counts, strict=True)), present)


def summarise(sums: Mapping[str, np.ndarray], n: np.ndarray) -> dict[str, np.ndarray]:
    """``score``, ``accuracy``, ``unextracted``, then per type, category and subject (see the module docstring)."""
    rule = next((name.split(SEP, 1)[1] for name in sums if name.startswith(f"rule{SEP}")), MICRO)
    accuracy = safe_ratio(sums["correct"], n)
    pairs: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    types: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, total in sums.items():
        kind, _, rest = name.partition(SEP)
        if kind != "n":
            continue
        first, _, second = rest.partition(SEP)
        correct = sums[f"correct{SEP}{rest}"]
        if first == "type":
            types[second] = (correct, total)
        else:
            pairs[(first, second)] = (correct, total)
    by_subject: dict[str, list] = {}
    by_category: dict[str, list] = {}
    for (category, subject), group in pairs.items():
        by_subject.setdefault(subject, []).append(group)
        by_category.setdefault(category, []).append(group)
    subject_acc = {s: (safe_ratio(sum(c for c, _ in g), sum(t for _, t in g)), sum(t for _, t in g))
                   for s, g in by_subject.items()}
    category_acc = {}
    for category, group in by_category.items():
        if rule in ("cmb", "cmmlu"):
            category_acc[category] = _macro([safe_ratio(c, t) for c, t in group], [t for _, t in group])
        else:
            category_acc[category] = safe_ratio(sum(c for c, _ in group), sum(t for _, t in group))
    if rule == "cmb":
        headline = _macro(list(category_acc.values()),
                          [sum(t for _, t in by_category[c]) for c in category_acc])
    elif rule == "cmmlu":
        headline = _macro([a for a, _ in subject_acc.values()], [t for _, t in subject_acc.values()])
    else:
        headline = accuracy
    metrics = {"score": headline, "accuracy": accuracy, "unextracted": safe_ratio(sums["unextracted"], n)}
    metrics.update({f"type/{kind}": safe_ratio(c, t) for kind, (c, t) in sorted(types.items())})
    metrics.update({f"category/{name}": value for name, value in sorted(category_acc.items())})
    metrics.update({f"subject/{name}": value for name, (value, _) in sorted(subject_acc.items())})
    return metrics


TASK = Task("mcq", score, headline="score", max_new_tokens=64, summarise=summarise, record_column="correct")
