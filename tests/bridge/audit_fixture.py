"""A dataset_dir whose training set ``mine`` holds one item of its held-out set ``mine_test``, audited."""

from __future__ import annotations

import json
from pathlib import Path

ITEM = "下列哪项是急性心肌梗死最早出现的心电图改变A.ST段抬高B.T波高尖C.病理性Q波D.T波倒置"


def audited_dir(tmp_path: Path) -> Path:
    """Register ``mine`` (+ ``mine_test``) with one leaked item and save the audit; returns the dataset_dir."""
    from bridge import audit
    from bridge.userdata import register_file

    def write(path: Path, records: list[dict]) -> Path:
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        return path

    user = write(tmp_path / "mine.jsonl", [{"instruction": "复习：" + ITEM, "output": "B"},
                                           {"instruction": "别的问题，与考试无关的一条记录", "output": "好"}])
    test = write(tmp_path / "exam.jsonl", [{"instruction": ITEM, "output": "B"},
                                           {"instruction": "另一条考题，完全不同的内容在这里", "output": "A"}])
    dataset_dir = tmp_path / "ds"
    register_file("mine", user, dataset_dir, test_path=test)
    audit.save(dataset_dir, audit.audit(dataset_dir))
    return dataset_dir
