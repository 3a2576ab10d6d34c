"""The judge's append-only reply cache: one JSON line per judge call, keyed by what was asked.

The key hashes the judge's identity (weights fingerprint + template, or endpoint + served model),
the exact messages and the generation settings, so a rerun asks only what it has not asked yet and
a different judge, rubric or answer is asked afresh. Replies are stored raw and parsed when read,
so the numbers never depend on a parser that was current when the call was made. Reading skips
anything that is not one of our entries: a torn last line, a foreign JSON value, undecodable bytes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

Messages = list[dict[str, str]]


def call_key(judge: str, messages: Messages, settings: dict) -> str:
    """The cache key of one judge call."""
    payload = json.dumps([judge, messages, settings], ensure_ascii=False, sort_keys=True)
    return hashlib.sha1(payload.encode()).hexdigest()


def read(path: Path) -> dict[str, str]:
    """Cached replies by key; lines that are not ``{"key": str, "reply": str, ...}`` are skipped."""
    replies: dict[str, str] = {}
    if not path.exists():
        return replies
    for raw in path.read_bytes().split(b"\n"):
        try:
            entry = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            continue
        if isinstance(entry, dict) and isinstance(entry.get("key"), str) and isinstance(entry.get("reply"), str):
            replies[entry["key"]] = entry["reply"]
    return replies


class Appender:
    """Append entries to the cache, one flushed line each (a crash loses at most the line being written)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        _end_with_newline(path)
        self.handle = path.open("a", encoding="utf-8")

    def add(self, key: str, reply: str, **about) -> None:
        """Append one reply (``about``: what was judged, for people reading the file)."""
        self.handle.write(json.dumps({"key": key, "reply": reply, **about}, ensure_ascii=False) + "\n")
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()

    def __enter__(self) -> Appender:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _end_with_newline(path: Path) -> None:
    """End a torn last line (a crash mid-append) so the next entry starts on a line of its own.

    The torn bytes stay (reading skips them): the cache never deletes what it cannot read.
    """
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as handle:
        handle.seek(-1, 2)
        if handle.read(1) != b"\n":
            handle.write(b"\n")
