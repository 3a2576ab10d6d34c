"""bridge download for the exams: files from a repository (a file:// mirror here), CMB's zip unpacked."""

import shutil
import zipfile

import pytest

from bridge.common import BridgeError
from bridge.download import REMOTES, download
from bridge.pipeline import convert_source
from tests.bridge.test_download import _closed_port


def _cmb_mirror(samples_dir, root):
    """A copy of the CMB repository's data/ folder: CMB.zip (questions) and the separate answer file."""
    (root / "data").mkdir(parents=True)
    with zipfile.ZipFile(root / "data" / "CMB.zip", "w") as zf:
        for path in sorted((samples_dir / "cmb" / "CMB").rglob("*.json")):
            zf.write(path, f"CMB/{path.relative_to(samples_dir / 'cmb' / 'CMB')}")
        zf.writestr("CMB/CMB-Clin/CMB-Clin-qa.json", "[]")
    shutil.copy(samples_dir / "cmb" / "CMB-test-choice-answer.json", root / "data")
    return root


def test_cmb_from_a_mirror_unzips_and_converts(samples_dir, tmp_path):
    mirror = _cmb_mirror(samples_dir, tmp_path / "CMB")
    target = download("cmb", tmp_path / "raw", location=mirror.as_uri())
    assert sorted(p.name for p in target.iterdir()) == sorted(REMOTES["cmb"].files)  # flat, zip removed
    result = convert_source("cmb", tmp_path / "data", raw_dir=tmp_path / "raw")
    assert result.counts["written"] == {"train": 120, "test": 68, "dev": 21}


def test_cmexam_and_cmmlu_from_mirrors(samples_dir, tmp_path):
    target = download("cmexam", tmp_path / "raw", location=(samples_dir / "cmexam").as_uri())
    assert sorted(p.name for p in target.iterdir()) == ["test_with_annotations.csv", "train.csv", "val.csv"]
    target = download("cmmlu", tmp_path / "raw", location=(samples_dir / "cmmlu").as_uri())
    assert len(list((target / "test").iterdir())) == 9 and len(list((target / "dev").iterdir())) == 9
    assert convert_source("cmmlu", tmp_path / "data", raw_dir=tmp_path / "raw").counts["written"]["test"] == 72


def test_offline_exam_download_fails_fast_and_leaves_nothing(tmp_path):
    with pytest.raises(BridgeError, match=r"cannot download .*data/CMB.zip .*offline\? Download manually: "
                                          r"data/CMB.zip and data/CMB-test-choice-answer.json from https://github"):
        download("cmb", tmp_path, location=f"http://127.0.0.1:{_closed_port()}/CMB", timeout=3)
    assert not list(tmp_path.iterdir())
    partial = tmp_path / "mirror"
    (partial / "data").mkdir(parents=True)
    (partial / "data" / "train.csv").write_text("Question,Options,Answer,Explanation\n", encoding="utf-8")
    with pytest.raises(BridgeError, match=r"cannot download .*val.csv"):
        download("cmexam", tmp_path / "raw", location=partial.as_uri())
    assert not (tmp_path / "raw" / "cmexam").exists()
