"""`make judge` end to end with the tiny model as judge: its replies are garbage, and that must be handled."""

import json
import os
import subprocess

import pytest
from click.testing import CliRunner

from eval.cli import eval_group
from eval.judge import cache
from eval.models import ModelSpec
from eval.pipeline import evaluate
from eval.predict import GenerationSettings
from eval.report_html import collect
from medft.tiny_models import tiny_qwen
from tests.datasets import write_dataset_dir
from tests.serving import served, talking_qwen

pytestmark = pytest.mark.slow

NORM = [{"instruction": f"原始词：高血压病{i}级\n该词的标准术语为：", "input": "", "output": "高血压"}
        for i in range(3)]
DIALOG = [{"instruction": f"主题：胃疼{i}\n内容：饭后胃疼", "input": "", "output": "建议做胃镜检查。"}
          for i in range(2)]
RECORDS = len(NORM) + len(DIALOG)
JUDGE_ARGS = ["--max-new-tokens", "8", "--bootstrap", "50"]


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, tiny_qwen_path):
    """An eval report directory with three models' scored predictions on two held-out sets."""
    root = tmp_path_factory.mktemp("judged")
    data = write_dataset_dir(root / "data", {"med_norm_test": ("norm.jsonl", NORM),
                                             "med_dialog_test": ("dialog.jsonl", DIALOG)})
    models = [ModelSpec("base", str(tiny_qwen_path)), ModelSpec("tuned", str(talking_qwen())),
              ModelSpec("other", str(tiny_qwen(seed=1)))]
    evaluate(models, ["med_norm_test", "med_dialog_test"], data, root / "out",
             settings=GenerationSettings(max_new_tokens=8), bootstrap=0)
    return root / "out"


def _judge(out, judge, *args):
    return CliRunner().invoke(eval_group, ["judge", str(out), "--judge", str(judge), *JUDGE_ARGS, *args])


def test_pointwise_garbage_replies_are_unparsed_retried_once_and_reported(evaluated, tiny_qwen_path):
    result = _judge(evaluated, tiny_qwen_path, "--model", "base", "--model", "tuned")
    assert result.exit_code == 0, result.output
    calls = 2 * RECORDS
    assert f"{calls} judge calls (0 already cached, {calls} to make)" in result.output
    replies = (evaluated / "judge" / "cache.jsonl").read_text(encoding="utf-8").splitlines()
    attempts = [json.loads(line)["attempt"] for line in replies]
    assert attempts.count(1) == calls and attempts.count(2) == calls, "every garbage reply was retried once"
    folder = evaluated / "judge" / "medical_zh" / "pointwise"
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert report["calls"] == {"judged": calls, "retried": calls, "unparsed": calls}
    assert report["models"] == ["base", "tuned"] and set(report["results"]) == {"med_norm_test", "med_dialog_test",
                                                                                  "all"}
    tuned = report["results"]["all"]["models"]["tuned"]
    assert tuned["unparsed"] == RECORDS and tuned["parsed"] == 0
    assert tuned["metrics"]["accuracy"]["value"] is None, "unparsed is excluded, never a 0"
    assert "0/5 (5 retried)" in (folder / "report.md").read_text(encoding="utf-8")
    assert (folder / "report.png").read_bytes().startswith(b"\x89PNG")
    judgements = [json.loads(line) for line in (folder / "judgements.jsonl").read_text().splitlines()]
    assert len(judgements) == calls and all(j["parsed"] is None and j["attempts"] == 2 for j in judgements)
    assert "unparsed" in result.output
    assert f"warning: {calls}/{calls} (100.0 %) judge replies unparsed" in (folder / "report.md").read_text("utf-8")
    page = collect(evaluated)  # the evaluation's report.html gained the judge's section and verdicts
    assert [name for name, _, _ in page["judge"]] == ["medical_zh/pointwise"]
    norm = next(d for d in page["datasets"] if d["name"] == "med_norm_test")
    assert all("judge_unparsed" in r["f"][1] and len(r["j"]) == 2 for r in norm["records"])
    assert all("judge_unparsed" not in r["f"][2] for r in norm["records"]), "'other' was not judged"
    assert "judge · medical_zh/pointwise" in (evaluated / "report.html").read_text(encoding="utf-8")

    before = {name: (folder / name).read_bytes() for name in ("report.json", "report.md", "report.png")}
    cached = (evaluated / "judge" / "cache.jsonl").read_bytes()
    again = _judge(evaluated, tiny_qwen_path, "--model", "base", "--model", "tuned")
    assert again.exit_code == 0 and f"({calls} already cached, 0 to make)" in again.output
    assert (evaluated / "judge" / "cache.jsonl").read_bytes() == cached, "a rerun asks the judge nothing"
    assert {name: (folder / name).read_bytes() for name in before} == before, "byte-identical reports"


def test_pairwise_judges_both_orders_of_every_pair(evaluated, tiny_qwen_path):
    result = _judge(evaluated, tiny_qwen_path, "--mode", "pairwise", "--dataset", "med_dialog_test")
    assert result.exit_code == 0, result.output
    calls = 3 * len(DIALOG) * 2
    assert f"{calls} judge calls" in result.output and "no parsed comparison" in result.output
    folder = evaluated / "judge" / "medical_zh" / "pairwise"
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    pairs = report["results"]["med_dialog_test"]["pairs"]
    assert list(pairs) == ["base vs tuned", "base vs other", "tuned vs other"]
    assert all(p["unparsed"] == len(DIALOG) and p["win_rate"]["value"] is None for p in pairs.values())
    orders = {tuple(j["models"]) for j in map(json.loads, (folder / "judgements.jsonl").read_text().splitlines())}
    assert ("base", "tuned") in orders and ("tuned", "base") in orders, "each pair in both positions"
    assert len(report["results"]["med_dialog_test"]["ranking"]) == 3
    assert "No Bradley–Terry ranking" in (folder / "report.md").read_text(encoding="utf-8")


def test_dry_run_calls_nothing_and_limit_shows_the_first_prompt(evaluated, tmp_path, tiny_qwen_path):
    out = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(evaluated), str(out)], check=True)
    subprocess.run(["rm", "-rf", str(out / "judge")], check=True)
    dry = _judge(out, "http://127.0.0.1:1/v1", "--dry-run", "--mode", "pairwise")
    assert dry.exit_code == 0, dry.output
    assert f"{3 * RECORDS * 2} judge calls" in dry.output and "first judge prompt" in dry.output
    assert "【回答A】" in dry.output and "原始词：高血压病0级" in dry.output and "nothing sent" in dry.output
    assert not (out / "judge").exists(), "a dry run writes nothing (and the closed port was never dialled)"
    limited = _judge(out, tiny_qwen_path, "--limit", "1", "--model", "tuned")
    assert limited.exit_code == 0, limited.output
    assert "2 judge calls" in limited.output and "first judge prompt" in limited.output
    report = json.loads((out / "judge" / "medical_zh" / "pointwise" / "report.json").read_text())
    assert report["results"]["med_norm_test"]["n"] == 1 and report["limit"] == 1


def test_judge_through_a_server(evaluated, tiny_qwen_path, tmp_path):
    with served(tiny_qwen_path, tmp_path / "judge-server.log", name="judge") as url:
        result = _judge(evaluated, url, "--model", "tuned", "--dataset", "med_norm_test", "--concurrency", "2")
    assert result.exit_code == 0, result.output
    assert f"{len(NORM)} judge calls" in result.output and url in result.output
    report = json.loads((evaluated / "judge" / "medical_zh" / "pointwise" / "report.json").read_text())
    assert report["judge_id"] == f"remote:{url}#judge" and report["calls"]["judged"] == len(NORM)
    assert report["results"]["med_norm_test"]["models"]["tuned"]["unparsed"] == len(NORM)
    remote_keys = [json.loads(line) for line in (evaluated / "judge" / "cache.jsonl").read_text().splitlines()]
    assert sum(entry["judge"] == report["judge_id"] for entry in remote_keys) == 2 * len(NORM)
    assert len(cache.read(evaluated / "judge" / "cache.jsonl")) == len(remote_keys)


def test_errors_are_one_clear_line(evaluated, tmp_path, tiny_qwen_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    for args, expected in [
        ((empty, tiny_qwen_path), "report.json does not exist"),
        ((evaluated, tiny_qwen_path, "--model", "nope"), "model 'nope' is not in"),
        ((evaluated, tmp_path / "no-judge"), "no such directory"),
        ((evaluated, tiny_qwen_path, "--mode", "pairwise", "--model", "base"), "two or more models"),
        ((evaluated, tiny_qwen_path, "--rubric", "nope"), "neither a shipped rubric nor a file"),
        ((evaluated, tiny_qwen_path, "--dataset-dir", str(empty)), "dataset_info.json does not exist"),
    ]:
        result = _judge(*args)
        assert result.exit_code == 1 and expected in result.output, (args, result.output)
        assert "Traceback" not in result.output


def test_make_judge_wiring():
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    shown = subprocess.run(["make", "-n", "judge", "VENV=/nonexistent", "OUT=reports/x", "JUDGE=http://h:8000/v1#j",
                            "JUDGE_MODE=pairwise", "LIMIT=3", "DRY_RUN=1", "JUDGE_MODELS=base tuned", "CONCURRENCY=4"],
                           capture_output=True, text=True, env=env, check=True).stdout
    for flag in ('eval judge reports/x --judge "http://h:8000/v1#j" --mode pairwise --rubric medical_zh',
                 "--model base --model tuned", "--limit 3", "--dry-run", "--concurrency 4"):
        assert flag in shown, flag
