"""The helpers the three exam sources share: options, answer letters, leak keys (with property tests)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.cmexam import parse_options
from bridge.common import BridgeError, Counts
from bridge.exam import (
    LETTERS,
    answer_letters,
    check_answer,
    clean_options,
    drop_leaks,
    question_key,
    render_options,
)

OPTION_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=12).filter(
    lambda t: t.strip() == t and t != "")


def test_answer_letters_normalise_the_forms_files_use():
    assert answer_letters("D") == "D"
    assert answer_letters("CA") == "AC"  # CMB's answer file has a few unsorted multi-answers
    assert answer_letters("a、c，E") == "ACE"
    assert answer_letters("ＡＣ") == "AC"  # full-width letters
    assert answer_letters(" ") is None and answer_letters(None) is None and answer_letters(float("nan")) is None


def test_clean_options_drops_blank_slots_and_orders_letters():
    assert clean_options({"B": "乙", "A": "甲", "F": "", "E": " "}, "x") == {"A": "甲", "B": "乙"}
    assert clean_options({"ａ": "甲"}, "x") == {"A": "甲"}
    with pytest.raises(BridgeError, match=r"x: option key '1' is not a letter"):
        clean_options({"1": "甲"}, "x")
    with pytest.raises(BridgeError, match="x: 'option' must be an object"):
        clean_options(["甲", "乙"], "x")


def test_check_answer_counts_why_a_question_is_unusable():
    counts = Counts()
    assert check_answer("AC", {"A": "1", "C": "3"}, counts)
    assert not check_answer(None, {"A": "1"}, counts)
    assert not check_answer("E", {"A": "1"}, counts)
    assert not check_answer("A", {}, counts)
    assert dict(counts.skipped) == {"empty_answer": 1, "answer_not_in_options": 1, "no_options": 1}


def test_question_key_ignores_option_order_and_whitespace():
    a = {"question": "治疗 高血压的首选药物是", "options": {"A": "氨氯地平", "B": "阿司匹林"}}
    b = {"question": "治疗高血压的首选药物是", "options": {"A": "阿司匹林", "B": "氨氯地平 "}}
    c = {"question": "治疗高血压的首选药物是", "options": {"A": "阿司匹林", "B": "胰岛素"}}
    assert question_key(a) == question_key(b) != question_key(c)
    counts = Counts()
    assert list(drop_leaks([a, c], {question_key(b)}, counts, "train")) == [c]
    assert dict(counts.skipped) == {"train_in_test": 1}


@pytest.mark.property
@given(st.text(max_size=20))
def test_answer_letters_are_sorted_unique_and_idempotent(text):
    letters = answer_letters(text)
    if letters is not None:
        assert list(letters) == sorted(set(letters)) and letters.isascii() and letters.isupper()
        assert answer_letters(letters) == letters


@pytest.mark.property
@given(st.lists(OPTION_TEXT, min_size=1, max_size=len(LETTERS)))
def test_cmexam_option_cells_round_trip(texts):
    options = {LETTERS[i]: t for i, t in enumerate(texts)}
    packed = "\n".join(f"{letter} {text}" for letter, text in options.items())
    assert parse_options(packed, "row") == options
    assert clean_options(options, "row") == options
    assert render_options(options).splitlines() == [f"{k}. {v}" for k, v in options.items()]
