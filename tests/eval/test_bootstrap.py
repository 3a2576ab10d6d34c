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


def test_the_ci_level_sets_the_percentiles():
    samples = np.arange(101, dtype=float)  # the q-quantile of 0..100 is exactly 100·q
    assert percentile_interval(samples) == pytest.approx([2.5, 97.5])
    assert percentile_interval(samples, level=0.9) == pytest.approx([5.0, 95.0])
    assert percentile_interval(samples, level=0.5) == pytest.approx([25.0, 75.0])


def test_summarise_with_ci_uses_the_level_and_seed_it_is_given():
    values = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0])
    counts = resample_counts(10, resamples=200, seed=5)
    means = resampled({"x": values}, mean_columns, counts)["x"]
    out = summarise_with_ci({"m": {"x": values}}, mean_columns, resamples=200, seed=5, level=0.5)["m"]["x"]
    assert out == {"value": 0.6, "ci": percentile_interval(means, 0.5)}
    wide = summarise_with_ci({"m": {"x": values}}, mean_columns, resamples=200, seed=5)["m"]["x"]["ci"]
    assert wide == percentile_interval(means, 0.95)
    assert wide[0] < out["ci"][0] and out["ci"][1] < wide[1]


def test_a_worse_second_model_is_significant_too():
    out = summarise_with_ci({"right": {"x": np.ones(30)}, "wrong": {"x": np.zeros(30)}}, mean_columns)
    assert out["wrong"]["x"]["delta"] == {"value": -1.0, "ci": [-1.0, -1.0], "significant": True}
    assert "delta" not in out["right"]["x"]


def test_delta_is_to_the_first_model_for_every_later_one():
    out = summarise_with_ci({"a": {"x": [0.0, 0.0]}, "b": {"x": [1.0, 0.0]}, "c": {"x": [1.0, 1.0]}},
                            mean_columns, resamples=0)
    assert out["b"]["x"]["delta"]["value"] == 0.5 and out["c"]["x"]["delta"]["value"] == 1.0


def test_every_record_can_be_drawn():
    counts = resample_counts(4, resamples=500, seed=0)
    assert (counts.sum(axis=0) > 0).all()  # the last record too
    assert (counts.sum(axis=1) == 4).all()
    assert counts.max() > 1  # drawn with replacement
    assert (resample_counts(1, resamples=3) == [[1], [1], [1]]).all()


def test_degenerate_resample_shapes():
    assert resample_counts(0, resamples=3).shape == (3, 0)
    assert resample_counts(5, resamples=0).shape == (0, 5)
    assert resample_counts(-1, resamples=-1).shape == (0, 0)
    assert resample_counts(0, resamples=3).dtype == np.int64


def test_column_lengths_must_agree():
    with pytest.raises(ValueError, match=r"^per-record columns differ in length: \[1, 2\]$"):
        point_estimate({"x": [1.0], "y": [1.0, 2.0]}, mean_columns)
    assert point_estimate({}, mean_columns) == {}


def test_point_estimate_values_and_undefined_metrics():
    assert point_estimate({"x": [1.0, 0.0, 0.5, 0.5]}, mean_columns) == {"x": 0.5}
    assert point_estimate({"x": []}, mean_columns) == {"x": None}  # 0/0 is undefined, not a number
    out = summarise_with_ci({"a": {"x": []}, "b": {"x": []}}, mean_columns)
    assert out["b"]["x"] == {"value": None, "ci": None, "delta": {"value": None, "ci": None, "significant": False}}


def test_safe_ratio_fills_empty_denominators():
    from eval.bootstrap import safe_ratio

    assert safe_ratio(np.array([1.0, 2.0, 3.0]), np.array([2.0, 0.0, 3.0])).tolist() == [0.5, 0.0, 1.0]
    assert safe_ratio(np.array([1.0]), np.array([0.0]), empty=1.0).tolist() == [1.0]
    assert safe_ratio(1, 4).tolist() == 0.25


def test_a_metric_only_the_first_model_lacks_gets_no_delta():
    def summarise(sums, n):
        return {"x": sums["x"] / n, **({"y": sums["y"] / n} if "y" in sums else {})}

    out = summarise_with_ci({"a": {"x": [1.0]}, "b": {"x": [1.0], "y": [0.0]}}, summarise, resamples=0)
    assert "delta" not in out["b"]["y"] and out["b"]["x"]["delta"]["value"] == 0.0


VALUES = st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0]), min_size=2, max_size=30)


@pytest.mark.property
@given(VALUES, st.randoms(use_true_random=False))
def test_permuting_records_leaves_every_point_estimate_unchanged(values, rnd):
    columns = {"exact_match": values, "tp": values, "n_pred": [1.0] * len(values), "n_gold": [2.0] * len(values)}
    order = list(range(len(values)))
    rnd.shuffle(order)
    shuffled = {name: [column[i] for i in order] for name, column in columns.items()}
    assert point_estimate(shuffled, NORM.summarise) == pytest.approx(point_estimate(columns, NORM.summarise))


@pytest.mark.property
@given(st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0]), min_size=10, max_size=30).filter(lambda v: len(set(v)) > 1))
def test_duplicating_every_record_keeps_values_and_narrows_cis(values):
    once = summarise_with_ci({"m": {"x": values}}, mean_columns, resamples=500, seed=1)["m"]["x"]
    twice = summarise_with_ci({"m": {"x": values * 2}}, mean_columns, resamples=500, seed=1)["m"]["x"]
    assert twice["value"] == pytest.approx(once["value"])
    assert twice["ci"][1] - twice["ci"][0] < once["ci"][1] - once["ci"][0]


@pytest.mark.property
@given(st.lists(st.tuples(st.sampled_from([0.0, 1.0]), st.sampled_from([0.0, 1.0])), min_size=1, max_size=40))
def test_swapping_the_models_flips_delta_and_keeps_significance(pairs):
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    ab = summarise_with_ci({"a": {"x": a}, "b": {"x": b}}, mean_columns, resamples=200)["b"]["x"]["delta"]
    ba = summarise_with_ci({"b": {"x": b}, "a": {"x": a}}, mean_columns, resamples=200)["a"]["x"]["delta"]
    assert ba["value"] == pytest.approx(-ab["value"])
    assert ba["ci"] == pytest.approx([-ab["ci"][1], -ab["ci"][0]])
    assert ba["significant"] == ab["significant"]


def test_an_undefined_value_on_either_side_gives_an_undefined_delta():
    def log_mean(sums, n):
        with np.errstate(divide="ignore"):
            return {"x": np.log(sums["x"] / n)}

    out = summarise_with_ci({"a": {"x": [0.0]}, "b": {"x": [1.0]}}, log_mean, resamples=0)
    assert out["a"]["x"]["value"] is None and out["b"]["x"]["delta"]["value"] is None
    out = summarise_with_ci({"b": {"x": [1.0]}, "a": {"x": [0.0]}}, log_mean, resamples=0)
    assert out["a"]["x"] == {"value": None, "ci": None, "delta": {"value": None, "ci": None, "significant": False}}


def test_defaults_are_seed_zero_and_the_level_reaches_delta_cis():
    assert (resample_counts(7, 20) == resample_counts(7, 20, seed=0)).all()
    assert resample_counts(3, resamples=1).sum() == 3 and resample_counts(3, resamples=1).dtype == np.int64
    a = {"x": [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0]}
    b = {"x": [1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0]}
    default = summarise_with_ci({"a": a, "b": b}, mean_columns, resamples=100)
    assert default == summarise_with_ci({"a": a, "b": b}, mean_columns, resamples=100, seed=0)
    counts = resample_counts(8, 100, seed=0)
    diff = resampled(b, mean_columns, counts)["x"] - resampled(a, mean_columns, counts)["x"]
    narrow = summarise_with_ci({"a": a, "b": b}, mean_columns, resamples=100, level=0.5)["b"]["x"]["delta"]
    assert narrow["ci"] == percentile_interval(diff, 0.5) != default["b"]["x"]["delta"]["ci"]


def test_one_resample_gives_a_point_interval():
    out = summarise_with_ci({"m": {"x": [1.0, 0.0, 0.0]}}, mean_columns, resamples=1)["m"]["x"]
    mean = resampled({"x": [1.0, 0.0, 0.0]}, mean_columns, resample_counts(3, 1))["x"][0]
    assert out["ci"] == [mean, mean]


def test_an_empty_column_is_undefined_without_a_numpy_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert point_estimate({"x": []}, mean_columns) == {"x": None}
        assert mean_columns({"x": np.array([0.0, 1.0])}, np.array([0.0, 0.0]))["x"][1] == np.inf


def test_safe_ratio_broadcasts_scalars_either_side():
    from eval.bootstrap import safe_ratio

    assert safe_ratio(np.array([1.0, 2.0, 3.0]), 2.0).tolist() == [0.5, 1.0, 1.5]
    assert safe_ratio(2.0, np.array([1.0, 4.0, 0.0])).tolist() == [2.0, 0.5, 0.0]


def test_no_columns_means_no_records():
    assert point_estimate({}, lambda sums, n: {"n": n}) == {"n": 0.0}
    assert resample_counts(-1, resamples=3).shape == (3, 0)
