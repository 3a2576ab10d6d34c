"""Issue 7 for conversions: empty or short splits, sizes, and a converted pair that changes with its manifest."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bridge import registry
from bridge.common import BridgeError
from bridge.pipeline import convert_source
from medft.io import sha256_file

ROOT = Path(__file__).resolve().parents[2]


def _snapshot(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file() and p.suffix != ".lock"}


def _dialog_file(path, records):
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return {"train": [path], "test": [path]}


def _dialogs(n, start=0):
    return [{"instruction": f"问题{i}", "input": f"我咳嗽了{i}天，怎么办？", "output": f"建议{i}。", "history": None}
            for i in range(start, start + n)]


@pytest.fixture()
def converted(tmp_path):
    """A dataset_dir holding a good dialog conversion, and that conversion's inputs."""
    data = tmp_path / "data"
    inputs = _dialog_file(tmp_path / "good.json", _dialogs(50))
    convert_source("dialog", data, inputs=inputs, params={"train_size": 30, "test_size": 5})
    return data, inputs


@pytest.mark.parametrize("records", [[], [{"instruction": "t", "input": "无", "output": "a", "history": None}] * 5,
                                     [{"instruction": "t", "input": "q", "output": " ", "history": None}] * 3])
def test_no_training_records_is_an_error_and_replaces_nothing(records, converted, tmp_path):
    data, _ = converted
    before = _snapshot(data)
    bad = _dialog_file(tmp_path / "bad.json", records)
    with pytest.raises(BridgeError, match=r"no usable training records"):
        convert_source("dialog", data, inputs=bad)
    with pytest.raises(BridgeError, match=r"no usable training records"):
        convert_source("dialog", data, inputs=bad, dry_run=True)
    assert _snapshot(data) == before


def test_empty_held_out_split_is_an_error(converted, tmp_path):
    data, _ = converted
    before = _snapshot(data)
    tiny = _dialog_file(tmp_path / "three.json", _dialogs(3))
    with pytest.raises(BridgeError, match=r"held-out split .*med_dialog_test.* would be empty"):
        convert_source("dialog", data, inputs=tiny)
    assert _snapshot(data) == before


def test_short_held_out_split_is_a_warning_in_summary_and_manifest(tmp_path):
    inputs = _dialog_file(tmp_path / "d.json", _dialogs(40))
    result = convert_source("dialog", tmp_path / "data", inputs=inputs, params={"test_size": 20})
    assert result.counts["written"] == {"train": 32, "test": 8}
    assert any("med_dialog_test has 8 records, fewer than the 20 asked" in w for w in result.counts["warnings"])
    manifest = registry.load_manifest(tmp_path / "data")["datasets"]["med_dialog_test"]
    assert manifest["counts"]["warnings"] == result.counts["warnings"]


@pytest.mark.parametrize("params", [{"test_size": -5}, {"train_size": 0}, {"test_size": 0}, {"train_size": "5"},
                                    {"test_size": True}])
def test_sizes_are_validated(params, converted):
    data, inputs = converted
    before = _snapshot(data)
    with pytest.raises(BridgeError, match=r"(train|test)_size must be"):
        convert_source("dialog", data, inputs=inputs, params=params)
    assert _snapshot(data) == before


KILL = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    import medft.io
    from bridge.pipeline import convert_source

    data, source, when = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    real_replace, real_fsync = os.replace, os.fsync

    def replace(src, dst, *a, **k):
        real_replace(src, dst, *a, **k)
        if when == "between-renames" and str(dst).endswith("dialog_train.jsonl"):
            os.kill(os.getpid(), signal.SIGKILL)

    def fsync(fd):
        real_fsync(fd)
        if when == "while-staging":
            os.kill(os.getpid(), signal.SIGKILL)

    os.replace, os.fsync = replace, fsync
    convert_source("dialog", data, inputs={"train": [source], "test": [source]},
                   params={"train_size": 40, "test_size": 5, "seed": 1})
""")


def _killed_conversion(data, source, when):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", KILL, str(data), str(source), when], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr[-2000:]


def _consistent(data):
    """Both files of the pair are what the manifest (the commit record) says they are."""
    manifest = registry.load_manifest(data)
    assert "pending" not in manifest
    for name in ("med_dialog", "med_dialog_test"):
        entry = manifest["datasets"][name]
        assert sha256_file(data / entry["file_name"]) == entry["sha256"], name
    assert not [p.name for p in data.iterdir() if p.name.endswith(".tmp")]


def test_kill_between_the_renames_is_finished_by_the_next_reader(converted, tmp_path):
    data, _ = converted
    source = tmp_path / "new.json"
    source.write_text(json.dumps(_dialogs(60, start=100), ensure_ascii=False), encoding="utf-8")
    _killed_conversion(data, source, "between-renames")
    # Killed after the commit point: the new training file is in place, the held-out file is still old.
    assert registry.pending_names(data) == ["med_dialog", "med_dialog_test"]
    assert sha256_file(data / "dialog_test.jsonl") != registry.load_manifest(data)["datasets"][
        "med_dialog_test"]["sha256"]
    # Readers that do not finish the commit themselves refuse while it is pending.
    from bridge.stats import compute_stats
    from recipes.validate import check_datasets

    with pytest.raises(BridgeError, match="interrupted while replacing its files"):
        compute_stats(data, "no-model-needed")
    assert "bridge recover" in check_datasets({"dataset": "med_dialog"}, data)[0]
    # What a reader trusts after the kill: the commit record, finished before anything reads the pair.
    registry.recover(data)
    assert check_datasets({"dataset": "med_dialog"}, data) == []
    _consistent(data)
    expected = tmp_path / "expected"
    convert_source("dialog", expected, inputs={"train": [source], "test": [source]},
                   params={"train_size": 40, "test_size": 5, "seed": 1})
    for name in ("dialog_train.jsonl", "dialog_test.jsonl"):
        assert (data / name).read_bytes() == (expected / name).read_bytes(), name
    again = convert_source("dialog", data, inputs={"train": [source], "test": [source]},
                           params={"train_size": 40, "test_size": 5, "seed": 1})
    assert again.status == "unchanged"


def test_kill_while_staging_leaves_the_old_pair_and_no_temp_files(converted, tmp_path):
    data, inputs = converted
    before = _snapshot(data)
    source = tmp_path / "new.json"
    source.write_text(json.dumps(_dialogs(60, start=100), ensure_ascii=False), encoding="utf-8")
    _killed_conversion(data, source, "while-staging")
    assert {k: v for k, v in _snapshot(data).items() if not k.endswith(".tmp")} == before
    assert [p for p in data.iterdir() if p.name.endswith(".tmp")], "the kill left a staged file behind"
    # The next conversion, even one that finds its outputs up to date, removes the dead run's temp files.
    convert_source("dialog", data, inputs=inputs, params={"train_size": 30, "test_size": 5})
    _consistent(data)


def test_only_dead_medft_temp_files_are_cleaned(converted):
    data, inputs = converted
    from medft.io import temp_name

    dead = data / temp_name("dialog_train.jsonl", pid=2 ** 22 + 12345)
    alive = data / temp_name("dialog_test.jsonl", pid=os.getpid())
    foreign = data / ".notes.txt.tmp"
    for path in (dead, alive, foreign):
        path.write_text("x", encoding="utf-8")
    convert_source("dialog", data, inputs=inputs, params={"train_size": 31, "test_size": 5})
    assert not dead.exists() and alive.exists() and foreign.exists()


def test_interrupt_after_the_commit_point_keeps_the_staged_file_for_recovery(converted, tmp_path, monkeypatch):
    data, _ = converted
    source = tmp_path / "new.json"
    source.write_text(json.dumps(_dialogs(60, start=100), ensure_ascii=False), encoding="utf-8")
    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):
        real_replace(src, dst, *args, **kwargs)
        if str(dst).endswith("dialog_train.jsonl"):
            raise KeyboardInterrupt  # Ctrl-C between the two renames

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        convert_source("dialog", data, inputs={"train": [source], "test": [source]}, params={"train_size": 40})
    monkeypatch.setattr(os, "replace", real_replace)
    assert registry.pending_names(data) == ["med_dialog", "med_dialog_test"]
    assert registry.recover(data)
    _consistent(data)
