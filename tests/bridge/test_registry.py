import json
import multiprocessing

import pytest

from bridge import registry
from bridge.common import BridgeError
from bridge.pipeline import convert_source
from medft.io import sha256_file

FOREIGN = {"alpaca_zh_demo": {"file_name": "alpaca_zh_demo.json"},
           "identity": {"file_name": "identity.json", "formatting": "alpaca"}}


def _snapshot(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file() and p.suffix != ".lock"}


def test_entries_manifest_and_foreign_entries_kept(samples_dir, tmp_path):
    (tmp_path / "dataset_info.json").write_text(json.dumps(FOREIGN, indent=4), encoding="utf-8")
    result = convert_source("norm", tmp_path, raw_dir=samples_dir)
    assert result.changes == {"med_norm": "added", "med_norm_test": "added"}
    info = json.loads((tmp_path / "dataset_info.json").read_text(encoding="utf-8"))
    assert list(info) == ["alpaca_zh_demo", "identity", "med_norm", "med_norm_test"]
    assert {k: info[k] for k in FOREIGN} == FOREIGN
    assert info["med_norm"] == {"file_name": "norm_train.jsonl", "formatting": "alpaca",
                                "columns": {"prompt": "instruction", "query": "input", "response": "output"}}
    assert info["med_norm_test"]["file_name"] == "norm_test.jsonl"
    entry = registry.load_manifest(tmp_path)["datasets"]["med_norm"]
    assert entry["file_name"] == "norm_train.jsonl"
    assert entry["sha256"] == sha256_file(tmp_path / "norm_train.jsonl")
    assert entry["source"] == {"path": str((samples_dir / "norm" / "train.xlsx").resolve()),
                               "sha256": sha256_file(samples_dir / "norm" / "train.xlsx")}
    assert entry["converter"] == "norm" and entry["converter_version"] == 2
    assert entry["params"]["seed"] == 42 and entry["params"]["dedup"] is False
    assert entry["counts"]["written"] == {"test": 53, "train": 191}
    assert entry["counts"]["leaks_removed"] == 4  # val.xlsx words also in train.xlsx
    test_entry = registry.load_manifest(tmp_path)["datasets"]["med_norm_test"]
    assert test_entry["source"]["sha256"] == sha256_file(samples_dir / "norm" / "val.xlsx")


def test_rerun_is_a_noop_and_changes_are_noticed(raw, tmp_path):
    out = tmp_path / "out"
    assert convert_source("o1", out, raw_dir=raw).status == "written"
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert convert_source("o1", out, raw_dir=raw).status == "unchanged"
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    assert convert_source("o1", out, raw_dir=raw, params={"form": "think"}).status == "written"
    path = raw / "o1" / "medical_o1_sft_Chinese.json"
    path.write_text(path.read_text(encoding="utf-8").replace("最可能", "最有可能"), encoding="utf-8")
    assert convert_source("o1", out, raw_dir=raw, params={"form": "think"}).status == "written"
    (out / "o1_train.jsonl").write_text("edited by hand\n", encoding="utf-8")
    assert convert_source("o1", out, raw_dir=raw, params={"form": "think"}).status == "written"


def test_entry_pointing_elsewhere_needs_force(samples_dir, tmp_path):
    theirs = {"med_mrg": {"file_name": "/data/my_mrg.json", "formatting": "alpaca"}}
    (tmp_path / "dataset_info.json").write_text(json.dumps(theirs), encoding="utf-8")
    with pytest.raises(BridgeError, match=r"med_mrg -> /data/my_mrg.json.*--force"):
        convert_source("mrg", tmp_path, raw_dir=samples_dir)
    assert json.loads((tmp_path / "dataset_info.json").read_text(encoding="utf-8")) == theirs
    assert not (tmp_path / "mrg_train.jsonl").exists()
    convert_source("mrg", tmp_path, raw_dir=samples_dir, force=True)
    assert json.loads((tmp_path / "dataset_info.json").read_text(encoding="utf-8"))["med_mrg"]["file_name"] == \
        "mrg_train.jsonl"


@pytest.mark.parametrize("content", ['{"med_norm": {"file_name": "x.json",}', "[1, 2]", '{"a": 1'])
def test_corrupt_dataset_info_is_untouched(samples_dir, tmp_path, content):
    (tmp_path / "dataset_info.json").write_text(content, encoding="utf-8")
    with pytest.raises(BridgeError, match=r"dataset_info.json"):
        convert_source("norm", tmp_path, raw_dir=samples_dir)
    assert (tmp_path / "dataset_info.json").read_text(encoding="utf-8") == content
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix != ".lock") == ["dataset_info.json"]


def test_corrupt_manifest_is_refused(samples_dir, tmp_path):
    (tmp_path / ".medft-manifest.json").write_text("{oops", encoding="utf-8")
    with pytest.raises(BridgeError, match="Delete it"):
        convert_source("norm", tmp_path, raw_dir=samples_dir)


def test_interrupted_conversion_changes_nothing(raw, tmp_path):
    out = tmp_path / "out"
    convert_source("dialog", out, raw_dir=raw, params={"train_size": 20, "test_size": 5})
    before = _snapshot(out)

    def interrupt(_done, _total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        convert_source("dialog", out, raw_dir=raw, params={"train_size": 30, "test_size": 5}, progress=interrupt)
    assert _snapshot(out) == before
    # A malformed record discovered late in the stream also leaves everything as it was.
    path = raw / "dialog" / "data" / "train_0001_of_0001.json"
    text = path.read_text(encoding="utf-8")
    cut = text.index("},\n", len(text) // 2) + 2
    path.write_text(text[:cut] + " oops" + text[cut:], encoding="utf-8")
    with pytest.raises(BridgeError, match="malformed JSON"):
        convert_source("dialog", out, raw_dir=raw, params={"train_size": 30, "test_size": 5})
    assert _snapshot(out) == before
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def _register_one(args):
    directory, index = args
    registry.register(directory, {f"user_{index}": {"file_name": f"u{index}.jsonl", "formatting": "alpaca"}},
                      {f"user_{index}": {"file_name": f"u{index}.jsonl"}})


def test_concurrent_registrations_lose_nothing(tmp_path):
    (tmp_path / "dataset_info.json").write_text(json.dumps(FOREIGN), encoding="utf-8")
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        pool.map(_register_one, [(str(tmp_path), i) for i in range(24)])
    info = registry.load_dataset_info(tmp_path)
    assert set(info) == set(FOREIGN) | {f"user_{i}" for i in range(24)}
    assert set(registry.load_manifest(tmp_path)["datasets"]) == {f"user_{i}" for i in range(24)}


def test_load_manifest_of_empty_dir(tmp_path):
    assert registry.load_manifest(tmp_path) == {"datasets": {}}
    assert registry.load_dataset_info(tmp_path) == {}


def test_committed_dataset_info_has_the_standard_entries():
    from pathlib import Path

    committed = Path(__file__).resolve().parents[2] / "dataset_info" / "dataset_info.json"
    info = json.loads(committed.read_text(encoding="utf-8"))
    for source in ("dialog", "norm", "mrg", "o1"):
        assert info[f"med_{source}"] == registry.alpaca_entry(f"{source}_train.jsonl")
        assert info[f"med_{source}_test"] == registry.alpaca_entry(f"{source}_test.jsonl")


@pytest.mark.parametrize("kind", ["gbk", "directory", "truncated"])
def test_unreadable_dataset_info_is_one_line_and_untouched(kind, samples_dir, tmp_path):
    info = tmp_path / "dataset_info.json"
    text = json.dumps({"通用": {"file_name": "通用数据.json"}}, ensure_ascii=False)
    if kind == "gbk":
        info.write_bytes(text.encode("gbk"))  # Windows Notepad's "ANSI" on a Chinese system
    elif kind == "directory":
        info.mkdir()
    else:
        info.write_bytes(text.encode("utf-8")[:-4])  # cut inside the last character and the closing braces
    with pytest.raises(BridgeError) as caught:
        convert_source("norm", tmp_path, raw_dir=samples_dir)
    message = caught.value.message
    assert "dataset_info.json" in message and "\n" not in message
    assert {"gbk": "not UTF-8", "directory": "is a directory", "truncated": "dataset_info.json"}[kind] in message
    assert not (tmp_path / "norm_train.jsonl").exists()
    if kind == "gbk":
        assert info.read_bytes() == text.encode("gbk")


def test_user_keys_in_a_medft_entry_survive_reconversion(samples_dir, tmp_path):
    convert_source("norm", tmp_path, raw_dir=samples_dir)
    path = tmp_path / "dataset_info.json"
    info = json.loads(path.read_text(encoding="utf-8"))
    info["med_norm"]["num_samples"] = 50
    info["med_norm"]["split"] = "train"
    info["med_norm"]["formatting"] = "sharegpt"  # conflicts with what medft writes: medft's value wins
    info["med_norm_test"]["hf_hub_url"] = "someone/else"  # would make LLaMA-Factory ignore the file: removed
    path.write_text(json.dumps(info, ensure_ascii=False), encoding="utf-8")
    convert_source("norm", tmp_path, raw_dir=samples_dir)
    after = json.loads(path.read_text(encoding="utf-8"))
    assert after["med_norm"] == {**registry.alpaca_entry("norm_train.jsonl"), "num_samples": 50, "split": "train"}
    assert after["med_norm_test"] == registry.alpaca_entry("norm_test.jsonl")
    # With identical inputs and only user keys added, a rerun is a no-op that keeps them.
    before = path.read_bytes()
    assert convert_source("norm", tmp_path, raw_dir=samples_dir).status == "unchanged"
    assert path.read_bytes() == before
    assert convert_source("norm", tmp_path, raw_dir=samples_dir, params={"seed": 3}).status == "written"
    assert json.loads(path.read_text(encoding="utf-8"))["med_norm"]["num_samples"] == 50
