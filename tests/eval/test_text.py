import random

import pytest

from eval.text import chars, lcs_length, rouge_l_cblue, rouge_l_f, rouge_n_f


def _lcs_table(a, b):
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1][j + 1] = table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
    return table[-1][-1]


def test_bit_parallel_lcs_matches_the_dynamic_programming_table():
    rng = random.Random(0)
    alphabet = "发热咳嗽痰ab"
    for _ in range(300):
        a = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        b = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert lcs_length(a, b) == _lcs_table(a, b)


def test_chars_drop_whitespace_keep_punctuation():
    assert chars("发 热，\n38.5℃") == ["发", "热", "，", "3", "8", ".", "5", "℃"]


def test_rouge_values_by_hand():
    # 患者发热 vs 患者发烧: 3 of 4 characters shared in order.
    assert rouge_l_f("患者发热", "患者发烧") == pytest.approx(0.75)
    assert rouge_n_f("患者发热", "患者发烧", 1) == pytest.approx(0.75)
    # bigrams {患者, 者发, 发热} vs {患者, 者发, 发烧}: 2 of 3.
    assert rouge_n_f("患者发热", "患者发烧", 2) == pytest.approx(2 / 3)
    assert rouge_l_f("", "发热") == 0.0 and rouge_n_f("发热", "", 1) == 0.0


def test_rouge_n_counts_sets_like_the_cblue_scorer():
    # Repeated characters count once: {发, 热} vs {发}: P = 1/2, R = 1.
    assert rouge_n_f("发发热热", "发", 1) == pytest.approx(2 * 0.5 * 1 / 1.5)


def test_cblue_rouge_l_weights_by_precision_over_recall():
    cand, ref = "发热", "患者发热三天"  # P = 1, R = 1/3, beta = 3
    beta = 3.0
    expected = (1 + beta**2) * (1 / 3) * 1 / ((1 / 3) + beta**2 * 1)
    assert rouge_l_cblue(cand, ref) == pytest.approx(expected, rel=1e-6)
    assert rouge_l_cblue("发热", "发热") == pytest.approx(1.0)


def test_unequal_lengths_by_hand():
    # 发热 inside 患者发热三天: LCS 2, P = 2/2, R = 2/6 → F1 = 2·1·(1/3)/(4/3) = 1/2, either way round.
    assert rouge_l_f("发热", "患者发热三天") == pytest.approx(0.5)
    assert rouge_l_f("患者发热三天", "发热") == pytest.approx(0.5)
    # unigram sets {发, 热} vs {患, 者, 发, 热, 三, 天}: P = 1, R = 1/3 → 1/2; bigrams 1 of 1 vs 1 of 5 → 1/3.
    assert rouge_n_f("发热", "患者发热三天", 1) == pytest.approx(0.5)
    assert rouge_n_f("发热", "患者发热三天", 2) == pytest.approx(1 / 3)
    assert rouge_n_f("患者发热三天", "发热", 2) == pytest.approx(1 / 3)
    # Too short for a bigram on one side: 0, not an error.
    assert rouge_n_f("发", "发热", 2) == 0.0


def test_no_overlap_scores_zero_not_a_division_error():
    assert rouge_n_f("咳嗽", "发热", 1) == 0.0
    assert rouge_l_f("咳嗽", "发热") == 0.0
    assert rouge_l_cblue("咳嗽", "发热") == 0.0


def test_cblue_rouge_l_with_precision_below_one():
    # 患者发烧 vs 发热: LCS 1 (发), P = 1/4, R = 1/2, β = P/R = 1/2:
    # (1 + 1/4)·(1/2)·(1/4) / (1/2 + (1/4)·(1/4)) = (5/32) / (9/16) = 5/18.
    assert rouge_l_cblue("患者发烧", "发热") == pytest.approx(5 / 18)
    # One shared character is an overlap, not none: 热 vs 发热, P = 1, R = 1/2, β = 2 → 5·(1/2) / (1/2 + 4) = 5/9.
    assert rouge_l_cblue("热", "发热") == pytest.approx(5 / 9)


def test_lcs_of_lists_and_empty_sides():
    assert lcs_length(["发", "热"], ["热"]) == 1
    assert lcs_length("", "发热") == 0 and lcs_length("发热", "") == 0
    assert lcs_length("abcbdab", "bdcaba") == 4  # the textbook example
