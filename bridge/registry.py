"""Safe registration in LLaMA-Factory's ``dataset_info.json`` plus medft's sidecar manifest.

Rules: entries medft did not write are kept untouched (and in their order); an entry of the same
name that points at another file is only replaced with ``force``; keys a user added to an entry medft
wrote (``num_samples: 500``) survive reconversion unless they conflict with what medft writes; a file
that does not parse (or is not UTF-8) is never overwritten. Every write is atomic and happens under a
file lock, so concurrent registrations serialise instead of losing each other's entries.

**Commits.** A conversion replaces several files (the train / held-out pair) and the entries that
describe them; they change together or not at all. The converted files are first staged as complete
temporary files beside their targets. Then, under the lock, the manifest is rewritten with the new
entries plus a ``pending`` record naming each staged file and its target: that atomic write is the
commit point. Only then are the staged files renamed into place, dataset_info.json updated, and
``pending`` dropped. A process killed before the commit point leaves the old pair, entries and
manifest (its staged files are removed later as stale, see :func:`recover`); one killed after it is
rolled forward by the next :func:`recover`, which every writing bridge command runs first (and
``bridge recover`` alone); a ``pending`` record bridge cannot have written is rolled back instead.
The manifest is therefore the record readers trust: while it holds
``pending`` the files on disk may be half replaced, so readers that do not recover themselves (training
pre-flight, ``bridge stats``) refuse until it is finished (:func:`pending_names`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock

from bridge.common import BridgeError
from bridge.textfile import read_utf8_text
from medft.io import TEMP_PATTERN, atomic_write_json, remove_stale_temp_files, stale_temp_files
from medft.names import name_problem

INFO_NAME = "dataset_info.json"
MANIFEST_NAME = ".medft-manifest.json"
ALPACA_COLUMNS = {"prompt": "instruction", "query": "input", "response": "output"}
#: Keys that make LLaMA-Factory load something other than ``file_name`` (or read it differently): a user
#: key of this kind in an entry medft writes conflicts with it and is dropped on reconversion.
CONFLICTING_KEYS = frozenset({"hf_hub_url", "ms_hub_url", "om_hub_url", "script_url", "cloud_file_name", "ranking"})


def alpaca_entry(file_name: str) -> dict:
    """The dataset_info.json entry medft writes for one of its converted alpaca jsonl files."""
    return {"file_name": file_name, "formatting": "alpaca", "columns": dict(ALPACA_COLUMNS)}


def merge_entry(old, new: dict) -> dict:
    """``new`` (what medft writes) over ``old``, keeping the user's other keys and their order."""
    if not isinstance(old, dict):
        return dict(new)
    merged = {key: value for key, value in old.items() if key not in CONFLICTING_KEYS}
    merged.update(new)
    return merged


def read_json_object(path: Path, what: str, fix: str) -> dict:
    """A JSON object from ``path`` ({} if absent or blank); BridgeError, one line naming the file, otherwise."""
    text = read_utf8_text(path, missing_ok=True,
                          if_directory=f"{path} is a directory, not a file: bridge needs {what} there. {fix}",
                          if_not_utf8=f"bridge never overwrites {what} it cannot read. {fix}")
    if text is None:
        return {}
    try:
        parsed = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise BridgeError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            f"bridge never overwrites {what} it cannot parse. {fix}"
        ) from None
    if not isinstance(parsed, dict):
        raise BridgeError(f"{path}: expected a JSON object, found a JSON {type(parsed).__name__}. {fix}")
    return parsed


def load_dataset_info(dataset_dir: str | Path) -> dict:
    """Parsed ``dataset_info.json`` ({} if absent); BridgeError if it exists but cannot be read."""
    path = Path(dataset_dir) / INFO_NAME
    return read_json_object(path, "a dataset_info.json", "Fix it by hand (or restore it with git) and run again.")


def load_manifest(dataset_dir: str | Path) -> dict:
    """medft's sidecar manifest: ``{"datasets": {name: {file_name, sha256, source, converter, ...}}}``."""
    path = Path(dataset_dir) / MANIFEST_NAME
    data = read_json_object(path, "a manifest", "Delete it to let bridge rebuild it on the next conversion.")
    data.setdefault("datasets", {})
    if not isinstance(data["datasets"], dict):
        raise BridgeError(f"{path}: 'datasets' is not a JSON object. Delete it to let bridge rebuild it.")
    return data


@contextmanager
def locked(dataset_dir: str | Path) -> Iterator[None]:
    """Hold the lock that serialises every read-modify-write of dataset_info.json and the manifest."""
    path = Path(dataset_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise BridgeError(f"dataset dir {path} is not a directory") from None
    with FileLock(str(path / f"{INFO_NAME}.lock"), timeout=120):
        yield


def _clashes(info: dict, manifest: dict, entries: dict[str, dict]) -> dict[str, str]:
    found = {}
    for name, entry in entries.items():
        old = info.get(name)
        if old is None or name in manifest["datasets"]:
            continue
        if not isinstance(old, dict) or old.get("file_name") != entry["file_name"]:
            found[name] = old.get("file_name") if isinstance(old, dict) else json.dumps(old, ensure_ascii=False)
    return found


def conflicts(info: dict, manifest: dict, entries: dict[str, dict]) -> list[str]:
    """Names in ``entries`` whose existing entry points at a different file and was not written by medft."""
    return [f"{name} -> {target}" for name, target in _clashes(info, manifest, entries).items()]


def check_conflicts(info: dict, manifest: dict, entries: dict[str, dict], force: bool) -> None:
    """Raise unless every entry can be written (or ``force`` allows replacing foreign ones)."""
    clashes = conflicts(info, manifest, entries)
    if clashes and not force:
        raise BridgeError(
            "dataset_info.json already has entries of these names pointing elsewhere: "
            + "; ".join(clashes) + ". Pass --force to replace them, or choose another name."
        )


def _untrusted_reason(pending) -> str | None:
    """Why a ``pending`` record cannot have been written by bridge (None if it can): every rename must move
    one of medft's temporary files onto a plain file name in the dataset dir, every entry name be valid."""
    if not isinstance(pending, dict) or not isinstance(pending.get("renames", {}), dict) or not isinstance(
            pending.get("entries", {}), dict):
        return "it is not a record of renames and entries"
    for target, staged in pending.get("renames", {}).items():
        match = TEMP_PATTERN.match(staged) if isinstance(staged, str) else None
        if not match or match["target"] != target or Path(target).name != target or target in (".", ".."):
            return f"it would move {staged!r} to {target!r}, outside bridge's own files"
    for name in pending.get("entries", {}):
        if name_problem(name):
            return f"it registers {name!r}, which is not a valid dataset name ({name_problem(name)})"
    return None


def _finish(dataset_dir: Path, manifest: dict) -> dict[str, str]:
    """Roll a committed ``pending`` record forward: rename the staged files, write the entries, drop it."""
    pending = manifest["pending"]
    for target, staged in pending.get("renames", {}).items():
        if (dataset_dir / staged).exists():
            os.replace(dataset_dir / staged, dataset_dir / target)
    info = load_dataset_info(dataset_dir)
    changes = {}
    replace = set(pending.get("replace", []))
    for name, entry in pending.get("entries", {}).items():
        old = info.get(name)
        new = dict(entry) if name in replace else merge_entry(old, entry)
        changes[name] = "unchanged" if old == new else ("updated" if name in info else "added")
        info[name] = new  # assignment keeps an existing key's position: foreign entries stay in order
    if any(change != "unchanged" for change in changes.values()) or not (dataset_dir / INFO_NAME).exists():
        atomic_write_json(dataset_dir / INFO_NAME, info)
    del manifest["pending"]
    atomic_write_json(dataset_dir / MANIFEST_NAME, manifest)
    return changes


def _roll_back(dataset_dir: Path, manifest: dict, reason: str) -> list[str]:
    """Drop a ``pending`` record bridge cannot have written (hand-edited, or left by an older medft that let a
    name like ``../x`` through): nothing it names is renamed or registered. Its staged files that are medft
    temporary files in the dataset dir are deleted, and the manifest forgets the entries it names, so the
    next conversion rewrites them. The old files and dataset_info.json are untouched."""
    pending = manifest.pop("pending")
    names = [n for n in pending.get("entries", {})] if isinstance(pending, dict) else []
    renames = pending.get("renames", {}) if isinstance(pending, dict) else {}
    removed, left = [], []
    for staged in renames.values() if isinstance(renames, dict) else ():
        if isinstance(staged, str) and TEMP_PATTERN.match(staged) and Path(staged).name == staged:
            if (dataset_dir / staged).is_file():
                (dataset_dir / staged).unlink()
                removed.append(staged)
        else:
            left.append(str(staged))
    for name in names:
        manifest["datasets"].pop(name, None)
    atomic_write_json(dataset_dir / MANIFEST_NAME, manifest)
    done = [f"dropped a 'pending' record bridge did not write ({reason}): "
            f"{', '.join(map(repr, names)) or 'no entries'} not registered, dataset_info.json and the "
            "existing files untouched"]
    if removed:
        done.append(f"removed its staged files {', '.join(removed)}")
    if left:
        done.append(f"left alone (not bridge's temporary files in {dataset_dir}): {', '.join(left)}")
    return done


def _recover_locked(dataset_dir: Path) -> list[str]:
    manifest = load_manifest(dataset_dir)
    done = []
    if "pending" in manifest:
        reason = _untrusted_reason(manifest["pending"])
        if reason:
            done += _roll_back(dataset_dir, manifest, reason)
        else:
            changes = _finish(dataset_dir, manifest)
            done.append("finished an interrupted conversion: " + ", ".join(f"{k} {v}" for k, v in changes.items()))
    removed = remove_stale_temp_files(dataset_dir)
    if removed:
        done.append(f"removed {len(removed)} temporary file(s) of processes that no longer run")
    return done


def recover(dataset_dir: str | Path) -> list[str]:
    """Bring ``dataset_dir`` back to a usable state; return what was done, one line each ([] if nothing).

    A conversion killed after its commit point is finished (rolled forward); a ``pending`` record bridge
    cannot have written is dropped (rolled back, see :func:`_roll_back`); dead runs' temp files are
    deleted. Cheap when there is nothing to do (one read of the manifest); a dataset_dir that does not
    exist is left alone.
    """
    dataset_dir = Path(dataset_dir)
    if not dataset_dir.is_dir():
        return []
    if "pending" not in load_manifest(dataset_dir) and not stale_temp_files(dataset_dir):
        return []  # the usual case: no lock file created, nothing written
    try:
        with locked(dataset_dir):
            return _recover_locked(dataset_dir)
    except PermissionError as exc:
        raise BridgeError(f"cannot finish the interrupted conversion in {dataset_dir}: {exc.strerror}") from None


def pending_names(dataset_dir: str | Path) -> list[str]:
    """Datasets whose files an interrupted conversion left half replaced (without fixing anything)."""
    pending = load_manifest(dataset_dir).get("pending")
    return sorted(pending.get("entries", {})) if isinstance(pending, dict) else []


def commit(dataset_dir: str | Path, staged: dict[str, Path], entries: dict[str, dict],
           manifest_entries: dict[str, dict], force: bool = False) -> dict[str, str]:
    """Move ``staged`` files (target name -> complete temp file in dataset_dir) into place and register
    ``entries`` / ``manifest_entries``, as one commit (see the module docstring).

    Returns name -> "added" | "updated" | "unchanged". Raises BridgeError (writing nothing) if
    dataset_info.json cannot be read or a name clashes without ``force``. A commit that fails or is
    interrupted before its commit point removes the staged files; after it, they belong to the
    ``pending`` record and the next :func:`recover` moves them into place.
    """
    dataset_dir = Path(dataset_dir)
    for name in entries:
        if name_problem(name):  # a name becomes a file name: never let one reach outside dataset_dir
            for tmp in staged.values():
                Path(tmp).unlink(missing_ok=True)
            raise BridgeError(f"dataset name {name!r} is not allowed: {name_problem(name)}")
    try:
        with locked(dataset_dir):
            _recover_locked(dataset_dir)
            info = load_dataset_info(dataset_dir)
            manifest = load_manifest(dataset_dir)
            check_conflicts(info, manifest, entries, force)
            replace = sorted(_clashes(info, manifest, entries))  # foreign entries --force replaces outright
            manifest["datasets"].update(manifest_entries)
            manifest["datasets"] = dict(sorted(manifest["datasets"].items()))
            manifest["pending"] = {"renames": {target: Path(tmp).name for target, tmp in staged.items()},
                                   "entries": entries, "replace": replace}
            atomic_write_json(dataset_dir / MANIFEST_NAME, manifest)  # the commit point
            return _finish(dataset_dir, manifest)
    except BaseException:
        _discard_uncommitted(dataset_dir, staged)
        raise


def _discard_uncommitted(dataset_dir: Path, staged: dict[str, Path]) -> None:
    # Whatever failed, staged files a pending record names (the commit point was passed) must stay.
    try:
        pending = load_manifest(dataset_dir).get("pending") or {}
        kept = set(pending.get("renames", {}).values()) if isinstance(pending, dict) else set()
    except BridgeError:
        kept = {Path(tmp).name for tmp in staged.values()}  # cannot tell: leave them to recover()
    for tmp in staged.values():
        if Path(tmp).name not in kept:
            Path(tmp).unlink(missing_ok=True)


def register(dataset_dir: str | Path, entries: dict[str, dict], manifest_entries: dict[str, dict],
             force: bool = False) -> dict[str, str]:
    """Merge ``entries`` into dataset_info.json and ``manifest_entries`` into the manifest (a commit of no files)."""
    return commit(dataset_dir, {}, entries, manifest_entries, force)
