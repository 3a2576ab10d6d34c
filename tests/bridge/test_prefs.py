"""bridge.prefs: the ranking / kto record formats, a user's ranking file, the leak check, registration."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge import prefs
from bridge.common import BridgeError
from bridge.exam import parse_options, render_options
from bridge.registry import MANIFEST_NAME, load_dataset_info
from tests.datasets import write_dataset_dir

HELD_QUESTION = "以下是一道单项选择题。\n治疗缺铁性贫血的首选药物是\nA. 硫酸亚铁\nB. 阿司匹林\nC. 胰岛素\nD. 青霉素"
TRAIN_QUESTION = "以下是一道单项选择题。\n高血压患者应首先就诊的科室是\nA. 心内科\nB. 皮肤科\nC. 眼科\nD. 骨科"


@pytest.fixture
def data(tmp_path):
    """A dataset_dir holding one held-out exam set (med_cmb_test) with HELD_QUESTION in it."""
    held = {"instruction": HELD_QUESTION, "input": "", "output": "A", "question": "治疗缺铁性贫血的首选药物是",
            "options": {"A": "硫酸亚铁", "B": "阿司匹林", "C": "胰岛素", "D": "青霉素"}}
    other = {"instruction": "原始词：高血压病\n该词的标准术语为：", "input": "", "output": "高血压"}
    return write_dataset_dir(tmp_path / "data", {"med_cmb_test": ("cmb_test.jsonl", [held]),
                                                 "med_norm_test": ("norm_test.jsonl", [other])})


def _manifest(data):
    return json.loads((data / MANIFEST_NAME).read_text(encoding="utf-8"))["datasets"]


def test_the_formats_are_llamafactorys_columns():
    pair = prefs.ranking_record("问", "好", "坏")
    assert pair == {"instruction": "问", "input": "", "chosen": "好", "rejected": "坏"}
    assert prefs.kto_records(pair) == [{"instruction": "问", "input": "", "output": "好", "kto_tag": True},
                                       {"instruction": "问", "input": "", "output": "坏", "kto_tag": False}]
    assert prefs.entry("p.jsonl", "ranking") == {
        "file_name": "p.jsonl", "formatting": "alpaca", "ranking": True,
        "columns": {"prompt": "instruction", "query": "input", "chosen": "chosen", "rejected": "rejected"}}
    assert prefs.entry("k.jsonl", "kto")["columns"]["kto_tag"] == "kto_tag"
    with pytest.raises(BridgeError, match="unknown preference kind 'rm'"):
        prefs.entry("x.jsonl", "rm")


def test_llamafactory_reads_both_formats_as_pairs_and_tagged_answers(tmp_path):
    """What LLaMA-Factory's converter makes of the files medft writes (stage rm = dpo's loader, and kto)."""
    from llamafactory.data.loader import _get_merged_dataset
    from llamafactory.hparams import DataArguments, ModelArguments
    from transformers import Seq2SeqTrainingArguments

    pair = prefs.ranking_record("问题", "好答案", "坏答案")
    (tmp_path / "r.jsonl").write_text(json.dumps(pair, ensure_ascii=False) + "\n", encoding="utf-8")
    (tmp_path / "k.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n"
                                              for r in prefs.kto_records(pair)), encoding="utf-8")
    (tmp_path / "dataset_info.json").write_text(json.dumps({"r": prefs.entry("r.jsonl", "ranking"),
                                                            "k": prefs.entry("k.jsonl", "kto")}), encoding="utf-8")
    args = ModelArguments(model_name_or_path="unused"), Seq2SeqTrainingArguments(output_dir=str(tmp_path / "o"),
                                                                                   report_to=[])

    def load(name, stage):
        data_args = DataArguments(dataset=name, dataset_dir=str(tmp_path), preprocessing_num_workers=None)
        return list(_get_merged_dataset([name], args[0], data_args, args[1], stage))

    ranked = load("r", "rm")[0]
    assert ranked["_prompt"] == [{"role": "user", "content": "问题"}]
    assert [m["content"] for m in ranked["_response"]] == ["好答案", "坏答案"]
    good, bad = load("k", "kto")
    # kto_tag true: the answer comes first (desirable); false: an empty answer first (undesirable).
    assert [m["content"] for m in good["_response"]] == ["好答案", ""]
    assert [m["content"] for m in bad["_response"]] == ["", "坏答案"]


def test_a_users_alpaca_ranking_file_lists_every_problem():
    records = [{"instruction": "问", "chosen": "好", "rejected": "坏"},
               {"instruction": "", "chosen": "好", "rejected": "好"},
               {"instruction": "问", "input": 3, "chosen": "好"},
               "not an object"]
    entry, problems = prefs.validate_ranking(records, "alpaca")
    assert entry["ranking"] is True
    assert problems == [
        "record 1: 'instruction' missing or empty (a ranking record needs instruction, chosen and rejected)",
        "record 1: 'chosen' and 'rejected' are the same answer",
        "record 2: 'rejected' missing or empty (a ranking record needs instruction, chosen and rejected)",
        "record 2: 'input' must be a string",
        "record 3: not an object"]
    assert prefs.validate_ranking([], "alpaca") == ({}, ["the file holds no records"])


def test_a_users_sharegpt_ranking_file():
    good = {"conversations": [{"from": "human", "value": "问"}], "chosen": {"from": "gpt", "value": "好"},
            "rejected": {"from": "gpt", "value": "坏"}}
    entry, problems = prefs.validate_ranking([good], "sharegpt")
    assert problems == []
    assert entry == {"formatting": "sharegpt", "ranking": True,
                     "columns": {"messages": "conversations", "chosen": "chosen", "rejected": "rejected"}}
    ends_with_answer = {**good, "conversations": [{"from": "human", "value": "问"}, {"from": "gpt", "value": "答"}]}
    wrong_role = {**good, "rejected": {"from": "human", "value": "坏"}}
    assert prefs.validate_ranking([ends_with_answer, wrong_role], "sharegpt")[1] == [
        "record 0: turns must alternate human/gpt and end with human (the answers are in chosen / rejected)",
        "record 1: 'rejected' must be an object with from='gpt' and a non-empty 'value'"]
    messages = {"messages": [{"role": "user", "content": "问"}], "chosen": {"role": "assistant", "content": "好"},
                "rejected": {"role": "assistant", "content": "坏"}}
    entry, problems = prefs.validate_ranking([messages], "sharegpt")
    assert problems == [] and entry["tags"]["role_tag"] == "role" and entry["columns"]["messages"] == "messages"


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                               st.sampled_from(["instruction", "input", "chosen", "rejected", "conversations",
                                                "from", "value", "role", "content"]), inner, max_size=4),
                           max_leaves=12)


@pytest.mark.property
@given(st.lists(json_values, max_size=4), st.sampled_from(["alpaca", "sharegpt"]))
def test_validation_never_raises_and_names_records(records, formatting):
    _, problems = prefs.validate_ranking(records, formatting)
    assert len(problems) <= prefs.MAX_PROBLEMS
    assert all(p.startswith("record ") or p == "the file holds no records" for p in problems)


def test_a_planted_heldout_question_never_reaches_a_preference_set(data):
    planted = prefs.ranking_record(HELD_QUESTION, "A", "B")
    kept = prefs.ranking_record(TRAIN_QUESTION, "A", "C")
    summary = prefs.write_preferences(data, "med_cmb_pref", [planted, kept], "ranking", {"source": "test", "seed": 1},
                                      {"all_wrong": 3, "all_correct": 0})
    lines = (data / "med_cmb_pref.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [kept]
    manifest = _manifest(data)["med_cmb_pref"]
    assert manifest["counts"] == {"candidates": 2, "written": {"train": 1},
                                  "dropped": {"all_wrong": 3, "heldout_leak": 1}}
    assert manifest["provenance"] == {"source": "test", "seed": 1}
    assert manifest["split"] == "train" and manifest["kind"] == "ranking"
    assert manifest["leak_checked_against"] == ["med_cmb_test", "med_norm_test"]
    assert load_dataset_info(data)["med_cmb_pref"] == prefs.entry("med_cmb_pref.jsonl", "ranking")
    assert summary["status"] == "written"


def test_the_same_question_reworded_by_whitespace_or_inside_a_longer_prompt_is_caught(data):
    spaced = prefs.ranking_record(HELD_QUESTION.replace("\n", " \n "), "A", "B")
    wrapped = prefs.ranking_record("请回答：" + HELD_QUESTION + "\n请只写字母。", "A", "B")
    as_kto = prefs.kto_records(prefs.ranking_record(HELD_QUESTION, "A", "B"))
    check = prefs.LeakCheck(data)
    assert check.hits(spaced) == ["med_cmb_test"]
    assert check.hits(wrapped) == ["med_cmb_test"]
    assert [check.hits(r) for r in as_kto] == [["med_cmb_test"], ["med_cmb_test"]]
    sharegpt = {"conversations": [{"from": "human", "value": HELD_QUESTION}], "chosen": {"from": "gpt", "value": "A"},
                "rejected": {"from": "gpt", "value": "B"}}
    assert check.hits(sharegpt) == ["med_cmb_test"]
    assert check.hits(prefs.ranking_record(TRAIN_QUESTION, "A", "B")) == []


def test_nothing_left_writes_nothing(data):
    before = (data / "dataset_info.json").read_text(encoding="utf-8")
    with pytest.raises(BridgeError, match=r"med_cmb_pref: no preference record left of 1 \(dropped: "
                                          r"\{'heldout_leak': 1\}\); nothing was registered"):
        prefs.write_preferences(data, "med_cmb_pref", [prefs.ranking_record(HELD_QUESTION, "A", "B")], "ranking", {})
    assert (data / "dataset_info.json").read_text(encoding="utf-8") == before
    assert not (data / "med_cmb_pref.jsonl").exists()
    assert not [p for p in data.iterdir() if p.name.startswith(".") and "tmp" in p.name]


def test_a_bad_name_is_refused_before_anything_is_written(data):
    with pytest.raises(BridgeError, match="dataset name"):
        prefs.write_preferences(data, "../escape", [prefs.ranking_record(TRAIN_QUESTION, "A", "B")], "ranking", {})
    assert not (data.parent / "escape.jsonl").exists()


def test_register_file_validates_then_registers_a_leak_checked_copy(data, tmp_path):
    source = tmp_path / "mine.jsonl"
    rows = [prefs.ranking_record(TRAIN_QUESTION, "A", "B"), prefs.ranking_record(HELD_QUESTION, "A", "B")]
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    summary = prefs.register_file("my_pref", source, data)
    assert summary["counts"]["dropped"] == {"heldout_leak": 1}
    assert summary["provenance"]["source"] == "file" and summary["provenance"]["formatting"] == "alpaca"
    assert len(source.read_text(encoding="utf-8").splitlines()) == 2, "the user's file is never changed"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"instruction": "问", "chosen": "好"}) + "\n", encoding="utf-8")
    with pytest.raises(BridgeError) as caught:
        prefs.register_file("bad_pref", bad, data)
    assert caught.value.message == (
        f"{bad} is not a valid alpaca ranking file:\n  record 0: 'rejected' missing or empty (a ranking record "
        "needs instruction, chosen and rejected)")
    assert "bad_pref" not in load_dataset_info(data)


def test_register_file_keeps_a_sharegpt_files_columns(data, tmp_path):
    source = tmp_path / "chat.json"
    rows = [{"conversations": [{"from": "human", "value": TRAIN_QUESTION}], "chosen": {"from": "gpt", "value": "A"},
             "rejected": {"from": "gpt", "value": "B"}}]
    source.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    prefs.register_file("chat_pref", source, data)
    assert load_dataset_info(data)["chat_pref"] == {
        "file_name": "chat_pref.jsonl", "formatting": "sharegpt", "ranking": True,
        "columns": {"messages": "conversations", "chosen": "chosen", "rejected": "rejected"}}


def test_parse_options_reads_what_render_options_wrote():
    options = {"A": "硫酸亚铁", "B": "阿司匹林", "C": "胰岛素"}
    assert parse_options("题干\n" + render_options(options)) == options
    assert parse_options("题干 A. 不是选项\n没有选项") == {}
    assert parse_options("题干\nB. 从 B 开始") == {}, "options start at A"
    assert parse_options("") == {}
    assert parse_options("A. 题干里像选项的一行\n" + render_options(options)) == options


@pytest.mark.property
@given(st.text(max_size=30), st.lists(st.text(min_size=1, max_size=8).filter(lambda t: "\n" not in t),
                                      min_size=1, max_size=8))
def test_parse_options_round_trips(stem, texts):
    options = dict(zip("ABCDEFGH", texts, strict=False))
    assert parse_options(f"{stem}\n{render_options(options)}") == options


def test_llamafactory_reads_a_registered_sharegpt_ranking_file(data, tmp_path):
    from llamafactory.data.loader import _get_merged_dataset
    from llamafactory.hparams import DataArguments, ModelArguments
    from transformers import Seq2SeqTrainingArguments

    source = tmp_path / "chat.jsonl"
    row = {"messages": [{"role": "system", "content": "你是医生。"}, {"role": "user", "content": TRAIN_QUESTION}],
           "chosen": {"role": "assistant", "content": "A"}, "rejected": {"role": "assistant", "content": "B"}}
    source.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    prefs.register_file("chat_pref", source, data)
    data_args = DataArguments(dataset="chat_pref", dataset_dir=str(data), preprocessing_num_workers=None)
    loaded = list(_get_merged_dataset(["chat_pref"], ModelArguments(model_name_or_path="unused"), data_args,
                                      Seq2SeqTrainingArguments(output_dir=str(tmp_path / "o"), report_to=[]), "rm"))
    assert loaded[0]["_prompt"] == [{"role": "user", "content": TRAIN_QUESTION}]
    assert [m["content"] for m in loaded[0]["_response"]] == ["A", "B"] and loaded[0]["_system"] == "你是医生。"
