import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from app.webui import WebUIError, prepare_workspace


def _registered(tmp_path):
    """A dataset_dir as bridge leaves it: norm's training and held-out sets, plus a user's hand-written entry."""
    from bridge.pipeline import convert_source
    from bridge.samples import write_samples

    write_samples(tmp_path / "raw", seed=0, sizes={"norm_train": 40, "norm_val": 20})
    datasets = tmp_path / "dataset_info"
    convert_source("norm", datasets, raw_dir=tmp_path / "raw")
    info = json.loads((datasets / "dataset_info.json").read_text(encoding="utf-8"))
    info["hub_set"] = {"hf_hub_url": "someone/set"}
    (datasets / "dataset_info.json").write_text(json.dumps(info), encoding="utf-8")
    return datasets


def test_training_view_leaves_out_heldout_sets(tmp_path):
    datasets = _registered(tmp_path)
    workspace = prepare_workspace(tmp_path / "ws", datasets)
    view = json.loads((workspace / "data" / "dataset_info.json").read_text(encoding="utf-8"))
    assert list(view) == ["med_norm", "hub_set"]  # med_norm_test is not offered for training
    assert view["med_norm"]["file_name"] == str((datasets / "norm_train.jsonl").resolve())
    assert view["hub_set"] == {"hf_hub_url": "someone/set"}
    assert (workspace / "heldout").resolve() == datasets.resolve()  # every set, for the Evaluate tab
    other = tmp_path / "other"
    other.mkdir()
    prepare_workspace(workspace, other)  # rewritten for another dataset_dir; the stale link repointed
    assert json.loads((workspace / "data" / "dataset_info.json").read_text(encoding="utf-8")) == {}
    assert (workspace / "heldout").resolve() == other.resolve()


def test_the_old_symlinked_data_is_replaced_by_the_view(tmp_path):
    datasets = _registered(tmp_path)
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "data").symlink_to(datasets, target_is_directory=True)
    prepare_workspace(tmp_path / "ws", datasets)
    assert not (tmp_path / "ws" / "data").is_symlink()
    assert (datasets / "norm_test.jsonl").exists(), "replacing the link touches nothing it pointed at"


def test_workspace_never_replaces_a_real_data_dir(tmp_path):
    (tmp_path / "ws" / "data").mkdir(parents=True)
    (tmp_path / "ws" / "data" / "keep.json").write_text("{}")
    with pytest.raises(WebUIError, match="was not written by medft"):
        prepare_workspace(tmp_path / "ws", tmp_path)
    assert (tmp_path / "ws" / "data" / "keep.json").exists()


def test_unreadable_dataset_info_is_one_line(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "dataset_info.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(WebUIError, match="is not valid JSON"):
        prepare_workspace(tmp_path / "ws", tmp_path / "d")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_running_ui_lists_the_registered_datasets(tmp_path):
    datasets = _registered(tmp_path)
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

        # A generous read timeout: on a loaded 2-core machine the default one expired mid-answer (seen at load 8).
        client = Client(url, verbose=False, httpx_kwargs={"timeout": 120})
        update = client.predict("data", "Supervised Fine-Tuning", api_name="/list_datasets")
        assert [choice[0] for choice in update["choices"]] == ["med_norm", "hub_set"], "no held-out set to train on"
        update = client.predict("heldout", "Supervised Fine-Tuning", api_name="/list_datasets")
        assert [choice[0] for choice in update["choices"]] == ["med_norm", "med_norm_test", "hub_set"]
        compute = [c["props"] for c in config["components"]
                   if "pure_bf16" in json.dumps(c.get("props", {}).get("choices", []))]
        assert compute and compute[0]["value"] == "fp32", "no bf16 GPU here, so fp32 is preselected"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
