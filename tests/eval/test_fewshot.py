"""k-shot exam prompts: deterministic choice from the dev pool, chat turns built by LLaMA-Factory's template."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from transformers import AutoTokenizer

from eval.fewshot import FewShotError, add_shots, choose_shots, pool_name, with_shots
from eval.heldout import load_records
from eval.prompting import prompt_ids


def _q(text, subject, category, answer="A"):
    return {"instruction": text, "input": "", "output": answer, "subject": subject, "category": category}


POOL = [_q("d1", "解剖学", "STEM"), _q("d2", "病毒学", "STEM", "B"), _q("d3", "解剖学", "STEM", "C"),
        _q("d4", "营养学", "Other", "D"), _q("d5", "解剖学", "STEM", "B")]


def test_pool_name():
    assert pool_name("med_cmb_test") == "med_cmb_dev" and pool_name("med_cmmlu_test:mcq") == "med_cmmlu_dev"
    assert pool_name("my_exam") == "my_exam_dev"


def test_same_subject_first_then_category_then_any():
    record = _q("问题", "解剖学", "STEM")
    assert [p["instruction"] for p in choose_shots(record, POOL, 2)] == ["d1", "d3"]
    assert [p["instruction"] for p in choose_shots(record, POOL, 4)] == ["d1", "d3", "d5", "d2"]
    assert [p["instruction"] for p in choose_shots(record, POOL, 5)] == ["d1", "d3", "d5", "d2", "d4"]
    other = _q("问题", "药理学", "Other")
    assert [p["instruction"] for p in choose_shots(other, POOL, 2)] == ["d4", "d1"]
    assert [p["instruction"] for p in choose_shots(_q("d3", "解剖学", "STEM"), POOL, 2)] == ["d1", "d5"]  # not itself


def test_history_holds_the_examples_and_records_stay_unchanged():
    records = [_q("问题一", "病毒学", "STEM"), _q("问题二", "营养学", "Other")]
    shot = with_shots(records, POOL, 1)
    assert shot[0]["history"] == [["d2", "B"]] and shot[1]["history"] == [["d4", "D"]]
    assert "history" not in records[0] and with_shots(records, POOL, 0) == records
    with pytest.raises(FewShotError, match=r"--shots 6 needs at least 6 questions in the dev pool; it has 5"):
        with_shots(records, POOL, 6)


@pytest.mark.property
@given(st.integers(0, 5), st.sampled_from(["解剖学", "病毒学", "营养学", "药理学"]))
def test_shots_are_deterministic_distinct_and_counted(shots, subject):
    record = _q("问题", subject, "STEM")
    first, again = choose_shots(record, POOL, shots), choose_shots(record, list(POOL), shots)
    assert first == again and len(first) == shots
    assert len({p["instruction"] for p in first}) == shots
    same = [p for p in first if p["subject"] == subject]
    assert first[:len(same)] == same  # the subject's own questions come first


def test_few_shot_prompt_is_the_chat_template_with_earlier_turns(tiny_qwen_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_qwen_path)
    record = {"instruction": "题目：女性生殖腺是\nA. 卵巢\nB. 乳腺\n答案是：", "input": "",
              "history": [["题目：属于右心房的结构是\nA. 肉柱\nB. 梳状肌\n答案是：", "B"]]}
    assert tokenizer.decode(prompt_ids(tokenizer, "qwen", record)) == (
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n题目：属于右心房的结构是\nA. 肉柱\nB. 梳状肌\n答案是：<|im_end|>\n"
        "<|im_start|>assistant\nB<|im_end|>\n"
        "<|im_start|>user\n题目：女性生殖腺是\nA. 卵巢\nB. 乳腺\n答案是：<|im_end|>\n<|im_start|>assistant\n")


def test_pools_from_converted_exams(exam_dir):
    records = load_records(exam_dir, "med_cmmlu_test", limit=3)
    shot = add_shots(exam_dir, "med_cmmlu_test", records, 3)
    pool = load_records(exam_dir, "med_cmmlu_dev")
    assert all(len(r["history"]) == 3 for r in shot)
    anatomy = [p for p in pool if p["subject"] == records[0]["subject"]]
    assert [h[1] for h in shot[0]["history"]] == [p["output"] for p in anatomy[:3]]


def test_missing_pool_is_a_clear_error(heldout_dir):
    records = load_records(heldout_dir, "med_norm_test")
    with pytest.raises(FewShotError, match=r"--shots 2 takes its examples from 'med_norm_dev'.*not registered"):
        add_shots(heldout_dir, "med_norm_test", records, 2)
