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


def is_truncation(exc: UnicodeDecodeError) -> bool:
    """True when decoding failed only because the data ends inside a multi-byte character."""
    return exc.reason in ("unexpected end of data", "incomplete multibyte sequence") and exc.end >= len(exc.object)


def truncated(path: str | Path, at_byte: int | None = None) -> str:
    """The message for a file that ends inside a multi-byte character: cut short, not in another encoding."""
    where = f" (byte {at_byte})" if at_byte is not None else ""
    return (f"{path}: the file is truncated: it ends inside a multi-byte character{where}; "
            "the download or copy was cut short, fetch it again")


def utf8_problem(path: str | Path, exc: UnicodeDecodeError, data: bytes | None = None, offset: int = 0) -> str:
    """One line for a file that failed to decode as UTF-8: truncated, GBK (Windows "ANSI"), or just not UTF-8.

    ``data`` (the whole file, when at hand) lets the message say whether GB18030 would read it; ``offset``
    is the position of ``exc.object`` in the file.
    """
    if is_truncation(exc):
        return truncated(path, offset + exc.start)
    hint = ""
    if data is not None:
        try:
            data.decode("gb18030")
            hint = ' (it reads as GBK/GB18030, what Windows Notepad saves as "ANSI": re-save it as UTF-8)'
        except UnicodeDecodeError:
            pass
    return f"{path}: not UTF-8 text (byte {offset + exc.start}: {exc.reason}){hint}"


def decode_error(path: str | Path, enc: str, exc: UnicodeDecodeError) -> BridgeError:
    """The message for a file that is not valid text in the encoding it was read with."""
    if is_truncation(exc):
        return BridgeError(truncated(path))
    return BridgeError(
        f"{path}: cannot decode as {enc} ({exc.reason}); pass --encoding (utf-8, utf-8-sig or gb18030)"
    )


def read_utf8_text(path: Path, *, if_directory: str, if_not_utf8: str, missing_ok: bool = False) -> str | None:
    """The whole of a small UTF-8 file (BOM dropped); None when it is absent and ``missing_ok``.

    Every failure is one BridgeError line: ``if_directory`` is the message for a directory, and a
    decode error names the byte (or the truncation) followed by ``if_not_utf8``.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        if missing_ok:
            return None
        raise BridgeError(f"cannot read {path}: {exc.strerror}") from None
    except IsADirectoryError:
        raise BridgeError(if_directory) from None
    except OSError as exc:
        raise BridgeError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BridgeError(f"{utf8_problem(path, exc, data)}; {if_not_utf8}") from None
