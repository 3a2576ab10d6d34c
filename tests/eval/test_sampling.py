"""LIMIT=N: a seeded sample stratified by subject / category, the same for every call; or the first N."""

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eval.heldout import HeldoutError, load_records, sample_indices, stratum_of


def _exam(sizes: dict[str, int]) -> list[dict]:
    return [{"instruction": f"{s}{i}", "output": "A", "category": "医学", "subject": s}
            for s, n in sizes.items() for i in range(n)]


def test_every_subject_is_covered_and_the_rest_is_proportional():
    records = _exam({"解剖学": 60, "临床知识": 30, "营养学": 10})
    chosen = sample_indices(records, 10, seed=1)
    assert chosen == sorted(chosen) and len(set(chosen)) == 10
    # 1 each, then 7 shared by 59:29:9 -> 4.26, 2.09, 0.65 -> 4, 2, 0 + the largest remainder (营养学).
    assert Counter(records[i]["subject"] for i in chosen) == {"解剖学": 5, "临床知识": 3, "营养学": 2}
    assert chosen == sample_indices(records, 10, seed=1), "seeded: the same records on every call"
    assert chosen != sample_indices(records, 10, seed=2)


def test_fewer_than_one_per_subject_and_sets_without_subjects():
    records = _exam({"a": 5, "b": 5, "c": 5, "d": 5})
    chosen = sample_indices(records, 3, seed=0)
    assert len({records[i]["subject"] for i in chosen}) == 3, "three subjects drawn, one question each"
    plain = [{"instruction": str(i), "output": "x"} for i in range(100)]
    assert stratum_of(plain[0]) is None
    uniform = sample_indices(plain, 10, seed=0)
    assert len(uniform) == 10 and uniform != list(range(10)), "uniform, not the first ten"
    assert sample_indices(plain, 500) == list(range(100))


def test_load_records_samples_by_default_in_the_pipeline_and_first_on_request(exam_dir):
    every = load_records(exam_dir, "med_cmmlu_test")
    sampled = load_records(exam_dir, "med_cmmlu_test", limit=12, mode="sample", seed=42)
    first = load_records(exam_dir, "med_cmmlu_test", limit=12, mode="first")
    assert first == every[:12]
    subjects = {r["subject"] for r in every}
    assert len(subjects) <= 12 and {r["subject"] for r in sampled} == subjects
    assert len({r["subject"] for r in first}) < len(subjects), "the first N miss subjects: why sampling exists"
    with pytest.raises(HeldoutError, match="limit mode 'last'"):
        load_records(exam_dir, "med_cmmlu_test", limit=3, mode="last")


@pytest.mark.property
@given(st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=60), st.integers(min_value=1, max_value=70),
       st.integers(min_value=0, max_value=3))
def test_a_sample_has_the_size_asked_and_covers_what_it_can(subjects, limit, seed):
    records = [{"instruction": str(i), "output": "x", "subject": str(s)} for i, s in enumerate(subjects)]
    chosen = sample_indices(records, limit, seed)
    assert chosen == sorted(set(chosen)) and len(chosen) == min(limit, len(records))
    assert all(0 <= i < len(records) for i in chosen)
    covered = {records[i]["subject"] for i in chosen}
    assert len(covered) == min(len(set(map(str, subjects))), len(chosen))
