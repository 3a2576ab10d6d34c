"""Held-out sets: read a registered dataset's records and tell which task scores them."""

from __future__ import annotations

import random
from pathlib import Path

from bridge.common import BridgeError
from bridge.userdata import read_records
from eval.tasks import ALIASES, TASKS
from medft.names import BadName, check_name

#: ``--limit-mode``: a seeded stratified sample (default), or the first records (the old behaviour).
SAMPLE, FIRST = "sample", "first"
LIMIT_MODES = (SAMPLE, FIRST)
DEFAULT_SEED = 42


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

    try:
        check_name(dataset, "dataset name")  # it becomes OUT/predictions/<label>/<dataset>.jsonl
    except BadName as exc:
        raise HeldoutError(str(exc)) from None
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


def load_records(dataset_dir: Path, dataset: str, limit: int | None = None, mode: str = FIRST,
                 seed: int = DEFAULT_SEED) -> list[dict]:
    """The alpaca records of ``dataset`` (jsonl or a JSON array); with ``limit``, ``limit`` of them: the first
    ones (``mode="first"``) or a seeded sample stratified by subject / category (``mode="sample"``, see
    ``sample_indices``), kept in file order."""
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
    if mode not in LIMIT_MODES:
        raise HeldoutError(f"limit mode {mode!r} is not one of {list(LIMIT_MODES)}")
    if not limit:
        return records
    if mode == FIRST:
        return records[:limit]
    return [records[i] for i in sample_indices(records, limit, seed)]


def stratum_of(record: dict) -> tuple[str, str] | None:
    """The group a record is sampled within: its (category, subject) when it has either, else None."""
    category, subject = record.get("category"), record.get("subject")
    return None if category is None and subject is None else (str(category), str(subject))


def sample_indices(records: list[dict], limit: int, seed: int = DEFAULT_SEED) -> list[int]:
    """``limit`` record indices, ascending: a seeded sample stratified by ``stratum_of`` (uniform when the set
    has one stratum). Every stratum gets one record when ``limit`` allows (a 50-question sample of CMMLU's
    medical subjects covers each of them), the rest is shared in proportion to the strata's sizes (largest
    remainders); below one per stratum, ``limit`` strata drawn at random get one each."""
    n = len(records)
    if limit >= n:
        return list(range(n))
    rng = random.Random(seed)
    strata: dict[tuple[str, str] | None, list[int]] = {}
    for i, record in enumerate(records):
        strata.setdefault(stratum_of(record), []).append(i)
    groups = list(strata.values())
    if len(groups) == 1:
        return sorted(rng.sample(range(n), limit))
    if limit < len(groups):
        return sorted(rng.choice(group) for group in rng.sample(groups, limit))
    spare, room = limit - len(groups), sum(len(g) - 1 for g in groups)
    shares = [spare * (len(g) - 1) / room for g in groups]
    quotas = [1 + int(share) for share in shares]
    # Largest remainders first (ties: the earlier stratum); a stratum never gets more than it holds.
    for k in sorted(range(len(groups)), key=lambda k: (-(shares[k] - int(shares[k])), k))[:limit - sum(quotas)]:
        quotas[k] += 1
    return sorted(i for group, quota in zip(groups, quotas, strict=True) for i in rng.sample(group, quota))
