"""From judge outcomes to numbers: pointwise means, pairwise win rates, a Bradley–Terry ranking — each
with a paired-bootstrap CI over the held-out records (``eval.bootstrap``, the same resamples for every
model, so Δ and win rates reflect only how the models differ).

Unparsed judgements are counted and reported, and excluded from means and rates (the denominators
count parsed judgements only); they never count as a score of 0 or as a tie.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np

from eval.bootstrap import DEFAULT_LEVEL, DEFAULT_RESAMPLES, percentile_interval, resample_counts, safe_ratio
from eval.bootstrap import summarise_with_ci as _summarise_with_ci
from eval.judge.run import Outcome

ALL = "all"
#: Bradley–Terry prior: one virtual tie between every two models, so a model that won (or lost) every
#: comparison gets a finite rating; its weight fades as real comparisons accumulate.
BT_PRIOR_TIES = 1.0
ELO_SCALE, ELO_CENTRE = 400.0, 1000.0


def _units(outcomes: Sequence[Outcome]) -> dict[str, list[tuple[str, int]]]:
    """Records judged per dataset, and all of them pooled (``"all"``), in first-seen order."""
    per: dict[str, dict[tuple[str, int], None]] = {}
    for outcome in outcomes:
        unit = (outcome.call.dataset, outcome.call.index)
        per.setdefault(outcome.call.dataset, {})[unit] = None
    out = {dataset: list(units) for dataset, units in per.items()}
    if len(out) > 1:
        out[ALL] = [unit for units in out.values() for unit in units]
    return out


# ---------------------------------------------------------------- pointwise


def pointwise(outcomes: Sequence[Outcome], models: Sequence[str], dimensions: Sequence[str],
              resamples: int = DEFAULT_RESAMPLES, seed: int = 0, level: float = DEFAULT_LEVEL) -> dict:
    """Per dataset (and ``all``): per model, each dimension's mean over parsed judgements and their mean
    (``overall``), with CIs and the paired Δ to the first model; parsed / unparsed / retried counts."""
    by_call = {(o.call.dataset, o.call.index, o.call.models[0]): o for o in outcomes}
    metric_names = [*dimensions, "overall"]

    def summarise(sums: Mapping[str, np.ndarray], n: np.ndarray) -> dict[str, np.ndarray]:
        out = {name: safe_ratio(sums[name], sums["parsed"], empty=np.nan) for name in metric_names}
        out["parsed_rate"] = safe_ratio(sums["parsed"], n, empty=np.nan)
        return out

    report = {}
    for dataset, units in _units(outcomes).items():
        columns, counts = {}, {}
        for model in models:
            rows = [by_call.get((d, i, model)) for d, i in units]
            parsed = [o is not None and isinstance(o.parsed, dict) for o in rows]
            cols = {"parsed": np.array(parsed, dtype=np.float64)}
            for dim in dimensions:
                cols[dim] = np.array([o.parsed[dim] if ok else 0.0 for o, ok in zip(rows, parsed, strict=True)])
            cols["overall"] = np.array([np.mean([o.parsed[d] for d in dimensions]) if ok else 0.0
                                        for o, ok in zip(rows, parsed, strict=True)])
            columns[model] = cols
            counts[model] = {"parsed": int(sum(parsed)), "unparsed": len(units) - int(sum(parsed)),
                             "retried": sum(o is not None and o.attempts > 1 for o in rows)}
        summary = _summarise_with_ci(columns, summarise, resamples=resamples, seed=seed, level=level)
        report[dataset] = {"n": len(units),
                           "models": {m: {**counts[m], "metrics": summary[m]} for m in models}}
    return report


# ---------------------------------------------------------------- pairwise


def _verdict(outcome: Outcome | None, a: str, b: str) -> str | None:
    """The model a pairwise call named (or ``"tie"``), None if unparsed or missing."""
    if outcome is None or outcome.parsed is None:
        return None
    shown_a, shown_b = outcome.call.models
    return {"A": shown_a, "B": shown_b, "tie": "tie"}.get(outcome.parsed)


def combined(first: Outcome | None, swapped: Outcome | None, a: str, b: str) -> tuple[str | None, bool]:
    """One record's result for the pair from both orders: a win only if both orders name the same model,
    otherwise a tie; ``(None, False)`` if either order is unparsed. Also: did the orders agree?"""
    one, two = _verdict(first, a, b), _verdict(swapped, a, b)
    if one is None or two is None:
        return None, False
    if one == two:
        return one, True
    return "tie", False


def _pair_rows(outcomes: Sequence[Outcome], units, a: str, b: str) -> list[tuple[str | None, bool]]:
    by_call = {(o.call.dataset, o.call.index, o.call.models): o for o in outcomes}
    return [combined(by_call.get((d, i, (a, b))), by_call.get((d, i, (b, a))), a, b) for d, i in units]


def pairwise(outcomes: Sequence[Outcome], models: Sequence[str], resamples: int = DEFAULT_RESAMPLES,
             seed: int = 0, level: float = DEFAULT_LEVEL) -> dict:
    """Per dataset (and ``all``): per pair, wins / ties / losses / unparsed, position-swap consistency and
    the first model's win rate (ties count half) with CIs; for 3+ models a Bradley–Terry ranking."""

    def summarise(sums: Mapping[str, np.ndarray], n: np.ndarray) -> dict[str, np.ndarray]:
        return {"win_rate": safe_ratio(sums["win"] + 0.5 * sums["tie"], sums["decided"], empty=np.nan),
                "consistency": safe_ratio(sums["consistent"], sums["decided"], empty=np.nan)}

    report = {}
    for dataset, units in _units(outcomes).items():
        pairs = {}
        for a, b in combinations(models, 2):
            rows = _pair_rows(outcomes, units, a, b)
            cols = {"win": [r == a for r, _ in rows], "tie": [r == "tie" for r, _ in rows],
                    "decided": [r is not None for r, _ in rows], "consistent": [c for _, c in rows]}
            stats = _summarise_with_ci({f"{a} vs {b}": cols}, summarise, resamples=resamples, seed=seed,
                                       level=level)[f"{a} vs {b}"]
            pairs[f"{a} vs {b}"] = {
                "a": a, "b": b, "wins": sum(r == a for r, _ in rows), "ties": sum(r == "tie" for r, _ in rows),
                "losses": sum(r == b for r, _ in rows), "unparsed": sum(r is None for r, _ in rows),
                "inconsistent": sum(r == "tie" and not c for r, c in rows),
                "win_rate": stats["win_rate"], "consistency": stats["consistency"],
            }
        decided = sum(p["wins"] + p["ties"] + p["losses"] for p in pairs.values())
        entry = {"n": len(units), "comparisons": decided, "pairs": pairs}
        if len(models) >= 3:
            entry["ranking"] = ranking(outcomes, models, units, resamples, seed, level)
        report[dataset] = entry
    return report


def win_matrices(outcomes: Sequence[Outcome], models: Sequence[str], units) -> np.ndarray:
    """``(records, m, m)``: entry [u, i, j] is what model i scored against j on record u (1 win, ½ tie)."""
    m = len(models)
    wins = np.zeros((len(units), m, m))
    for (i, a), (j, b) in combinations(enumerate(models), 2):
        for u, (result, _) in enumerate(_pair_rows(outcomes, units, a, b)):
            if result == a:
                wins[u, i, j] = 1.0
            elif result == b:
                wins[u, j, i] = 1.0
            elif result == "tie":
                wins[u, i, j] = wins[u, j, i] = 0.5
    return wins


def bradley_terry(wins: np.ndarray, prior_ties: float = BT_PRIOR_TIES, iterations: int = 10_000,
                  tolerance: float = 1e-10) -> np.ndarray:
    """Bradley–Terry strengths from win matrices ``(..., m, m)`` (vectorised over leading axes).

    P(i beats j) = p_i / (p_i + p_j). Fitted by Hunter's (2004) MM iteration, which increases the
    likelihood at every step; ``prior_ties`` virtual ties per pair keep every strength finite.
    Strengths are normalised to a geometric mean of 1.
    """
    m = wins.shape[-1]
    off = 1.0 - np.eye(m)
    w = wins + 0.5 * prior_ties * off
    games = w + np.swapaxes(w, -1, -2)
    won = w.sum(axis=-1)
    p = np.ones(w.shape[:-1])
    for _ in range(iterations):
        denominator = (games / (p[..., :, None] + p[..., None, :])).sum(axis=-1)
        updated = won / denominator
        updated /= np.exp(np.log(updated).mean(axis=-1, keepdims=True))
        done = np.max(np.abs(np.log(updated) - np.log(p))) < tolerance
        p = updated
        if done:
            break
    return p


def elo(strengths: np.ndarray) -> np.ndarray:
    """Strengths on the Elo scale (400 points = 10:1 odds), centred on 1000."""
    return ELO_CENTRE + ELO_SCALE * np.log10(strengths)


def ranking(outcomes: Sequence[Outcome], models: Sequence[str], units, resamples: int = DEFAULT_RESAMPLES,
            seed: int = 0, level: float = DEFAULT_LEVEL) -> list[dict]:
    """Models by Bradley–Terry rating (Elo scale), best first, each with a bootstrap CI over records."""
    wins = win_matrices(outcomes, models, units)
    point = elo(bradley_terry(wins.sum(axis=0)))
    intervals: list[list[float] | None] = [None] * len(models)
    if resamples > 0 and len(units) > 0:
        counts = resample_counts(len(units), resamples, seed).astype(np.float64)
        resampled = np.einsum("bu,uij->bij", counts, wins)
        samples = elo(bradley_terry(resampled))
        intervals = [percentile_interval(samples[:, i], level) for i in range(len(models))]
    order = sorted(range(len(models)), key=lambda i: (-point[i], i))
    return [{"rank": rank, "model": models[i], "rating": float(point[i]), "ci": intervals[i]}
            for rank, i in enumerate(order, 1)]
