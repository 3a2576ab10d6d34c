"""Aggregation on constructed judgements whose numbers are known by hand."""

import numpy as np
import pytest

from eval.judge.aggregate import bradley_terry, combined, elo, pairwise, pointwise
from eval.judge.run import Call, Outcome


def _outcome(models, parsed, index=0, dataset="d", attempts=1):
    return Outcome(Call(dataset, index, tuple(models), []), parsed, "", attempts)


def test_pointwise_means_exclude_unparsed_and_delta_is_paired():
    base = [{"accuracy": 3, "safety": 3}, {"accuracy": 1, "safety": 5}, None, {"accuracy": 2, "safety": 2}]
    tuned = [{"accuracy": 5, "safety": 5}, {"accuracy": 5, "safety": 5}, {"accuracy": 4, "safety": 4},
             {"accuracy": 5, "safety": 5}]
    outcomes = [_outcome(("base",), s, i, attempts=2 if s is None else 1) for i, s in enumerate(base)]
    outcomes += [_outcome(("tuned",), s, i) for i, s in enumerate(tuned)]
    report = pointwise(outcomes, ["base", "tuned"], ["accuracy", "safety"], resamples=500, seed=1)
    entry = report["d"]
    assert set(report) == {"d"} and entry["n"] == 4
    b, t = entry["models"]["base"], entry["models"]["tuned"]
    assert (b["parsed"], b["unparsed"], b["retried"]) == (3, 1, 1)
    assert b["metrics"]["accuracy"]["value"] == pytest.approx(2.0), "(3 + 1 + 2) / 3: the unparsed record is out"
    assert b["metrics"]["safety"]["value"] == pytest.approx(10 / 3)
    assert b["metrics"]["overall"]["value"] == pytest.approx((3 + 3 + 2) / 3)
    assert b["metrics"]["parsed_rate"]["value"] == pytest.approx(0.75)
    assert t["metrics"]["accuracy"]["value"] == pytest.approx(4.75)
    delta = t["metrics"]["accuracy"]["delta"]
    assert delta["value"] == pytest.approx(2.75) and delta["significant"] and delta["ci"][0] > 0
    low, high = b["metrics"]["accuracy"]["ci"]
    assert 1 <= low <= 2.0 <= high <= 3


def test_all_unparsed_gives_no_mean_rather_than_zero():
    outcomes = [_outcome(("m",), None, i, attempts=2) for i in range(3)]
    metrics = pointwise(outcomes, ["m"], ["accuracy"], resamples=100)["d"]["models"]["m"]
    assert metrics["unparsed"] == 3 and metrics["metrics"]["accuracy"]["value"] is None
    assert metrics["metrics"]["accuracy"]["ci"] is None and metrics["metrics"]["parsed_rate"]["value"] == 0.0


@pytest.mark.parametrize("first,swapped,expected", [
    ("A", "B", ("a", True)),   # a shown first and chosen; b shown first and a (second) chosen
    ("B", "A", ("b", True)),
    ("A", "A", ("tie", False)),  # the judge always picks the first position: no win for anyone
    ("tie", "tie", ("tie", True)),
    ("A", "tie", ("tie", False)),
    (None, "B", (None, False)),
    ("A", None, (None, False)),
])
def test_a_win_needs_both_orders(first, swapped, expected):
    assert combined(_outcome(("a", "b"), first), _outcome(("b", "a"), swapped), "a", "b") == expected


def test_pairwise_counts_consistency_and_win_rate():
    verdicts = [("A", "B"), ("A", "A"), ("tie", "tie"), (None, "A")]  # a wins, tie (bias), tie, unparsed
    outcomes = []
    for i, (first, swapped) in enumerate(verdicts):
        outcomes += [_outcome(("a", "b"), first, i), _outcome(("b", "a"), swapped, i)]
    entry = pairwise(outcomes, ["a", "b"], resamples=500)["d"]
    pair = entry["pairs"]["a vs b"]
    assert (pair["wins"], pair["ties"], pair["losses"], pair["unparsed"], pair["inconsistent"]) == (1, 2, 0, 1, 1)
    assert pair["win_rate"]["value"] == pytest.approx((1 + 0.5 * 2) / 3)
    assert pair["consistency"]["value"] == pytest.approx(2 / 3)
    assert "ranking" not in entry, "two models: the win rate says it all"


def test_a_judge_that_always_picks_position_a_makes_everything_a_tie():
    outcomes = []
    for i in range(6):
        outcomes += [_outcome(("a", "b"), "A", i), _outcome(("b", "a"), "A", i)]
    pair = pairwise(outcomes, ["a", "b"], resamples=200)["d"]["pairs"]["a vs b"]
    assert pair["ties"] == 6 and pair["consistency"]["value"] == 0.0 and pair["win_rate"]["value"] == 0.5
    assert pair["win_rate"]["ci"] == [0.5, 0.5]


def _tournament(order, records, dataset="d"):
    """``order[0]`` beats everyone, ``order[1]`` beats everyone after it, ...; the judge is consistent."""
    outcomes = []
    for i in range(records):
        for x, stronger in enumerate(order):
            for weaker in order[x + 1:]:
                outcomes += [_outcome((stronger, weaker), "A", i, dataset),
                             _outcome((weaker, stronger), "B", i, dataset)]
    return outcomes


def test_bradley_terry_ranks_a_clear_order_with_intervals():
    models = ["c", "a", "b"]
    outcomes = _tournament(["a", "b", "c"], 8, "d1") + _tournament(["a", "b", "c"], 4, "d2")
    report = pairwise(outcomes, models, resamples=300, seed=3)
    assert set(report) == {"d1", "d2", "all"} and report["all"]["n"] == 12
    ranking = report["all"]["ranking"]
    assert [r["model"] for r in ranking] == ["a", "b", "c"] and [r["rank"] for r in ranking] == [1, 2, 3]
    ratings = [r["rating"] for r in ranking]
    assert ratings[0] > ratings[1] > ratings[2] and sum(ratings) == pytest.approx(3000)
    for row in ranking:
        assert row["ci"][0] <= row["rating"] <= row["ci"][1]
    c_vs_a = report["all"]["pairs"]["c vs a"]
    assert c_vs_a["losses"] == 12 and c_vs_a["win_rate"]["value"] == 0


def test_bradley_terry_recovers_known_strengths():
    two = np.array([[0.0, 30.0], [10.0, 0.0]])
    p = bradley_terry(two, prior_ties=0)
    assert p[0] / p[1] == pytest.approx(3.0), "two players: the MLE odds are wins / losses"
    strengths = np.array([4.0, 2.0, 1.0])
    games = 60.0
    expected = games * strengths[:, None] / (strengths[:, None] + strengths[None, :]) * (1 - np.eye(3))
    fitted = bradley_terry(expected, prior_ties=0)
    assert fitted / fitted[2] == pytest.approx(strengths, rel=1e-6)
    stacked = bradley_terry(np.stack([two, two[::-1, ::-1]]), prior_ties=0)
    assert stacked[0] == pytest.approx(p) and stacked[1] == pytest.approx(p[::-1]), "vectorised over resamples"
    assert elo(np.array([1.0, 10.0])) == pytest.approx([1000, 1400])


def test_a_clean_sweep_still_gets_a_finite_rating():
    p = bradley_terry(np.array([[0.0, 5.0], [0.0, 0.0]]))
    assert np.all(np.isfinite(p)) and p[0] > p[1]


def test_aggregation_is_deterministic():
    outcomes = _tournament(["a", "b", "c"], 5)
    assert pairwise(outcomes, ["a", "b", "c"], seed=7) == pairwise(outcomes, ["a", "b", "c"], seed=7)
