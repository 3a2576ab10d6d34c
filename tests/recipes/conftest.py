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
    """A dataset_dir with med_norm and med_mrg registered, as bridge would leave it, and med_pref / med_kto."""
    from bridge import prefs

    data = tmp_path_factory.mktemp("dataset_info")
    write_dataset_dir(data, {"med_norm": ("norm_train.jsonl", NORM), "med_mrg": ("mrg_train.jsonl", MRG)})
    # A ranking and a kto set, as `eval prefs` registers them, for the preference recipes.
    pair = prefs.ranking_record(NORM[0]["instruction"], "高血压", "低血压")
    info = json.loads((data / "dataset_info.json").read_text(encoding="utf-8"))
    for name, kind, rows in (("med_pref", "ranking", [pair] * 2), ("med_kto", "kto", prefs.kto_records(pair))):
        (data / f"{name}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                            encoding="utf-8")
        info[name] = prefs.entry(f"{name}.jsonl", kind)
    (data / "dataset_info.json").write_text(json.dumps(info, ensure_ascii=False), encoding="utf-8")
    return data


@pytest.fixture
def runs(tmp_path, monkeypatch):
    """A private runs/ directory for the test."""
    path = tmp_path / "runs"
    monkeypatch.setenv("MEDFT_RUNS_DIR", str(path))
    return path
