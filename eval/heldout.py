"""Held-out sets: read a registered dataset's records and tell which task scores them."""

from __future__ import annotations

from pathlib import Path

from bridge.common import BridgeError
from bridge.userdata import read_records
from eval.tasks import ALIASES, TASKS


class HeldoutError(ValueError):
    """A held-out dataset is missing, unregistered or malformed."""


def task_of(dataset: str) -> str:
    """The task of a dataset: ``med_norm_test`` → ``norm`` (the first known task word in the name; an exam
    name such as ``med_cmb_test`` → ``mcq``), or the explicit suffix of ``my_terms:norm``."""
    name, _, explicit = dataset.partition(":")
    if explicit:
        if explicit not in TASKS:
            raise HeldoutError(f"unknown task {explicit!r} in {dataset!r}; tasks: {sorted(TASKS)}")
        return explicit
    for part in name.replace("-", "_").split("_"):
        if part in TASKS:
            return part
        if part in ALIASES:
            return ALIASES[part]
    raise HeldoutError(
        f"cannot tell the task of dataset {dataset!r} from its name: write it as {name}:TASK with TASK one of "
        f"{sorted(TASKS)}"
    )


def question_of(record: dict) -> str:
    """The question as the model saw it: ``instruction`` and ``input`` joined by a newline."""
    return "\n".join(str(part) for part in (record.get("instruction"), record.get("input")) if part)


def dataset_name(dataset: str) -> str:
    """The registered name in a ``NAME[:TASK]`` dataset argument."""
    return dataset.partition(":")[0]


def dataset_file(dataset_dir: Path, dataset: str) -> Path:
    """The file registered for ``dataset`` in ``<dataset_dir>/dataset_info.json``."""
    from bridge.registry import load_dataset_info, pending_names

    info_path = dataset_dir / "dataset_info.json"
    if not info_path.exists():
        raise HeldoutError(f"{info_path} does not exist: convert data first (`make data`)")
    try:
        info = load_dataset_info(dataset_dir)  # bridge's reader: GBK, a directory, not an object -> one line
        half = pending_names(dataset_dir)
    except BridgeError as exc:
        raise HeldoutError(exc.message) from exc
    if dataset in half:
        raise HeldoutError(f"{dataset_dir}: the conversion of {dataset!r} was interrupted while replacing its "
                           "files; run `python -m bridge recover` to finish it, then evaluate")
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
