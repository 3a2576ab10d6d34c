"""cmexam: CMExam csv (train / val / test_with_annotations) -> exam records."""

import pytest

from bridge import cmexam
from bridge.common import BridgeError, load_prompt
from bridge.exam import question_key
from bridge.pipeline import convert_source
from tests.bridge.exam_helpers import key_of_prompt, read_jsonl

PROMPT = load_prompt(cmexam.DEFAULT_PROMPT, cmexam.PROMPT_FIELDS)
ROW = {"Question": "下列哪项不是胃溃疡的并发症", "Options": "A 出血\nB 穿孔\nC 幽门梗阻\nD 癌变\nE 贫血", "Answer": "E",
       "Explanation": "胃溃疡的并发症有出血、穿孔、幽门梗阻和癌变。", "Disease Group": "消化系统疾病",
       "Area of Competency": "医学基础知识", "Clinical Department": "内科", "Medical Discipline": "临床医学",
       "Difficulty level": "2"}


def test_convert_one_row():
    (record,) = cmexam.convert([("test.csv: record 1", ROW)], PROMPT)
    assert record["instruction"] == ("以下是中国医师资格考试的一道单项选择题，请直接给出正确答案的选项。\n"
                                     "下列哪项不是胃溃疡的并发症\nA. 出血\nB. 穿孔\nC. 幽门梗阻\nD. 癌变\nE. 贫血")
    assert record["output"] == "E" and record["options"]["C"] == "幽门梗阻"
    assert (record["category"], record["subject"]) == ("临床医学", "内科")
    assert record["annotations"] == {"disease_group": "消化系统疾病", "competency": "医学基础知识",
                                     "department": "内科", "discipline": "临床医学", "difficulty": "2"}
    (multi,) = cmexam.convert([("x", {**ROW, "Answer": "ABCD"})], PROMPT)
    assert multi["question_type"] == "多项选择题" and "多项选择题" in multi["instruction"]
    (plain,) = cmexam.convert([("x", {k: ROW[k] for k in ("Question", "Options", "Answer", "Explanation")})], PROMPT)
    assert plain["category"] == plain["subject"] == "" and "annotations" not in plain


def test_options_cell_forms():
    assert cmexam.parse_options("A 出血\nB 穿孔", "r") == {"A": "出血", "B": "穿孔"}
    assert cmexam.parse_options("A. 出血\nB、穿孔\n\n", "r") == {"A": "出血", "B": "穿孔"}
    assert cmexam.parse_options("A 血压\n升高\nB 正常", "r") == {"A": "血压\n升高", "B": "正常"}  # wrapped text
    with pytest.raises(BridgeError, match="r: Options cell starts with '出血'"):
        cmexam.parse_options("出血\nB 穿孔", "r")
    with pytest.raises(BridgeError, match="r: option A appears twice"):
        cmexam.parse_options("A 出血\nA 穿孔", "r")


def test_sample_files_convert_without_leaks(samples_dir, tmp_path):
    result = convert_source("cmexam", tmp_path, raw_dir=samples_dir)
    assert result.counts["written"] == {"train": 79, "test": 40, "dev": 20}
    assert result.counts["skipped"] == {"empty_answer": 1, "train_in_test": 1}
    test, dev = read_jsonl(tmp_path / "cmexam_test.jsonl"), read_jsonl(tmp_path / "cmexam_dev.jsonl")
    train = read_jsonl(tmp_path / "cmexam_train.jsonl")
    assert all(r["output"] == r["answer"] and set(r["answer"]) <= set(r["options"]) for r in test + dev)
    assert all(len(r["options"]) == 5 for r in test) and sum(r["question_type"] == "多项选择题" for r in test) == 5
    assert all(r["category"] and r["subject"] and set(r["annotations"]) == set(cmexam.ANNOTATIONS.values())
               for r in test)
    assert [r["id"] for r in test] == list(range(1, 41))
    test_keys = {question_key(r) for r in test}
    assert not test_keys & {question_key(r) for r in dev}
    assert not test_keys & {key_of_prompt(r) for r in train}


def test_malformed_files_name_file_and_record(raw, tmp_path):
    test_file = raw / "cmexam" / "data" / "test_with_annotations.csv"
    original = test_file.read_text(encoding="utf-8")
    test_file.write_text(original.replace("Options", "Choices", 1), encoding="utf-8")
    with pytest.raises(BridgeError, match=rf"{test_file}: missing column\(s\) \['Options'\]; expected CMExam's header"):
        convert_source("cmexam", tmp_path / "out", raw_dir=raw)
    lines = original.split("\n")
    test_file.write_text("\n".join([lines[0], "只有题目,没有选项", *lines[1:]]), encoding="utf-8")
    with pytest.raises(BridgeError, match=rf"{test_file}: record 1 \(line 2\): 2 cells, the header has 9"):
        convert_source("cmexam", tmp_path / "out", raw_dir=raw)
    test_file.write_text("\n".join([lines[0], '题目,"甲\n乙",A,解析,,,,,', *lines[1:]]), encoding="utf-8")
    with pytest.raises(BridgeError, match=rf"{test_file}: record 1 \(line 3\): Options cell starts with '甲'"):
        convert_source("cmexam", tmp_path / "out", raw_dir=raw)
    test_file.write_bytes(original.encode("utf-16"))
    with pytest.raises(BridgeError, match=rf"{test_file}: cannot decode"):
        convert_source("cmexam", tmp_path / "out", raw_dir=raw)
    assert not (tmp_path / "out").exists()
