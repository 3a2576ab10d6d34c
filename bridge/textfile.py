"""Open raw text files whatever their encoding: UTF-8, UTF-8 with BOM, or GB18030 (the Toyhom CSVs)."""

from __future__ import annotations

import codecs
import io
from pathlib import Path

from bridge.common import BridgeError

SNIFF_BYTES = 1 << 16


def detect_encoding(path: str | Path) -> str:
    """Return "utf-8-sig" for a BOM, "utf-8" if the head decodes as UTF-8, else "gb18030".

    GB18030 can decode any byte string, so it is only chosen after UTF-8 fails; the check uses an
    incremental decoder so a multi-byte character cut at the sniff boundary is not taken as an error.
    """
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        return "gb18030"


def open_text(path: str | Path, encoding: str | None = None) -> io.TextIOWrapper:
    """Open ``path`` for reading with ``encoding`` or the detected one; decode errors name the file."""
    enc = encoding or detect_encoding(path)
    try:
        codecs.lookup(enc)
    except LookupError as exc:
        raise BridgeError(f"unknown encoding {enc!r} for {path}") from exc
    return open(path, encoding=enc, newline="")


def decode_error(path: str | Path, enc: str, exc: UnicodeDecodeError) -> BridgeError:
    """The message for a file that is not valid text in the encoding it was read with."""
    return BridgeError(
        f"{path}: cannot decode as {enc} ({exc.reason}); pass --encoding (utf-8, utf-8-sig or gb18030)"
    )
