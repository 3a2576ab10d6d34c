import json

import pytest

from bridge import norm
from bridge.common import BridgeError, Counts, load_prompt
from bridge.pipeline import convert_source
from bridge.samples import write_xlsx

PROMPT = load_prompt(norm.DEFAULT_PROMPT, norm.PROMPT_FIELDS)
PREFIX = ("你是一个医疗专家，你的任务是临床术语标准化。\n具体来说，针对给出的通用语，转换为相应的标准化医学术语，"
          "确保转换后的内容符合医学专业标准，直接输出转换后的临床标准术语。\n")


def test_xlsx_columns_by_header_name_with_empty_and_numeric_cells(tmp_path):
    path = tmp_path / "train.xlsx"
    # Columns in a different order plus an extra one: found by name, not position.
    write_xlsx(path, [("2型糖尿病##高血糖症", "x", "2型糖尿病伴血糖控制不佳"),
                      (None, "y", "左膝关节置换术后"),
                      ("高血压", "z", None),
                      (12, "n", 3.0),
                      ("  ", "w", "空标准词")], header=("标准词", "备注", "原始词"))
    counts = Counts()
    out = list(norm.convert(norm.read_xlsx(path), PROMPT, counts))
    assert out == [
        {"instruction": PREFIX + "原始词：2型糖尿病伴血糖控制不佳\n该词的标准术语为：", "input": "",
         "output": "2型糖尿病##高血糖症"},
        {"instruction": PREFIX + "原始词：3\n该词的标准术语为：", "input": "", "output": "12"},
    ]
    assert counts.read == 5 and dict(counts.skipped) == {"empty_term": 2, "empty_word": 1}


def test_missing_column_names_it(tmp_path):
    path = tmp_path / "val.xlsx"
    write_xlsx(path, [("a", "b")], header=("原始词", "标准"))
    with pytest.raises(BridgeError, match=r"missing column\(s\) \['标准词'\]; expected \['原始词', '标准词'\], "
                                          r"found \['原始词', '标准'\]"):
        list(norm.read_xlsx(path))


def test_wrong_file_for_source(samples_dir, tmp_path):
    fake = tmp_path / "train.xlsx"
    fake.write_bytes((samples_dir / "o1" / "medical_o1_sft.json").read_bytes())
    with pytest.raises(BridgeError, match="not a readable xlsx workbook"):
        list(norm.read_xlsx(fake))
    with pytest.raises(BridgeError, match=r"norm expects Yidu-N7K \.xlsx or CHIP-CDN \.json"):
        norm.read_raw(samples_dir / "dialog_toyhom" / "Data_数据" / "IM_内科" / "内科5000-33000.csv")


def test_chip_cdn_json(tmp_path):
    path = tmp_path / "CHIP-CDN_train.json"
    item = {"text": "右肺上叶恶性肿瘤术后化疗", "normalized_result": "肺恶性肿瘤##手术后恶性肿瘤化学治疗"}
    path.write_text(json.dumps([item], ensure_ascii=False), encoding="utf-8")
    out = list(norm.convert(norm.read_cdn_json(path), PROMPT))
    assert out[0]["output"] == "肺恶性肿瘤##手术后恶性肿瘤化学治疗"
    assert out[0]["instruction"].endswith("原始词：右肺上叶恶性肿瘤术后化疗\n该词的标准术语为：")
    path.write_text(json.dumps([{"text": "a", "normalized": "b"}]), encoding="utf-8")
    with pytest.raises(BridgeError, match=r"missing key\(s\) \['normalized_result'\]"):
        list(norm.read_cdn_json(path))


def test_sample_conversion_keeps_multi_terms(samples_dir, tmp_path):
    result = convert_source("norm", tmp_path, raw_dir=samples_dir, params={"test_size": 20})
    assert result.counts["written"] == {"test": 20, "train": 191}
    train = [json.loads(x) for x in (tmp_path / "norm_train.jsonl").read_text(encoding="utf-8").splitlines()]
    assert any("##" in r["output"] for r in train)
    assert all(set(r) == {"instruction", "input", "output"} and r["input"] == "" for r in train)
    assert all(r["instruction"].startswith(PREFIX) for r in train)


def test_nan_cells_from_pandas_written_files_are_skipped():
    # pandas writes missing cells as float NaN; whatever the reader hands over, NaN is an empty cell.
    counts = Counts()
    rows = [(float("nan"), "高血压"), ("高血压病", float("nan")), ("高血压病", "高血压")]
    assert [r["output"] for r in norm.convert(rows, PROMPT, counts)] == ["高血压"]
    assert dict(counts.skipped) == {"empty_word": 1, "empty_term": 1}
