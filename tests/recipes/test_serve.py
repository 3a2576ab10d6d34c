"""`make serve`: a real llamafactory-cli api on a tiny LoRA run, on loopback."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from click.testing import CliRunner

from eval import remote
from recipes import serve
from recipes.cli import recipes
from tests.recipes.conftest import TINY_ARGS
from tests.serving import free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lora_run(tiny_qwen_path, train_dir, tmp_path_factory):
    runs = tmp_path_factory.mktemp("serve-runs")
    os.environ["MEDFT_RUNS_DIR"] = str(runs)
    try:
        result = CliRunner().invoke(recipes, ["train", "lora", "--model", str(tiny_qwen_path), "--datasets",
                                              "med_norm,med_mrg", "--dataset-dir", str(train_dir), "--run", "tiny-lora",
                                              *TINY_ARGS])
        assert result.exit_code == 0, result.output[-3000:]
    finally:
        del os.environ["MEDFT_RUNS_DIR"]
    return runs / "tiny-lora"


class Output:
    """Collects a child's merged output on a thread, so the test can wait for a line without blocking."""

    def __init__(self, proc):
        self.text = ""
        self.thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.thread.start()

    def _read(self, proc):
        for chunk in iter(lambda: proc.stdout.read1(4096), b""):
            self.text += chunk.decode(errors="replace")

    def wait_for(self, needle, proc, timeout=300):
        deadline = time.monotonic() + timeout
        while needle not in self.text and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        return needle in self.text


def _serve(*args, env=None):
    # A process group of its own, like a shell job: killpg(SIGINT) is what a terminal's Ctrl-C does.
    return subprocess.Popen([sys.executable, "-m", "recipes", "serve", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, env=env)


def test_serve_a_run_answers_then_stops_on_ctrl_c(lora_run):
    port = free_port()
    env = {**os.environ, "MEDFT_RUNS_DIR": str(lora_run.parent)}
    proc = _serve(lora_run.name, "--port", str(port), env=env)  # a run NAME, found under runs/
    out = Output(proc)
    try:
        assert out.wait_for("serving", proc), out.text[-3000:]
        url = f"http://127.0.0.1:{port}/v1"
        assert f"at {url}" in out.text and "tiny-lora" in out.text
        assert serve.models_answer(url) == ["tiny-lora"]
        replies = []
        remote.complete(url, "tiny-lora", [(0, [{"role": "user", "content": "原始词：头痛"}])],
                        {"max_tokens": 8, "temperature": 0.0}, lambda i, text: replies.append(i))
        assert replies == [0]

        taken = _serve(lora_run.name, "--port", str(port), env=env)
        taken_out, _ = taken.communicate(timeout=120)
        assert taken.returncode == 1
        assert f"port {port} on 127.0.0.1 is already in use" in taken_out.decode()
        assert "Traceback" not in taken_out.decode() and "Loading" not in taken_out.decode(), "fails before loading"
        assert serve.models_answer(url) == ["tiny-lora"], "the first server is untouched"
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(timeout=120)
    out.thread.join(timeout=10)
    assert code == 0, out.text[-3000:]
    assert "Application shutdown complete" in out.text and "server stopped" in out.text
    assert serve.port_is_free("127.0.0.1", port), "the server let go of the port"


def test_a_port_someone_listens_on_is_refused_before_loading(tiny_qwen_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = CliRunner().invoke(recipes, ["serve", str(tiny_qwen_path), "--port", str(port)])
    assert result.exit_code == 1 and "already in use" in result.output


def test_missing_model_path_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDFT_RUNS_DIR", str(tmp_path / "runs"))
    result = CliRunner().invoke(recipes, ["serve", "no-such-run"])
    assert result.exit_code == 1 and "model path 'no-such-run' does not exist" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(recipes, ["serve", str(empty)])
    assert result.exit_code == 1 and "expected a medft run directory" in result.output


def test_plans_for_every_kind_of_target(lora_run, tiny_qwen_path):
    plan = serve.plan(str(lora_run))
    base = json.loads((lora_run / "manifest.json").read_text())["base_model"]
    assert plan.config == {"model_name_or_path": base, "adapter_name_or_path": str(lora_run),
                           "finetuning_type": "lora", "template": "qwen", "infer_backend": "huggingface"}
    assert plan.name == "tiny-lora" and plan.url == "http://127.0.0.1:8000/v1"
    assert serve.plan(str(lora_run), template="chatml").config["template"] == "chatml"
    model = serve.plan(str(tiny_qwen_path), host="0.0.0.0", port=9001, name="m")
    assert model.config["model_name_or_path"] == str(tiny_qwen_path) and model.url == "http://127.0.0.1:9001/v1"
    assert any("reachable from other machines" in note for note in model.notes)
    assert model.env()["API_HOST"] == "0.0.0.0" and model.env()["API_MODEL_NAME"] == "m"
    adapter = serve.plan(str(lora_run), backend="huggingface")
    assert adapter.config["adapter_name_or_path"] == str(lora_run)
    with pytest.raises(serve.ServeError, match="did you mean 'vllm_maxlen'"):
        serve.plan(str(tiny_qwen_path), overrides={"vllm_maxln": 4096})
    with pytest.raises(serve.ServeError, match="template 'qwenn' does not exist"):
        serve.plan(str(tiny_qwen_path), template="qwenn")
    with pytest.raises(serve.ServeError, match="BACKEND='tgi'"):
        serve.plan(str(tiny_qwen_path), backend="tgi")


def test_vllm_backend_is_passed_through(tiny_qwen_path):
    result = CliRunner().invoke(recipes, ["serve", str(tiny_qwen_path), "--backend", "vllm", "--dry-run",
                                          "vllm_maxlen=4096", "vllm_gpu_util=0.85"])
    assert result.exit_code == 0, result.output
    assert "--infer_backend vllm" in result.output and "--vllm_maxlen 4096 --vllm_gpu_util 0.85" in result.output
    assert "API_HOST=127.0.0.1" in result.output and "dry run: nothing started" in result.output


@pytest.mark.skipif(serve.importlib.util.find_spec("vllm") is not None, reason="vLLM is installed here")
def test_vllm_backend_without_vllm_says_what_to_install(tiny_qwen_path):
    result = CliRunner().invoke(recipes, ["serve", str(tiny_qwen_path), "--backend", "vllm", "--port",
                                          str(free_port())])
    assert result.exit_code == 1 and "BACKEND=vllm needs vLLM" in result.output and "pip install" in result.output


def test_make_serve_wiring():
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE") and k not in ("PORT", "HOST")}

    def shown(*variables):
        return subprocess.run(["make", "-n", "serve", "VENV=/nonexistent", *variables], capture_output=True,
                              text=True, env=env, check=True).stdout

    default = shown("RUN=lora-v1")
    assert 'recipes serve "lora-v1" --host 127.0.0.1' in default and "--port 8000 --backend huggingface" in default
    assert "--template" not in default, "a run keeps its own template unless TEMPLATE= is given"
    custom = shown("MODEL=/models/m", "PORT=9000", "BACKEND=vllm", "SERVED_NAME=m", "TEMPLATE=chatml", "DRY_RUN=1",
                   "ARGS=vllm_maxlen=8192")
    for flag in ('serve "/models/m"', "--port 9000", "--backend vllm", "--name m", "--template chatml", "--dry-run",
                 "vllm_maxlen=8192"):
        assert flag in custom, flag
