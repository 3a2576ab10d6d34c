"""Validate and register a user's own alpaca or sharegpt file (e.g. general data to mix with the domain sets)."""

from __future__ import annotations

import json
from pathlib import Path

from bridge import registry
from bridge.common import BridgeError
from bridge.jsonstream import load_json
from medft.io import sha256_file

MAX_PROBLEMS = 20
SHAREGPT_STYLES = {
    # messages key -> (role key, content key, user, assistant, system tags)
    "conversations": ("from", "value", "human", "gpt", "system"),
    "messages": ("role", "content", "user", "assistant", "system"),
}


def read_records(path: Path) -> list:
    """Records of a .json array or a .jsonl file (one object per line); decode errors name file and line."""
    if path.suffix.lower() == ".jsonl":
        records = []
        with open(path, encoding="utf-8-sig") as handle:
            for lineno, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise BridgeError(f"{path}: line {lineno}, column {exc.colno}: malformed JSON: {exc.msg}") from None
        return records
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


def register_file(name: str, path: str | Path, dataset_dir: str | Path, formatting: str | None = None,
                  force: bool = False, dry_run: bool = False) -> dict:
    """Validate ``path`` and register it as ``name``; returns the entry written (or that would be)."""
    path, dataset_dir = Path(path), Path(dataset_dir)
    if not path.is_file():
        raise BridgeError(f"file not found: {path}")
    records = read_records(path)
    formatting = formatting or detect_formatting(records)
    if formatting not in ("alpaca", "sharegpt"):
        raise BridgeError(f"unknown formatting {formatting!r}; expected alpaca or sharegpt")
    result, problems = validate(records, formatting)
    if problems:
        raise BridgeError(f"{path} is not a valid {formatting} file:\n  " + "\n  ".join(problems))
    try:
        file_name = str(path.resolve().relative_to(dataset_dir.resolve()))
    except ValueError:
        file_name = str(path.resolve())  # LLaMA-Factory accepts absolute file_name outside dataset_dir
    entry = {"file_name": file_name, "formatting": formatting}
    if formatting == "alpaca":
        entry["columns"] = result
    else:
        entry["columns"] = result["columns"]
        if result["tags"]:
            entry["tags"] = result["tags"]
    manifest_entry = {"file_name": file_name, "sha256": sha256_file(path),
                      "source": {"path": str(path.resolve()), "sha256": sha256_file(path)},
                      "converter": "register", "converter_version": 1, "params": {"formatting": formatting},
                      "counts": {"read": len(records), "written": {"train": len(records)}}}
    info, manifest = registry.load_dataset_info(dataset_dir), registry.load_manifest(dataset_dir)
    registry.check_conflicts(info, manifest, {name: entry}, force)
    if dry_run:
        return {"entry": entry, "rows": len(records), "status": "dry-run"}
    changes = registry.register(dataset_dir, {name: entry}, {name: manifest_entry}, force=force)
    return {"entry": entry, "rows": len(records), "status": changes[name]}
