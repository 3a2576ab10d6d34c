"""The raw sources bridge knows: a plain dict from source name to its converter module."""

from __future__ import annotations

import re
from types import ModuleType

from bridge import cmb, cmexam, cmmlu, dialog, mrg, norm, o1
from bridge.common import BridgeError

#: source name -> converter module (NAME, VERSION, DEFAULT_PROMPT, PROMPT_FIELDS, DEFAULT_PARAMS,
#: convert, build, find_inputs; optionally SPLITS). `bridge convert` with no SOURCE runs those present
#: under raw/ in this order.
SOURCES: dict[str, ModuleType] = {"dialog": dialog, "norm": norm, "mrg": mrg, "o1": o1,
                                  "cmb": cmb, "cmexam": cmexam, "cmmlu": cmmlu}
#: The splits a source writes unless its module says otherwise (the exams add "dev", a few-shot pool;
#: cmmlu has no "train").
DEFAULT_SPLITS = ("train", "test")


def splits(source: str) -> tuple[str, ...]:
    """The splits ``source`` writes, e.g. ("train", "test") or ("train", "test", "dev")."""
    return tuple(getattr(get_source(source), "SPLITS", DEFAULT_SPLITS))


#: What ``bridge convert --name`` accepts: it becomes part of file and dataset names.
_ALIAS = re.compile(r"[a-z0-9][a-z0-9_]{0,39}")


def check_alias(alias: str) -> str:
    """``alias`` if it can name a conversion (``--name cdn`` → med_cdn, cdn_train.jsonl); BridgeError otherwise."""
    if not _ALIAS.fullmatch(alias) or alias.endswith(("_test", "_dev", "_train")):
        raise BridgeError(f"--name {alias!r}: expected 1-40 lowercase letters, digits or '_' (starting with a letter "
                          "or digit, not ending in _train/_test/_dev), e.g. --name cdn")
    return alias


def split_name(source: str, split: str) -> str:
    """The dataset_info.json name of one split: "med_norm" for train, "med_norm_test", "med_cmb_dev"."""
    return f"med_{source}" if split == "train" else f"med_{source}_{split}"


def dataset_names(source: str, alias: str | None = None) -> dict[str, str]:
    """split -> dataset_info.json name, e.g. {"train": "med_norm", "test": "med_norm_test"}; with ``alias``
    ("cdn") the names are built from it instead: med_cdn, med_cdn_test."""
    return {split: split_name(alias or source, split) for split in splits(source)}


def output_files(source: str, alias: str | None = None) -> dict[str, str]:
    """File names (relative to dataset_dir) of a source's converted splits (``alias`` as in dataset_names)."""
    return {split: f"{alias or source}_{split}.jsonl" for split in splits(source)}


def get_source(name: str) -> ModuleType:
    """The converter module for ``name``, with a clear error listing the known sources."""
    if name not in SOURCES:
        raise BridgeError(f"unknown source {name!r}; known sources: {', '.join(SOURCES)}")
    return SOURCES[name]
