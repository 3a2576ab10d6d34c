"""Eval through a real ``llamafactory-cli api`` server on loopback (one server for the module)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from eval import remote
from eval.cli import eval_group
from eval.heldout import load_records
from eval.models import ModelSpec, resolve
from eval.predict import GenerationSettings, generate, read_predictions
from tests.datasets import write_dataset_dir
from tests.serving import served, talking_qwen

pytestmark = pytest.mark.slow

DIALOG = [{"instruction": f"主题：胃疼{i}\n内容：饭后胃疼，吃了药 ok . yes ?", "input": "补充" if i % 2 else "",
           "output": "建议做胃镜检查。"} for i in range(10)]
NORM = [{"instruction": f"原始词：高血压病{i}级\n该词的标准术语为：", "input": "", "output": "高血压",
         **({"system": "你是临床术语专家。"} if i == 0 else {}),
         **({"history": [["原始词：头痛\n该词的标准术语为：", "头痛"]]} if i == 1 else {})}  # a few-shot example
        for i in range(4)]


@pytest.fixture(scope="module")
def model():
    return talking_qwen()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_dataset_dir(tmp_path_factory.mktemp("heldout"), {
        "med_dialog_test": ("dialog_test.jsonl", DIALOG), "med_norm_test": ("norm_test.jsonl", NORM)})


@pytest.fixture(scope="module")
def server(model, tmp_path_factory):
    with served(model, tmp_path_factory.mktemp("server") / "server.log", name="tiny") as url:
        yield url


def test_served_predictions_equal_in_process_ones(server, model, data, tmp_path):
    # Same prompt ids (LLaMA-Factory's template on both sides), greedy, fp32 on CPU: the same tokens.
    # The server decodes with clean_up_tokenization_spaces=True where eval keeps the tokenizer's own
    # setting (False for Qwen2); the tiny model's text has no " ." / " ," / " 's" for that to change.
    records = load_records(data, "med_dialog_test") + load_records(data, "med_norm_test")
    settings = GenerationSettings(max_new_tokens=32)
    local = generate(ModelSpec("local", str(model)), records, tmp_path / "local.jsonl", "qwen", settings, batch_size=4)
    calls = []
    served_text = remote.generate(resolve("srv", server), records, tmp_path / "srv.jsonl", settings, concurrency=4,
                                  on_batch=calls.append)
    assert served_text == local
    assert served_text.finish_reasons == local.finish_reasons, "cut-off answers are known whichever backend"
    assert "length" in local.finish_reasons
    assert len(set(local)) > 1 and all(local), "the talking model writes varied, non-empty text"
    assert calls == [1] * len(records)
    again = remote.generate(resolve("srv", server + "#tiny"), records, tmp_path / "srv.jsonl", settings,
                            on_batch=calls.append)
    assert again == served_text and len(calls) == len(records), "the named model has the same keys: all cached"


def _eval_args(url, data, out, *extra):
    return [sys.executable, "-m", "eval", "run", "--model", f"tuned={url}", "--dataset", "med_dialog_test",
            "--dataset-dir", str(data), "--out", str(out), "--concurrency", "3", *extra]


def test_killed_eval_resumes_without_regenerating(server, data, tmp_path):
    out = tmp_path / "report"
    predictions = out / "predictions" / "tuned" / "med_dialog_test.jsonl"
    proc = subprocess.Popen(_eval_args(server, data, out, "--max-new-tokens", "160"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while proc.poll() is None and time.monotonic() < deadline:
        if predictions.exists() and predictions.read_bytes().count(b"\n") >= 1:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = predictions.read_bytes()
    assert 1 <= kept.count(b"\n") < len(DIALOG), "killed mid-run, with some predictions on disk"

    result = CliRunner().invoke(eval_group, _eval_args(server, data, out, "--max-new-tokens", "160")[3:])
    assert result.exit_code == 0, result.output
    lines = predictions.read_bytes()
    assert lines.startswith(kept), "what the killed run wrote is kept as it was"
    entries = [json.loads(line) for line in lines.splitlines()]
    assert len(entries) == len(DIALOG) == len({e["key"] for e in entries}), "each record predicted exactly once"
    assert sorted(e["index"] for e in entries) == list(range(len(DIALOG)))
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["models"]["tuned"]["endpoint"] == server and report["models"]["tuned"]["model"] == "tiny"
    assert report["results"]["tuned"]["med_dialog_test"]["n"] == len(DIALOG)

    again = CliRunner().invoke(eval_group, _eval_args(f"{server}#tiny", data, out, "--max-new-tokens", "160")[3:])
    assert again.exit_code == 0 and predictions.read_bytes() == lines, "a finished run sends nothing"
    assert len(read_predictions(predictions)) == len(DIALOG)


def test_wrong_served_name_names_what_is_served(server, data, tmp_path):
    result = CliRunner().invoke(eval_group, _eval_args(f"{server}#nope", data, tmp_path / "r")[3:])
    assert result.exit_code != 0 and "not 'nope'" in result.output and "['tiny']" in result.output
    assert "Traceback" not in result.output


def test_unreachable_server_is_one_clear_line(data, tmp_path):
    # Port 1 (tcpmux) is closed on any sane machine: connection refused at once, then bounded retries.
    result = CliRunner().invoke(eval_group, _eval_args("http://127.0.0.1:1/v1", data, tmp_path / "r")[3:])
    assert result.exit_code != 0 and "cannot reach http://127.0.0.1:1/v1" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "r" / "report.json").exists()


def test_bad_urls_are_rejected():
    with pytest.raises(ValueError, match="not an http"):
        resolve("x", "http:///v1")
    spec = resolve("x", "http://127.0.0.1:8000/v1/#served")
    assert spec.endpoint == "http://127.0.0.1:8000/v1" and spec.model == "served"


def test_make_eval_passes_server_urls():
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    shown = subprocess.run(["make", "-n", "eval", "MODELS=tuned=http://127.0.0.1:8000/v1#m", "VENV=/nonexistent"],
                           capture_output=True, text=True, env=env, check=True).stdout
    assert "--model tuned=http://127.0.0.1:8000/v1#m" in shown


def test_two_real_replicas_share_the_work_and_one_stopping_leaves_it_to_the_other(server, model, data, tmp_path,
                                                                                 monkeypatch):
    """Scale-out with two real `llamafactory-cli api` servers of one model: requests spread over both, the
    answers are the single server's, and once one replica is gone the other answers everything."""
    monkeypatch.setattr(remote, "BACKOFF", 0.05)
    monkeypatch.setenv("API_VERBOSE", "1")  # the second server logs each request it answers
    records = load_records(data, "med_dialog_test")
    settings = GenerationSettings(max_new_tokens=8)
    single = remote.generate(ModelSpec("one", "tiny", endpoint=server), records, tmp_path / "one.jsonl", settings)
    log = tmp_path / "second.log"
    with served(model, log, name="tiny") as second:
        pair = resolve("two", f"{server},{second}#tiny")
        got = remote.generate(pair, records, tmp_path / "two.jsonl", settings, concurrency=2)
        assert got == single
        answered = log.read_text(errors="replace").count("==== request ====")
        assert 0 < answered < len(records), answered
    more = [{**r, "instruction": r["instruction"] + "？"} for r in records]
    expected = remote.generate(ModelSpec("one", "tiny", endpoint=server), more, tmp_path / "one2.jsonl", settings)
    got = remote.generate(pair, more, tmp_path / "two2.jsonl", settings, concurrency=2)
    assert got == expected and len(read_predictions(tmp_path / "two2.jsonl")) == len(more)
