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
def test_the_last_marker_ends_the_reasoning():
    # Two </think>: the answer is after the last one, also when the model repeats its closing tag.
    assert split_answer("<think>想</think>草稿</think> 急性心肌梗死 ") == "急性心肌梗死"
    assert split_answer("### 答案：先写的\n### 答案：\n后写的") == "后写的"
    assert split_answer("  全文  ") == "全文"


def test_values_by_hand():
    # 患者发热 vs 患者发烧: LCS 3 of 4 both ways → 0.75; the answers 发热 vs 发烧: 1 of 2 → 0.5.
    columns = score(["分析</think>发热", "患者发热"], [{"output": "分析</think>发烧"}, {"output": "患者发烧"}])
    assert columns[0]["answer_rougeL"] == pytest.approx(0.5)
    assert columns[1] == {"rougeL": pytest.approx(0.75), "answer_rougeL": pytest.approx(0.75)}
    assert point_estimate(columns_of(columns), O1.summarise)["answer_rougeL"] == pytest.approx(0.625)


def test_predictions_and_records_must_pair_up():
    with pytest.raises(ValueError):
        score(["a", "b"], [{"output": "a"}])


ANSWERS = st.text(alphabet="发热咳嗽胸痛心肌梗死。 abc", min_size=1, max_size=40).filter(str.strip)


@pytest.mark.property
@given(st.lists(st.tuples(ANSWERS, ANSWERS), min_size=1, max_size=10))
def test_a_perfect_prediction_scores_the_maximum(pairs):
    references = [f"详细分析：{cot}\n### 答案：\n{answer}" for cot, answer in pairs]
    summary = point_estimate(columns_of(score(references, [{"output": r} for r in references])), O1.summarise)
    assert summary == {"rougeL": pytest.approx(1.0), "answer_rougeL": pytest.approx(1.0)}


@pytest.mark.property
@given(st.lists(st.tuples(st.text(max_size=60), st.text(max_size=60)), min_size=1, max_size=10), st.randoms())
def test_permuting_records_leaves_the_scores_unchanged(pairs, rnd):
    shuffled = list(pairs)
    rnd.shuffle(shuffled)

    def summary(items):
        return point_estimate(columns_of(score([p for p, _ in items], [{"output": r} for _, r in items])), O1.summarise)

    assert summary(shuffled) == pytest.approx(summary(pairs))


def test_bertscore_columns_whole_and_final_answer(tiny_bert_path):
    from eval.tasks.free_text import DIALOG

    reference = "详细分析：胸痛伴大汗。\n### 答案：\n急性心肌梗死"
    prediction = "<think>完全不同的分析过程</think>急性心肌梗死"
    o1 = O1.bertscore([prediction, reference], [{"output": reference}] * 2, str(tiny_bert_path))
    assert set(o1) == {"bertscore_f1", "answer_bertscore_f1"}
    assert o1["answer_bertscore_f1"] == [pytest.approx(1.0, abs=1e-5), pytest.approx(1.0, abs=1e-5)]
    assert o1["bertscore_f1"][0] < 1.0 - 1e-3 and o1["bertscore_f1"][1] == pytest.approx(1.0, abs=1e-5)
    dialog = DIALOG.bertscore([prediction], [{"output": reference}], str(tiny_bert_path))
    assert list(dialog) == ["bertscore_f1"] and dialog["bertscore_f1"] == pytest.approx(o1["bertscore_f1"][:1])
    assert O1.bertscore.__doc__ == "BERTScore F1 of the whole answer and of the final answer."
    assert DIALOG.bertscore.__doc__ == "BERTScore F1 of the whole answer."
