import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from app.webui import WebUIError, prepare_workspace


def test_workspace_links_data_to_the_dataset_dir(tmp_path):
    datasets = tmp_path / "dataset_info"
    datasets.mkdir()
    workspace = prepare_workspace(tmp_path / "ws", datasets)
    assert (workspace / "data").resolve() == datasets.resolve()
    other = tmp_path / "other"
    other.mkdir()
    prepare_workspace(workspace, other)  # a stale link is repointed
    assert (workspace / "data").resolve() == other.resolve()


def test_workspace_never_replaces_a_real_data_dir(tmp_path):
    (tmp_path / "ws" / "data").mkdir(parents=True)
    (tmp_path / "ws" / "data" / "keep.json").write_text("{}")
    with pytest.raises(WebUIError, match="is not a symlink"):
        prepare_workspace(tmp_path / "ws", tmp_path)
    assert (tmp_path / "ws" / "data" / "keep.json").exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_running_ui_lists_the_registered_datasets(tmp_path):
    datasets = tmp_path / "dataset_info"
    datasets.mkdir()
    (datasets / "norm_test.jsonl").write_text('{"instruction": "原始词：头痛", "input": "", "output": "头痛"}\n')
    (datasets / "dataset_info.json").write_text(json.dumps({
        "med_norm_test": {"file_name": "norm_test.jsonl", "columns": {"prompt": "instruction", "response": "output"}},
    }))
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "webui", "--port", str(port), "--workspace", str(tmp_path / "ws"),
         "--dataset-dir", str(datasets)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                config = json.loads(urllib.request.urlopen(url + "config", timeout=5).read())
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"web UI did not start:\n{proc.stdout.read() if proc.poll() is not None else ''}")
                time.sleep(1)
        from gradio_client import Client

        update = Client(url, verbose=False).predict("data", "Supervised Fine-Tuning", api_name="/list_datasets")
        assert [choice[0] for choice in update["choices"]] == ["med_norm_test"]
        compute = [c["props"] for c in config["components"]
                   if "pure_bf16" in json.dumps(c.get("props", {}).get("choices", []))]
        assert compute and compute[0]["value"] == "fp32", "no bf16 GPU here, so fp32 is preselected"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
