"""Which registered datasets are held out — test sets and few-shot pools — as bridge recorded them.

bridge writes a ``split`` into the manifest entry of every dataset it registers (``train``, ``test``,
``dev``). Training on a ``test`` or ``dev`` set makes every later score on it meaningless, so recipes'
pre-flight refuses it unless the user opts in. The manifest decides, not the name alone:

- an entry with a recorded ``split`` is held out when that split is ``test`` or ``dev``;
- an entry written before bridge recorded splits is held out when its name is the held-out name of its
  converter (``med_norm_test`` for converter ``norm``; ``<name>_test`` for a ``bridge register
  --test-file`` copy);
- a dataset bridge did not register is judged by its name: ``*_test`` and ``*_dev`` are held out.
"""

from __future__ import annotations

from pathlib import Path

from bridge import registry

#: Splits that are scored or drawn from at evaluation, never trained on.
HELDOUT_SPLITS = ("test", "dev")
#: Name endings of held-out sets (bridge's own naming, and the convention users follow).
HELDOUT_SUFFIXES = tuple(f"_{split}" for split in HELDOUT_SPLITS)


def _legacy_split(name: str, entry: dict) -> str | None:
    """The split of a manifest entry written before ``split`` was recorded, from its converter's naming."""
    from bridge.sources import SOURCES, split_name, splits

    converter = entry.get("converter")
    if converter in SOURCES:
        return next((split for split in splits(converter) if split_name(converter, split) == name), None)
    if converter == "register":
        written = (entry.get("counts") or {}).get("written") or {}
        return next(iter(written), None) if len(written) == 1 else None
    return None


def heldout_split(name: str, manifest: dict) -> str | None:
    """``"test"`` or ``"dev"`` when ``name`` is a held-out set according to ``manifest``, else None."""
    entry = manifest.get("datasets", {}).get(name)
    if isinstance(entry, dict):
        split = entry.get("split") or _legacy_split(name, entry)
        if split is not None:
            return split if split in HELDOUT_SPLITS else None
    return next((suffix[1:] for suffix in HELDOUT_SUFFIXES if name.endswith(suffix)), None)


def heldout_names(dataset_dir: str | Path) -> dict[str, str]:
    """Every held-out dataset registered in ``dataset_dir``: name -> split (BridgeError if unreadable)."""
    info = registry.load_dataset_info(dataset_dir)
    manifest = registry.load_manifest(dataset_dir)
    return {name: split for name in info if (split := heldout_split(name, manifest))}
