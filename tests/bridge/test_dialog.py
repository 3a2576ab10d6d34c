import json

import pytest

from bridge import dialog
from bridge.common import BridgeError, Counts, load_prompt
from bridge.pipeline import convert_source

PROMPT = load_prompt(dialog.DEFAULT_PROMPT, dialog.PROMPT_FIELDS)


def test_convert_field_by_field():
    raw = [
        {"instruction": "胃疼反酸烧心是胃炎吗", "input": "饭后经常胃疼，还反酸。", "output": "建议做胃镜检查。",
         "history": None},
        {"instruction": "头晕", "input": "无", "output": "多休息。", "history": None},
        {"instruction": "头晕", "input": "头晕两天", "output": " ", "history": None},
        {"instruction": "", "input": "这个粑粑正常吗？", "output": "无", "history": None},
        ["not", "an", "object"],
    ]
    counts = Counts()
    out = list(dialog.convert(raw, PROMPT, counts))
    assert out == [{"instruction": "主题：胃疼反酸烧心是胃炎吗\n内容：饭后经常胃疼，还反酸。", "input": "",
                    "output": "建议做胃镜检查。"}]
    assert counts.read == 5
    assert dict(counts.skipped) == {"empty_question": 1, "empty_answer": 2, "not_an_object": 1}


def test_missing_key_names_it_and_lists_expected():
    with pytest.raises(BridgeError, match=r"dialog record 0: missing key\(s\) \['output'\]; expected keys "
                                          r"\['instruction', 'input', 'output'\]"):
        list(dialog.convert([{"instruction": "t", "input": "q"}], PROMPT))


def test_wrong_file_for_source_is_refused(samples_dir, tmp_path):
    # An IMCS-V2 dict is not a JSON array; a medical-o1 array lacks the dialog keys.
    with pytest.raises(BridgeError, match="expected a JSON array"):
        convert_source("dialog", tmp_path, inputs={"train": [samples_dir / "mrg" / "IMCS-V2_train.json"],
                                                   "test": [samples_dir / "mrg" / "IMCS-V2_train.json"]})
    with pytest.raises(BridgeError, match=r"missing key.*this looks like a record of o1: wrong file for this source"):
        convert_source("dialog", tmp_path, inputs={"train": [samples_dir / "o1" / "medical_o1_sft_Chinese.json"],
                                                   "test": [samples_dir / "o1" / "medical_o1_sft_Chinese.json"]})
    assert not (tmp_path / "dataset_info.json").exists()


def test_sample_is_seeded_disjoint_and_sized(samples_dir, tmp_path):
    path = samples_dir / "dialog" / "data" / "train_0001_of_0001.json"
    inputs = {"train": [path], "test": [path]}
    params = {"train_size": 50, "test_size": 10, "seed": 7}
    first = convert_source("dialog", tmp_path / "a", inputs=inputs, params=params)
    convert_source("dialog", tmp_path / "b", inputs=inputs, params=params)
    assert first.counts["written"] == {"train": 50, "test": 10}
    for split in ("train", "test"):
        assert (tmp_path / "a" / f"dialog_{split}.jsonl").read_bytes() == \
               (tmp_path / "b" / f"dialog_{split}.jsonl").read_bytes()
    train = (tmp_path / "a" / "dialog_train.jsonl").read_text(encoding="utf-8").splitlines()
    test = (tmp_path / "a" / "dialog_test.jsonl").read_text(encoding="utf-8").splitlines()
    assert not set(train) & set(test)
    other = convert_source("dialog", tmp_path / "c", inputs=inputs, params={**params, "seed": 8})
    assert other.status == "written"
    assert (tmp_path / "c" / "dialog_train.jsonl").read_bytes() != (tmp_path / "a" / "dialog_train.jsonl").read_bytes()


def test_reservoir_is_uniform_enough():
    import random

    hits = [0] * 10
    for seed in range(2000):
        for index, _ in dialog.reservoir(range(10), 3, random.Random(seed)):
            hits[index] += 1
    # Each of 10 items is drawn with probability 3/10: 600 expected in 2000 draws of 3.
    assert all(500 < h < 700 for h in hits), hits


def test_duplicates_counted_and_dropped(tmp_path):
    rec = {"instruction": "咳嗽", "input": "咳嗽三天有黄痰", "output": "考虑支气管炎。", "history": None}
    other = {"instruction": "发热", "input": "发热两天", "output": "多喝水。", "history": None}
    unique = [{"instruction": f"头痛{i}", "input": f"头痛{i}天", "output": "休息。", "history": None}
              for i in range(10)]
    path = tmp_path / "d.json"
    path.write_text(json.dumps([rec, other, rec, rec] * 3 + unique, ensure_ascii=False), encoding="utf-8")
    inputs = {"train": [path], "test": [path]}
    kept = convert_source("dialog", tmp_path / "keep", inputs=inputs, params={"test_size": 2})
    assert kept.counts["duplicates"] == 10
    assert sum(kept.counts["written"].values()) + kept.counts["leaks_removed"] == 22
    dropped = convert_source("dialog", tmp_path / "drop", inputs=inputs, params={"test_size": 2}, dedup=True)
    assert dropped.counts["duplicates"] == 10 and dropped.counts["duplicates_dropped"] == 10
    assert dropped.counts["written"] == {"train": 10, "test": 2}
    lines = [line for split in ("train", "test")
             for line in (tmp_path / "drop" / f"dialog_{split}.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(json.loads(x)["output"] for x in lines) == sorted(["多喝水。", "考虑支气管炎。"] + ["休息。"] * 10)


CSV_TEXT = ('department,title,ask,answer\r\n'
            '内科,高血压患者能吃党参吗？,"我有高血压,这两天喝党参泡水，可以吗？",高血压病人可以口服党参的。\r\n'
            '儿科,宝宝发烧,无,多喝水\r\n')


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8", "utf-8-sig"])
def test_toyhom_csv_in_each_encoding(tmp_path, encoding):
    path = tmp_path / "内科.csv"
    path.write_bytes(CSV_TEXT.encode(encoding))
    counts = Counts()
    out = list(dialog.convert(dialog.read_csv(path), PROMPT, counts))
    assert out == [{"instruction": "主题：高血压患者能吃党参吗？\n内容：我有高血压,这两天喝党参泡水，可以吗？",
                    "input": "", "output": "高血压病人可以口服党参的。"}]
    assert dict(counts.skipped) == {"empty_question": 1}


def test_csv_missing_column_and_wrong_encoding(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("department,title,question,answer\n内科,a,b,c\n", encoding="utf-8")
    with pytest.raises(BridgeError, match=r"missing column\(s\) \['ask'\]; expected header "
                                          r"\['department', 'title', 'ask', 'answer'\]"):
        list(dialog.read_csv(path))
    path.write_bytes(CSV_TEXT.encode("gb18030"))
    with pytest.raises(BridgeError, match="cannot decode as utf-8"):
        list(dialog.read_csv(path, encoding="utf-8"))


def test_sample_csv_file_converts(samples_dir, tmp_path):
    csv_path = next((samples_dir / "dialog_toyhom").rglob("*.csv"))
    assert not csv_path.read_bytes().startswith(b"\xef\xbb\xbf")
    result = convert_source("dialog", tmp_path, inputs={"train": [csv_path], "test": [csv_path]})
    assert result.counts["read"] == 60
    first = json.loads((tmp_path / "dialog_train.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert first["instruction"].startswith("主题：") and "\n内容：" in first["instruction"]


def test_csv_field_over_128_kib(tmp_path):
    long_answer = "多喝水，" * 50_000  # 200k characters in one quoted field
    path = tmp_path / "big.csv"
    path.write_text(f'department,title,ask,answer\n内科,头痛,头痛三天,"{long_answer}"\n', encoding="utf-8")
    out = list(dialog.convert(dialog.read_csv(path), PROMPT))
    assert out[0]["output"] == long_answer


def test_csv_cut_mid_character_is_truncated(tmp_path):
    path = tmp_path / "cut.csv"
    path.write_bytes(CSV_TEXT.encode("utf-8")[:-3])
    with pytest.raises(BridgeError, match="the file is truncated"):
        list(dialog.read_csv(path))
