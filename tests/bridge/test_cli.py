"""The click layer: errors as one clean message, --dry-run writes nothing, commands chain as in `make data`."""

import json

import pytest
from click.testing import CliRunner

from bridge.cli import bridge


def _run(*args):
    return CliRunner().invoke(bridge, [str(a) for a in args], catch_exceptions=False)


def test_samples_convert_register_stats(tmp_path, tiny_qwen_path):
    raw, data = tmp_path / "raw", tmp_path / "data"
    assert _run("samples", "--out", raw).exit_code == 0
    dry = _run("convert", "--raw-dir", raw, "--dataset-dir", data, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert not data.exists()
    plans = [json.loads(line) for line in dry.stdout.splitlines() if line.startswith("{")]
    assert [p["source"] for p in plans] == ["dialog", "norm", "mrg", "o1", "cmb", "cmexam", "cmmlu"]
    first = _run("convert", "--raw-dir", raw, "--dataset-dir", data)
    assert first.exit_code == 0, first.output
    assert "med_dialog added" in first.output
    again = _run("convert", "--raw-dir", raw, "--dataset-dir", data)
    assert again.output.count("up to date (inputs unchanged, nothing written)") == 7
    own = tmp_path / "general.jsonl"
    own.write_text(json.dumps({"instruction": "你好", "input": "", "output": "你好！"}, ensure_ascii=False) + "\n",
                   encoding="utf-8")
    reg = _run("register", "general_zh", own, "--dataset-dir", data)
    assert reg.exit_code == 0 and json.loads(reg.stdout.splitlines()[-1])["general_zh"]["formatting"] == "alpaca"
    stats = _run("stats", "--dataset-dir", data, "--model", tiny_qwen_path, "--dataset", "med_norm")
    assert stats.exit_code == 0, stats.output
    saved = json.loads((data / "stats.json").read_text(encoding="utf-8"))
    assert list(saved["datasets"]) == ["med_norm"]
    assert json.loads(stats.stdout.splitlines()[-1]) == {"recommended_cutoff_len": saved["recommended_cutoff_len"]}


def test_errors_are_one_clean_message(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "dataset_info.json").write_text("{broken", encoding="utf-8")
    raw = tmp_path / "raw"
    _run("samples", "--out", raw)
    result = _run("convert", "norm", "--raw-dir", raw, "--dataset-dir", data)
    assert result.exit_code == 1
    assert "Error: " in result.output and "is not valid JSON" in result.output and "Traceback" not in result.output
    assert (data / "dataset_info.json").read_text(encoding="utf-8") == "{broken"
    unknown = _run("convert", "nrom", "--raw-dir", raw)
    assert unknown.exit_code == 1
    assert "unknown source 'nrom'; known sources: dialog, norm, mrg, o1, cmb," in unknown.output
    empty = _run("convert", "--raw-dir", tmp_path / "nothing", "--dataset-dir", data)
    assert empty.exit_code == 1 and "no raw sources under" in empty.output


def test_convert_single_file_with_prompt_file_and_options(tmp_path):
    raw = tmp_path / "raw"
    _run("samples", "--out", raw)
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("请回答下面的医学问题：{question}", encoding="utf-8")
    result = _run("convert", "o1", "--input", raw / "o1" / "medical_o1_sft_Chinese.json", "--dataset-dir",
                  tmp_path / "d", "--prompt-file", prompt, "--form", "think", "--test-size", "5")
    assert result.exit_code == 0, result.output
    rec = json.loads((tmp_path / "d" / "o1_train.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert rec["instruction"].startswith("请回答下面的医学问题：") and rec["output"].startswith("<think>")
    prompt.write_text("{titel}", encoding="utf-8")
    bad = _run("convert", "o1", "--raw-dir", raw, "--dataset-dir", tmp_path / "d", "--prompt-file", prompt)
    assert bad.exit_code == 1 and "unknown placeholder(s) ['titel']" in bad.output


def test_download_dry_run_and_offline(tmp_path):
    result = _run("download", "--raw-dir", tmp_path, "--dry-run")
    assert result.exit_code == 0 and "xiaofengalg/Chinese-medical-dialogue" in result.output
    assert not list(tmp_path.iterdir())
    offline = _run("download", "norm", "--raw-dir", tmp_path, "--from", "http://127.0.0.1:1/x.zip", "--timeout", "2")
    assert offline.exit_code == 1 and "Download manually" in offline.output and "Traceback" not in offline.output


def test_explicit_inputs(tmp_path):
    raw = tmp_path / "raw"
    _run("samples", "--out", raw)
    missing = _run("convert", "norm", "--input", raw / "norm" / "train.xlsx", "--dataset-dir", tmp_path / "d")
    assert missing.exit_code == 1 and "add --test-input val.xlsx" in missing.output
    ok = _run("convert", "norm", "--input", raw / "norm" / "train.xlsx", "--test-input", raw / "norm" / "val.xlsx",
              "--dataset-dir", tmp_path / "d")
    assert ok.exit_code == 0, ok.output
    # The English medical-o1 file is recognised by name: English prompt and headings without --lang.
    en = _run("convert", "o1", "--input", raw / "o1" / "medical_o1_sft.json", "--dataset-dir", tmp_path / "d")
    assert en.exit_code == 0, en.output
    rec = json.loads((tmp_path / "d" / "o1_train.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert rec["instruction"].startswith("Question: ") and "\n### Answer:\n" in rec["output"]


@pytest.mark.parametrize("args", [["--train-size", "-5"], ["--test-size", "-5"], ["--train-size", "0"],
                                  ["--test-size", "0"]])
def test_sizes_are_validated_by_click(tmp_path, args):
    raw = tmp_path / "raw"
    _run("samples", "--out", raw)
    result = CliRunner().invoke(bridge, ["convert", "norm", "--raw-dir", str(raw), "--dataset-dir",
                                         str(tmp_path / "d"), *args])
    assert result.exit_code == 2 and f"Invalid value for '{args[0]}'" in result.output
    assert not (tmp_path / "d").exists()


def test_summary_names_leaks_and_short_splits(tmp_path):
    raw = tmp_path / "raw"
    _run("samples", "--out", raw)
    result = _run("convert", "o1", "--raw-dir", raw, "--dataset-dir", tmp_path / "d")
    assert result.exit_code == 0, result.output
    assert "leaks removed: " in result.output
    assert "warning" in result.output and "fewer than the 100 asked" in result.output
