import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eval.bootstrap import (
    mean_columns,
    percentile_interval,
    point_estimate,
    resample_counts,
    resampled,
    summarise_with_ci,
)
from eval.tasks.norm import TASK as NORM


def test_resample_counts_are_seeded_multiplicities():
    counts = resample_counts(50, resamples=200, seed=3)
    assert counts.shape == (200, 50) and (counts.sum(axis=1) == 50).all()
    assert (counts == resample_counts(50, resamples=200, seed=3)).all()
    assert not (counts == resample_counts(50, resamples=200, seed=4)).all()


def test_identical_models_have_a_delta_of_exactly_zero():
    rng = np.random.default_rng(0)
    correct = (rng.random(100) < 0.4).astype(float)
    out = summarise_with_ci({"a": {"x": correct}, "b": {"x": correct.copy()}}, mean_columns)
    delta = out["b"]["x"]["delta"]
    assert delta["value"] == 0 and delta["ci"] == [0.0, 0.0] and not delta["significant"]
    low, high = out["a"]["x"]["ci"]
    assert low < out["a"]["x"]["value"] < high


def test_always_right_versus_always_wrong_is_significant():
    out = summarise_with_ci({"wrong": {"x": np.zeros(30)}, "right": {"x": np.ones(30)}}, mean_columns)
    assert out["right"]["x"]["delta"] == {"value": 1.0, "ci": [1.0, 1.0], "significant": True}


def test_a_small_difference_on_few_records_is_not_significant():
    base = np.array([1.0] * 10 + [0.0] * 10)
    tuned = base.copy()
    tuned[10] = 1.0  # one more right answer out of 20
    delta = summarise_with_ci({"base": {"x": base}, "tuned": {"x": tuned}}, mean_columns)["tuned"]["x"]["delta"]
    assert delta["value"] == pytest.approx(0.05) and delta["ci"][0] <= 0 and not delta["significant"]


def test_corpus_metrics_are_recomputed_per_resample_from_counts():
    rng = np.random.default_rng(1)
    n = 40
    columns = {"exact_match": rng.integers(0, 2, n).astype(float), "tp": rng.integers(0, 3, n).astype(float),
               "n_pred": rng.integers(1, 4, n).astype(float), "n_gold": rng.integers(1, 4, n).astype(float)}
    counts = resample_counts(n, resamples=25, seed=9)
    fast = resampled(columns, NORM.summarise, counts)
    for b in range(25):
        rows = np.repeat(np.arange(n), counts[b])  # the resample spelled out record by record
        tp, n_pred, n_gold = (columns[k][rows].sum() for k in ("tp", "n_pred", "n_gold"))
        assert fast["set_f1"][b] == pytest.approx(2 * tp / (n_pred + n_gold))
        assert fast["accuracy"][b] == pytest.approx(columns["exact_match"][rows].mean())


def test_no_resamples_gives_values_only():
    out = summarise_with_ci({"a": {"x": [1.0, 0.0]}, "b": {"x": [1.0, 1.0]}}, mean_columns, resamples=0)
    assert out["a"]["x"] == {"value": 0.5, "ci": None}
    assert out["b"]["x"]["delta"] == {"value": 0.5, "ci": None, "significant": False}


def test_models_on_different_record_counts_are_refused():
    with pytest.raises(ValueError, match="different numbers of records"):
        summarise_with_ci({"a": {"x": [1.0]}, "b": {"x": [1.0, 0.0]}}, mean_columns)


def test_undefined_resamples_are_ignored():
    assert percentile_interval(np.array([np.nan, np.nan])) is None
    assert percentile_interval(np.array([np.nan, 1.0, 1.0])) == [1.0, 1.0]


@pytest.mark.property
@given(st.lists(st.floats(0, 1), min_size=1, max_size=60), st.integers(0, 2**16))
def test_ci_brackets_stay_inside_the_value_range(values, seed):
    out = summarise_with_ci({"m": {"x": values}}, mean_columns, resamples=50, seed=seed)["m"]["x"]
    low, high = out["ci"]
    assert min(values) - 1e-12 <= low <= high <= max(values) + 1e-12
    assert point_estimate({"x": values}, mean_columns)["x"] == pytest.approx(out["value"])
