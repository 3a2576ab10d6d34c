"""Validate and register a user's own alpaca or sharegpt file (e.g. general data to mix with the domain sets)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

from bridge import registry
from bridge.common import BridgeError, jsonl_line
from bridge.jsonstream import load_json
from bridge.pii import scrub_record
from bridge.splits import leak_free
from bridge.textfile import truncated, utf8_problem
from medft.io import sha256_file, staged_writer
from medft.names import BadName, check_name

MAX_PROBLEMS = 20
SHAREGPT_STYLES = {
    # messages key -> (role key, content key, user, assistant, system tags)
    "conversations": ("from", "value", "human", "gpt", "system"),
    "messages": ("role", "content", "user", "assistant", "system"),
}


def _jsonl_records(path: Path, handle) -> list:
    records = []
    offset = 0
    for lineno, raw in enumerate(handle, 1):
        try:
            line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            if exc.reason == "unexpected end of data" and not raw.endswith(b"\n"):
                raise BridgeError(truncated(path, offset + exc.start)) from None
            problem = utf8_problem(path, exc, raw, offset).replace(f"{path}: ", f"{path}: line {lineno}: ", 1)
            raise BridgeError(problem) from None
        offset += len(raw)
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise BridgeError(f"{path}: line {lineno}, column {exc.colno}: malformed JSON: {exc.msg}") from None
        except RecursionError:
            raise BridgeError(f"{path}: line {lineno}: JSON nested too deeply to read") from None
    return records


def read_records(path: Path) -> list:
    """Records of a .json array or a .jsonl file (one object per line); decode errors name file and line."""
    path = Path(path)
    if path.suffix.lower() == ".jsonl":
        try:
            with open(path, "rb") as handle:  # bytes: a line that is not UTF-8 is reported with its number
                return _jsonl_records(path, handle)
        except OSError as exc:
            raise BridgeError(f"cannot read {path}: {exc.strerror}") from None
    data = load_json(path)
    if not isinstance(data, list):
        raise BridgeError(f"{path}: expected a JSON array of records (or a .jsonl file)")
    return data


def detect_formatting(records: list) -> str:
    """"sharegpt" if the first record holds a conversation list, else "alpaca"."""
    first = records[0] if records and isinstance(records[0], dict) else {}
    return "sharegpt" if any(isinstance(first.get(key), list) for key in SHAREGPT_STYLES) else "alpaca"


def validate(records: list, formatting: str) -> tuple[dict, list[str]]:
    """Check every record; return the dataset_info columns and all problems found (up to MAX_PROBLEMS)."""
    problems: list[str] = []
    if not records:
        return {}, ["the file holds no records"]
    if formatting == "alpaca":
        columns = dict(registry.ALPACA_COLUMNS)
        for index, rec in enumerate(records):
            if not isinstance(rec, dict):
                problems.append(f"record {index}: not an object")
                continue
            for key in ("instruction", "output"):
                if not isinstance(rec.get(key), str) or not rec[key].strip():
                    problems.append(f"record {index}: '{key}' missing or empty (alpaca needs instruction and output)")
            if "input" in rec and not isinstance(rec["input"], str):
                problems.append(f"record {index}: 'input' must be a string")
            if len(problems) >= MAX_PROBLEMS:
                break
        if all(isinstance(r, dict) and "input" not in r for r in records):
            del columns["query"]
        return columns, problems
    key = next((k for k in SHAREGPT_STYLES if isinstance(records[0], dict) and k in records[0]), "conversations")
    role, content, user, assistant, system = SHAREGPT_STYLES[key]
    columns = {"messages": key}
    if key == "messages":
        columns_tags = {"role_tag": role, "content_tag": content, "user_tag": user,
                        "assistant_tag": assistant, "system_tag": system}
    else:
        columns_tags = {}
    for index, rec in enumerate(records):
        turns = rec.get(key) if isinstance(rec, dict) else None
        if not isinstance(turns, list) or not turns:
            problems.append(f"record {index}: '{key}' missing or empty")
        else:
            body = [t for t in turns if isinstance(t, dict) and t.get(role) != system]
            roles = [t.get(role) for t in body]
            if any(not isinstance(t, dict) or not isinstance(t.get(content), str) for t in turns):
                problems.append(f"record {index}: every turn needs '{role}' and a string '{content}'")
            elif len(roles) % 2 or roles[0::2] != [user] * (len(roles) // 2) or roles[1::2] != [assistant] * (
                    len(roles) // 2):
                problems.append(f"record {index}: turns must alternate {user}/{assistant} and end with {assistant}")
        if len(problems) >= MAX_PROBLEMS:
            break
    return {"tags": columns_tags, "columns": columns}, problems


def _entry(file_name: str, formatting: str, result) -> dict:
    entry = {"file_name": file_name, "formatting": formatting}
    if formatting == "alpaca":
        entry["columns"] = result
    else:
        entry["columns"] = result["columns"]
        if result["tags"]:
            entry["tags"] = result["tags"]
    return entry


def _read_valid(path: Path, formatting: str | None) -> tuple[list, str, dict]:
    if not path.is_file():
        raise BridgeError(f"file not found: {path}")
    records = read_records(path)
    formatting = formatting or detect_formatting(records)
    if formatting not in ("alpaca", "sharegpt"):
        raise BridgeError(f"unknown formatting {formatting!r}; expected alpaca or sharegpt")
    result, problems = validate(records, formatting)
    if problems:
        raise BridgeError(f"{path} is not a valid {formatting} file:\n  " + "\n  ".join(problems))
    return records, formatting, result


def register_file(name: str, path: str | Path, dataset_dir: str | Path, formatting: str | None = None,
                  force: bool = False, dry_run: bool = False, test_path: str | Path | None = None,
                  scrub_pii: bool = False) -> dict:
    """Validate ``path`` and register it as ``name``; returns the entry written (or that would be).

    With ``test_path`` (a held-out file in the same format) a leak-free copy of it is written to
    ``<dataset_dir>/<name>_test.jsonl`` and registered as ``<name>_test``: records whose prompt is also in
    ``path`` or earlier in ``test_path`` are left out (bridge/splits.py; the user's files are never
    changed). Both entries and the copy are committed together.
    """
    path, dataset_dir = Path(path), Path(dataset_dir)
    try:
        check_name(name, "dataset name")  # it becomes <dataset_dir>/<name>_test.jsonl
    except BadName as exc:
        raise BridgeError(str(exc)) from None
    records, formatting, result = _read_valid(path, formatting)
    masked = Counter()
    if scrub_pii:
        records = [scrub_record(r, masked) for r in records]
    try:
        file_name = str(path.resolve().relative_to(dataset_dir.resolve()))
    except ValueError:
        file_name = str(path.resolve())  # LLaMA-Factory accepts absolute file_name outside dataset_dir
    scrubbed = None
    if scrub_pii:
        file_name = f"{name}.jsonl"
        if (dataset_dir / file_name).resolve() == path.resolve():
            raise BridgeError(f"{path} is the input: the scrubbed copy would overwrite it; register under another name")
        scrubbed = "".join(jsonl_line(r) for r in records).encode("utf-8")
    entry = _entry(file_name, formatting, result)
    source_sha = sha256_file(path)
    pii_counts = {"pii_masked": dict(sorted(masked.items()))} if scrub_pii else {}
    manifest_entries = {name: {"file_name": file_name, "split": "train",
                               "sha256": hashlib.sha256(scrubbed).hexdigest() if scrubbed is not None else source_sha,
                               "source": {"path": str(path.resolve()), "sha256": source_sha},
                               "converter": "register", "converter_version": 1,
                               "params": {"formatting": formatting, **({"scrub_pii": True} if scrub_pii else {})},
                               "counts": {"read": len(records), "written": {"train": len(records)}, **pii_counts}}}
    entries = {name: entry}
    out = {"entry": entry, "rows": len(records), **pii_counts}
    held = None
    if test_path is not None:
        test_path = Path(test_path)
        test_name, test_file = f"{name}_test", f"{name}_test.jsonl"
        target = dataset_dir / test_file
        if target.resolve() in (path.resolve(), test_path.resolve()):
            raise BridgeError(f"{target} is an input: the held-out copy would overwrite it; register under another "
                              "name or move the file")
        test_records, _, _ = _read_valid(test_path, formatting)
        if scrub_pii:
            test_masked = Counter()
            test_records = [scrub_record(r, test_masked) for r in test_records]
        held = leak_free(records, test_records, len(test_records))
        if not held.test:
            raise BridgeError(f"{test_path}: all {len(test_records)} held-out records share their prompt with "
                              f"{path} or an earlier held-out record; nothing was registered")
        entries[test_name] = {**entry, "file_name": test_file}
        out.update(test_entry=entries[test_name], test_rows=len(held.test), leaks_removed=held.removed)
    info, manifest = registry.load_dataset_info(dataset_dir), registry.load_manifest(dataset_dir)
    registry.check_conflicts(info, manifest, entries, force)
    if dry_run:
        return {**out, "status": "dry-run"}
    staged = {}
    if scrubbed is not None:
        with staged_writer(dataset_dir / file_name, "wb") as (handle, tmp):
            handle.write(scrubbed)
        staged[file_name] = tmp
    if held is not None:
        with staged_writer(dataset_dir / test_file, "wb") as (handle, tmp):
            data = "".join(jsonl_line(r) for r in held.test).encode("utf-8")
            handle.write(data)
        staged[test_file] = tmp
        test_sha = sha256_file(test_path)
        manifest_entries[test_name] = {
            "file_name": test_file, "split": "test", "sha256": hashlib.sha256(data).hexdigest(),
            "source": {"path": str(test_path.resolve()), "sha256": test_sha}, "converter": "register",
            "converter_version": 1, "params": {"formatting": formatting},
            "counts": {"read": len(test_records), "written": {"test": len(held.test)},
                       "leaks_removed": held.removed,
                       **({"pii_masked": dict(sorted(test_masked.items()))} if scrub_pii else {})}}
    changes = registry.commit(dataset_dir, staged, entries, manifest_entries, force=force)
    return {**out, "status": changes[name], "changes": changes}
