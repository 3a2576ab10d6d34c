"""cmmlu: CMMLU subject csv (test + dev) -> exam records, medical subjects by default."""

import json

import pytest
from click.testing import CliRunner

from bridge import cmmlu
from bridge.cli import bridge
from bridge.common import BridgeError, load_prompt
from bridge.exam import question_key
from bridge.pipeline import convert_source
from tests.bridge.exam_helpers import read_jsonl

PROMPT = load_prompt(cmmlu.DEFAULT_PROMPT, cmmlu.PROMPT_FIELDS)


def test_convert_rows_of_one_subject(tmp_path):
    path = tmp_path / "anatomy.csv"
    path.write_text(",Question,A,B,C,D,Answer\n0,女性生殖腺是,卵巢,前庭大腺,前庭球,乳腺,A\n"
                    '1,"强调""常吃奶类、豆类"",主要是哪种物质不足",维生素A,钙,铁,蛋白质,B\n', encoding="utf-8")
    first, second = cmmlu.convert(cmmlu.read_csv(path), "anatomy", PROMPT)
    assert first["instruction"] == ("以下是关于解剖学的单项选择题，请直接给出正确答案的选项。\n\n题目：女性生殖腺是\n"
                                    "A. 卵巢\nB. 前庭大腺\nC. 前庭球\nD. 乳腺\n答案是：")
    assert (first["output"], first["id"], first["subject"], first["category"]) == ("A", "anatomy/0", "解剖学", "STEM")
    assert second["question"] == '强调"常吃奶类、豆类",主要是哪种物质不足' and second["answer"] == "B"


def test_subject_table_matches_cmmlu():
    assert len(cmmlu.SUBJECTS) == 67 and set(cmmlu.MEDICAL_SUBJECTS) <= set(cmmlu.SUBJECTS)
    assert cmmlu.SUBJECTS["traditional_chinese_medicine"] == ("中医中药", ("Other", "China specific"))
    assert cmmlu.resolve_subjects("medical") == list(cmmlu.MEDICAL_SUBJECTS)
    assert cmmlu.resolve_subjects("virology, anatomy,virology") == ["virology", "anatomy"]
    assert len(cmmlu.resolve_subjects(["all"])) == 67
    with pytest.raises(BridgeError, match=r"unknown CMMLU subject\(s\) \['anatomyy'\]"):
        cmmlu.resolve_subjects("anatomyy")


def test_sample_files_convert(samples_dir, tmp_path):
    result = convert_source("cmmlu", tmp_path, raw_dir=samples_dir)
    assert result.counts["written"] == {"test": 72, "dev": 44}  # 9 medical subjects x 8; 5-shot pools minus a leak
    assert result.counts["skipped"] == {"dev_in_test": 1}
    info = json.loads((tmp_path / "dataset_info.json").read_text(encoding="utf-8"))
    assert "med_cmmlu_test" in info and "med_cmmlu_dev" in info and "med_cmmlu" not in info  # no training split
    test, dev = read_jsonl(tmp_path / "cmmlu_test.jsonl"), read_jsonl(tmp_path / "cmmlu_dev.jsonl")
    assert {r["subject_en"] for r in test} == set(cmmlu.MEDICAL_SUBJECTS)
    assert all(r["question_type"] == "单项选择题" and len(r["answer"]) == 1 and len(r["options"]) == 4 for r in test)
    tcm = next(r for r in test if r["subject_en"] == "traditional_chinese_medicine")
    assert tcm["subject"] == "中医中药" and tcm["categories"] == ["Other", "China specific"]
    assert any('"' in r["question"] for r in test) and any("," in r["question"] for r in test)
    assert not {question_key(r) for r in test} & {question_key(r) for r in dev}


def test_subjects_option_and_missing_files(samples_dir, tmp_path):
    runner = CliRunner()
    result = runner.invoke(bridge, ["convert", "cmmlu", "--raw-dir", str(samples_dir), "--dataset-dir",
                                    str(tmp_path), "--subjects", "high_school_biology,anatomy"])
    assert result.exit_code == 0, result.output
    test = read_jsonl(tmp_path / "cmmlu_test.jsonl")
    assert [r["subject_en"] for r in test] == ["high_school_biology"] * 8 + ["anatomy"] * 8
    missing = runner.invoke(bridge, ["convert", "cmmlu", "--raw-dir", str(samples_dir), "--dataset-dir",
                                     str(tmp_path), "--subjects", "arts"])
    assert missing.exit_code == 1 and "CMMLU files missing: ['test/arts.csv']" in missing.output
    sized = runner.invoke(bridge, ["convert", "cmmlu", "--raw-dir", str(samples_dir), "--train-size", "3"])
    assert sized.exit_code == 1 and "source cmmlu has no parameter 'train_size'" in sized.output


def test_malformed_files_name_file_and_record(raw, tmp_path):
    path = raw / "cmmlu" / "data" / "test" / "genetics.csv"
    original = path.read_text(encoding="utf-8")
    path.write_text(original.replace(",Answer", ",Key", 1), encoding="utf-8")
    with pytest.raises(BridgeError, match=rf"{path}: missing column\(s\) \['Answer'\]; expected CMMLU's header"):
        convert_source("cmmlu", tmp_path, raw_dir=raw)
    lines = original.splitlines(keepends=True)
    path.write_text("".join([*lines[:3], "2,只有题目,甲,乙\n", *lines[3:]]), encoding="utf-8")
    with pytest.raises(BridgeError, match=rf"{path}: record 3 \(line 4\): 4 cells, the header has 7"):
        convert_source("cmmlu", tmp_path, raw_dir=raw)
    path.write_text("".join([*lines[:2], '1,"没有结束的引号,甲,乙,丙,丁,A\n']), encoding="utf-8")
    with pytest.raises(BridgeError, match=rf"{path}"):
        convert_source("cmmlu", tmp_path, raw_dir=raw)
