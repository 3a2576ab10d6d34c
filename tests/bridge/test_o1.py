import json

import pytest

from bridge import o1
from bridge.common import BridgeError, Counts, load_prompt
from bridge.pipeline import convert_source

PROMPT = load_prompt(o1.DEFAULT_PROMPT, o1.PROMPT_FIELDS)
RAW = {"Question": "患者男，65岁，胸痛3小时，最可能的诊断是什么？", "Complex_CoT": "胸痛伴大汗，心电图ST段抬高。",
       "Response": "急性下壁心肌梗死。"}


def test_sections_form():
    assert list(o1.convert([RAW], PROMPT)) == [{
        "instruction": "诊断问题：患者男，65岁，胸痛3小时，最可能的诊断是什么？", "input": "",
        "output": "详细分析：胸痛伴大汗，心电图ST段抬高。\n### 答案：\n急性下壁心肌梗死。"}]


def test_think_form_and_english():
    out = list(o1.convert([RAW], PROMPT, form="think"))
    assert out[0]["output"] == "<think>\n胸痛伴大汗，心电图ST段抬高。\n</think>\n\n急性下壁心肌梗死。"
    en = load_prompt(o1.DEFAULT_PROMPT_EN, o1.PROMPT_FIELDS)
    out = list(o1.convert([{"Question": "Q?", "Complex_CoT": "C.", "Response": "R."}], en, lang="en"))
    assert out == [{"instruction": "Question: Q?", "input": "", "output": "Detailed analysis: C.\n### Answer:\nR."}]


def test_skips_and_errors():
    counts = Counts()
    items = [{**RAW, "Response": ""}, {**RAW, "Question": None}, {**RAW, "Complex_CoT": " "}, RAW]
    assert len(list(o1.convert(items, PROMPT, counts))) == 1
    assert dict(counts.skipped) == {"empty_answer": 1, "empty_question": 1, "empty_cot": 1}
    with pytest.raises(BridgeError, match=r"missing key\(s\) \['Complex_CoT'\]"):
        list(o1.convert([{"Question": "q", "Response": "r"}], PROMPT))
    with pytest.raises(BridgeError, match="unknown o1 output form"):
        list(o1.convert([RAW], PROMPT, form="xml"))


def test_sample_split_is_disjoint_and_capped(samples_dir, tmp_path):
    result = convert_source("o1", tmp_path, raw_dir=samples_dir, params={"form": "think"})
    # 60 records, 2 without a Response; the held-out split takes at most 20 % of the 58.
    assert result.counts["written"] == {"train": 47, "test": 11}
    train = (tmp_path / "o1_train.jsonl").read_text(encoding="utf-8").splitlines()
    test = (tmp_path / "o1_test.jsonl").read_text(encoding="utf-8").splitlines()
    assert not set(train) & set(test)
    assert all(json.loads(x)["output"].startswith("<think>\n") for x in train)
    en = convert_source("o1", tmp_path / "en", raw_dir=samples_dir, params={"lang": "en"})
    assert en.counts["read"] == 20


def test_language_comes_from_the_content(tmp_path):
    zh = [{**RAW, "Question": f"{RAW['Question']}{i}"} for i in range(10)]
    en = [{"Question": f"A 65-year-old man with chest pain {i}?", "Complex_CoT": "ST elevation.",
           "Response": "Inferior MI."} for i in range(10)]
    for name, records, lang in (("o1_zh.json", zh, "zh"), ("medical_o1_sft_Chinese.json", en, "en")):
        path = tmp_path / name
        path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
        assert o1.detect_lang(path) == lang
        convert_source("o1", tmp_path / lang, inputs={"train": [path], "test": [path]}, params={"test_size": 1})
        rec = json.loads((tmp_path / lang / "o1_train.jsonl").read_text(encoding="utf-8").splitlines()[0])
        assert rec["instruction"].startswith("诊断问题：" if lang == "zh" else "Question: ")
    # --lang overrides what the content says.
    convert_source("o1", tmp_path / "forced", inputs={"train": [tmp_path / "o1_zh.json"],
                                                      "test": [tmp_path / "o1_zh.json"]},
                   params={"test_size": 1, "lang": "en"})
    rec = json.loads((tmp_path / "forced" / "o1_train.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert rec["instruction"].startswith("Question: ")
