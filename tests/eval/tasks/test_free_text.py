import pytest
from hypothesis import given
from hypothesis import strategies as st

from eval.bootstrap import point_estimate
from eval.tasks.base import columns_of
from eval.tasks.free_text import O1, score, split_answer


def test_answer_part_is_scored_separately():
    reference = "诊断问题：…\n详细分析：胸痛伴大汗。\n### 答案：\n急性心肌梗死"
    prediction = "<think>胸痛</think>急性心肌梗死"
    columns = score([prediction], [{"output": reference}])
    assert columns[0]["answer_rougeL"] == 1.0
    assert 0 < point_estimate(columns_of(columns), O1.summarise)["rougeL"] < 1
    assert split_answer("无标记的回答") == "无标记的回答"


def test_the_last_marker_wins_in_either_language():
    # A think block that quotes the sections form: the answer is what follows </think>, not the quote.
    assert split_answer("<think>\n### 答案：\n甲\n</think>\n\n乙") == "乙"
    assert split_answer("Detailed analysis: x\n### Answer:\nPneumonia.") == "Pneumonia."
    assert split_answer("Detailed analysis: quoting ### Answer: no\n### Answer:\nyes") == "yes"
    # A reference with nothing after its marker is matched only by an empty final answer.
    columns = score(["推理\n### 答案：\n", "推理\n### 答案：\n多余"], [{"output": "分析\n### 答案：\n"}] * 2)
    assert [row["answer_rougeL"] for row in columns] == [1.0, 0.0]


@pytest.mark.property
@given(st.lists(st.tuples(st.text(max_size=200), st.text(max_size=200)), min_size=1, max_size=10))
def test_any_answers_score_inside_zero_one(pairs):
    columns = score([p for p, _ in pairs], [{"output": r} for _, r in pairs])
    summary = point_estimate(columns_of(columns), O1.summarise)
    assert all(0.0 <= value <= 1.0 + 1e-12 for value in summary.values()), summary
