import subprocess
import sys

from click.testing import CliRunner

from app.cli import main


def test_medft_gathers_the_command_groups():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for group in ("bridge", "recipes", "eval", "tiny-models"):
        assert group in result.output


def test_each_package_runs_as_a_module():
    for package in ("bridge", "recipes", "eval"):
        proc = subprocess.run([sys.executable, "-m", package, "--help"], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert f"python -m {package}" in proc.stdout


def test_tiny_models_command_prints_paths(tiny_qwen_path, tiny_bert_path):
    result = CliRunner().invoke(main, ["tiny-models"])
    assert result.exit_code == 0, result.output
    assert str(tiny_qwen_path) in result.output and str(tiny_bert_path) in result.output


def test_medft_serve_is_the_same_command(tiny_qwen_path):
    result = CliRunner().invoke(main, ["serve", str(tiny_qwen_path), "--dry-run", "--name", "m"])
    assert result.exit_code == 0, result.output
    assert "llamafactory-cli api --model_name_or_path" in result.output and "API_MODEL_NAME=m" in result.output
