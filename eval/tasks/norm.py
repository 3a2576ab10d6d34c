"""norm: clinical term normalisation (Yidu-N7K / CHIP-CDN).

Metrics: ``accuracy`` — exact match of the cleaned answer with the gold ``output``, cleaned the same
way (the tutorial's metric); ``set_precision`` / ``set_recall`` / ``set_f1`` — micro scores over term
*sets* split on ``##`` (``bridge.norm.TERM_SEPARATOR``): TP = Σ|P∩G|, P = TP/Σ|P|, R = TP/Σ|G|,
F1 = 2TP/(Σ|P|+Σ|G|). CHIP-CDN's own ``utils/metric.py`` counts a repeated predicted term twice (and can
exceed 100 %); medft scores sets, hence its own name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from bridge.norm import TERM_SEPARATOR
from eval.bootstrap import safe_ratio
from eval.tasks.base import Columns, Task


def clean_prediction(text: str) -> str:
    """The answer's first non-empty line, surrounding spaces and a final 。 removed.

    Models often continue after the term (an explanation, a second line); the gold answer is one line.
    """
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip().rstrip("。").strip()
    return ""


def split_terms(text: str) -> set[str]:
    """The set of standard terms in a ``##``-joined answer (empty pieces dropped, spaces stripped)."""
    return {term.strip() for term in text.split(TERM_SEPARATOR) if term.strip()}


def score(predictions: Sequence[str], records: Sequence[dict]) -> Columns:
    """Per record: ``exact_match`` and the term-set counts ``tp``, ``n_pred``, ``n_gold``."""
    columns = []
    for prediction, record in zip(predictions, records, strict=True):
        # The gold term gets the same cleaning, so the reference itself always scores as an exact match
        # (a term ending in 。 or spanning lines would otherwise never match, however it was predicted).
        cleaned, gold = clean_prediction(prediction), clean_prediction(str(record["output"]))
        predicted, expected = split_terms(cleaned), split_terms(gold)
        columns.append({"exact_match": float(cleaned == gold), "tp": float(len(predicted & expected)),
                        "n_pred": float(len(predicted)), "n_gold": float(len(expected))})
    return columns


def summarise(sums: Mapping[str, np.ndarray], n: np.ndarray) -> dict[str, np.ndarray]:
    """Accuracy from the exact matches; micro set precision / recall / F1 from the summed counts."""
    return {
        "accuracy": safe_ratio(sums["exact_match"], n),
        "set_f1": safe_ratio(2 * sums["tp"], sums["n_pred"] + sums["n_gold"]),
        "set_precision": safe_ratio(sums["tp"], sums["n_pred"]),
        "set_recall": safe_ratio(sums["tp"], sums["n_gold"]),
    }


TASK = Task("norm", score, headline="accuracy", max_new_tokens=64, summarise=summarise, record_column="exact_match")
