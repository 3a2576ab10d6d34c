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
