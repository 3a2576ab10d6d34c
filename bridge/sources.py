"""The raw sources bridge knows: a plain dict from source name to its converter module."""

from __future__ import annotations

from types import ModuleType

from bridge import dialog, mrg, norm, o1
from bridge.common import BridgeError

#: source name -> converter module (NAME, VERSION, DEFAULT_PROMPT, PROMPT_FIELDS, DEFAULT_PARAMS,
#: convert, build, find_inputs). `bridge convert` with no SOURCE runs those present under raw/ in this order.
SOURCES: dict[str, ModuleType] = {"dialog": dialog, "norm": norm, "mrg": mrg, "o1": o1}


def dataset_names(source: str) -> tuple[str, str]:
    """The dataset_info.json names of a source's train and test files, e.g. ("med_norm", "med_norm_test")."""
    return f"med_{source}", f"med_{source}_test"


def output_files(source: str) -> dict[str, str]:
    """File names (relative to dataset_dir) of a source's converted splits."""
    return {"train": f"{source}_train.jsonl", "test": f"{source}_test.jsonl"}


def get_source(name: str) -> ModuleType:
    """The converter module for ``name``, with a clear error listing the known sources."""
    if name not in SOURCES:
        raise BridgeError(f"unknown source {name!r}; known sources: {', '.join(SOURCES)}")
    return SOURCES[name]
