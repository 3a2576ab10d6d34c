"""mcq scoring: set equality, unextracted answers, and each exam's official headline.

CMB: the expected numbers follow the official ``score.py`` (FreedomIntelligence/CMB): for every item
of CMB-test-choice-answer.json, ``correct`` when ``answer == model_answer`` (a missing answer is "");
accuracy per (exam_type, exam_class); per exam_type the plain mean of its classes' accuracies.
"""

import json
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eval.bootstrap import point_estimate, resampled
from eval.heldout import load_records
from eval.tasks.base import columns_of
from eval.tasks.mcq import TASK, score, summarise


def _summary(predictions, records):
    return point_estimate(columns_of(score(predictions, records)), summarise)


def _q(exam, category, subject, answer, **extra):
    options = {letter: f"选项{letter}" for letter in "ABCDE"}
    return {"instruction": "…", "input": "", "output": answer, "answer": answer, "options": options,
            "question_type": "多项选择题" if len(answer) > 1 else "单项选择题", "category": category,
            "subject": subject, "exam": exam, **extra}


def test_set_equality_and_unextracted():
    records = [_q("cmexam", "临床医学", "内科", "AC"), _q("cmexam", "临床医学", "内科", "B"),
               _q("cmexam", "临床医学", "外科", "D"), _q("cmexam", "临床医学", "外科", "E")]
    predictions = ["答案：C、A", "A", "我不确定", "E. 选项E"]
    columns = score(predictions, records)
    assert [c["correct"] for c in columns] == [1.0, 0.0, 0.0, 1.0]
    assert [c["unextracted"] for c in columns] == [0.0, 0.0, 1.0, 0.0]
    summary = _summary(predictions, records)
    assert summary["accuracy"] == summary["score"] == 0.5  # CMExam: plain accuracy
    assert summary["unextracted"] == 0.25
    assert summary["type/多项选择题"] == 1.0 and summary["type/单项选择题"] == pytest.approx(1 / 3)
    assert summary["subject/内科"] == 0.5 and summary["subject/外科"] == 0.5
    assert TASK.headline == "score" and list(summary)[:3] == ["score", "accuracy", "unextracted"]


def test_cmb_headline_by_hand():
    # score.py on these six items: 执业医师 2/3, 规培结业 0/1 -> 医师考试 (2/3 + 0) / 2 = 1/3;
    # 护士执业资格 1/2 -> 护理考试 1/2. medft's headline is the mean over exam types: (1/3 + 1/2) / 2 = 5/12,
    # while the plain accuracy is 3/6.
    records = [_q("cmb", "医师考试", "执业医师", "A"), _q("cmb", "医师考试", "执业医师", "B"),
               _q("cmb", "医师考试", "执业医师", "C"), _q("cmb", "医师考试", "规培结业", "D"),
               _q("cmb", "护理考试", "护士执业资格", "E"), _q("cmb", "护理考试", "护士执业资格", "AB")]
    summary = _summary(["A", "B", "D", "A", "E", "A"], records)
    assert summary["subject/执业医师"] == pytest.approx(2 / 3) and summary["subject/规培结业"] == 0.0
    assert summary["category/医师考试"] == pytest.approx(1 / 3)
    assert summary["category/护理考试"] == pytest.approx(1 / 2)
    assert summary["score"] == pytest.approx(5 / 12) and summary["accuracy"] == pytest.approx(1 / 2)


def official_score_py(answer_items: list[dict], model_answers: list[dict]) -> dict:
    """CMB's score.py rules, step by step, on in-memory lists (the script reads the same two JSON files)."""
    by_id = {item["id"]: item["model_answer"] for item in model_answers}
    stats: dict = {}
    for item in answer_items:
        cls = stats.setdefault(item["exam_type"], {}).setdefault(item["exam_class"], {"correct": 0, "total": 0})
        cls["total"] += 1
        if item["answer"] == by_id.get(item["id"], ""):
            cls["correct"] += 1
    result = {"accuracy_per_category": {}, "accuracy_per_subcategory": {}}
    for exam_type, classes in stats.items():
        result["accuracy_per_subcategory"][exam_type] = {c: s["correct"] / s["total"] for c, s in classes.items()}
        accuracies = list(result["accuracy_per_subcategory"][exam_type].values())
        result["accuracy_per_category"][exam_type] = sum(accuracies) / len(accuracies)
    return result


def test_cmb_per_category_numbers_equal_the_official_score_py(exam_dir):
    records = load_records(exam_dir, "med_cmb_test")
    answer_items = json.loads((exam_dir.parent / "raw" / "cmb" / "CMB-test-choice-answer.json").read_text("utf-8"))
    # Model answers as CMB's extraction leaves them: letters; some wrong, some multi for single questions,
    # some empty, one id missing from the model's file. A gold answer the answer file writes unsorted ("CA")
    # is answered in that same order, where score.py's string comparison and medft's set comparison agree.
    rng = np.random.default_rng(7)
    model_answers = []
    for item in answer_items:
        roll = rng.random()
        answer = item["answer"] if roll < 0.55 else ("" if roll < 0.62 else ("AB" if roll < 0.7 else "E"))
        model_answers.append({"id": item["id"], "model_answer": answer})
    del model_answers[10]
    official = official_score_py(answer_items, model_answers)

    by_id = {m["id"]: m["model_answer"] for m in model_answers}
    summary = _summary([by_id.get(r["id"], "") for r in records], records)
    for exam_type, value in official["accuracy_per_category"].items():
        assert summary[f"category/{exam_type}"] == pytest.approx(value, abs=1e-12)
        for exam_class, class_value in official["accuracy_per_subcategory"][exam_type].items():
            assert summary[f"subject/{exam_class}"] == pytest.approx(class_value, abs=1e-12)
    assert len(official["accuracy_per_category"]) == 5 and sum(
        len(v) for v in official["accuracy_per_subcategory"].values()) == 7
    per_type = list(official["accuracy_per_category"].values())
    assert summary["score"] == pytest.approx(sum(per_type) / len(per_type), abs=1e-12)
    micro = sum(by_id.get(a["id"], "") == a["answer"] for a in answer_items) / len(answer_items)
    assert summary["accuracy"] == pytest.approx(micro) and summary["score"] != pytest.approx(micro)


def test_cmb_unsorted_gold_is_a_set_in_medft():
    # The one documented difference: score.py compares strings, so "AC" for a published "CA" is wrong there.
    records = [_q("cmb", "医师考试", "执业医师", "AC")]  # bridge stores the published "CA" sorted
    assert official_score_py([{"id": 1, "exam_type": "医师考试", "exam_class": "执业医师", "answer": "CA"}],
                             [{"id": 1, "model_answer": "AC"}])["accuracy_per_category"]["医师考试"] == 0.0
    assert _summary(["AC"], records)["score"] == 1.0 and _summary(["CA"], records)["score"] == 1.0


def test_cmmlu_headline_is_the_mean_over_subjects():
    # Authors' get_results: subject accuracies, then their mean ("Overall"); per category the mean of its
    # subjects. 中医中药 is in Other and China specific.
    records = ([_q("cmmlu", "STEM", "解剖学", "A", categories=["STEM"])] * 4
               + [_q("cmmlu", "Other", "中医中药", "B", categories=["Other", "China specific"])] * 2
               + [_q("cmmlu", "Other", "营养学", "C", categories=["Other"])] * 2)
    predictions = ["A", "A", "A", "B", "B", "C", "C", "C"]  # 解剖学 3/4, 中医中药 1/2, 营养学 2/2
    summary = _summary(predictions, records)
    assert summary["subject/解剖学"] == 0.75 and summary["subject/中医中药"] == 0.5 and summary["subject/营养学"] == 1.0
    assert summary["score"] == pytest.approx((0.75 + 0.5 + 1.0) / 3)
    assert summary["category/Other"] == pytest.approx((0.5 + 1.0) / 2)
    assert summary["category/China specific"] == 0.5 and summary["category/STEM"] == 0.75
    assert summary["accuracy"] == pytest.approx(6 / 8)


def test_converted_sets_score_end_to_end(exam_dir):
    for name in ("med_cmb_test", "med_cmexam_test", "med_cmmlu_test"):
        records = load_records(exam_dir, name)
        perfect = _summary([r["output"] for r in records], records)
        assert perfect["score"] == perfect["accuracy"] == 1.0 and perfect["unextracted"] == 0.0
        assert all(v == 1.0 for k, v in perfect.items() if k.startswith(("category/", "subject/", "type/")))


@st.composite
def exam_sets(draw):
    exam = draw(st.sampled_from(["cmb", "cmmlu", "cmexam"]))
    n = draw(st.integers(1, 25))
    records, predictions = [], []
    for _ in range(n):
        category = draw(st.sampled_from(["甲", "乙", "丙"]))
        subject = category + draw(st.sampled_from(["1", "2"]))
        answer = draw(st.sampled_from(["A", "B", "AC"]))
        records.append(_q(exam, category, subject, answer))
        predictions.append(draw(st.sampled_from(["A", "B", "AC", "", "答案：C"])))
    weights = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    return records, predictions, weights


@pytest.mark.property
@given(exam_sets())
def test_resampled_metrics_equal_scoring_the_resampled_records(case):
    """summarise on bootstrap totals = scoring a set where each record appears as often as it was drawn."""
    records, predictions, weights = case
    if not any(weights):
        return
    columns = columns_of(score(predictions, records))
    on_totals = resampled(columns, summarise, np.array([weights]))
    expanded = [i for i, w in enumerate(weights) for _ in range(w)]
    direct = point_estimate(columns_of(score([predictions[i] for i in expanded], [records[i] for i in expanded])),
                            summarise)
    for metric, value in direct.items():
        assert on_totals[metric][0] == pytest.approx(value), metric
    for metric in set(on_totals) - set(direct):  # groups absent from the resample: no questions, 0
        assert on_totals[metric][0] == 0.0


def test_group_columns_line_up():
    records = [_q("cmb", "医师考试", "执业医师", "A"), _q("cmb", "护理考试", "护士执业资格", "B")]
    columns = score(["A", "B"], records)
    assert list(columns[0]) == list(columns[1])
    assert columns[0]["n|医师考试|执业医师"] == 1.0 and columns[0]["n|护理考试|护士执业资格"] == 0.0
    assert defaultdict(float, columns[1])["correct|医师考试|执业医师"] == 0.0


def test_cmmlu_averages_subjects_not_questions():
    # Unequal subject sizes, so the mean of subject accuracies differs from the pooled accuracy:
    # 解剖学 1/3, 营养学 1/1 (both Other): per-subject mean (1/3 + 1)/2 = 2/3, pooled 2/4 = 1/2.
    records = ([_q("cmmlu", "Other", "解剖学", "A", categories=["Other"])] * 3
               + [_q("cmmlu", "Other", "营养学", "B", categories=["Other"])])
    summary = _summary(["A", "B", "B", "B"], records)
    assert summary["score"] == pytest.approx(2 / 3) and summary["category/Other"] == pytest.approx(2 / 3)
    assert summary["accuracy"] == 0.5
    # The same answers as CMExam questions: everything pools.
    pooled = _summary(["A", "B", "B", "B"], [{**r, "exam": "cmexam"} for r in records])
    assert pooled["score"] == pooled["category/Other"] == 0.5


def test_rule_of_a_set():
    from eval.tasks.mcq import rule_of

    assert rule_of([{"exam": "cmb"}, {"exam": "cmb"}]) == "cmb"
    assert rule_of([{"exam": "cmmlu"}]) == "cmmlu"
    assert rule_of([{"exam": "cmexam"}]) == "micro"
    assert rule_of([{}]) == "micro"
    assert rule_of([{"exam": "cmb"}, {"exam": "cmmlu"}]) == "micro"  # a mixed set: plain accuracy


def test_is_multi_by_type_or_by_answer():
    from eval.tasks.mcq import is_multi

    assert is_multi({"question_type": "多项选择题", "output": "A"})
    assert is_multi({"output": "AC"}) and is_multi({"answer": "BD", "output": "…"})
    assert not is_multi({"question_type": "单项选择题", "output": "A"})
    assert not is_multi({"answer": "B", "output": "ABCD 都不对"})


def test_multi_answer_questions_are_extracted_as_such():
    records = [_q("cmexam", "临床医学", "内科", "AB", options={"A": "发热", "B": "咳嗽", "C": "胸痛"})]
    assert score(["发热、咳嗽"], records)[0]["correct"] == 1.0  # two option texts: only a multi answer reads them


def test_the_answer_field_wins_over_output_and_output_is_the_fallback():
    with_answer = {"output": "正确答案见解析", "answer": "B", "options": {"A": "甲", "B": "乙"}}
    assert score(["B"], [with_answer])[0]["correct"] == 1.0
    only_output = {"output": "C", "options": {"A": "甲", "C": "丙"}}
    assert score(["C"], [only_output])[0]["correct"] == 1.0


def test_without_options_only_the_gold_letters_can_be_chosen():
    record = {"output": "A"}
    columns = score(["答案：E", "A", "XXXX"], [record] * 3)
    # E is no option of this question: unextracted; no option texts, so rule 4 never reads text.
    assert [c["unextracted"] for c in columns] == [1.0, 0.0, 1.0]
    assert [c["correct"] for c in columns] == [0.0, 1.0, 0.0]
    # A gold without letters gives no options to restrict to: any letter is an answer (and wrong).
    assert score(["A"], [{"output": "无"}])[0] == {"correct": 0.0, "unextracted": 0.0, "rule|micro": 1.0,
                                                     "n|—|—": 1.0, "correct|—|—": 0.0,
                                                     "n|type|—": 1.0, "correct|type|—": 0.0}


def test_group_names_without_a_value_or_with_the_separator():
    records = [_q("cmexam", None, "a|b", "A"), _q("cmexam", "内科", None, "B")]
    summary = _summary(["A", "C"], records)
    assert summary["subject/a/b"] == 1.0 and summary["category/—"] == 1.0
    assert summary["subject/—"] == 0.0 and summary["category/内科"] == 0.0


def test_predictions_and_records_must_pair_up():
    with pytest.raises(ValueError):
        score(["A", "B"], [_q("cmexam", "c", "s", "A")])
