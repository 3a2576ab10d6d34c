"""The one name rule for dataset names and model labels (medft/names.py)."""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medft.names import MAX_LENGTH, BadName, check_name, name_problem


@pytest.mark.parametrize("name", ["med_dialog", "general_zh", "基座", "lora-v1.2", "-x", "a" * MAX_LENGTH])
def test_plain_names_pass(name):
    assert name_problem(name) is None and check_name(name, "model label") == name


@pytest.mark.parametrize(("name", "problem"), [
    ("", "it is empty"),
    ("..", "it starts with '.'"),
    ("../../../pwn2", "it starts with '.'"),
    (".hidden", "it starts with '.'"),
    ("/abs/dir", "it holds '/' (path separators are not allowed)"),
    ("a/b", "it holds '/' (path separators are not allowed)"),
    ("a\\b", "it holds '\\\\' (path separators are not allowed)"),
    ("x=y", "it holds '='"),
    ("a b", "it holds ' '"),
    ("a\x00", "it holds '\\x00'"),
    ("a" * (MAX_LENGTH + 1), f"it is longer than {MAX_LENGTH} characters"),
])
def test_path_like_names_are_refused_with_the_reason(name, problem):
    assert name_problem(name) == problem
    with pytest.raises(BadName, match=r"^model label .* is not allowed: ") as info:
        check_name(name, "model label")
    assert "\n" not in str(info.value)


@pytest.mark.property
@given(st.text(max_size=120))
def test_an_accepted_name_stays_inside_its_folder(name):
    if name_problem(name) is not None:
        with pytest.raises(BadName):
            check_name(name, "dataset name")
        return
    base = Path("/srv/out")
    joined = base / name / f"{name}_test.jsonl"
    assert not name.startswith(".") and "/" not in name and "\\" not in name and "\x00" not in name
    assert joined.parent.parent == base and joined.parent.name == name
    assert ".." not in joined.parts and "." not in joined.parts[1:]
