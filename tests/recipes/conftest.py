import json

import pytest

from tests.datasets import write_dataset_dir

#: Overrides that make a real CPU run take seconds: two optimiser steps, short sequences, no workers.
TINY_ARGS = ["max_steps=2", "cutoff_len=128", "preprocessing_num_workers=1", "dataloader_num_workers=0",
             "logging_steps=1", "save_steps=1", "per_device_train_batch_size=2", "gradient_accumulation_steps=1"]

NORM = [{"instruction": f"原始词：高血压病{i}级\n该词的标准术语为：", "input": "", "output": "高血压"}
        for i in range(6)]
MRG = [{"instruction": "问诊对话历史：\n患者：宝宝拉肚子三天\n根据上述对话，给出诊疗报告\n答：", "input": "",
        "output": json.dumps({"主诉": "腹泻三天。", "诊断": "小儿腹泻"}, ensure_ascii=False, indent=2)}] * 4


@pytest.fixture(scope="session")
def train_dir(tmp_path_factory):
    """A dataset_dir with med_norm and med_mrg registered, as bridge would leave it."""
    data = tmp_path_factory.mktemp("dataset_info")
    return write_dataset_dir(data, {"med_norm": ("norm_train.jsonl", NORM), "med_mrg": ("mrg_train.jsonl", MRG)})


@pytest.fixture
def runs(tmp_path, monkeypatch):
    """A private runs/ directory for the test."""
    path = tmp_path / "runs"
    monkeypatch.setenv("MEDFT_RUNS_DIR", str(path))
    return path
