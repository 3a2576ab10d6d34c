import csv
import json

import pytest
from click.testing import CliRunner

from eval.cli import eval_group
from medft.tiny_models import tiny_qwen


def _run(args):
    return CliRunner().invoke(eval_group, args, catch_exceptions=False)


def test_run_writes_deterministic_reports_and_reuses_predictions(tiny_qwen_path, tiny_bert_path, heldout_dir, tmp_path):
    other = tiny_qwen(seed=1)
    args = ["run", "--model", f"base={tiny_qwen_path}", "--model", f"other={other}",
            "--dataset", "med_norm_test", "--dataset", "med_mrg_test", "--dataset", "med_dialog_test",
            "--dataset-dir", str(heldout_dir), "--bert-model", str(tiny_bert_path), "--max-new-tokens", "8"]
    first = _run([*args, "--out", str(tmp_path / "a")])
    assert first.exit_code == 0, first.output
    report = json.loads((tmp_path / "a" / "report.json").read_text(encoding="utf-8"))
    assert set(report["results"]) == {"base", "other"}
    norm = report["results"]["base"]["med_norm_test"]
    assert norm["task"] == "norm" and norm["n"] == 5 and {"accuracy", "set_f1"} <= set(norm["metrics"])
    assert {"cblue_score", "parse_rate", "bertscore_f1", "主诉_bertscore_f1"} <= set(
        report["results"]["other"]["med_mrg_test"]["metrics"])
    assert "bertscore_f1" in report["results"]["base"]["med_dialog_test"]["metrics"]
    rows = list(csv.DictReader((tmp_path / "a" / "report.csv").open(encoding="utf-8")))
    assert {r["model"] for r in rows} == {"base", "other"} and len(rows) == sum(
        len(d["metrics"]) for m in report["results"].values() for d in m.values())
    assert norm["ci"]["accuracy"][0] <= norm["metrics"]["accuracy"] <= norm["ci"]["accuracy"][1]
    other_norm = report["results"]["other"]["med_norm_test"]
    assert set(other_norm["delta"]["accuracy"]) == {"value", "ci", "significant"}
    assert "delta" not in norm, "the first model is the baseline"
    assert report["bootstrap"] == {"resamples": 1000, "level": 0.95, "seed": 42, "paired": True}
    markdown = (tmp_path / "a" / "report.md").read_text(encoding="utf-8")
    assert "| accuracy |" in markdown and "Δ other − base" in markdown
    assert (tmp_path / "a" / "report.png").read_bytes().startswith(b"\x89PNG")
    scores = (tmp_path / "a" / "scores" / "base" / "med_norm_test.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(scores) == 5 and json.loads(scores[0])["reference"] == "高血压"

    predictions = tmp_path / "a" / "predictions" / "base" / "med_norm_test.jsonl"
    before = predictions.read_bytes()
    assert _run([*args, "--out", str(tmp_path / "a")]).exit_code == 0
    assert predictions.read_bytes() == before, "a rerun reuses every prediction"

    assert _run([*args, "--out", str(tmp_path / "b")]).exit_code == 0
    for name in ("report.json", "report.csv", "report.md", "report.png", "report.html"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name

    shown = _run(["report", str(tmp_path / "a")])
    assert shown.exit_code == 0 and "med_mrg_test" in shown.output


def test_run_errors_are_clear(tiny_qwen_path, heldout_dir, tmp_path):
    missing = _run(["run", "--model", f"x={tmp_path / 'nope'}", "--dataset-dir", str(heldout_dir),
                    "--out", str(tmp_path / "r")])
    assert missing.exit_code != 0 and "no such directory" in missing.output
    unknown = _run(["run", "--model", f"base={tiny_qwen_path}", "--dataset", "med_o1_test",
                    "--dataset-dir", str(heldout_dir), "--out", str(tmp_path / "r")])
    assert unknown.exit_code != 0 and "not registered" in unknown.output
    assert not (tmp_path / "r" / "report.json").exists()
    duplicate = _run(["run", "--model", f"a={tiny_qwen_path}", "--model", f"a={tiny_qwen_path}",
                      "--dataset-dir", str(heldout_dir), "--out", str(tmp_path / "r")])
    assert duplicate.exit_code != 0 and "unique" in duplicate.output


def test_invalid_sizes_are_refused_by_the_command_line(tiny_qwen_path, heldout_dir, tmp_path):
    base = ["run", "--model", f"base={tiny_qwen_path}", "--dataset-dir", str(heldout_dir), "--out", str(tmp_path / "r")]
    for option, value in (("--batch-size", "0"), ("--batch-size", "-1"), ("--limit", "0"), ("--limit", "-1"),
                          ("--bootstrap", "-5")):
        result = _run([*base, option, value])
        assert result.exit_code == 2 and option in result.output, (option, value, result.output)
    assert not (tmp_path / "r").exists()


def test_an_empty_heldout_set_is_an_error(tiny_qwen_path, tmp_path):
    from tests.datasets import write_dataset_dir

    data = write_dataset_dir(tmp_path / "data", {"med_dialog_test": ("dialog_test.jsonl", [])})
    result = _run(["run", "--model", f"base={tiny_qwen_path}", "--dataset", "med_dialog_test",
                   "--dataset-dir", str(data), "--out", str(tmp_path / "r")])
    assert result.exit_code == 1 and "holds no records" in result.output


@pytest.mark.parametrize("label", ["../../x", "/abs/dir", "..", ".x", "a/b"])
def test_a_model_label_that_is_a_path_is_refused_before_anything_is_written(tiny_qwen_path, heldout_dir, tmp_path,
                                                                             label):
    out = tmp_path / "deep" / "r"
    for location in (str(tiny_qwen_path), "http://127.0.0.1:9/v1#m"):
        result = _run(["run", "--model", f"{label}={location}", "--dataset", "med_dialog_test",
                       "--dataset-dir", str(heldout_dir), "--out", str(out)])
        assert result.exit_code == 1, result.output
        assert f"model label {label!r} is not allowed" in result.output and "Traceback" not in result.output
    bare = _run(["run", "--model", str(tiny_qwen_path / ".."), "--dataset-dir", str(heldout_dir), "--out", str(out)])
    assert bare.exit_code == 1 and "model label '..' is not allowed" in bare.output
    assert not out.exists() and not (tmp_path / "deep").exists()


def test_a_registered_dataset_name_that_is_a_path_is_refused(tiny_qwen_path, tmp_path):
    from tests.datasets import write_dataset_dir

    data = write_dataset_dir(tmp_path / "data", {"../../escape_norm": ("n.jsonl", [
        {"instruction": "原始词：头痛", "input": "", "output": "头痛"}])})
    result = _run(["run", "--model", f"base={tiny_qwen_path}", "--dataset", "../../escape_norm",
                   "--dataset-dir", str(data), "--out", str(tmp_path / "r")])
    assert result.exit_code == 1 and "dataset name '../../escape_norm' is not allowed" in result.output
    assert not (tmp_path / "r").exists()
