"""medft's cblue_score equals the official CBLUE IMCS-V2 MRG scorer (PyPI rouge 1.0.1) to 1e-9."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rouge import Rouge

from bridge.mrg import REPORT_SECTIONS
from eval.cblue import dialogue_scores, lcs_tokens, linearise, sentences

SECTIONS = list(REPORT_SECTIONS)
PIECES = ["腹泻", "发热", "咳嗽", "三天", "体温", "38.5", "℃", "，", "。", ".", "..", " ", "\n", "\u3000", "暂缺。",
          "不详。", "CT", "HbA1c", "mg/dL", "😀", "👶🏻", "小儿", "建议", "口服", "补液盐", "1.2.3", "a.b", "无",
          "（空）", "\t", "x", "？", "!"]


def official_dialogue(prediction: dict, references: list[dict]) -> tuple[float, float, float]:
    """The official script's rules for one dialogue, calling the pinned rouge 1.0.1 itself.

    As in imcs21-cblue task3/eval_task3.py: ``key：value`` joined in the dict's order, characters
    space-joined (the hypothesis string is re-joined for every reference, as the script does), F of
    rouge-1/2/l averaged over the references, and 0 for the dialogue when rouge raises ValueError.
    """
    source = "".join(key + "：" + value for key, value in prediction.items())
    totals = [0.0, 0.0, 0.0]
    try:
        for reference in references:
            target = "".join(key + "：" + value for key, value in reference.items())
            source, target = " ".join(source), " ".join(target)
            scores = Rouge().get_scores(hyps=source, refs=target)[0]
            totals = [totals[0] + scores["rouge-1"]["f"], totals[1] + scores["rouge-2"]["f"],
                      totals[2] + scores["rouge-l"]["f"]]
    except ValueError:
        return 0.0, 0.0, 0.0
    return tuple(t / len(references) for t in totals)


def random_text(rng: random.Random, max_pieces: int) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, max_pieces)))


def random_report(rng: random.Random, max_pieces: int = 8) -> dict[str, str]:
    keys = rng.sample(SECTIONS, rng.randint(0, len(SECTIONS)))
    if rng.random() < 0.2:
        keys.insert(rng.randint(0, len(keys)), rng.choice(["备注", "extra", "诊断依据"]))
    return {key: random_text(rng, max_pieces) for key in keys}


def test_parity_with_official_scorer_on_2000_generated_report_pairs():
    rng = random.Random(20261123)
    for case in range(2000):
        prediction = random_report(rng)
        references = [random_report(rng) for _ in range(rng.choice([1, 2, 2, 2]))]
        if rng.random() < 0.3:  # copies and reorderings of a reference, the interesting near-misses
            items = list(references[0].items())
            rng.shuffle(items)
            prediction = dict(items)
        expected = official_dialogue(prediction, references)
        got = dialogue_scores(prediction, references)
        assert got == pytest.approx(expected, abs=1e-9), (case, prediction, references)


@pytest.mark.property
@given(prediction=st.dictionaries(st.sampled_from([*SECTIONS, "x"]), st.text(max_size=25), max_size=4),
       reference=st.dictionaries(st.sampled_from(SECTIONS), st.text(max_size=25), min_size=1, max_size=4))
def test_parity_on_arbitrary_unicode(prediction, reference):
    assert dialogue_scores(prediction, [reference]) == pytest.approx(official_dialogue(prediction, [reference]),
                                                                      abs=1e-9)


def test_the_official_quirks():
    reference = {"主诉": "发热三天", "诊断": "上呼吸道感染"}
    # An empty report (nothing parsed) and a lone "." both make rouge raise: the dialogue scores 0.
    assert dialogue_scores({}, [reference]) == (0.0, 0.0, 0.0)
    # Section order matters: the official scorer keeps the prediction's own order.
    reordered = dict(reversed(list(reference.items())))
    rouge1, _, rouge_l = dialogue_scores(reordered, [reference])
    assert rouge1 == pytest.approx(1.0, abs=1e-7) and rouge_l < 0.9
    assert dialogue_scores(reference, [reference]) == pytest.approx((1.0, 1.0, 1.0), abs=1e-7)
    # "38.5" splits a sentence at the ASCII dot; whitespace disappears.
    assert sentences("体温38.5 度") == [["体", "温", "3", "8"], ["5", "度"]]
    assert sentences("a..b") == [["a"], [""], ["b"]]
    assert sentences(".") == [] and sentences("") == []


def test_long_reports_do_not_recurse():
    # rouge 1.0.1 backtracks recursively and dies past ~1,000 characters; medft walks the table iteratively.
    long_text = "患者反复咳嗽咳痰伴发热" * 300
    assert len(lcs_tokens(list(long_text), list(long_text))) == len(long_text)
    assert dialogue_scores({"现病史": long_text}, [{"现病史": long_text}])[0] == pytest.approx(1.0, abs=1e-7)
    assert linearise({"a": "1", "b": "2"}) == "a：1b：2"


def test_empty_sides_by_rule():
    from eval.cblue import EmptyReport, rouge_n, rouge_scores

    assert dialogue_scores({"主诉": "腹泻"}, []) == (0.0, 0.0, 0.0)  # no reference report: 0, as the script
    with pytest.raises(EmptyReport, match=r"^hypothesis is empty$"):
        rouge_scores("", "主诉：腹泻")
    with pytest.raises(EmptyReport, match=r"^reference is empty$"):
        rouge_scores("主诉：腹泻", "")
    assert rouge_n([["主"]], [["主", "诉"]], 2) == 0.0  # no bigram on one side: 0, not a division error
    assert rouge_n([["主", "诉"]], [["主"]], 2) == 0.0
    assert sentences(".主诉") == [["主", "诉"]]  # a leading "." leaves an empty first piece, skipped
