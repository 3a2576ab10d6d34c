"""What a task is: how to score one record, and how record totals become the reported metrics.

A task's ``score`` turns predictions and held-out records into numeric columns, one dict per record.
Its ``summarise`` turns the *totals* of those columns (over the records, or over a bootstrap
resample of them) into metrics, with numpy operations only, so ``eval.bootstrap`` can recompute
every metric — corpus-level ones included — on a thousand resamples at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from eval.bootstrap import Summarise, mean_columns

#: Per-record numeric columns, one dict per held-out record.
Columns = list[dict[str, float]]
#: BERTScore columns of a task: (predictions, records, bert model dir) -> column -> one value per record.
BertColumns = Callable[[Sequence[str], Sequence[dict], str], dict[str, list[float]]]


@dataclass(frozen=True)
class Task:
    """One held-out task: scorer, summary, the metric its tables lead with, and a generation budget."""

    name: str
    score: Callable[[Sequence[str], Sequence[dict]], Columns]
    headline: str
    max_new_tokens: int
    summarise: Summarise = mean_columns
    #: Extra per-record BERTScore columns when a BERT model is given (None: the task has none).
    bertscore: BertColumns | None = None
    #: The column that is one record's share of the headline (the HTML report sorts records by its Δ);
    #: None: the column named like the headline. ``record_score`` may derive it from several columns.
    record_column: str | None = None
    record_score: Callable[[Mapping[str, float]], float] | None = None

    def score_of(self, row: Mapping[str, float]) -> float | None:
        """One record's headline score from its columns (None when they lack it)."""
        if self.record_score is not None:
            try:
                return float(self.record_score(row))
            except KeyError:
                return None
        value = row.get(self.record_column or self.headline)
        return None if value is None else float(value)


def columns_of(per_record: Columns) -> dict[str, np.ndarray]:
    """Per-record dicts as column arrays (the columns of the first record, in its order)."""
    if not per_record:
        return {}
    return {name: np.array([record[name] for record in per_record], dtype=np.float64) for name in per_record[0]}


def means(sums: Mapping[str, np.ndarray], n: np.ndarray, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The means of ``names`` (a subset of the columns), for summaries that also derive other metrics."""
    return {name: sums[name] / n for name in names if name in sums}
