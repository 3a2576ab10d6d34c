import json
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.mrg import REPORT_SECTIONS
from bridge.mrg import REPORT_SECTIONS as MRG_SECTIONS
from eval.bootstrap import point_estimate
from eval.tasks.base import columns_of
from eval.tasks.mrg import TASK, parse_report, references_of, score
from eval.text import rouge_l_f

REPORT_A = {"主诉": "腹泻三天。", "现病史": "患儿腹泻三天，稀水样便。", "辅助检查": "暂缺。",
            "既往史": "不详。", "诊断": "小儿腹泻", "建议": "口服补液盐。"}
REPORT_B = {"主诉": "拉肚子三天。", "现病史": "腹泻。", "辅助检查": "", "既往史": "不详。",
            "诊断": "小儿腹泻", "建议": "补液。"}
RECORD = {"output": json.dumps(REPORT_A, ensure_ascii=False), "references": [REPORT_A, REPORT_B]}


def summary(predictions, records):
    return point_estimate(columns_of(score(predictions, records)), TASK.summarise)


@pytest.mark.parametrize("text", [
    json.dumps(REPORT_A, ensure_ascii=False, indent=2),
    "好的，报告如下：\n```json\n" + json.dumps(REPORT_A, ensure_ascii=False) + "\n```\n希望有帮助",
    "报告：" + json.dumps(REPORT_A, ensure_ascii=False) + " 以上。",
    "说明{见下：\n" + json.dumps(REPORT_A, ensure_ascii=False),  # an unbalanced brace in the chatter
    '他说"你好 {\n' + json.dumps(REPORT_A, ensure_ascii=False),  # a stray quote costs one line only
])
def test_parse_report_finds_the_object(text):
    assert parse_report(text) == REPORT_A


def test_parse_report_failures_and_coercion():
    assert parse_report("主诉：腹泻三天") is None
    assert parse_report('{"主诉": "x", "诊断": ["a", "b"]') is None  # truncated generation
    assert parse_report('{bad} {"诊断": ["肺炎"]}') == {"诊断": '["肺炎"]'}
    assert parse_report('{"note": 1} {"主诉": "x"}') == {"主诉": "x"}  # an object without sections is skipped


def test_model_key_order_and_extra_keys_are_kept():
    text = json.dumps({"诊断": "肺炎", "备注": "无", "主诉": "咳嗽"}, ensure_ascii=False)
    assert list(parse_report(text)) == ["诊断", "备注", "主诉"]


@pytest.mark.parametrize("garbage", ["{}", '{"1": 2}', "[]", "患儿腹泻三天", '{"备注": "主诉：腹泻三天"}', ""])
def test_unparsable_or_sectionless_reports_score_zero_everywhere(garbage):
    result = summary([garbage], [RECORD])
    assert result["parse_rate"] == 0.0
    assert all(value == 0.0 for value in result.values()), result


def test_perfect_prediction_and_multi_reference():
    columns = score([json.dumps(REPORT_B, ensure_ascii=False)], [RECORD])
    assert all(columns[0][f"{s}_exact"] == 1.0 for s in REPORT_SECTIONS)  # best reference per section
    result = summary([json.dumps(REPORT_B, ensure_ascii=False)], [RECORD])
    assert result["parse_rate"] == 1.0
    assert 0 < result["rouge1"] < 1 and result["cblue_score"] < 1  # averaged over both references
    assert result["cblue_score"] == pytest.approx((result["rouge1"] + result["rouge2"] + result["rougeL"]) / 3)


def test_without_references_field_uses_output():
    record = {"output": json.dumps(REPORT_A, ensure_ascii=False, indent=2)}
    assert summary([json.dumps(REPORT_A, ensure_ascii=False)], [record])["cblue_score"] == pytest.approx(1.0, abs=1e-7)


def test_deep_nesting_and_megabytes_of_braces_are_harmless():
    deep = "[" * 5000 + "]" * 5000
    assert parse_report('{"主诉": ' + deep + "}") is None  # json's RecursionError is caught
    start = time.process_time()
    assert parse_report("{" * 1_000_000) is None
    assert parse_report('{"a": ' * 100_000) is None
    # Linear time: the old scan took ~4 minutes on 1 MB of "{" (reported here, not asserted).
    print(f"1 MB of braces: {time.process_time() - start:.2f} s CPU")
    assert summary(["{" * 10_000], [RECORD])["cblue_score"] == 0.0


@pytest.mark.property
@given(st.text(alphabet=st.sampled_from(list('{}[]":,\\ \n主诉诊断abc1.')), max_size=300))
def test_any_text_parses_to_a_report_or_none_and_scores_in_range(text):
    parsed = parse_report(text)
    assert parsed is None or (isinstance(parsed, dict) and any(s in parsed for s in REPORT_SECTIONS))
    result = summary([text], [RECORD])
    assert all(0.0 <= value <= 1.0 for value in result.values())


def _one(prediction, references):
    return score([json.dumps(prediction, ensure_ascii=False)], [{"output": "", "references": references}])[0]


def test_the_best_reference_counts_per_section_not_the_first():
    # 拉肚子三天。 vs A's 腹泻三天。: LCS 三天。 = 3, P = 3/6, R = 3/5 → F 6/11; vs B's: identical → 1.
    assert rouge_l_f("拉肚子三天。", "腹泻三天。") == pytest.approx(6 / 11)
    columns = _one({"主诉": "拉肚子三天。"}, [REPORT_A, REPORT_B])
    assert columns["主诉_exact"] == 1.0 and columns["主诉_rougeL"] == pytest.approx(1.0)
    columns = _one({"主诉": "拉肚子三天。"}, [REPORT_A])
    assert columns["主诉_exact"] == 0.0 and columns["主诉_rougeL"] == pytest.approx(6 / 11)


def test_a_missing_section_earns_nothing_even_against_an_empty_gold():
    # REPORT_B's 辅助检查 is "": writing it empty matches; leaving it out does not.
    written = _one({**REPORT_B, "辅助检查": ""}, [REPORT_B])
    assert written["辅助检查_exact"] == 1.0 and written["辅助检查_rougeL"] == 1.0
    left_out = _one({k: v for k, v in REPORT_B.items() if k != "辅助检查"}, [REPORT_B])
    assert left_out["辅助检查_exact"] == 0.0 and left_out["辅助检查_rougeL"] == 0.0
    # Something written against an empty gold earns nothing from that reference.
    assert _one({"辅助检查": "暂缺。"}, [REPORT_B])["辅助检查_rougeL"] == 0.0


def test_a_reference_without_a_section_is_an_empty_gold():
    reference = {"主诉": "腹泻三天。"}
    columns = _one({"主诉": "腹泻三天。", "建议": ""}, [reference])
    assert columns["建议_exact"] == 1.0 and columns["建议_rougeL"] == 1.0


def test_a_missing_first_section_does_not_stop_the_others():
    columns = _one({k: v for k, v in REPORT_A.items() if k != "主诉"}, [REPORT_A])
    assert columns["主诉_exact"] == 0.0
    assert all(columns[f"{s}_exact"] == 1.0 and columns[f"{s}_rougeL"] == 1.0 for s in MRG_SECTIONS[1:])


def test_the_json_fence_wins_over_an_earlier_object():
    text = '草稿：{"主诉": "草稿"}\n```json\n{"主诉": "终稿"}\n```'
    assert parse_report(text) == {"主诉": "终稿"}
    assert parse_report('```\n{"诊断": "肺炎"}\n```') == {"诊断": "肺炎"}


def test_the_outer_report_wins_over_an_inner_one_and_inner_is_found_in_a_sectionless_outer():
    assert parse_report('{"主诉": "外", "附": {"主诉": "内"}}') == {"主诉": "外", "附": '{"主诉": "内"}'}
    assert parse_report('{"data": {"主诉": "内"}}') == {"主诉": "内"}


def test_object_depth_limit():
    assert parse_report('{"a": {"b": {"主诉": "x"}}}') == {"主诉": "x"}  # depth 3: looked at
    assert parse_report('{"a": {"b": {"c": {"主诉": "x"}}}}') is None  # depth 4: not


@pytest.mark.parametrize(("text", "expected"), [
    ('{"主诉": "a\\"{b", "诊断": "x"}', {"主诉": 'a"{b', "诊断": "x"}),   # an escaped quote, then a brace
    ('{"主诉": "左}右"}', {"主诉": "左}右"}),                             # a brace inside a string
    ('{"主诉": "a\\\\", "诊断": "{"}', {"主诉": "a\\", "诊断": "{"}),      # an escaped backslash ends there
    ('{"备注: 未闭合\n{"主诉": "x"}', {"主诉": "x"}),                      # a newline ends a stray string
    ('{"主诉": "x"}。', {"主诉": "x"}),                                   # punctuation right after the object
])
def test_strings_and_braces(text, expected):
    assert parse_report(text) == expected


def test_references_written_as_json_text_are_parsed():
    record = {"output": "", "references": [json.dumps(REPORT_A, ensure_ascii=False), "no report here"]}
    assert references_of(record) == [REPORT_A, {}]
    assert references_of({"output": "x", "references": [{"主诉": ["a"]}]}) == [{"主诉": '["a"]'}]


def test_parse_rate_and_summary_keys():
    result = summary([json.dumps(REPORT_A, ensure_ascii=False), "乱写"], [RECORD, RECORD])
    assert result["parse_rate"] == 0.5
    expected = {"rouge1", "rouge2", "rougeL", "cblue_score", "parse_rate"} | {
        f"{s}_{kind}" for s in MRG_SECTIONS for kind in ("exact", "rougeL")}
    assert set(result) == expected
    assert result["主诉_exact"] == 0.5


def test_predictions_and_records_must_pair_up():
    with pytest.raises(ValueError):
        score(["{}", "{}"], [RECORD])


def test_bertscore_per_section_best_reference_and_missing_sections(tiny_bert_path):
    from eval.tasks.mrg import bertscore

    prediction = json.dumps({"主诉": REPORT_B["主诉"], "诊断": "小儿腹泻"}, ensure_ascii=False)
    columns = bertscore([prediction, "没有报告"], [RECORD, RECORD], str(tiny_bert_path))
    assert columns["主诉_bertscore_f1"] == [pytest.approx(1.0, abs=1e-5), 0.0]  # B's 主诉 is the best reference
    assert columns["诊断_bertscore_f1"] == [pytest.approx(1.0, abs=1e-5), 0.0]
    for section in ("现病史", "辅助检查", "既往史", "建议"):
        assert columns[f"{section}_bertscore_f1"] == [0.0, 0.0]
    assert columns["bertscore_f1"] == [pytest.approx(2 / 6, abs=1e-5), 0.0]
    assert set(columns) == {"bertscore_f1"} | {f"{s}_bertscore_f1" for s in MRG_SECTIONS}
    # Each record averages its own six slots: one section right, then two.
    one = json.dumps({"主诉": REPORT_A["主诉"]}, ensure_ascii=False)
    two = json.dumps({"主诉": REPORT_A["主诉"], "诊断": "小儿腹泻"}, ensure_ascii=False)
    per_record = bertscore([one, two], [RECORD, RECORD], str(tiny_bert_path))["bertscore_f1"]
    assert per_record == [pytest.approx(1 / 6, abs=1e-5), pytest.approx(2 / 6, abs=1e-5)]
    # A section the reference lacks is compared with an empty text, which scores 0.
    lacking = {"output": "", "references": [{"主诉": "腹泻三天。"}]}
    assert bertscore([json.dumps({"建议": "补液。"}, ensure_ascii=False)], [lacking],
                     str(tiny_bert_path))["建议_bertscore_f1"] == [0.0]
    with pytest.raises(ValueError):
        bertscore([one, two], [RECORD], str(tiny_bert_path))


REPORT_TEXT = st.text(alphabet="发热咳嗽三天腹泻。无", min_size=1, max_size=12)


@st.composite
def reports(draw):
    return {s: draw(REPORT_TEXT) for s in MRG_SECTIONS}


@pytest.mark.property
@given(reports())
def test_a_perfect_report_scores_the_maximum(reference):
    result = summary([json.dumps(reference, ensure_ascii=False)], [{"output": "", "references": [reference]}])
    assert result["cblue_score"] == pytest.approx(1.0, abs=1e-6) and result["parse_rate"] == 1.0
    assert all(result[f"{s}_exact"] == 1.0 and result[f"{s}_rougeL"] == pytest.approx(1.0) for s in MRG_SECTIONS)


@pytest.mark.property
@given(reports(), st.sets(st.sampled_from(MRG_SECTIONS), max_size=5), st.sampled_from(MRG_SECTIONS))
def test_adding_a_correct_section_never_lowers_the_score(reference, kept, added):
    kept = kept - {added}
    before = {s: reference[s] for s in MRG_SECTIONS if s in kept}
    after = {s: reference[s] for s in MRG_SECTIONS if s in kept | {added}}
    record = {"output": "", "references": [reference]}
    old = summary([json.dumps(before, ensure_ascii=False)], [record])
    new = summary([json.dumps(after, ensure_ascii=False)], [record])
    assert new[f"{added}_exact"] == 1.0 and old[f"{added}_exact"] == 0.0
    assert all(new[name] >= old[name] - 1e-9 for name in old if name != "parse_rate"), (old, new)
