"""Safe registration in LLaMA-Factory's ``dataset_info.json`` plus medft's sidecar manifest.

Rules: entries medft did not write are kept untouched (and in their order); an entry of the same
name that points at another file is only replaced with ``force``; a file that does not parse is never
overwritten. Every write is atomic and happens under a file lock, so concurrent registrations
serialise instead of losing each other's entries.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock

from bridge.common import BridgeError
from medft.io import atomic_write_json

INFO_NAME = "dataset_info.json"
MANIFEST_NAME = ".medft-manifest.json"
ALPACA_COLUMNS = {"prompt": "instruction", "query": "input", "response": "output"}


def alpaca_entry(file_name: str) -> dict:
    """The dataset_info.json entry medft writes for one of its converted alpaca jsonl files."""
    return {"file_name": file_name, "formatting": "alpaca", "columns": dict(ALPACA_COLUMNS)}


def _read_json_object(path: Path, what: str, fix: str) -> dict:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return {}
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise BridgeError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            f"bridge never overwrites {what} it cannot parse. {fix}"
        ) from None
    if not isinstance(data, dict):
        raise BridgeError(f"{path}: expected a JSON object, found a JSON {type(data).__name__}. {fix}")
    return data


def load_dataset_info(dataset_dir: str | Path) -> dict:
    """Parsed ``dataset_info.json`` ({} if absent); BridgeError if it exists but does not parse."""
    path = Path(dataset_dir) / INFO_NAME
    return _read_json_object(path, "a dataset_info.json", "Fix it by hand (or restore it with git) and run again.")


def load_manifest(dataset_dir: str | Path) -> dict:
    """medft's sidecar manifest: ``{"datasets": {name: {file_name, sha256, source, converter, ...}}}``."""
    path = Path(dataset_dir) / MANIFEST_NAME
    data = _read_json_object(path, "a manifest", "Delete it to let bridge rebuild it on the next conversion.")
    data.setdefault("datasets", {})
    return data


@contextmanager
def locked(dataset_dir: str | Path) -> Iterator[None]:
    """Hold the lock that serialises every read-modify-write of dataset_info.json and the manifest."""
    path = Path(dataset_dir)
    path.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path / f"{INFO_NAME}.lock"), timeout=120):
        yield


def conflicts(info: dict, manifest: dict, entries: dict[str, dict]) -> list[str]:
    """Names in ``entries`` whose existing entry points at a different file and was not written by medft."""
    found = []
    for name, entry in entries.items():
        old = info.get(name)
        if old is None or name in manifest["datasets"]:
            continue
        if not isinstance(old, dict) or old.get("file_name") != entry["file_name"]:
            target = old.get("file_name") if isinstance(old, dict) else json.dumps(old, ensure_ascii=False)
            found.append(f"{name} -> {target}")
    return found


def check_conflicts(info: dict, manifest: dict, entries: dict[str, dict], force: bool) -> None:
    """Raise unless every entry can be written (or ``force`` allows replacing foreign ones)."""
    clashes = conflicts(info, manifest, entries)
    if clashes and not force:
        raise BridgeError(
            "dataset_info.json already has entries of these names pointing elsewhere: "
            + "; ".join(clashes) + ". Pass --force to replace them, or choose another name."
        )


def register(dataset_dir: str | Path, entries: dict[str, dict], manifest_entries: dict[str, dict],
             force: bool = False) -> dict[str, str]:
    """Merge ``entries`` into dataset_info.json and ``manifest_entries`` into the manifest, atomically.

    Returns name -> "added" | "updated" | "unchanged". Raises BridgeError (writing nothing) if
    dataset_info.json does not parse or a name clashes without ``force``.
    """
    dataset_dir = Path(dataset_dir)
    with locked(dataset_dir):
        info = load_dataset_info(dataset_dir)
        manifest = load_manifest(dataset_dir)
        check_conflicts(info, manifest, entries, force)
        changes = {}
        for name, entry in entries.items():
            changes[name] = "unchanged" if info.get(name) == entry else ("updated" if name in info else "added")
            info[name] = entry  # assignment keeps an existing key's position: foreign entries stay in order
        manifest["datasets"].update(manifest_entries)
        manifest["datasets"] = dict(sorted(manifest["datasets"].items()))
        if any(change != "unchanged" for change in changes.values()) or not (dataset_dir / INFO_NAME).exists():
            atomic_write_json(dataset_dir / INFO_NAME, info)
        atomic_write_json(dataset_dir / MANIFEST_NAME, manifest)
    return changes
