import json

import pytest

from bridge import mrg
from bridge.common import BridgeError, Counts, load_prompt
from bridge.pipeline import convert_source

PROMPT = load_prompt(mrg.DEFAULT_PROMPT, mrg.PROMPT_FIELDS)
REPORTS = [
    {"主诉": "大便异常。", "现病史": "患儿大便稀。", "辅助检查": "暂缺。", "既往史": "不详。",
     "诊断": "小儿消化不良", "建议": ""},
    {"主诉": "腹泻。", "现病史": "腹泻三天。", "辅助检查": "暂缺。", "既往史": "不详。",
     "诊断": "小儿消化不良", "建议": "益生菌。"},
]
RECORD = {"diagnosis": "小儿消化不良", "self_report": "这个粑粑正常吗？",
          "dialogue": [{"sentence_id": "1", "speaker": "患者", "sentence": "这个粑粑正常吗？"},
                       {"sentence_id": "2", "speaker": "医生", "sentence": "宝宝多大了？"},
                       {"sentence_id": "3", "speaker": "患者", "sentence": "（空）"}],
          "report": REPORTS}


def test_convert_field_by_field():
    out = list(mrg.convert([("10626355", RECORD)], PROMPT, keep_references=True))
    assert len(out) == 1
    rec = out[0]
    assert rec["instruction"] == (
        "问诊对话历史：\n患者：这个粑粑正常吗？\n医生：宝宝多大了？\n患者：（空）\n根据上述对话，给出诊疗报告\n"
        "说明：诊疗报告分为主诉, 现病史, 辅助检查, 既往史, 诊断, 建议这六个章节，以标准的json格式输出。\n答："
    )
    assert rec["input"] == ""
    assert rec["output"] == json.dumps(REPORTS[0], ensure_ascii=False, indent=2)
    assert json.loads(rec["output"]) == REPORTS[0]
    assert rec["id"] == "10626355" and rec["references"] == REPORTS


def test_all_reports_and_skips():
    counts = Counts()
    items = [("1", RECORD), ("2", {**RECORD, "report": []}), ("3", {**RECORD, "dialogue": []})]
    out = list(mrg.convert(items, PROMPT, counts, all_reports=True))
    assert [json.loads(r["output"]) for r in out] == REPORTS
    assert "references" not in out[0]
    assert dict(counts.skipped) == {"no_report": 1, "empty_dialogue": 1}


def test_bom_in_first_key_is_tolerated():
    bommed = {"\ufeffdialogue": RECORD["dialogue"], "report": REPORTS}
    assert len(list(mrg.convert([("1", bommed)], PROMPT))) == 1


def test_unlabelled_test_file_is_refused(samples_dir, tmp_path):
    with pytest.raises(BridgeError, match=r"unlabelled IMCS-V2_test\.json"):
        convert_source("mrg", tmp_path, inputs={"train": [samples_dir / "mrg" / "IMCS-V2_test.json"],
                                                "test": [samples_dir / "mrg" / "IMCS-V2_dev.json"]})
    assert not any(tmp_path.iterdir())


def test_missing_keys_and_wrong_file(samples_dir, tmp_path):
    with pytest.raises(BridgeError, match=r"missing key\(s\) \['dialogue'\]; expected keys \['dialogue', 'report'\]"):
        list(mrg.convert([("1", {"report": REPORTS})], PROMPT))
    with pytest.raises(BridgeError, match="dialogue turn 0 lacks"):
        list(mrg.convert([("1", {"dialogue": [{"speaker": "患者"}], "report": REPORTS})], PROMPT))
    with pytest.raises(BridgeError, match="expected the IMCS-V2 layout"):
        list(mrg.read_raw(samples_dir / "o1" / "medical_o1_sft_Chinese.json"))


def test_sample_conversion(samples_dir, tmp_path):
    result = convert_source("mrg", tmp_path, raw_dir=samples_dir)
    # 40 train + 12 dev dialogues; every tenth has no report (4 + 1).
    assert result.counts["read"] == 52 and result.counts["skipped"] == {"no_report": 5}
    assert result.counts["written"] == {"train": 36, "test": 11}
    test = [json.loads(x) for x in (tmp_path / "mrg_test.jsonl").read_text(encoding="utf-8").splitlines()]
    assert all(len(r["references"]) == 2 and json.loads(r["output"]) == r["references"][0] for r in test)
