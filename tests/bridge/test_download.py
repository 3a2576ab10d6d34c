import os
import socket
import zipfile

import pytest

from bridge.common import BridgeError
from bridge.download import REMOTES, Remote, download, unpack_zip, verify


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _closed_port() -> int:
    # Port 1 (tcpmux) is closed on any sane machine, and unlike a just-released ephemeral port no other
    # process (a parallel test worker) can start listening on it in between.
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", 1)) != 0
    return 1


def test_offline_fails_naming_the_manual_alternative(tmp_path):
    with pytest.raises(BridgeError, match=r"cannot download .*offline\? Download manually: the Yidu-N7K zip"):
        download("norm", tmp_path, location=f"http://127.0.0.1:{_closed_port()}/yidu-n7k.zip", timeout=3)
    assert not (tmp_path / "norm").exists() and not list(tmp_path.iterdir())


def test_modelscope_cli_missing_names_manual_route(tmp_path, monkeypatch):
    # An environment without the CLI (medft's own venv ships it): the message names the manual route.
    monkeypatch.setattr("bridge.download.find_executable", lambda name: None)
    with pytest.raises(BridgeError, match=r"`modelscope` CLI is not installed.*modelscope.cn/datasets/Freedom"):
        download("o1", tmp_path)
    assert not list(tmp_path.iterdir())


def test_modelscope_offline_fails_with_the_manual_route(tmp_path):
    # The real CLI from the venv, against a network that reaches no dataset hub.
    with pytest.raises(BridgeError, match=r"modelscope download .* failed: .*download manually: https://modelscope"):
        download("o1", tmp_path, timeout=3)
    assert not list(tmp_path.iterdir())


def test_zip_download_over_file_url_unpacks_and_verifies(tmp_path):
    archive = _zip(tmp_path / "yidu-n7k.zip", {"yidu-n7k/train.xlsx": b"train-bytes", "yidu-n7k/val.xlsx": b"val",
                                               "yidu-n7k/code.txt": b"c"})
    raw = tmp_path / "raw"
    target = download("norm", raw, location=archive.as_uri())
    assert sorted(p.name for p in target.iterdir()) == ["train.xlsx", "val.xlsx"]
    assert (target / "train.xlsx").read_bytes() == b"train-bytes"
    assert not [p for p in raw.iterdir() if p.name.startswith(".")]
    # Present and verified: a second call does not touch the network (the URL now points nowhere).
    assert download("norm", raw, location=f"http://127.0.0.1:{_closed_port()}/x.zip", timeout=1) == target


def test_bad_archives(tmp_path):
    page = tmp_path / "page.zip"
    page.write_text("<!DOCTYPE html><html>login</html>", encoding="utf-8")
    with pytest.raises(BridgeError, match="not a zip archive \\(the server sent an HTML page\\)"):
        unpack_zip(page, tmp_path, ("train.xlsx",))
    partial = _zip(tmp_path / "p.zip", {"train.xlsx": b"x"})
    with pytest.raises(BridgeError, match=r"lacks \['val.xlsx'\]"):
        download("norm", tmp_path / "raw", location=partial.as_uri())
    assert not (tmp_path / "raw" / "norm").exists()


def test_verify_checks_size_and_hash(tmp_path):
    (tmp_path / "a.json").write_bytes(b"12345")
    digest = "5994471abb01112afcc18159f6cc74b4f511b99806da59b3caf5a9c173cacfc5"  # sha256 of b"12345"
    ok = Remote("zip", "u", ("a.json",), expected={"a.json": (5, digest)})
    verify(tmp_path, ok)
    with pytest.raises(BridgeError, match="size 5 bytes, expected 6"):
        verify(tmp_path, Remote("zip", "u", ("a.json",), expected={"a.json": (6, None)}))
    with pytest.raises(BridgeError, match="sha256 mismatch"):
        verify(tmp_path, Remote("zip", "u", ("a.json",), expected={"a.json": (None, "0" * 64)}))
    with pytest.raises(BridgeError, match=r"download incomplete: \['b.json'\]"):
        verify(tmp_path, Remote("zip", "u", ("b.json",)))


def test_every_source_has_a_remote():
    assert set(REMOTES) == {"dialog", "norm", "mrg", "o1", "cmb", "cmexam", "cmmlu"}
    assert all(r.manual for r in REMOTES.values())
    assert os.path.basename(REMOTES["dialog"].files[0]) == "train_0001_of_0001.json"
