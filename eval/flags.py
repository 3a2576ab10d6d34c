"""Answers that a metric alone hides: empty, cut off by the token budget, unparsed, no exam letter.

A model that answers nothing scores ``0.000 [0.000, 0.000]``, a confident-looking zero. These flags say
*why* a record scored what it did; every report format counts them per model and dataset and warns when
one exceeds ``WARN_SHARE`` of the answers.

Per record (from its prediction, the generator's finish reason and the task's own columns):

- ``empty``: the answer is blank after stripping.
- ``truncated``: generation stopped at ``max_new_tokens`` (finish reason ``length``), the answer is cut off.
- ``unparsed``: an mrg answer holds no report object (column ``parsed`` = 0).
- ``unextracted``: an exam answer names no option letter (column ``unextracted`` = 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

#: Every flag, in report order, with the words a warning uses.
FLAGS = {"empty": "empty answers", "truncated": "answers cut off at max_new_tokens",
         "unparsed": "unparsed reports", "unextracted": "answers with no option letter"}
#: A flag on more than this share of a model's answers on a set gets a warning line.
WARN_SHARE = 0.05
LENGTH = "length"


def record_flags(prediction: str, finish_reason: str | None, row: Mapping[str, float]) -> list[str]:
    """The flags of one record, in ``FLAGS`` order."""
    flags = []
    if not prediction.strip():
        flags.append("empty")
    if finish_reason == LENGTH:
        flags.append("truncated")
    if row.get("parsed") == 0.0:
        flags.append("unparsed")
    if row.get("unextracted") == 1.0:
        flags.append("unextracted")
    return flags


def count_flags(predictions: Sequence[str], finish_reasons: Sequence[str | None],
                columns: Sequence[Mapping[str, float]]) -> dict[str, int | None]:
    """Counts per flag over a set. A flag the set cannot have is left out (``unparsed`` outside mrg);
    ``truncated`` is None when no finish reason is known (predictions cached before they were recorded)."""
    first = columns[0] if columns else {}
    counts: dict[str, int | None] = {"empty": 0, "truncated": 0}
    if "parsed" in first:
        counts["unparsed"] = 0
    if "unextracted" in first:
        counts["unextracted"] = 0
    for prediction, reason, row in zip(predictions, finish_reasons, columns, strict=True):
        for flag in record_flags(prediction, reason, row):
            counts[flag] += 1
    if predictions and all(reason is None for reason in finish_reasons):
        counts["truncated"] = None
    return counts


def warnings(results: Mapping[str, Mapping[str, Mapping]]) -> list[str]:
    """One line per (model, dataset, flag) above ``WARN_SHARE``: ``tuned · med_mrg_test: 12/100 (12.0 %) unparsed
    reports``."""
    lines = []
    for model, per_dataset in results.items():
        for dataset, entry in per_dataset.items():
            n = entry.get("n") or 0
            for flag, count in (entry.get("flags") or {}).items():
                if count is not None and n and count / n > WARN_SHARE:
                    lines.append(f"warning: {model} · {dataset}: {count}/{n} ({100 * count / n:.1f} %) {FLAGS[flag]}")
    return lines


def format_flags(flags: Mapping[str, int | None] | None, n: int) -> str:
    """``empty 0 · truncated 3 (3.0 %) · unparsed 12 (12.0 %)`` ( ``?`` where unknown)."""
    if not flags:
        return "—"
    parts = []
    for flag, count in flags.items():
        if count is None:
            parts.append(f"{flag} ?")
        elif count and n:
            parts.append(f"{flag} {count} ({100 * count / n:.1f} %)")
        else:
            parts.append(f"{flag} {count}")
    return " · ".join(parts)
