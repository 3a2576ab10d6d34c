"""Writing small registered dataset directories for tests, as bridge would leave them."""

from __future__ import annotations

import json
from pathlib import Path

from bridge.registry import alpaca_entry


def write_dataset_dir(data: Path, datasets: dict[str, tuple[str, list[dict]]]) -> Path:
    """Write each ``name: (file_name, records)`` as jsonl and register it in ``data/dataset_info.json``."""
    data.mkdir(parents=True, exist_ok=True)
    info = {}
    for name, (file_name, records) in datasets.items():
        (data / file_name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                                      encoding="utf-8")
        info[name] = alpaca_entry(file_name)
    (data / "dataset_info.json").write_text(json.dumps(info, ensure_ascii=False), encoding="utf-8")
    return data
