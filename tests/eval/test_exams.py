"""Exams end to end on the real tiny model: generate and loglik, k-shot, CIs, per-category table and chart."""

import json

from click.testing import CliRunner

from eval.cli import eval_group
from eval.heldout import load_records
from eval.models import ModelSpec
from eval.pipeline import evaluate, predictions_path


def _run(*args):
    return CliRunner().invoke(eval_group, ["run", *map(str, args)])


def test_generate_and_loglik_end_to_end(tiny_qwen_path, exam_dir, tmp_path):
    out = tmp_path / "report"
    common = ["--model", f"base={tiny_qwen_path}", "--model", f"tuned={tiny_qwen_path}", "--dataset-dir", exam_dir,
              "--dataset", "med_cmb_test", "--dataset", "med_cmmlu_test", "--limit", 10, "--bootstrap", 200]
    generated = _run(*common, "--out", out, "--max-new-tokens", 8)
    assert generated.exit_code == 0, generated.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    cmb = report["results"]["base"]["med_cmb_test"]
    assert cmb["task"] == "mcq" and cmb["n"] == 10
    assert {"score", "accuracy", "unextracted", "category/医师考试", "subject/执业医师"} <= set(cmb["metrics"])
    assert all(cmb["ci"][m] is not None for m in ("score", "accuracy"))
    assert report["results"]["tuned"]["med_cmb_test"]["delta"]["score"]["value"] == 0.0  # same weights
    assert report["mcq"] == {"mode": "generate", "shots": 0}
    assert report["limit_mode"] == "sample" and report["results"]["base"]["med_cmmlu_test"]["chance"] == 0.25
    subjects = {r["subject"] for r in load_records(exam_dir, "med_cmmlu_test")}
    reported = {m.partition("/")[2] for m in report["results"]["base"]["med_cmmlu_test"]["metrics"]
                if m.startswith("subject/")}
    assert reported == subjects, "LIMIT=10 covers every subject (a stratified sample, not the first ten)"
    for name in ("categories.md", "categories_med_cmb_test.png", "categories_med_cmmlu_test.png", "report.png"):
        assert (out / name).stat().st_size > 0
    categories = (out / "categories.md").read_text(encoding="utf-8")
    assert "## med_cmb_test by category" in categories and "| 医师考试 |" in categories
    assert "## med_cmmlu_test by subject" in categories and "Δ tuned − base" in categories

    scored = _run(*common, "--out", out, "--mode", "loglik", "--shots", 2)
    assert scored.exit_code == 0, scored.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["mcq"] == {"mode": "loglik", "shots": 2}
    assert report["results"]["base"]["med_cmmlu_test"]["metrics"]["unextracted"] == 0.0  # loglik always answers
    lines = [json.loads(x) for x in predictions_path(out, "base", "med_cmb_test").read_text("utf-8").splitlines()]
    assert sum(line.get("mode") == "loglik" for line in lines) == 10 and len(lines) == 20  # both modes cached
    scores = [json.loads(x) for x in (out / "scores" / "base" / "med_cmb_test.jsonl").read_text("utf-8").splitlines()]
    assert all(len(s["prediction"]) == 1 for s in scores)


def test_reports_are_byte_identical_and_predictions_reused(tiny_qwen_path, exam_dir, tmp_path):
    spec = ModelSpec("base", str(tiny_qwen_path))
    kwargs = {"limit": 6, "mode": "loglik", "shots": 1, "bootstrap": 100}
    evaluate([spec], ["med_cmexam_test"], exam_dir, tmp_path / "a", **kwargs)
    evaluate([spec], ["med_cmexam_test"], exam_dir, tmp_path / "b", **kwargs)
    for name in ("report.json", "report.md", "categories.md", "categories_med_cmexam_test.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_exam_errors_are_clear(tiny_qwen_path, heldout_dir, exam_dir, tmp_path):
    no_pool = _run("--model", tiny_qwen_path, "--dataset-dir", heldout_dir, "--dataset", "med_norm_test:mcq",
                   "--out", tmp_path / "x", "--shots", 1)
    assert no_pool.exit_code == 1 and "takes its examples from 'med_norm_dev'" in no_pool.output
    assert "Traceback" not in no_pool.output
    no_options = _run("--model", tiny_qwen_path, "--dataset-dir", heldout_dir, "--dataset", "med_norm_test:mcq",
                      "--out", tmp_path / "y", "--mode", "loglik")
    assert no_options.exit_code == 1 and "no 'options'" in no_options.output
    too_many = _run("--model", tiny_qwen_path, "--dataset-dir", exam_dir, "--dataset", "med_cmmlu_test",
                    "--out", tmp_path / "z", "--shots", 500)
    assert too_many.exit_code == 1 and "--shots 500 needs at least 500 questions in 'med_cmmlu_dev'" in too_many.output
