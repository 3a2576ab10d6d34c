"""Stage 2 of eval: per-record metric columns for one (model, dataset), BERTScore included when asked."""

from __future__ import annotations

from collections.abc import Sequence

from eval.tasks import get_task
from eval.tasks.base import Columns


def score_records(task: str, predictions: Sequence[str], records: Sequence[dict],
                  bert_model: str | None = None) -> Columns:
    """One dict of numeric columns per record: the task's scores, plus its BERTScore columns if a BERT
    model is given. Every value lies in [0, 1] except the counts some tasks sum (e.g. norm's ``tp``)."""
    spec = get_task(task)
    columns = spec.score(predictions, records)
    if bert_model and predictions and spec.bertscore is not None:
        for name, values in spec.bertscore(predictions, records, bert_model).items():
            for row, value in zip(columns, values, strict=True):
                row[name] = float(value)
    return columns
