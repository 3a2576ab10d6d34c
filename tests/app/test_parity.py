"""Parity's own checks that need no trained model: user labels, the difference finder."""

from __future__ import annotations

import re

import pytest

from app import parity


@pytest.mark.parametrize(("label", "url", "message"), [
    ("../../escape", "http://127.0.0.1:8000/v1", "--server label '../../escape' is not allowed"),
    ("/abs", "http://127.0.0.1:8000/v1", "--server label '/abs' is not allowed"),
    ("merged", "http://127.0.0.1:8000/v1", "'merged' is one of medft's own paths"),
    ("vllm", "127.0.0.1:8000", "expected an http(s) URL"),
])
def test_a_bad_server_label_or_url_is_refused_before_any_work(tmp_path, label, url, message):
    # The run does not exist: the label is checked first, so nothing is loaded, exported or written.
    with pytest.raises(parity.ParityError, match=re.escape(message)):
        parity.check(tmp_path / "no-run", tmp_path, ["med_norm_test"], tmp_path / "out", servers={label: url})
    assert list(tmp_path.iterdir()) == []


def test_first_difference_of_strings_and_token_lists():
    assert parity.first_difference("急性胃炎", "急性肠炎") == 2
    assert parity.first_difference([1, 2, 3], [1, 2]) == 2
    assert parity.first_difference("同", "同") == 1
