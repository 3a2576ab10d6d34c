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


def test_win_matrices_count_wins_one_and_ties_half_each():
    from eval.judge.aggregate import win_matrices

    outcomes = [_outcome(("a", "b"), "A", 0), _outcome(("b", "a"), "B", 0),      # a beats b
                _outcome(("a", "c"), "tie", 0), _outcome(("c", "a"), "tie", 0),  # a ties c
                _outcome(("b", "c"), "B", 0), _outcome(("c", "b"), "A", 0),      # c beats b
                _outcome(("a", "b"), "A", 1), _outcome(("b", "a"), "A", 1)]      # position bias: a tie
    wins = win_matrices(outcomes, ["a", "b", "c"], [("d", 0), ("d", 1)])
    assert wins[0].tolist() == [[0.0, 1.0, 0.5], [0.0, 0.0, 0.0], [0.5, 1.0, 0.0]]
    assert wins[1].tolist() == [[0.0, 0.5, 0.0], [0.5, 0.0, 0.0], [0.0, 0.0, 0.0]]  # a-c, b-c unjudged: 0


def test_bradley_terry_prior_is_one_virtual_tie_per_pair():
    # A 5–0 sweep plus one virtual tie (half a win each way): odds (5 + 0.5) / 0.5 = 11.
    p = bradley_terry(np.array([[0.0, 5.0], [0.0, 0.0]]))
    assert p[0] / p[1] == pytest.approx(11.0)
    assert p[0] * p[1] == pytest.approx(1.0), "geometric mean 1"
    p = bradley_terry(np.array([[0.0, 5.0], [0.0, 0.0]]), prior_ties=2.0)
    assert p[0] / p[1] == pytest.approx(6.0)


def test_bradley_terry_ties_alone_mean_equal_strengths():
    tied = np.array([[0.0, 2.0, 1.0], [2.0, 0.0, 3.0], [1.0, 3.0, 0.0]])
    assert bradley_terry(tied) == pytest.approx(np.ones(3))


def test_bradley_terry_normalises_each_resample_on_its_own_and_any_leading_axes():
    strengths = np.array([4.0, 2.0, 1.0])
    clear = 60.0 * strengths[:, None] / (strengths[:, None] + strengths[None, :]) * (1 - np.eye(3))
    even = 10.0 * (1 - np.eye(3))
    one_by_one = [bradley_terry(clear), bradley_terry(even)]
    stacked = bradley_terry(np.stack([clear, even]))
    for row, single in zip(stacked, one_by_one, strict=True):
        assert row == pytest.approx(single)
        assert np.exp(np.log(row).mean()) == pytest.approx(1.0)
    grid = bradley_terry(np.stack([clear, even])[None, :, :, :].repeat(2, axis=0))  # shape (2, 2, 3, 3)
    assert grid.shape == (2, 2, 3) and grid[1, 0] == pytest.approx(one_by_one[0])


def test_a_missing_judgement_is_unparsed_not_an_error():
    assert combined(None, _outcome(("b", "a"), "A"), "a", "b") == (None, False)
    assert combined(_outcome(("a", "b"), "A"), None, "a", "b") == (None, False)


def test_pairwise_counts_unparsed_apart_from_inconsistent_and_reports_comparisons():
    verdicts = [("A", "B"), ("B", "A"), ("A", "A"), ("tie", "tie"), ("tie", "tie"), (None, "A"), ("A", None)]
    outcomes = []
    for i, (first, swapped) in enumerate(verdicts):
        outcomes += [_outcome(("a", "b"), first, i), _outcome(("b", "a"), swapped, i)]
    entry = pairwise(outcomes, ["a", "b"], resamples=0)["d"]
    pair = entry["pairs"]["a vs b"]
    assert {k: pair[k] for k in ("a", "b", "wins", "ties", "losses", "unparsed", "inconsistent")} == {
        "a": "a", "b": "b", "wins": 1, "ties": 3, "losses": 1, "unparsed": 2, "inconsistent": 1}
    assert entry["comparisons"] == 5 and entry["n"] == 7
    assert pair["win_rate"] == {"value": pytest.approx(2.5 / 5), "ci": None}


def test_pairwise_comparisons_sum_over_every_pair():
    entry = pairwise(_tournament(["a", "b", "c"], 2), ["a", "b", "c"], resamples=0)["d"]
    assert entry["comparisons"] == 6  # 3 pairs × 2 records
    assert [row["ci"] for row in entry["ranking"]] == [None, None, None]


def test_a_pair_with_nothing_parsed_has_no_win_rate():
    outcomes = [_outcome(("a", "b"), None, 0), _outcome(("b", "a"), None, 0)]
    pair = pairwise(outcomes, ["a", "b"], resamples=50)["d"]["pairs"]["a vs b"]
    assert pair["win_rate"] == {"value": None, "ci": None}
    assert pair["consistency"] == {"value": None, "ci": None}


def _mixed(records=12):
    """a beats b on two of every three records and loses the third; c loses to both: results that vary."""
    outcomes = []
    for i in range(records):
        first = "A" if i % 3 else "B"
        outcomes += [_outcome(("a", "b"), first, i), _outcome(("b", "a"), "B" if first == "A" else "A", i)]
        for strong in ("a", "b"):
            outcomes += [_outcome((strong, "c"), "A", i), _outcome(("c", strong), "B", i)]
    return outcomes


def test_seed_resamples_and_level_reach_every_interval():
    outcomes = _mixed()
    models = ["a", "b", "c"]
    default = pairwise(outcomes, models)
    assert default == pairwise(outcomes, models, seed=0, resamples=1000, level=0.95)
    # 50 resamples: few enough that another seed moves the percentiles of these discrete statistics.
    few = pairwise(outcomes, models, resamples=50)["d"]
    assert few == pairwise(outcomes, models, resamples=50, seed=0)["d"]
    reseeded = pairwise(outcomes, models, resamples=50, seed=1)["d"]
    assert few["pairs"]["a vs b"]["win_rate"] != reseeded["pairs"]["a vs b"]["win_rate"]
    assert few["ranking"] != reseeded["ranking"]
    narrow = pairwise(outcomes, models, level=0.5)["d"]
    wide = default["d"]
    low, high = wide["pairs"]["a vs b"]["win_rate"]["ci"]
    n_low, n_high = narrow["pairs"]["a vs b"]["win_rate"]["ci"]
    assert low < n_low and n_high < high
    assert narrow["ranking"][0]["ci"][1] - narrow["ranking"][0]["ci"][0] < (
        wide["ranking"][0]["ci"][1] - wide["ranking"][0]["ci"][0])
    none = pairwise(outcomes, models, resamples=0)["d"]
    assert none["pairs"]["a vs b"]["win_rate"]["ci"] is None and none["ranking"][0]["ci"] is None


def test_ranking_intervals_with_one_record_one_resample_and_none():
    from eval.judge.aggregate import ranking

    outcomes = _mixed(1)
    one = ranking(outcomes, ["a", "b", "c"], [("d", 0)], resamples=1)
    assert all(row["ci"] is not None and row["ci"][0] == row["ci"][1] for row in one)
    assert [row["ci"] for row in ranking([], ["a", "b"], [], resamples=10)] == [None, None]
    assert [row["rating"] for row in ranking([], ["a", "b"], [], resamples=10)] == [1000.0, 1000.0]


def test_pointwise_seed_resamples_and_level_reach_the_intervals():
    scores = [1, 2, 3, 4, 5, 1, 2, 5, 4, 3]
    outcomes = [_outcome(("m",), {"accuracy": s}, i) for i, s in enumerate(scores)]
    default = pointwise(outcomes, ["m"], ["accuracy"])["d"]["models"]["m"]["metrics"]["accuracy"]
    same = pointwise(outcomes, ["m"], ["accuracy"], resamples=1000, seed=0, level=0.95)
    assert default == same["d"]["models"]["m"]["metrics"]["accuracy"]
    other = pointwise(outcomes, ["m"], ["accuracy"], seed=1)["d"]["models"]["m"]["metrics"]["accuracy"]
    assert other["ci"] != default["ci"]
    narrow = pointwise(outcomes, ["m"], ["accuracy"], level=0.5)["d"]["models"]["m"]["metrics"]["accuracy"]
    assert default["ci"][0] < narrow["ci"][0] and narrow["ci"][1] < default["ci"][1]
    none = pointwise(outcomes, ["m"], ["accuracy"], resamples=0)["d"]["models"]["m"]["metrics"]["accuracy"]
    assert none == {"value": 3.0, "ci": None}


def test_ranking_default_seed_is_zero():
    from eval.judge.aggregate import ranking

    outcomes, units = _mixed(), [("d", i) for i in range(12)]
    assert ranking(outcomes, ["a", "b", "c"], units, resamples=50) == ranking(
        outcomes, ["a", "b", "c"], units, resamples=50, seed=0)
    assert ranking(outcomes, ["a", "b", "c"], units, resamples=50) != ranking(
        outcomes, ["a", "b", "c"], units, resamples=50, seed=1)
