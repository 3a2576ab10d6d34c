"""Issue 7 for recipes: --force deletes only medft runs inside runs/, dry-run refuses what a launch refuses,
trust_remote_code is off unless asked for, and a broken dataset_info.json is one line, not a traceback."""

import json
import shutil

import pytest
from click.testing import CliRunner

from recipes import precision, run
from recipes.cli import recipes
from recipes.export import _base_inference_config
from recipes.render import load_layer
from recipes.train import TrainRequest, plan

CPU = precision.Hardware(cuda=False, bf16=False)


def _dry(runs_name, tiny_qwen_path, train_dir, *extra):
    return CliRunner().invoke(recipes, ["train", "lora", "--model", str(tiny_qwen_path), "--datasets", "med_norm",
                                        "--dataset-dir", str(train_dir), "--run", runs_name, "--dry-run", *extra])


def _fake_run(directory, manifest=True):
    directory.mkdir(parents=True)
    (directory / "adapter_model.safetensors").write_bytes(b"weights")
    if manifest:
        (directory / "manifest.json").write_text(json.dumps({"name": directory.name, "method": "lora",
                                                            "status": "success"}), encoding="utf-8")
    return directory


@pytest.mark.parametrize("name", ["..", ".", "../elsewhere"])
def test_force_never_deletes_outside_the_runs_dir(name, runs, tmp_path):
    _fake_run(runs / "keep")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "precious.txt").write_text("mine", encoding="utf-8")
    (tmp_path / "precious.txt").write_text("mine", encoding="utf-8")
    target = (runs / name).resolve()
    with pytest.raises(run.RunDirError, match="refusing to delete"):
        run.prepare(runs / name, resume=False, force=True)
    assert (tmp_path / "precious.txt").exists() and (tmp_path / "elsewhere" / "precious.txt").exists()
    assert (runs / "keep" / "manifest.json").exists()
    assert target.exists()


def test_force_refuses_a_directory_without_a_medft_manifest(runs):
    foreign = _fake_run(runs / "notmine", manifest=False)
    with pytest.raises(run.RunDirError, match=r"refusing to delete .*notmine.*manifest\.json"):
        run.prepare(foreign, resume=False, force=True)
    assert (foreign / "adapter_model.safetensors").exists()
    (foreign / "manifest.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(run.RunDirError, match="refusing to delete"):
        run.prepare(foreign, resume=False, force=True)
    assert (foreign / "adapter_model.safetensors").exists()


def test_force_refuses_a_symlink_escaping_the_runs_dir(runs, tmp_path):
    outside = _fake_run(tmp_path / "outside-run")
    runs.mkdir(exist_ok=True)
    (runs / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(run.RunDirError, match="refusing to delete"):
        run.prepare(runs / "link", resume=False, force=True)
    assert (outside / "manifest.json").exists()


def test_force_replaces_a_real_medft_run(runs):
    old = _fake_run(runs / "old")
    assert run.prepare(old, resume=False, force=True) is None
    assert old.is_dir() and not any(old.iterdir())


@pytest.mark.parametrize("name", ["..", "."])
def test_dry_run_with_force_outside_runs_fails_naming_the_path(name, tiny_qwen_path, train_dir, runs):
    _fake_run(runs / "keep")
    result = _dry(name, tiny_qwen_path, train_dir, "--force")
    assert result.exit_code != 0, result.output
    assert "refusing to delete" in result.output and str((runs / name).resolve()) in result.output
    assert (runs / "keep" / "manifest.json").exists()


def test_dry_run_applies_the_launch_checks(tiny_qwen_path, train_dir, runs):
    _fake_run(runs / "exists")
    existing = _dry("exists", tiny_qwen_path, train_dir)
    assert existing.exit_code != 0 and "already exists" in existing.output
    missing = _dry("missing", tiny_qwen_path, train_dir, "--resume")
    assert missing.exit_code != 0 and "does not exist" in missing.output
    no_checkpoint = _dry("exists", tiny_qwen_path, train_dir, "--resume")
    assert no_checkpoint.exit_code != 0 and "no checkpoint" in no_checkpoint.output
    both = _dry("exists", tiny_qwen_path, train_dir, "--resume", "--force")
    assert both.exit_code != 0 and "contradict" in both.output
    forced = _dry("exists", tiny_qwen_path, train_dir, "--force")
    assert forced.exit_code == 0, forced.output
    assert (runs / "exists" / "adapter_model.safetensors").exists(), "a dry run deletes nothing"


def test_trust_remote_code_is_off_unless_asked(tiny_qwen_path, train_dir, runs):
    assert load_layer("base")["trust_remote_code"] is False
    default = plan(TrainRequest("lora", model=str(tiny_qwen_path), datasets="med_norm", dataset_dir=train_dir), CPU)
    assert default.config["trust_remote_code"] is False
    flag = plan(TrainRequest("lora", model=str(tiny_qwen_path), datasets="med_norm", dataset_dir=train_dir,
                             trust_remote_code=True), CPU)
    assert flag.config["trust_remote_code"] is True
    override = plan(TrainRequest("lora", model=str(tiny_qwen_path), datasets="med_norm", dataset_dir=train_dir,
                                 overrides={"trust_remote_code": True}), CPU)
    assert override.config["trust_remote_code"] is True
    manifest = {"base_model": str(tiny_qwen_path), "method": "lora", "template": "qwen"}
    assert _base_inference_config(manifest, tiny_qwen_path)["trust_remote_code"] is False
    assert _base_inference_config({**manifest, "trust_remote_code": True}, tiny_qwen_path)["trust_remote_code"]
    assert _base_inference_config(manifest, tiny_qwen_path, trust_remote_code=True)["trust_remote_code"]


def test_cli_flag_sets_trust_remote_code(tiny_qwen_path, train_dir, runs):
    result = _dry("t", tiny_qwen_path, train_dir, "--trust-remote-code")
    assert result.exit_code == 0, result.output
    assert "trust_remote_code: true" in result.output
    assert "trust_remote_code: false" in _dry("t", tiny_qwen_path, train_dir).output


def test_custom_code_model_gets_a_preflight_note(tiny_qwen_path, train_dir, runs, tmp_path):
    model = tmp_path / "custom"
    shutil.copytree(tiny_qwen_path, model)
    config = json.loads((model / "config.json").read_text(encoding="utf-8"))
    config["auto_map"] = {"AutoModelForCausalLM": "modeling_custom.CustomModel"}
    (model / "config.json").write_text(json.dumps(config), encoding="utf-8")
    off = plan(TrainRequest("lora", model=str(model), datasets="med_norm", dataset_dir=train_dir), CPU)
    text = "\n".join(off.notes + off.findings.warnings)
    assert "auto_map" in text and "TRUST_REMOTE_CODE=1" in text
    on = plan(TrainRequest("lora", model=str(model), datasets="med_norm", dataset_dir=train_dir,
                           trust_remote_code=True), CPU)
    assert any("will run" in n and "modeling_custom" in n for n in on.notes + on.findings.warnings)
    plain = plan(TrainRequest("lora", model=str(tiny_qwen_path), datasets="med_norm", dataset_dir=train_dir), CPU)
    assert not any("auto_map" in n for n in plain.notes + plain.findings.warnings)


@pytest.mark.parametrize("kind", ["gbk", "directory", "list"])
def test_unreadable_dataset_info_is_one_finding(kind, tiny_qwen_path, tmp_path, runs):
    data = tmp_path / "data"
    data.mkdir()
    info = data / "dataset_info.json"
    if kind == "gbk":
        info.write_bytes(json.dumps({"med_norm": {"file_name": "规范.jsonl"}}, ensure_ascii=False).encode("gbk"))
    elif kind == "directory":
        info.mkdir()
    else:
        info.write_text("[1, 2]", encoding="utf-8")
    resolved = plan(TrainRequest("lora", model=str(tiny_qwen_path), datasets="med_norm", dataset_dir=data), CPU)
    errors = [e for e in resolved.findings.errors if "dataset_info.json" in e]
    assert len(errors) == 1 and "\n" not in errors[0], resolved.findings.errors
    result = CliRunner().invoke(recipes, ["train", "lora", "--model", str(tiny_qwen_path), "--datasets", "med_norm",
                                          "--dataset-dir", str(data), "--dry-run"])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert "dataset_info.json" in result.output


@pytest.mark.parametrize("content", [b"[1, 2]", "{\"method\": \"全量\"}".encode("gbk"), None])
def test_unreadable_run_manifest_is_one_clean_error(content, tmp_path):
    if content is None:
        (tmp_path / "manifest.json").mkdir()
    else:
        (tmp_path / "manifest.json").write_bytes(content)
    for command in ("export", "chat"):
        result = CliRunner().invoke(recipes, [command, str(tmp_path)])
        assert result.exit_code == 1 and "manifest.json" in result.output, result.output
        assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
