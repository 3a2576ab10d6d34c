"""The raw sources bridge knows: a plain dict from source name to its converter module."""

from __future__ import annotations

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


def split_name(source: str, split: str) -> str:
    """The dataset_info.json name of one split: "med_norm" for train, "med_norm_test", "med_cmb_dev"."""
    return f"med_{source}" if split == "train" else f"med_{source}_{split}"


def dataset_names(source: str) -> dict[str, str]:
    """split -> dataset_info.json name, e.g. {"train": "med_norm", "test": "med_norm_test"}."""
    return {split: split_name(source, split) for split in splits(source)}


def output_files(source: str) -> dict[str, str]:
    """File names (relative to dataset_dir) of a source's converted splits."""
    return {split: f"{source}_{split}.jsonl" for split in splits(source)}


def get_source(name: str) -> ModuleType:
    """The converter module for ``name``, with a clear error listing the known sources."""
    if name not in SOURCES:
        raise BridgeError(f"unknown source {name!r}; known sources: {', '.join(SOURCES)}")
    return SOURCES[name]
