import json
import os
import stat

import pytest

from medft.io import atomic_write_json, atomic_write_jsonl, atomic_write_text, atomic_writer, sha256_file


def test_atomic_write_replaces_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf-8")
    atomic_write_text(target, "新内容")
    assert target.read_text(encoding="utf-8") == "新内容"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_failed_write_keeps_previous_file(tmp_path):
    target = tmp_path / "out.jsonl"
    target.write_text('{"a": 1}\n', encoding="utf-8")

    def records():
        yield {"a": 2}
        raise KeyboardInterrupt  # an interrupted conversion

    with pytest.raises(KeyboardInterrupt):
        atomic_write_jsonl(target, records())
    assert target.read_text(encoding="utf-8") == '{"a": 1}\n'
    assert os.listdir(tmp_path) == ["out.jsonl"]


def test_atomic_writer_creates_parent_and_normal_permissions(tmp_path):
    target = tmp_path / "a" / "b" / "f.bin"
    with atomic_writer(target, "wb") as handle:
        handle.write(b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    mode = stat.S_IMODE(target.stat().st_mode)
    assert mode & stat.S_IRGRP, "outputs must not keep mkstemp's private 0600 mode"


def test_json_and_jsonl_are_utf8_not_escaped(tmp_path):
    atomic_write_json(tmp_path / "x.json", {"主诉": "发热"})
    assert '"主诉": "发热"' in (tmp_path / "x.json").read_text(encoding="utf-8")
    n = atomic_write_jsonl(tmp_path / "x.jsonl", [{"q": "咳嗽"}, {"q": "腹泻"}])
    lines = (tmp_path / "x.jsonl").read_text(encoding="utf-8").splitlines()
    assert n == 2 and [json.loads(line)["q"] for line in lines] == ["咳嗽", "腹泻"]
    assert "咳嗽" in lines[0]


def test_sha256_file(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    assert sha256_file(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
