import json

import pytest

from eval.scorers import (
    MRG_SECTIONS,
    clean_norm_prediction,
    linearise_report,
    parse_report,
    score_free_text,
    score_mrg,
    score_norm,
    split_answer,
)

REPORT_A = {"主诉": "腹泻三天。", "现病史": "患儿腹泻三天，稀水样便。", "辅助检查": "暂缺。",
            "既往史": "不详。", "诊断": "小儿腹泻", "建议": "口服补液盐。"}
REPORT_B = {"主诉": "拉肚子三天。", "现病史": "腹泻。", "辅助检查": "", "既往史": "不详。",
            "诊断": "小儿腹泻", "建议": "补液。"}


def test_norm_accuracy_and_micro_set_f1():
    records = [{"output": "高血压"}, {"output": "2型糖尿病##高血糖症"}, {"output": "脑梗死后遗症"}]
    predictions = ["高血压。\n解释：……", "高血糖症 ## 2型糖尿病", "脑梗死"]
    per_example, summary = score_norm(predictions, records)
    assert [e["exact_match"] for e in per_example] == [1.0, 0.0, 0.0]
    # TP = 1 + 2 + 0, |P| = 1 + 2 + 1, |G| = 1 + 2 + 1
    assert summary["accuracy"] == pytest.approx(1 / 3)
    assert summary["set_precision"] == pytest.approx(3 / 4)
    assert summary["set_recall"] == pytest.approx(3 / 4)
    assert summary["set_f1"] == pytest.approx(2 * 3 / 8)
    assert per_example[1]["set_f1"] == 1.0


def test_norm_prediction_cleaning():
    assert clean_norm_prediction("\n  肺恶性肿瘤。 \n其他") == "肺恶性肿瘤"
    assert clean_norm_prediction("   ") == ""


@pytest.mark.parametrize("text", [
    json.dumps(REPORT_A, ensure_ascii=False, indent=2),
    "好的，报告如下：\n```json\n" + json.dumps(REPORT_A, ensure_ascii=False) + "\n```\n希望有帮助",
    "报告：" + json.dumps(REPORT_A, ensure_ascii=False) + " 以上。",
])
def test_parse_report_finds_the_object(text):
    assert parse_report(text) == REPORT_A


def test_parse_report_failures_and_coercion():
    assert parse_report("主诉：腹泻三天") is None
    assert parse_report('{"主诉": "x", "诊断": ["a", "b"]') is None  # truncated generation
    assert parse_report('{bad} {"诊断": ["肺炎"]}') == {"诊断": '["肺炎"]'}


def test_linearise_uses_section_order():
    shuffled = dict(reversed(list(REPORT_A.items())))
    assert linearise_report(shuffled).startswith("主诉：腹泻三天。现病史：")
    assert linearise_report({}) == "".join(f"{s}：" for s in MRG_SECTIONS)


def test_mrg_perfect_prediction_and_multi_reference():
    record = {"output": json.dumps(REPORT_A, ensure_ascii=False), "references": [REPORT_A, REPORT_B]}
    per_example, summary = score_mrg([json.dumps(REPORT_B, ensure_ascii=False)], [record])
    example = per_example[0]
    assert summary["parse_rate"] == 1.0
    # Section matches take the best reference: REPORT_B matches itself everywhere.
    assert all(example[f"{s}_exact"] == 1.0 for s in MRG_SECTIONS)
    # CBLUE ROUGE averages over both references, so a copy of one is < 1.
    assert 0 < summary["rouge1"] < 1 and summary["cblue_score"] < 1


def test_mrg_unparsable_prediction_earns_no_section_credit():
    record = {"output": json.dumps(REPORT_B, ensure_ascii=False), "references": [REPORT_B]}
    per_example, summary = score_mrg(["患儿腹泻三天"], [record])
    assert summary["parse_rate"] == 0.0
    assert per_example[0]["辅助检查_exact"] == 0.0  # even though the reference section is empty
    assert summary["rouge1"] > 0  # the raw text still overlaps the linearised reference


def test_mrg_without_references_field_uses_output():
    record = {"output": json.dumps(REPORT_A, ensure_ascii=False, indent=2)}
    _, summary = score_mrg([json.dumps(REPORT_A, ensure_ascii=False)], [record])
    assert summary["cblue_score"] == pytest.approx(1.0)


def test_free_text_scores_answer_part_separately():
    reference = "诊断问题：…\n详细分析：胸痛伴大汗。\n### 答案：\n急性心肌梗死"
    prediction = "<think>胸痛</think>急性心肌梗死"
    per_example, summary = score_free_text([prediction], [{"output": reference}])
    assert per_example[0]["answer_rougeL"] == 1.0
    assert 0 < summary["rougeL"] < 1
    assert split_answer("无标记的回答") == "无标记的回答"
