"""Held-out sets: read a registered dataset's records and tell which task scores them."""

from __future__ import annotations

import json
from pathlib import Path

from bridge.common import BridgeError
from bridge.userdata import read_records
from eval.tasks import TASKS


class HeldoutError(ValueError):
    """A held-out dataset is missing, unregistered or malformed."""


def task_of(dataset: str) -> str:
    """The task of a dataset: ``med_norm_test`` → ``norm`` (the first known task word in the name),
    or the explicit suffix of ``my_terms:norm``."""
    name, _, explicit = dataset.partition(":")
    if explicit:
        if explicit not in TASKS:
            raise HeldoutError(f"unknown task {explicit!r} in {dataset!r}; tasks: {sorted(TASKS)}")
        return explicit
    for part in name.replace("-", "_").split("_"):
        if part in TASKS:
            return part
    raise HeldoutError(
        f"cannot tell the task of dataset {dataset!r} from its name: write it as {name}:TASK with TASK one of "
        f"{sorted(TASKS)}"
    )


def dataset_name(dataset: str) -> str:
    """The registered name in a ``NAME[:TASK]`` dataset argument."""
    return dataset.partition(":")[0]


def dataset_file(dataset_dir: Path, dataset: str) -> Path:
    """The file registered for ``dataset`` in ``<dataset_dir>/dataset_info.json``."""
    info_path = dataset_dir / "dataset_info.json"
    try:
        info = json.loads(info_path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError as exc:
        raise HeldoutError(f"{info_path} does not exist: convert data first (`make data`)") from exc
    except IsADirectoryError as exc:
        raise HeldoutError(f"{info_path} is a directory; expected LLaMA-Factory's dataset_info.json file") from exc
    except UnicodeDecodeError as exc:
        raise HeldoutError(f"{info_path} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise HeldoutError(f"{info_path} is not valid JSON (line {exc.lineno}, column {exc.colno})") from exc
    if not isinstance(info, dict):
        raise HeldoutError(f"{info_path}: expected a JSON object of dataset entries")
    if dataset not in info:
        raise HeldoutError(f"dataset {dataset!r} is not registered in {info_path}; registered: {sorted(info)}")
    if not isinstance(info[dataset], dict) or not isinstance(info[dataset].get("file_name"), str):
        raise HeldoutError(f"{info_path}: entry {dataset!r} has no file_name (eval reads local files only)")
    path = Path(info[dataset]["file_name"])
    return path if path.is_absolute() else dataset_dir / path


def load_records(dataset_dir: Path, dataset: str, limit: int | None = None) -> list[dict]:
    """The alpaca records of ``dataset`` (jsonl or a JSON array), first ``limit`` only if given."""
    dataset = dataset_name(dataset)
    path = dataset_file(dataset_dir, dataset)
    if not path.exists():
        raise HeldoutError(f"{path} (dataset {dataset!r}) does not exist: convert data first (`make data`)")
    try:
        records = read_records(path)
    except BridgeError as exc:
        raise HeldoutError(str(exc)) from exc
    for number, record in enumerate(records, 1):
        if not isinstance(record, dict):
            raise HeldoutError(f"{path}, record {number}: not a JSON object; expected alpaca instruction/input/output")
        missing = [key for key in ("instruction", "output") if key not in record]
        if missing:
            raise HeldoutError(f"{path}, record {number}: missing {missing}; expected alpaca instruction/input/output")
    if not records:
        raise HeldoutError(f"{path} (dataset {dataset!r}) holds no records: nothing to evaluate")
    if limit is not None and limit < 1:
        raise HeldoutError(f"limit must be at least 1 (got {limit}); leave it out to evaluate every record")
    return records[:limit] if limit else records
