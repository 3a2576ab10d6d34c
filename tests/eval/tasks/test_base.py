"""The task registry and the shared summary helpers."""

import numpy as np
import pytest

from eval.tasks import TASKS, get_task
from eval.tasks.base import columns_of, means


def test_get_task_and_its_error():
    assert get_task("mrg") is TASKS["mrg"] and get_task("o1").name == "o1"
    with pytest.raises(KeyError) as info:
        get_task("nope")
    assert info.value.args[0] == "unknown task 'nope'; tasks: ['dialog', 'mcq', 'mrg', 'norm', 'o1']"


def test_means_divide_the_named_totals_by_n():
    sums = {"a": np.array([6.0, 3.0]), "b": np.array([1.0, 1.0])}
    out = means(sums, np.array([3.0, 3.0]), ["a", "missing"])
    assert list(out) == ["a"] and out["a"].tolist() == [2.0, 1.0]


def test_columns_of_keeps_the_first_records_columns_in_order():
    assert columns_of([]) == {}
    out = columns_of([{"y": 1, "x": 0.5}, {"y": 0, "x": 1.5, "z": 9}])
    assert list(out) == ["y", "x"] and out["y"].dtype == np.float64 and out["x"].tolist() == [0.5, 1.5]
