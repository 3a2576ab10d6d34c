"""Stream the elements of a huge top-level JSON array with flat memory.

``json.load`` on the 634 MB dialogue array peaks above 2 GB; decoding one element at a time with
``JSONDecoder.raw_decode`` over a moving buffer keeps only the buffer (a few MB) in memory.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from bridge.common import BridgeError
from bridge.textfile import truncated, utf8_problem

CHUNK_CHARS = 1 << 22  # bytes per read
#: A decode error this far before the end of the buffer is real, not an element cut at the chunk edge
#: (the largest real record is well under 1 MB).
CERTAIN_ERROR_MARGIN = 4 << 20
_WS_RUN = re.compile(r"[ \t\n\r]*")
#: Characters that must follow an element in the buffer before it is trusted (longer than any number).
LOOKAHEAD = 64


def iter_json_array(path: str | Path, progress: Callable[[int], None] | None = None) -> Iterator:
    """Yield the elements of the JSON array in ``path`` one by one (UTF-8, optional BOM).

    ``progress`` is called with the number of bytes read so far. Malformed JSON raises
    BridgeError naming the file, the line and the character offset.
    """
    path = Path(path)
    decoder = json.JSONDecoder()
    # Bytes in, one incremental decode per chunk: faster than a text-mode read(n) and exact for byte progress.
    text_decoder = codecs.getincrementaldecoder("utf-8-sig")()
    read_bytes = 0
    with open(path, "rb") as handle:
        buf = ""
        pos = 0
        eof = False
        lines_before = 0  # newlines in text already dropped from the buffer
        offset_before = 0  # characters already dropped from the buffer

        def fill(grow: bool = False) -> None:
            nonlocal buf, pos, eof, lines_before, offset_before
            # Drop what is decoded so the buffer never holds more than the current element plus a chunk.
            lines_before += buf.count("\n", 0, pos)
            offset_before += pos
            buf = buf[pos:]
            pos = 0
            nonlocal read_bytes
            # An element longer than a chunk is decoded again after each read: doubling the read keeps
            # that linear in the element's size (a 600 MB string is valid JSON too).
            raw = handle.read(max(CHUNK_CHARS, len(buf)) if grow else CHUNK_CHARS)
            read_bytes += len(raw)
            try:
                chunk = text_decoder.decode(raw, final=not raw)
            except UnicodeDecodeError as exc:
                if not raw:
                    raise BridgeError(truncated(path, read_bytes)) from None
                message = utf8_problem(path, exc, offset=read_bytes - len(raw))
                raise BridgeError(f"{message}; expected a UTF-8 JSON file") from None
            if not raw:
                eof = True
            buf += chunk
            if progress is not None:
                progress(read_bytes)

        def where(at: int) -> str:
            line = lines_before + buf.count("\n", 0, at) + 1
            return f"{path}: line {line}, character offset {offset_before + at}"

        def skip_ws() -> None:
            nonlocal pos
            while True:
                pos = _WS_RUN.match(buf, pos).end()
                if pos < len(buf) or eof:
                    return
                fill()

        fill()
        skip_ws()
        if pos >= len(buf):
            raise BridgeError(f"{path}: file is empty; expected a JSON array")
        if buf[pos] != "[":
            raise BridgeError(f"{where(pos)}: expected a JSON array starting with '[', found {buf[pos]!r}")
        pos += 1
        skip_ws()
        if pos < len(buf) and buf[pos] == "]":
            return
        ws_end = _WS_RUN.match
        while True:
            pos = ws_end(buf, pos).end()
            if pos >= len(buf):
                skip_ws()
            if pos >= len(buf):
                raise BridgeError(f"{where(pos)}: unexpected end of file inside the JSON array")
            try:
                obj, end = decoder.raw_decode(buf, pos)
            except json.JSONDecodeError as exc:
                # Near the buffer's end the element may just be cut at the chunk edge; an unterminated
                # string (reported at its start) may be a long string that runs past the buffer.
                if not eof and (len(buf) - exc.pos < CERTAIN_ERROR_MARGIN
                                or exc.msg.startswith("Unterminated string")):
                    fill(grow=True)
                    continue
                raise BridgeError(f"{where(exc.pos)}: malformed JSON: {exc.msg}") from None
            except RecursionError:
                raise BridgeError(f"{where(pos)}: JSON nested too deeply to read") from None
            if not eof and end + LOOKAHEAD > len(buf):
                # A number cut at the chunk edge ("-0.25e" | "3") decodes as a shorter number; decode again
                # once the text after the element is in the buffer.
                fill()
                continue
            yield obj
            pos = ws_end(buf, end).end()
            if pos >= len(buf):
                skip_ws()
            if pos >= len(buf):
                raise BridgeError(f"{where(pos)}: unexpected end of file inside the JSON array")
            if buf[pos] == ",":
                pos += 1
            elif buf[pos] == "]":
                pos += 1
                skip_ws()
                if pos < len(buf):
                    raise BridgeError(f"{where(pos)}: unexpected data after the JSON array")
                return
            else:
                raise BridgeError(f"{where(pos)}: malformed JSON: expected ',' or ']' after an element")


def load_json(path: str | Path):
    """Load a whole (small) JSON file, turning a decode error into a BridgeError with file and position."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise BridgeError(f"{path} is a directory; expected a JSON file") from None
    except OSError as exc:
        raise BridgeError(f"cannot read {path}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BridgeError(f"{utf8_problem(path, exc, data)}; expected a UTF-8 JSON file") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BridgeError(f"{path}: line {exc.lineno}, column {exc.colno}: malformed JSON: {exc.msg}") from None
    except RecursionError:
        raise BridgeError(f"{path}: JSON nested too deeply to read") from None
