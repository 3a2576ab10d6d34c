"""cmb: CMB-Exam json (questions, separate test answers, val as few-shot pool) -> exam records."""

import json

import pytest
from click.testing import CliRunner

from bridge import cmb
from bridge.cli import bridge
from bridge.common import BridgeError, Counts, load_prompt
from bridge.exam import question_key
from bridge.pipeline import convert_source
from tests.bridge.exam_helpers import key_of_prompt, read_jsonl

PROMPT = load_prompt(cmb.DEFAULT_PROMPT, cmb.PROMPT_FIELDS)
RAW = {"exam_type": "医师考试", "exam_class": "执业医师", "exam_subject": "口腔执业医师",
       "question": "患者，男性，11岁。X线检查发现右肺中部有一类圆形病灶，肺门淋巴结肿大。此男孩可能患",
       "answer": "D", "question_type": "单项选择题",
       "option": {"A": "小叶型肺炎", "B": "浸润性肺结核", "C": "继发性肺结核", "D": "原发性肺结核", "E": "粟粒型肺结核",
                  "F": ""}}


def test_convert_one_question():
    (record,) = cmb.convert([RAW], PROMPT)
    assert record["instruction"] == (
        "以下是中国医师考试中执业医师考试的一道单项选择题，不需要做任何分析和解释，直接输出答案选项。\n"
        "患者，男性，11岁。X线检查发现右肺中部有一类圆形病灶，肺门淋巴结肿大。此男孩可能患\n"
        "A. 小叶型肺炎\nB. 浸润性肺结核\nC. 继发性肺结核\nD. 原发性肺结核\nE. 粟粒型肺结核")
    assert record["output"] == record["answer"] == "D" and record["input"] == ""
    assert list(record["options"]) == ["A", "B", "C", "D", "E"]  # the blank F slot is gone
    assert (record["category"], record["subject"], record["exam"]) == ("医师考试", "执业医师", "cmb")
    assert record["exam_subject"] == "口腔执业医师" and record["question_type"] == "单项选择题"


def test_test_answers_come_from_the_answer_file_by_id():
    question = {key: value for key, value in RAW.items() if key != "answer"}
    multi = {**question, "id": 2, "question_type": "多项选择题"}
    records = list(cmb.convert([{**question, "id": 1}, multi], PROMPT, answers={1: "B", 2: "EA"}))
    assert [r["answer"] for r in records] == ["B", "AE"] and [r["id"] for r in records] == [1, 2]
    with pytest.raises(BridgeError, match=r"q.json: record 0 \(id 7\): no answer for this id"):
        list(cmb.convert([{**question, "id": 7}], PROMPT, answers={1: "B"}, where="q.json"))


def test_sample_files_convert(samples_dir, tmp_path):
    result = convert_source("cmb", tmp_path, raw_dir=samples_dir)
    assert result.counts["written"] == {"train": 120, "test": 68, "dev": 21}
    assert result.counts["skipped"] == {"train_in_test": 2}  # two test questions sit (shuffled) in the train file
    info = json.loads((tmp_path / "dataset_info.json").read_text(encoding="utf-8"))
    assert {"med_cmb", "med_cmb_test", "med_cmb_dev"} <= set(info)
    test, dev = read_jsonl(tmp_path / "cmb_test.jsonl"), read_jsonl(tmp_path / "cmb_dev.jsonl")
    train = read_jsonl(tmp_path / "cmb_train.jsonl")
    answers = {a["id"]: a["answer"] for a in json.loads(
        (samples_dir / "cmb" / "CMB-test-choice-answer.json").read_text(encoding="utf-8"))}
    assert [r["id"] for r in test] == sorted(answers)
    for record in test + dev:
        assert record["output"] == record["answer"] and set(record["answer"]) <= set(record["options"])
        assert all(text.strip() for text in record["options"].values())
        assert record["question_type"] == ("多项选择题" if len(record["answer"]) > 1 else "单项选择题")
    # The published answer file writes a few multi-answers unsorted ("CA"): the records hold them sorted.
    unsorted = [i for i, a in answers.items() if a != "".join(sorted(a))]
    assert unsorted and all(next(r for r in test if r["id"] == i)["answer"] == "".join(sorted(answers[i]))
                            for i in unsorted)
    assert sum(len(r["answer"]) > 1 for r in test) >= 5
    assert {r["category"] for r in test} == {"医师考试", "护理考试", "药师考试", "专业知识考试", "医学考研"}
    assert len({r["subject"] for r in test}) == 7 and all("explanation" in r for r in dev)
    assert all(set(r) == {"instruction", "input", "output"} for r in train)


def test_no_test_question_in_train_or_dev(samples_dir, tmp_path):
    convert_source("cmb", tmp_path, raw_dir=samples_dir)
    test_keys = {question_key(r) for r in read_jsonl(tmp_path / "cmb_test.jsonl")}
    assert not test_keys & {question_key(r) for r in read_jsonl(tmp_path / "cmb_dev.jsonl")}
    assert not test_keys & {key_of_prompt(r) for r in read_jsonl(tmp_path / "cmb_train.jsonl")}
    # ...and the raw train file really holds two of them, so the check above has something to catch.
    raw_train = list(cmb.convert(json.loads(
        (samples_dir / "cmb" / "CMB" / "CMB-Exam" / "CMB-train" / "CMB-train-merge.json").read_text(encoding="utf-8")),
        PROMPT))
    assert sum(question_key(r) in test_keys for r in raw_train) == 2


def test_sizes_and_determinism(samples_dir, tmp_path):
    small = convert_source("cmb", tmp_path / "a", raw_dir=samples_dir, params={"train_size": 30, "test_size": 20})
    assert small.counts["written"] == {"train": 30, "test": 20, "dev": 21}
    again = convert_source("cmb", tmp_path / "b", raw_dir=samples_dir, params={"train_size": 30, "test_size": 20})
    for name in ("cmb_train.jsonl", "cmb_test.jsonl", "cmb_dev.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert again.status == "written"


def test_malformed_files_name_file_and_record(raw, tmp_path):
    test_file = raw / "cmb" / "CMB" / "CMB-Exam" / "CMB-test" / "CMB-test-choice-question-merge.json"
    questions = json.loads(test_file.read_text(encoding="utf-8"))
    original = test_file.read_text(encoding="utf-8")

    del questions[4]["option"]
    test_file.write_text(json.dumps(questions, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(BridgeError, match=rf"{test_file}: record 4: missing key\(s\) \['option'\]"):
        convert_source("cmb", tmp_path / "out", raw_dir=raw)

    questions = json.loads(original)
    questions[2]["option"] = ["甲", "乙"]
    test_file.write_text(json.dumps(questions, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(BridgeError, match=rf"{test_file}: record 2: 'option' must be an object"):
        convert_source("cmb", tmp_path / "out", raw_dir=raw)

    test_file.write_text(original[:-40], encoding="utf-8")
    with pytest.raises(BridgeError, match=rf"{test_file}: line \d+, character offset \d+"):
        convert_source("cmb", tmp_path / "out", raw_dir=raw)

    test_file.write_text(json.dumps({"questions": []}), encoding="utf-8")
    with pytest.raises(BridgeError, match="expected a JSON array"):
        convert_source("cmb", tmp_path / "out", raw_dir=raw)
    assert not (tmp_path / "out" / "cmb_test.jsonl").exists()  # nothing written by a failed conversion

    test_file.write_text(original, encoding="utf-8")
    (raw / "cmb" / "CMB-test-choice-answer.json").write_text('[{"id": 1}]', encoding="utf-8")
    with pytest.raises(BridgeError, match=r"CMB-test-choice-answer.json: record 0: missing key\(s\) \['answer'\]"):
        convert_source("cmb", tmp_path / "out", raw_dir=raw)
    (raw / "cmb" / "CMB-test-choice-answer.json").unlink()
    with pytest.raises(BridgeError, match=r"missing \['CMB-test-choice-answer.json'\]"):
        convert_source("cmb", tmp_path / "out", raw_dir=raw)


def test_wrong_file_for_the_source_is_named(tmp_path):
    counts = Counts()
    with pytest.raises(BridgeError, match=r"o1.json: record 0: missing key\(s\).*looks like a record of o1"):
        list(cmb.convert([{"Question": "q", "Complex_CoT": "c", "Response": "r"}], PROMPT, counts, where="o1.json"))


def test_cli_with_explicit_files(samples_dir, tmp_path):
    exam = samples_dir / "cmb" / "CMB" / "CMB-Exam"
    args = ["convert", "cmb", "--dataset-dir", str(tmp_path),
            "--input", str(exam / "CMB-train" / "CMB-train-merge.json"),
            "--test-input", str(exam / "CMB-test" / "CMB-test-choice-question-merge.json"),
            "--test-input", str(samples_dir / "cmb" / "CMB-test-choice-answer.json")]
    missing = CliRunner().invoke(bridge, args)
    assert missing.exit_code == 1 and "cmb reads one file set per split: add --dev-input" in missing.output
    done = CliRunner().invoke(bridge, [*args, "--dev-input", str(exam / "CMB-val" / "CMB-val-merge.json")])
    assert done.exit_code == 0, done.output
    assert "med_cmb_dev added" in done.output
