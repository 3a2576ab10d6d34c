"""Paired bootstrap confidence intervals for every metric, and for the difference between models.

With 100 held-out records a difference of a few points can be noise. Every metric medft reports is a
function of per-record column *totals* (a mean is Σx/n; CHIP-CDN micro-F1 is 2·Σtp/(Σ|P|+Σ|G|); a
per-group accuracy is Σcorrect_g/Σcount_g), so one resample is one vector of record multiplicities
and its totals are a matrix product: 1,000 resamples × 1,000 records × 20 columns is one
(1000×1000)·(1000×20) product, well under a second. Corpus-level metrics are therefore recomputed per
resample from the resampled counts, never averaged from per-record scores.

The bootstrap is *paired*: every model is resampled with the same multiplicities (the records are the
same questions), so the interval of Δ = model − first model reflects only how the models differ.
Intervals are percentile intervals of the resampled statistics.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

#: Maps column totals (arrays of one shape) and the record count to metric arrays of the same shape.
Summarise = Callable[[Mapping[str, np.ndarray], np.ndarray], dict[str, np.ndarray]]

DEFAULT_RESAMPLES = 1000
DEFAULT_LEVEL = 0.95


def resample_counts(n: int, resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> np.ndarray:
    """A ``(resamples, n)`` matrix of record multiplicities: row b says how often each record is drawn.

    Seeded, so the same (n, resamples, seed) gives the same matrix on every run and for every model.
    """
    if n <= 0 or resamples <= 0:
        return np.zeros((max(resamples, 0), max(n, 0)), dtype=np.int64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(resamples, n))
    # Offsetting each row's draws into its own block of n bins turns B bincounts into one.
    flat = (draws + np.arange(resamples)[:, None] * n).ravel()
    return np.bincount(flat, minlength=resamples * n).reshape(resamples, n)


def column_matrix(columns: Mapping[str, Sequence[float] | np.ndarray]) -> tuple[list[str], np.ndarray]:
    """Column names and an ``(n, k)`` float matrix of per-record values (all columns the same length)."""
    names = list(columns)
    lengths = {len(columns[name]) for name in names}
    if len(lengths) > 1:
        raise ValueError(f"per-record columns differ in length: {sorted(lengths)}")
    n = lengths.pop() if lengths else 0
    matrix = np.zeros((n, len(names)), dtype=np.float64)
    for j, name in enumerate(names):
        matrix[:, j] = np.asarray(columns[name], dtype=np.float64)
    return names, matrix


def point_estimate(columns: Mapping[str, Sequence[float] | np.ndarray], summarise: Summarise) -> dict[str, float]:
    """The metrics on the records as they are (every multiplicity 1)."""
    names, matrix = column_matrix(columns)
    totals = {name: np.asarray(matrix[:, j].sum()) for j, name in enumerate(names)}
    return {metric: _as_float(value) for metric, value in summarise(totals, np.asarray(float(len(matrix)))).items()}


def resampled(columns: Mapping[str, Sequence[float] | np.ndarray], summarise: Summarise,
              counts: np.ndarray) -> dict[str, np.ndarray]:
    """Every metric on every resample: metric → array of shape (resamples,)."""
    names, matrix = column_matrix(columns)
    totals = counts.astype(np.float64) @ matrix
    n = counts.sum(axis=1).astype(np.float64)
    return {metric: np.broadcast_to(np.asarray(value, dtype=np.float64), n.shape)
            for metric, value in summarise({name: totals[:, j] for j, name in enumerate(names)}, n).items()}


def percentile_interval(samples: np.ndarray, level: float = DEFAULT_LEVEL) -> list[float] | None:
    """The central ``level`` percentile interval of ``samples`` (NaNs ignored; None if nothing is finite)."""
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return None
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return [_as_float(low), _as_float(high)]


def summarise_with_ci(columns_by_model: Mapping[str, Mapping[str, Sequence[float] | np.ndarray]],
                      summarise: Summarise, resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                      level: float = DEFAULT_LEVEL) -> dict[str, dict[str, dict]]:
    """Each model's metrics with a percentile CI, and Δ to the first model with a paired CI.

    ``columns_by_model[model][column]`` holds one value per record, records aligned across models.
    Returns ``{model: {metric: {"value", "ci"}}}``; every model after the first also has
    ``"delta": {"value", "ci", "significant"}`` per metric, significant when the CI excludes 0.
    With ``resamples == 0`` only the values are given (``ci`` is None, ``significant`` False).
    """
    models = list(columns_by_model)
    if not models:
        return {}
    sizes = {len(next(iter(cols.values()), ())) for cols in columns_by_model.values()}
    if len(sizes) > 1:
        raise ValueError(f"models were scored on different numbers of records: {sorted(sizes)}")
    n = sizes.pop()
    points = {model: point_estimate(columns_by_model[model], summarise) for model in models}
    counts = resample_counts(n, resamples, seed) if resamples > 0 and n > 0 else None
    samples = ({model: resampled(columns_by_model[model], summarise, counts) for model in models}
               if counts is not None else {})
    first = models[0]
    out: dict[str, dict[str, dict]] = {}
    for model in models:
        metrics: dict[str, dict] = {}
        for metric, value in points[model].items():
            entry: dict = {"value": value,
                           "ci": percentile_interval(samples[model][metric], level) if samples else None}
            if model != first and metric in points[first]:
                delta_value = _difference(value, points[first][metric])
                delta_ci = (percentile_interval(samples[model][metric] - samples[first][metric], level)
                            if samples else None)
                significant = bool(delta_ci is not None and (delta_ci[0] > 0 or delta_ci[1] < 0))
                entry["delta"] = {"value": delta_value, "ci": delta_ci, "significant": significant}
            metrics[metric] = entry
        out[model] = metrics
    return out


def mean_columns(sums: Mapping[str, np.ndarray], n: np.ndarray) -> dict[str, np.ndarray]:
    """The default summary: every column's mean over the records."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return {name: total / n for name, total in sums.items()}


def safe_ratio(numerator: np.ndarray, denominator: np.ndarray, empty: float = 0.0) -> np.ndarray:
    """``numerator / denominator`` elementwise, ``empty`` where the denominator is 0 (no division warning)."""
    numerator, denominator = np.asarray(numerator, dtype=np.float64), np.asarray(denominator, dtype=np.float64)
    out = np.full(np.broadcast(numerator, denominator).shape, empty, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def _difference(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _as_float(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None
