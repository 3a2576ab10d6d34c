"""Issue 8 item 2: held-out sets share no normalised prompt with training and have no internal duplicates."""

import json
import unicodedata

import pytest
from click.testing import CliRunner

from bridge import registry
from bridge.cli import bridge
from bridge.common import BridgeError
from bridge.pipeline import convert_source
from bridge.samples import write_xlsx
from bridge.splits import leak_free, prompt_key
from bridge.userdata import register_file


def _norm(record):
    """The rule, written independently: NFKC of instruction + input, every whitespace character removed."""
    return "".join(unicodedata.normalize("NFKC", record["instruction"] + record.get("input", "")).split())


def _read(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _assert_leak_free(data, train_file, test_file, test_size=None):
    train, test = _read(data / train_file), _read(data / test_file)
    held = [_norm(r) for r in test]
    assert len(set(held)) == len(held), "duplicates inside the held-out set"
    assert not set(held) & {_norm(r) for r in train}, "held-out prompts also in training"
    if test_size is not None:
        assert len(test) == test_size, "refilled from the unused pool"
    return train, test


def _manifest_leaks(data, name):
    return registry.load_manifest(data)["datasets"][name]["counts"]["leaks_removed"]


def test_prompt_key_normalises_width_and_whitespace():
    a = {"instruction": "主题：头痛\n内容：ＣＴ 检查　正常吗", "input": ""}
    b = {"instruction": "主题:头痛内容:CT检查正常吗", "input": ""}
    assert prompt_key(a) == prompt_key(b)
    assert prompt_key({"instruction": "a", "input": "b"}) == prompt_key({"instruction": "ab", "input": ""})
    assert prompt_key({"instruction": "a", "input": ""}) != prompt_key({"instruction": "b", "input": ""})


def test_leak_free_drops_and_refills_in_order():
    def rec(p, o="x"):
        return {"instruction": p, "input": "", "output": o}

    train = [rec("a"), rec("b")]
    test = [rec("a", "other answer"), rec("c"), rec("c"), rec("d")]
    pool = [rec("b"), rec("e"), rec("d "), rec("f"), rec("g")]
    result = leak_free(train, test, 4, pool)
    assert [r["instruction"] for r in result.test] == ["c", "d", "e", "f"]
    assert result.removed == 2 and result.refilled == 2 and result.train == train


def test_dialog_held_out_is_leak_free_and_refilled(tmp_path):
    records = []
    for i in range(30):  # 30 prompts asked three times each (answers differ), 30 asked once
        records += [{"instruction": f"咳嗽{i}", "input": f"我咳嗽了{i}天", "output": f"回答{i}-{k}", "history": None}
                    for k in range(3)]
    records += [{"instruction": f"头痛{i}", "input": f"头痛{i}天", "output": "多休息", "history": None}
                for i in range(30)]
    # The same question again in full-width characters and with spaces: the same prompt after normalising.
    records.append({"instruction": "咳嗽１", "input": "我 咳嗽了１天", "output": "另一个回答", "history": None})
    path = tmp_path / "d.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(bridge, ["convert", "dialog", "--input", str(path), "--dataset-dir",
                                         str(tmp_path / "data"), "--train-size", "80", "--test-size", "15"])
    assert result.exit_code == 0, result.output
    _assert_leak_free(tmp_path / "data", "dialog_train.jsonl", "dialog_test.jsonl", 15)
    leaks = _manifest_leaks(tmp_path / "data", "med_dialog_test")
    assert leaks > 0 and f"leaks removed: {leaks}" in result.output


def test_norm_held_out_from_another_file_is_leak_free(tmp_path):
    train_rows = [(f"高血压{i}级", "高血压") for i in range(30)]
    val_rows = ([(f"高血压{i}级", "原发性高血压") for i in range(10)]        # also in train.xlsx
                + [(f"糖尿病{i}", "糖尿病") for i in range(5)] * 2          # twice inside val.xlsx
                + [(f"肺炎{i}", "肺炎") for i in range(20)])
    write_xlsx(tmp_path / "train.xlsx", train_rows)
    write_xlsx(tmp_path / "val.xlsx", val_rows)
    data = tmp_path / "data"
    result = convert_source("norm", data, inputs={"train": [tmp_path / "train.xlsx"], "test": [tmp_path / "val.xlsx"]},
                            params={"test_size": 20})
    train, _ = _assert_leak_free(data, "norm_train.jsonl", "norm_test.jsonl", 20)
    assert len(train) == 30
    assert result.counts["leaks_removed"] > 0 and _manifest_leaks(data, "med_norm_test") == \
        result.counts["leaks_removed"]


def _imcs(n, start, *, same_as=None):
    items = {}
    for i in range(n):
        turns = [{"speaker": "患者", "sentence": f"宝宝拉肚子{(same_as or {}).get(i, start + i)}天"},
                 {"speaker": "医生", "sentence": "有发热吗？"}]
        items[str(start + i)] = {"dialogue": turns, "report": [{"主诉": "腹泻。", "诊断": "小儿腹泻"}] * 2}
    return items


def test_mrg_dev_dialogues_seen_in_training_are_dropped(tmp_path):
    train = _imcs(20, 0)
    # dev dialogues 0-5 repeat training dialogues 0-5; 6 and 7 repeat each other.
    dev = _imcs(16, 100, same_as={**{i: i for i in range(6)}, 7: 106})
    (tmp_path / "IMCS-V2_train.json").write_text(json.dumps(train, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "IMCS-V2_dev.json").write_text(json.dumps(dev, ensure_ascii=False), encoding="utf-8")
    data = tmp_path / "data"
    result = convert_source("mrg", data, inputs={"train": [tmp_path / "IMCS-V2_train.json"],
                                                 "test": [tmp_path / "IMCS-V2_dev.json"]}, params={"test_size": 9})
    _assert_leak_free(data, "mrg_train.jsonl", "mrg_test.jsonl", 9)
    assert result.counts["leaks_removed"] > 0


def test_mrg_short_pool_warns(tmp_path):
    train, dev = _imcs(10, 0), _imcs(6, 100, same_as={i: i for i in range(4)})
    (tmp_path / "t.json").write_text(json.dumps(train, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "d.json").write_text(json.dumps(dev, ensure_ascii=False), encoding="utf-8")
    result = convert_source("mrg", tmp_path / "data", inputs={"train": [tmp_path / "t.json"],
                                                              "test": [tmp_path / "d.json"]}, params={"test_size": 6})
    assert result.counts["written"]["test"] == 2 and result.counts["leaks_removed"] == 4
    assert any("fewer than the 6 asked" in w for w in result.counts["warnings"])


def test_o1_held_out_is_leak_free(tmp_path):
    records = [{"Question": f"患者{i % 25}岁，胸痛，诊断？", "Complex_CoT": f"分析{i}", "Response": f"答{i}"}
               for i in range(100)]
    path = tmp_path / "medical_o1_sft_Chinese.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    data = tmp_path / "data"
    # Every question is asked four times and training takes every other record: nothing can be held out.
    with pytest.raises(BridgeError, match=r"held-out split .*would be empty"):
        convert_source("o1", data, inputs={"train": [path], "test": [path]}, params={"test_size": 10})
    records += [{"Question": f"独立问题{i}", "Complex_CoT": "c", "Response": "r"} for i in range(40)]
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    result = convert_source("o1", data, inputs={"train": [path], "test": [path]}, params={"test_size": 10})
    train, test = _assert_leak_free(data, "o1_train.jsonl", "o1_test.jsonl", 10)
    assert result.counts["leaks_removed"] > 0 and len(train) + len(test) + result.counts["leaks_removed"] == 140


def test_user_data_with_a_test_split(tmp_path):
    train = [{"instruction": f"问题{i}", "input": "", "output": f"答{i}"} for i in range(10)]
    test = ([{"instruction": "问题3", "input": "", "output": "别的答案"}]                # also in training
            + [{"instruction": "新问题", "input": "", "output": "答"}] * 2               # twice in the test file
            + [{"instruction": f"另一个问题{i}", "input": "", "output": "答"} for i in range(3)])
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in train),
                                          encoding="utf-8")
    (tmp_path / "test.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in test),
                                         encoding="utf-8")
    data = tmp_path / "data"
    result = register_file("mine", tmp_path / "train.jsonl", data, test_path=tmp_path / "test.jsonl")
    assert result["leaks_removed"] == 2 and result["test_rows"] == 4
    info = registry.load_dataset_info(data)
    assert info["mine_test"]["file_name"] == "mine_test.jsonl"
    held = _read(data / "mine_test.jsonl")
    assert [r["instruction"] for r in held] == ["新问题", "另一个问题0", "另一个问题1", "另一个问题2"]
    assert registry.load_manifest(data)["datasets"]["mine_test"]["counts"]["leaks_removed"] == 2
    assert (tmp_path / "test.jsonl").read_text(encoding="utf-8").count("\n") == 6, "the user's file is untouched"
    cli = CliRunner().invoke(bridge, ["register", "mine2", str(tmp_path / "train.jsonl"), "--test-file",
                                      str(tmp_path / "test.jsonl"), "--dataset-dir", str(data)])
    assert cli.exit_code == 0 and "leaks removed: 2" in cli.output


def test_user_sharegpt_test_split(tmp_path):
    def conv(q, a):
        return {"conversations": [{"from": "human", "value": q}, {"from": "gpt", "value": a}]}

    (tmp_path / "t.json").write_text(json.dumps([conv("头疼", "休息"), conv("发烧", "退烧")], ensure_ascii=False),
                                     encoding="utf-8")
    (tmp_path / "h.json").write_text(json.dumps([conv("头疼", "吃药"), conv("咳嗽", "止咳")], ensure_ascii=False),
                                     encoding="utf-8")
    result = register_file("chat", tmp_path / "t.json", tmp_path / "data", test_path=tmp_path / "h.json")
    assert result["leaks_removed"] == 1
    assert _read(tmp_path / "data" / "chat_test.jsonl") == [conv("咳嗽", "止咳")]
    assert registry.load_dataset_info(tmp_path / "data")["chat_test"]["formatting"] == "sharegpt"


@pytest.mark.parametrize("source", ["dialog", "norm", "mrg", "o1"])
def test_sample_conversions_are_leak_free(source, converted_dir):
    _assert_leak_free(converted_dir, f"{source}_train.jsonl", f"{source}_test.jsonl")


def test_rules_apply_to_any_source_returning_train_and_test():
    """A new source (e.g. an exam with a dev split) gets the rules by returning its splits; others pass through."""
    from types import SimpleNamespace

    from bridge.common import Counts
    from bridge.splits import apply_rules

    def rec(p):
        return {"instruction": p, "input": "", "output": "A"}

    exam = SimpleNamespace(NAME="exam")
    names = {"train": "med_exam", "test": "med_exam_test", "dev": "med_exam_dev"}
    counts = Counts()
    built = {"train": [rec("q1"), rec("q2")], "test": [rec("q1"), rec("q3")], "dev": [rec("q1")], "pool": [rec("q4")]}
    out = apply_rules(exam, built, {"test_size": 2, "seed": 0}, counts, names, {"test": []})
    assert out == {"train": [rec("q1"), rec("q2")], "test": [rec("q3"), rec("q4")], "dev": [rec("q1")]}
    assert counts.leaks_removed == 1 and not counts.warnings
    only_held_out = apply_rules(exam, {"test": [rec("q1")], "dev": []}, {"test_size": None}, Counts(), names, {})
    assert only_held_out == {"test": [rec("q1")], "dev": []}


def test_a_benchmark_keeps_its_held_out_set_as_published():
    from types import SimpleNamespace

    from bridge.common import Counts
    from bridge.splits import apply_rules

    def rec(q):
        return {"instruction": q, "input": "", "output": "A"}

    module = SimpleNamespace(NAME="exam", HELDOUT_AS_PUBLISHED=True)
    built = {"train": [rec("q1"), rec("q 2"), rec("q3")], "test": [rec("q2"), rec("q2"), rec("q4")],
             "dev": [rec("q5")]}
    counts = Counts()
    result = apply_rules(module, built, {"test_size": None}, counts, {"test": "exam_test"}, {})
    assert result["test"] == built["test"], "duplicates and all: the benchmark's own questions"
    assert result["train"] == [rec("q1"), rec("q3")] and counts.leaks_removed == 1
    assert result["dev"] == built["dev"]


def test_a_source_with_only_a_held_out_split_gets_the_held_out_checks():
    from types import SimpleNamespace

    from bridge.common import BridgeError, Counts
    from bridge.splits import apply_rules

    exam = SimpleNamespace(NAME="exam")
    names = {"test": "med_exam_test"}
    with pytest.raises(BridgeError) as info:
        apply_rules(exam, {"test": []}, {"test_size": 5}, Counts(), names, {"test": ["raw/exam/test.csv"]})
    assert str(info.value) == ("exam: the held-out split med_exam_test would be empty (no usable record in "
                               "raw/exam/test.csv); nothing was written")
    counts = Counts()
    short = [{"instruction": "q1", "input": "", "output": "A"}]
    assert apply_rules(exam, {"test": short}, {"test_size": 5}, counts, names, {}) == {"test": short}
    assert counts.warnings == ["med_exam_test has 1 records, fewer than the 5 asked (the input offers 1)"]
    assert counts.leaks_removed == 0


def _rec(prompt):
    return {"instruction": prompt, "input": "", "output": "A"}


def test_an_empty_training_split_is_an_error_naming_the_files_and_counts():
    from types import SimpleNamespace

    from bridge.common import BridgeError, Counts
    from bridge.splits import apply_rules

    counts = Counts()
    counts.read = 7
    counts.skipped.update({"empty answer": 4, "empty question": 3})
    inputs = {"train": ["raw/x/b.json", "raw/x/a.json"], "test": ["raw/x/a.json"]}
    with pytest.raises(BridgeError) as info:
        apply_rules(SimpleNamespace(NAME="x"), {"train": [], "test": [_rec("q")]}, {"test_size": 1}, counts,
                    {"test": "x_test"}, inputs)
    assert str(info.value) == ("x: no usable training records in raw/x/a.json, raw/x/b.json (read 7, skipped "
                               "{'empty answer': 4, 'empty question': 3}); nothing was written")
    with pytest.raises(BridgeError, match=r"\(read 0, skipped none\); nothing was written$"):
        apply_rules(SimpleNamespace(NAME="x"), {"train": []}, {}, Counts(), {}, {})


def test_leaks_removed_adds_to_the_count_of_earlier_splits():
    from types import SimpleNamespace

    from bridge.common import Counts
    from bridge.splits import apply_rules

    counts = Counts()
    counts.leaks_removed = 2
    apply_rules(SimpleNamespace(NAME="x"), {"train": [_rec("q1")], "test": [_rec("q1"), _rec("q2")]},
                {"test_size": None}, counts, {}, {})
    assert counts.leaks_removed == 3
    apply_rules(SimpleNamespace(NAME="x", HELDOUT_AS_PUBLISHED=True), {"train": [_rec("q1"), _rec("q3")],
                "test": [_rec("q1")]}, {"test_size": None}, counts, {}, {})
    assert counts.leaks_removed == 4


def test_a_published_held_out_set_that_is_short_says_why():
    from types import SimpleNamespace

    from bridge.common import Counts
    from bridge.splits import apply_rules

    counts = Counts()
    apply_rules(SimpleNamespace(NAME="x", HELDOUT_AS_PUBLISHED=True), {"train": [_rec("q1"), _rec("q3")],
                "test": [_rec("q1")]}, {"test_size": 3}, counts, {"test": "x_test"}, {})
    assert counts.warnings == ["x_test has 1 records, fewer than the 3 asked (the input offers 1; 1 leaked "
                               "record(s) removed and the unused pool could refill 0)"]


def test_same_file_sources_borrow_with_the_conversion_seed():
    from types import SimpleNamespace

    from bridge.common import Counts
    from bridge.splits import apply_rules, leak_free

    train = [_rec(f"t{i}") for i in range(12)]
    source = SimpleNamespace(NAME="dialog", SAME_FILE_SPLIT=True)
    results = {}
    for seed in (3, 4):
        built = {"train": list(train), "test": [_rec("t0"), _rec("t1"), _rec("t2")]}
        out = apply_rules(source, built, {"test_size": 3, "seed": seed}, Counts(), {}, {})
        expected = leak_free(list(train), built["test"], 3, [], borrow_seed=seed)
        assert (out["train"], out["test"]) == (expected.train, expected.test)
        results[seed] = out["test"]
    assert results[3] != results[4]
    default = apply_rules(source, {"train": list(train), "test": [_rec("t0"), _rec("t1"), _rec("t2")]},
                          {"test_size": 3}, Counts(), {}, {})
    assert default["test"] == leak_free(list(train), [_rec("t0"), _rec("t1"), _rec("t2")], 3, [], borrow_seed=0).test


def test_why_a_held_out_split_would_be_empty():
    from types import SimpleNamespace

    from bridge.common import MAX_TEST_SHARE, BridgeError, Counts
    from bridge.splits import apply_rules

    def message(module, built, names, inputs):
        with pytest.raises(BridgeError) as info:
            apply_rules(module, built, {"test_size": 2}, Counts(), names, inputs)
        return str(info.value)

    plain, same_file = SimpleNamespace(NAME="x"), SimpleNamespace(NAME="dialog", SAME_FILE_SPLIT=True)
    leaked = {"train": [_rec("q1"), _rec("q1 ")], "test": [_rec("q1"), _rec("Q1".lower())]}
    assert message(plain, leaked, {"test": "x_test"}, {}) == (
        "x: the held-out split x_test would be empty (all 2 candidate(s) share their prompt with a training record "
        "or each other); nothing was written")
    assert message(same_file, {"train": [_rec("q1")], "test": []}, {}, {}) == (
        f"dialog: the held-out split test would be empty (only 1 usable record(s): the held-out split takes at most "
        f"{int(MAX_TEST_SHARE * 100)} % of them); nothing was written")
    assert int(MAX_TEST_SHARE * 100) == 20
    assert message(plain, {"train": [_rec("q1")], "test": []}, {"test": "x_test"},
                   {"train": ["a.json"], "test": ["b.json", "c.json"]}) == (
        "x: the held-out split x_test would be empty (no usable record in b.json, c.json); nothing was written")


def test_why_a_held_out_split_is_short():
    from types import SimpleNamespace

    from bridge.common import Counts
    from bridge.splits import apply_rules

    counts = Counts()  # the source offered all it was asked for; a leak made it short
    apply_rules(SimpleNamespace(NAME="x"), {"train": [_rec("q1")], "test": [_rec("q1"), _rec("q2")]},
                {"test_size": 2}, counts, {"test": "x_test"}, {})
    assert counts.warnings == ["x_test has 1 records, fewer than the 2 asked (1 leaked record(s) removed and the "
                               "unused pool could refill 0)"]
    counts = Counts()  # a same-file source capped the held-out share
    apply_rules(SimpleNamespace(NAME="dialog", SAME_FILE_SPLIT=True), {"train": [_rec("t1"), _rec("t2")],
                "test": [_rec("q1")]}, {"test_size": 5, "seed": 0}, counts, {"test": "d_test"}, {})
    assert counts.warnings == ["d_test has 1 records, fewer than the 5 asked (at most 20 % of the usable records "
                               "are held out)"]


def test_prompt_key_of_odd_records():
    from bridge.splits import prompt_key

    assert prompt_key({"instruction": "问", "input": None}) == prompt_key({"instruction": "问"}) == "问"
    assert prompt_key({"instruction": 5, "input": ""}) == "5"
    assert prompt_key({"input": "只有输入"}) == "只有输入"
    turns = [{"from": "human", "value": "问一"}, {"from": "gpt", "value": "答一"}, {"from": "human", "value": "问二"},
             {"from": "gpt", "value": "答二"}]
    assert prompt_key({"conversations": turns}) == "问一\u241e答一\u241e问二"
    assert prompt_key({"messages": ["问", "答"]}) == "问"
    assert prompt_key({"instruction": "问", "input": "", "conversations": turns}) == "问"  # alpaca wins


def test_leak_free_counts_every_refill_pool_and_borrowed():
    from bridge.splits import leak_free

    train = [_rec(f"t{i}") for i in range(5)]
    assert leak_free(train, [], 2, [], borrow_seed=0).refilled == 2
    mixed = leak_free(train, [], 3, [_rec("p1")], borrow_seed=0)
    assert mixed.refilled == 3 and len(mixed.test) == 3 and len(mixed.train) == 3


def test_messages_with_default_names():
    from types import SimpleNamespace

    from bridge.common import BridgeError, Counts
    from bridge.splits import apply_rules

    with pytest.raises(BridgeError) as info:
        apply_rules(SimpleNamespace(NAME="x"), {"test": []}, {}, Counts(), {}, {})
    assert str(info.value) == "x: the held-out split test would be empty (no usable record in ); nothing was written"
    counts = Counts()
    apply_rules(SimpleNamespace(NAME="x"), {"test": [_rec("q")]}, {"test_size": 3}, counts, {}, {})
    assert counts.warnings == ["test has 1 records, fewer than the 3 asked (the input offers 1)"]
