"""Exam held-out sets: each question once (ids unique), empty options counted, conflicting answer ids refused."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge import cmb, cmexam
from bridge.common import BridgeError, Counts
from bridge.exam import exam_record, question_key, unique_questions
from bridge.pipeline import convert_source
from tests.bridge.exam_helpers import read_jsonl


def _cmmlu_raw(root, test_rows: str, dev_rows: str = "0,别的问题,甲,乙,丙,丁,A\n"):
    for split, rows in (("test", test_rows), ("dev", dev_rows)):
        path = root / "cmmlu" / split / "anatomy.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(",Question,A,B,C,D,Answer\n" + rows, encoding="utf-8")
    return root


def test_an_exact_duplicate_cmmlu_row_is_dropped_and_counted(tmp_path):
    raw = _cmmlu_raw(tmp_path / "raw", "0,女性生殖腺是,卵巢,前庭大腺,前庭球,乳腺,A\n" * 3 +
                     "1,男性生殖腺是,睾丸,附睾,精囊,前列腺,A\n")
    result = convert_source("cmmlu", tmp_path / "data", raw_dir=raw, params={"subjects": ["anatomy"]})
    assert result.counts["written"] == {"test": 2, "dev": 1}
    assert result.counts["skipped"] == {"test_duplicate_question": 2}
    assert result.counts["duplicates"] == 0
    test = read_jsonl(tmp_path / "data" / "cmmlu_test.jsonl")
    assert [r["id"] for r in test] == ["anatomy/0", "anatomy/1"]


def test_an_empty_cmmlu_option_is_counted(tmp_path):
    raw = _cmmlu_raw(tmp_path / "raw", "0,女性生殖腺是,卵巢,,前庭球,乳腺,A\n")
    result = convert_source("cmmlu", tmp_path / "data", raw_dir=raw, params={"subjects": ["anatomy"]})
    assert result.counts["skipped"] == {"empty_option_dropped": 1}
    (record,) = read_jsonl(tmp_path / "data" / "cmmlu_test.jsonl")
    assert record["options"] == {"A": "卵巢", "C": "前庭球", "D": "乳腺"}


def test_an_empty_cmexam_option_is_counted():
    counts = Counts()
    assert cmexam.parse_options("A 出血\nB \nC 穿孔", "f.csv: row 2", counts) == {"A": "出血", "C": "穿孔"}
    assert counts.skipped == {"empty_option_dropped": 1}


def _answers(tmp_path, items):
    path = tmp_path / "CMB-test-choice-answer.json"
    path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    return path


def test_a_cmb_answer_id_given_twice_with_different_answers_is_an_error(tmp_path):
    path = _answers(tmp_path, [{"id": 0, "answer": "A"}, {"id": 1, "answer": "D"}, {"id": 1, "answer": "B"}])
    with pytest.raises(BridgeError) as info:
        cmb.read_answers(path)
    assert info.value.message == (f"{path}: record 2: id 1 appears again with answer 'B' (earlier 'D'); which is "
                                  "right cannot be told — fix the answer file (or fetch it again)")


def test_a_cmb_answer_id_given_twice_with_the_same_answer_is_a_warning(tmp_path):
    counts = Counts()
    path = _answers(tmp_path, [{"id": 1, "answer": "AC"}, {"id": 1, "answer": "CA"}])
    assert cmb.read_answers(path, counts) == {1: "CA"}
    assert counts.warnings == ["CMB-test-choice-answer.json: 1 id(s) given twice with the same answer (1)"]


_texts = st.sampled_from(["甲", "乙", "丙", " 甲", "丁"])


@pytest.mark.property
@given(st.lists(st.tuples(_texts, st.lists(_texts, min_size=1, max_size=3), st.integers(0, 3)), max_size=12))
def test_held_out_questions_and_ids_are_unique_after_the_rule(rows):
    records = [exam_record("p", question=q, options=dict(zip("ABC", opts, strict=False)), answer="A",
                           question_type="单项选择题", category="c", subject="s", exam="x", id=i)
               for q, opts, i in rows]
    counts = Counts()
    kept = unique_questions(records, counts, "test")
    keys = [question_key(r) for r in kept]
    assert len(set(keys)) == len(keys) and {question_key(r) for r in records} == set(keys)
    assert len({r["id"] for r in kept}) == len(kept)
    assert counts.skipped.get("test_duplicate_question", 0) == len(records) - len(kept)


def test_prompts_of_the_shipped_samples_stay_unique(samples_dir, tmp_path):
    for source in ("cmb", "cmexam", "cmmlu"):
        convert_source(source, tmp_path, raw_dir=samples_dir)
    for name in ("cmb_test", "cmexam_test", "cmmlu_test", "cmb_dev", "cmexam_dev", "cmmlu_dev"):
        records = read_jsonl(tmp_path / f"{name}.jsonl")
        assert len({r["instruction"] for r in records}) == len(records), name
        assert len({r["id"] for r in records}) == len(records), name
