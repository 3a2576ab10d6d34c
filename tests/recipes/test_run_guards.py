"""recipes.run's deletion guards, each alone: every input here passes all guards but the one under test, so
removing that one guard turns its test red (test_safety.py checks the same refusals through the CLI)."""

import json
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recipes import run


def _medft_run(directory, manifest=None):
    directory.mkdir(parents=True)
    (directory / "adapter_model.safetensors").write_bytes(b"weights")
    data = {"name": directory.name, "method": "lora", "status": "success"} if manifest is None else manifest
    (directory / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
    return directory


def _files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_a_real_run_inside_the_runs_dir_may_be_replaced(runs):
    assert run.force_refusal(_medft_run(runs / "old")) is None
    assert run.force_refusal(_medft_run(runs / "a" / "nested"), root=runs) is None


def test_symlink_guard_alone(runs):
    # The link lives in runs/ and points at a valid medft run inside runs/: only the symlink guard refuses.
    target = _medft_run(runs / "real")
    (runs / "link").symlink_to(target, target_is_directory=True)
    assert run.force_refusal(runs / "link") == f"{runs / 'link'} is a symbolic link (to {target.resolve()})"
    assert run.force_refusal(target) is None


def test_runs_dir_itself_guard_alone(runs):
    # runs/ holds a manifest of its own, so only "it is the runs directory itself" refuses.
    root = _medft_run(runs)
    assert run.force_refusal(root) == f"{root.resolve()} is the runs directory itself, not a run"


def test_outside_the_runs_dir_guard_alone(runs, tmp_path):
    # A real directory (no link) with a valid manifest, next to runs/: only the "inside runs/" guard refuses.
    runs.mkdir()
    outside = _medft_run(tmp_path / "elsewhere")
    assert run.force_refusal(outside) == f"{outside.resolve()} is not inside the runs directory {runs.resolve()}"
    # A sibling whose name merely starts with the runs dir's name is outside too.
    sibling = _medft_run(tmp_path / "runs-old")
    assert "is not inside the runs directory" in run.force_refusal(sibling)


def test_explicit_root_is_the_one_checked(runs, tmp_path):
    other = tmp_path / "other"
    inside_other = _medft_run(other / "r")
    assert run.force_refusal(inside_other, root=other) is None
    assert "is not inside the runs directory" in run.force_refusal(inside_other)


@pytest.mark.parametrize("manifest", [
    {"method": "lora"}, {"status": "success"}, [1, 2], "lora", {}, None,
])
def test_manifest_guard_alone(runs, manifest):
    directory = runs / "r"
    if manifest is None:  # no manifest.json at all
        directory.mkdir(parents=True)
    else:
        _medft_run(directory, manifest)
    expected = f"{directory.resolve()} holds no medft manifest.json, so medft did not create it"
    assert run.force_refusal(directory) == expected


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe{}", b""])
def test_unreadable_manifest_is_no_manifest(runs, content):
    directory = runs / "r"
    directory.mkdir(parents=True)
    (directory / "manifest.json").write_bytes(content)
    assert "holds no medft manifest.json" in run.force_refusal(directory)


def test_manifest_that_is_a_directory_is_no_manifest(runs):
    directory = runs / "r"
    (directory / "manifest.json").mkdir(parents=True)
    assert "holds no medft manifest.json" in run.force_refusal(directory)


def test_manifest_symlink_guard_alone(runs, tmp_path):
    # The linked manifest is valid JSON with method and status: only the "not a symlink" check refuses it.
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"method": "lora", "status": "success"}), encoding="utf-8")
    directory = runs / "r"
    directory.mkdir(parents=True)
    (directory / "manifest.json").symlink_to(good)
    assert "holds no medft manifest.json" in run.force_refusal(directory)


def test_last_checkpoint_orders_by_number_not_by_name(tmp_path):
    for name in ["checkpoint-9", "checkpoint-10", "checkpoint-2", "checkpoint-x", "checkpoint-"]:
        (tmp_path / name).mkdir()
    (tmp_path / "checkpoint-99").write_text("a file, not a checkpoint", encoding="utf-8")
    assert run.last_checkpoint(tmp_path) == tmp_path / "checkpoint-10"


def test_last_checkpoint_of_a_run_without_any_is_none(tmp_path):
    (tmp_path / "adapter").mkdir()
    assert run.last_checkpoint(tmp_path) is None


def test_check_run_dir_messages(runs, tmp_path):
    real = _medft_run(runs / "real")
    assert run.check_run_dir(real, resume=True, force=True) == [
        "RESUME=1 and FORCE=1 contradict each other; choose one"]
    a_file = tmp_path / "f"
    a_file.write_text("x", encoding="utf-8")
    assert run.check_run_dir(a_file, False, False) == [
        f"{a_file} exists and is not a directory; pick another RUN=<name>"]
    assert run.check_run_dir(real, False, False) == [
        f"{real} already exists: pick a new RUN=<name>, RESUME=1 to continue it, or FORCE=1 to replace it"]
    assert run.check_run_dir(real, resume=True, force=False) == [
        f"{real} has no checkpoint-* to resume from; use FORCE=1 to start over"]
    (real / "checkpoint-3").mkdir()
    assert run.check_run_dir(real, resume=True, force=False) == []
    assert run.check_run_dir(real, resume=False, force=True) == []
    (real / "manifest.json").unlink()
    assert run.check_run_dir(real, resume=True, force=False) == [
        f"{real} is not a medft run directory (no manifest.json): nothing to resume"]
    assert run.check_run_dir(runs / "new", resume=True, force=False) == [f"RESUME=1 but {runs / 'new'} does not exist"]
    assert run.check_run_dir(runs / "new", resume=False, force=False) == []
    assert run.check_run_dir(runs / "new", resume=False, force=True) == []


def test_an_empty_existing_directory_is_used_without_force(runs):
    (runs / "empty").mkdir(parents=True)
    assert run.check_run_dir(runs / "empty", False, False) == []
    assert run.prepare(runs / "empty", False, False) is None and (runs / "empty").is_dir()


def test_force_refusal_reaches_the_user_with_the_resolved_path(runs, tmp_path):
    outside = _medft_run(tmp_path / "elsewhere")
    problems = run.check_run_dir(outside, resume=False, force=True)
    assert problems == [f"FORCE=1: refusing to delete {outside.resolve()}: {outside.resolve()} is not inside the runs "
                        f"directory {runs.resolve()}. FORCE=1 only replaces a medft run inside the runs directory; "
                        "delete it yourself if you mean it, or pick another RUN="]


def test_prepare_resumes_from_the_last_checkpoint_and_keeps_files(runs):
    real = _medft_run(runs / "real")
    for n in (9, 10):
        (real / f"checkpoint-{n}").mkdir()
    assert run.prepare(real, resume=True, force=False) == real / "checkpoint-10"
    assert (real / "adapter_model.safetensors").exists() and (real / "checkpoint-9").is_dir()


def test_prepare_raises_the_first_problem_and_deletes_nothing(runs):
    real = _medft_run(runs / "real")
    with pytest.raises(run.RunDirError, match=r"^RESUME=1 and FORCE=1 contradict each other; choose one$"):
        run.prepare(real, resume=True, force=True)
    assert (real / "adapter_model.safetensors").exists()


def test_prepare_force_deletes_through_the_resolved_path_only(runs):
    real = _medft_run(runs / "real")
    (real / "sub").mkdir()
    (real / "sub" / "x").write_text("x", encoding="utf-8")
    assert run.prepare(real, resume=False, force=True) is None
    assert real.is_dir() and not any(real.iterdir())


def test_prepare_creates_missing_parents(runs):
    assert run.prepare(runs / "a" / "b", resume=False, force=False) is None
    assert (runs / "a" / "b").is_dir()


_NAMES = st.text(alphabet="abc.-_", min_size=1, max_size=6).filter(lambda s: s not in {".", ".."})


@pytest.mark.property
@given(kind=st.sampled_from(["outside", "symlink", "no_manifest", "bad_manifest"]), name=_NAMES)
def test_force_never_deletes_what_it_must_not(tmp_path_factory, kind, name):
    """FORCE on a path outside runs/, a symlink, or a directory without a valid manifest leaves every file."""
    base = tmp_path_factory.mktemp("force")
    runs = base / "runs"
    runs.mkdir()
    if kind == "outside":
        target = _medft_run(base / "outside" / name)
    elif kind == "symlink":
        real = _medft_run(base / "outside" / name)
        target = runs / name
        os.symlink(real, target, target_is_directory=True)
    elif kind == "no_manifest":
        target = runs / name
        target.mkdir()
        (target / "weights.bin").write_bytes(b"w")
    else:
        target = _medft_run(runs / name, manifest={"method": "lora"})
    before = _files(base)
    with pytest.raises(run.RunDirError, match="FORCE=1: refusing to delete"):
        run.prepare(target, resume=False, force=True, root=runs)
    assert _files(base) == before


def test_prepare_checks_against_the_root_it_is_given(runs, tmp_path):
    # Valid in its own root, outside the default one: only the passed root lets FORCE replace it.
    other = tmp_path / "other"
    old = _medft_run(other / "old")
    assert run.prepare(old, resume=False, force=True, root=other) is None
    assert old.is_dir() and not any(old.iterdir())


def test_default_name_is_method_and_local_time():
    import re

    assert re.fullmatch(r"lora-\d{8}-\d{6}", run.default_name("lora"))


def test_locate_a_path_or_a_bare_name_under_runs(runs, tmp_path, monkeypatch):
    _medft_run(runs / "r1")
    _medft_run(runs / "a" / "b")
    monkeypatch.chdir(tmp_path)  # so "r1" and "a/b" are not paths from here
    assert run.locate("r1") == runs / "r1"
    assert run.locate(runs / "a" / "b") == runs / "a" / "b"
    with pytest.raises(run.RunDirError) as info:
        run.locate("a/b")  # only a bare name is looked up under runs/
    assert str(info.value) == f"no run directory 'a/b' (looked for it as a path and under {runs})"
    with pytest.raises(run.RunDirError, match="no run directory 'missing'"):
        run.locate("missing")


def test_a_manifest_with_just_method_and_status_is_enough(runs):
    assert run.force_refusal(_medft_run(runs / "r", manifest={"method": "lora", "status": "failed"})) is None
