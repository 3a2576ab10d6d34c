import pytest
from hypothesis import given
from hypothesis import strategies as st

from eval.flags import count_flags, format_flags, record_flags, warnings


def test_record_flags_name_every_problem_in_order():
    assert record_flags(" \n", "length", {"parsed": 0.0}) == ["empty", "truncated", "unparsed"]
    assert record_flags("答案是E", "stop", {"unextracted": 1.0, "correct": 0.0}) == ["unextracted"]
    assert record_flags("A", None, {"unextracted": 0.0}) == []


def test_counts_cover_only_the_flags_a_set_can_have():
    columns = [{"parsed": 0.0}, {"parsed": 1.0}, {"parsed": 0.0}]
    assert count_flags(["", "{…}", "x"], ["length", "stop", "stop"], columns) == {
        "empty": 1, "truncated": 1, "unparsed": 2}
    assert count_flags(["A", ""], ["stop", "stop"], [{"unextracted": 0.0}, {"unextracted": 1.0}]) == {
        "empty": 1, "truncated": 0, "unextracted": 1}
    assert count_flags(["a"], [None], [{"rougeL": 0.5}]) == {"empty": 0, "truncated": None}, \
        "no finish reason recorded: truncation unknown, not zero"


def test_a_warning_above_five_percent_only():
    results = {"tuned": {"med_norm_test": {"n": 100, "flags": {"empty": 5, "truncated": 6}},
                         "med_o1_test": {"n": 10, "flags": {"empty": 0, "truncated": None}}}}
    assert warnings(results) == ["warning: tuned · med_norm_test: 6/100 (6.0 %) answers cut off at max_new_tokens"]
    assert format_flags(results["tuned"]["med_norm_test"]["flags"], 100) == "empty 5 (5.0 %) · truncated 6 (6.0 %)"
    assert format_flags({"empty": 0, "truncated": None}, 10) == "empty 0 · truncated ?"


@pytest.mark.property
@given(st.lists(st.tuples(st.text(max_size=5), st.sampled_from(["stop", "length", None]),
                          st.sampled_from([0.0, 1.0])), min_size=1, max_size=30))
def test_counts_are_the_sum_of_record_flags(rows):
    predictions = [r[0] for r in rows]
    reasons = [r[1] for r in rows]
    columns = [{"parsed": r[2]} for r in rows]
    counts = count_flags(predictions, reasons, columns)
    per_record = [record_flags(p, f, c) for p, f, c in zip(predictions, reasons, columns, strict=True)]
    for flag, count in counts.items():
        if count is not None:
            assert count == sum(flag in flags for flags in per_record)
    assert (counts["truncated"] is None) == all(r is None for r in reasons)
