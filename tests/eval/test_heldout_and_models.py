import json

import pytest

from eval.heldout import HeldoutError, load_records, task_of
from eval.models import ModelSpecError, resolve


def test_task_from_dataset_name():
    assert task_of("med_norm_test") == "norm"
    assert task_of("my-mrg-dev") == "mrg"
    assert task_of("my_terms:norm") == "norm"
    with pytest.raises(HeldoutError, match="general_chat:TASK"):
        task_of("general_chat")
    with pytest.raises(HeldoutError, match="unknown task 'qa'"):
        task_of("x:qa")


def test_load_records_limit_and_errors(heldout_dir):
    assert len(load_records(heldout_dir, "med_norm_test", limit=2)) == 2
    assert len(load_records(heldout_dir, "med_norm_test:norm")) == 5
    with pytest.raises(HeldoutError, match=r"not registered.*med_mrg_test"):
        load_records(heldout_dir, "med_o1_test")
    (heldout_dir / "norm_test.jsonl").write_text('{"instruction": "x", "output": "y"}\n{broken\n', encoding="utf-8")
    with pytest.raises(HeldoutError, match=r"norm_test.jsonl: line 2, column 2: malformed JSON"):
        load_records(heldout_dir, "med_norm_test")
    (heldout_dir / "norm_test.jsonl").write_text('{"instruction": "x"}\n', encoding="utf-8")
    with pytest.raises(HeldoutError, match=r"record 1: missing \['output'\]"):
        load_records(heldout_dir, "med_norm_test")
    (heldout_dir / "dataset_info.json").write_text("{oops", encoding="utf-8")
    with pytest.raises(HeldoutError, match="not valid JSON"):
        load_records(heldout_dir, "med_norm_test")


def test_resolve_model_adapter_and_run_dirs(tiny_qwen_path, tmp_path):
    assert resolve("base", str(tiny_qwen_path)).adapter is None
    adapter = tmp_path / "run" / "adapter"
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(tiny_qwen_path)}))
    spec = resolve("tuned", str(adapter))
    assert spec.model == str(tiny_qwen_path) and spec.adapter == str(adapter)
    (tmp_path / "run" / "train.yaml").write_text(f"output_dir: {adapter}\ntemplate: llama3\n")
    from_run = resolve("tuned", str(tmp_path / "run"))
    assert from_run.adapter == str(adapter) and from_run.template == "llama3"
    merged = tmp_path / "run" / "merged"
    merged.mkdir()
    (merged / "config.json").write_text("{}")
    assert resolve("tuned", str(tmp_path / "run")).model == str(merged)
    with pytest.raises(ModelSpecError, match="no such directory"):
        resolve("x", str(tmp_path / "missing"))
    with pytest.raises(ModelSpecError, match="expected a model directory"):
        resolve("x", str(tmp_path))


def test_unreadable_dataset_info_is_one_clear_error(tmp_path):
    from eval.heldout import HeldoutError, load_records

    data = tmp_path / "data"
    data.mkdir()
    (data / "dataset_info.json").write_bytes('{"med_norm_test": {"file_name": "测试.jsonl"}}'.encode("gbk"))
    with pytest.raises(HeldoutError, match=r"dataset_info\.json"):
        load_records(data, "med_norm_test")
    (data / "dataset_info.json").unlink()
    (data / "dataset_info.json").mkdir()
    with pytest.raises(HeldoutError, match=r"dataset_info\.json"):
        load_records(data, "med_norm_test")
