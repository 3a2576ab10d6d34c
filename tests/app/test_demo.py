"""`make demo` end to end: the README's first quick-start command, on the tiny models and sample data."""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_demo_runs_every_stage(tmp_path):
    demo = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "app.cli", "demo", "--dir", str(demo)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    info = json.loads((demo / "dataset_info" / "dataset_info.json").read_text(encoding="utf-8"))
    assert {"med_dialog", "med_norm", "med_mrg", "med_o1", "med_norm_test", "med_mrg_test"} <= set(info)
    assert json.loads((demo / "dataset_info" / "stats.json").read_text(encoding="utf-8"))["recommended_cutoff_len"]
    run = demo / "runs" / "lora"
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "success" and manifest["export"]["merged_dir"] == str(run / "merged")
    report = json.loads((demo / "report" / "report.json").read_text(encoding="utf-8"))
    assert set(report["results"]) == {"base", "tuned"}
    assert set(report["results"]["tuned"]) == {"med_norm_test", "med_mrg_test", "med_dialog_test", "med_o1_test",
                                               "med_cmb_test"}
    assert report["results"]["tuned"]["med_cmb_test"]["task"] == "mcq"
    assert "score" in report["results"]["tuned"]["med_cmb_test"]["metrics"]
    assert (demo / "report" / "categories.md").exists() and (demo / "report" / "categories_med_cmb_test.png").exists()
    assert report["models"]["tuned"]["model"] == str(run / "merged")
    for ext in ("json", "csv", "md", "png", "html"):
        assert (demo / "report" / f"report.{ext}").exists()
    page = (demo / "report" / "report.html").read_text(encoding="utf-8")
    assert "judge · medical_zh/pointwise" in page and "judge · medical_zh/pairwise" in page
    for mode in ("pointwise", "pairwise"):
        judged = json.loads((demo / "report" / "judge" / "medical_zh" / mode / "report.json").read_text())
        assert judged["models"] == ["base", "tuned"] and judged["calls"]["judged"] > 0
    assert "base vs tuned" in (demo / "report" / "judge" / "medical_zh" / "pairwise" / "report.md").read_text()
