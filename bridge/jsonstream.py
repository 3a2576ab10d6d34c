"""Stream the elements of a huge top-level JSON array with flat memory.

``json.load`` on the 634 MB dialogue array peaks above 2 GB; this reader keeps only a few MB.

Two readers share the work. The fast one hands whole-element segments of the raw bytes to orjson
(no UTF-8 decode into Python text first, which alone costs about a third of ``json``'s parse): it
cuts a buffer after the last ``}`` followed by ``,`` and parses ``[`` + segment + ``]``. That parse can
only succeed when the cut is a top-level comma: a cut inside a string leaves the string unterminated
and a cut inside a nested value leaves a bracket open, and the parser must consume its whole input.
The values are the ones ``json`` gives: a segment orjson rejects (NaN, lone surrogates) or reads
differently (integers beyond 64 bits come back as floats) is parsed again by ``json``. Anything else
(no usable cut, an element longer than the buffer, malformed JSON) hands the rest of the file, from the
next element on, to the exact reader: ``JSONDecoder.raw_decode`` over a moving text buffer, which
also produces every error message with the line and character offset.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Generator, Iterator
from itertools import chain
from pathlib import Path

import orjson

from bridge.common import BridgeError
from bridge.textfile import read_utf8_text, truncated, utf8_problem

CHUNK_CHARS = 1 << 22  # bytes per read
#: A decode error this far before the end of the buffer is real, not an element cut at the chunk edge
#: (the largest real record is well under 1 MB).
CERTAIN_ERROR_MARGIN = 4 << 20
_WS_RUN = re.compile(r"[ \t\n\r]*")
#: Characters that must follow an element in the buffer before it is trusted (longer than any number).
LOOKAHEAD = 64

_ARRAY_START = re.compile(rb"(?:\xef\xbb\xbf)?[ \t\n\r]*\[")
_JSON_WS = b" \t\n\r"
#: Candidate cuts parsed per buffer before the fast reader gives up (a "}," inside a string fails),
#: and candidates looked at in all (most are skipped without parsing).
CUT_TRIES = 3
CUT_CANDIDATES = 64
#: Buffers in a row without a cut that parses before the fast reader hands over for good.
FAILED_BUFFERS_LIMIT = 2
#: orjson reads an integer outside [-2**63, 2**64) as a float; json keeps it exact.
_WIDE = float(2**63)
_OBJECT = {dict}
_NARROW_SCALARS = {str, type(None), bool, int}


def iter_json_array(path: str | Path, progress: Callable[[int], None] | None = None) -> Iterator:
    """Yield the elements of the JSON array in ``path`` one by one (UTF-8, optional BOM), as ``json`` reads them.

    ``progress`` is called with the number of bytes read so far (never decreasing). Malformed JSON
    raises BridgeError naming the file, the line and the character offset.
    """
    path = Path(path)
    report = None if progress is None else _monotonic(progress)
    with open(path, "rb") as handle:
        resume_at = yield from _fast_elements(handle, report)
        if resume_at is not None:
            handle.seek(resume_at)
            yield from _exact_elements(path, handle, report, resume_at)


def _monotonic(progress: Callable[[int], None]) -> Callable[[int], None]:
    """``progress``, called only with values above the last one (the exact reader rereads a little)."""
    highest = -1

    def report(done: int) -> None:
        nonlocal highest
        if done > highest:
            highest = done
            progress(done)

    return report


def _fast_elements(handle, progress) -> Generator[object, None, int | None]:
    """Yield elements parsed in whole-element segments; return None at the end of the array, or the byte
    offset of the next element (0: from the start) where the exact reader must take over."""
    head = handle.read(CHUNK_CHARS)
    read_bytes = len(head)
    opening = _ARRAY_START.match(head)
    if opening is None:
        return 0  # empty, not an array, not UTF-8: the exact reader says which
    start = opening.end()  # file offset of buf[1]
    # One buffer for the whole file, always starting with "[": a segment is parsed in place (its closing
    # comma briefly becomes "]"), so no 4 MB copy is made per segment.
    buf = bytearray(b"[")
    buf += memoryview(head)[start:]
    del head
    eof = read_bytes == 0
    after_comma = False  # an element must follow: "[1,]" is not JSON
    failed_buffers = 0
    while True:
        items, cut = _leading_elements(buf)
        if items is not None:
            failed_buffers = 0
            yield from items
            start += cut - 1
            del buf[1:cut]
            after_comma = True
        elif eof:
            closing = len(buf.rstrip(_JSON_WS)) - 1
            empty_after_comma = after_comma and not buf[1:closing].strip(_JSON_WS)
            ends_well = closing > 0 and buf[closing] == 0x5D and not empty_after_comma
            items = _parse_in_place(buf, closing) if ends_well else None
            if items is None:
                return start
            yield from items
            return None
        elif cut > 0:
            failed_buffers += 1  # cuts were there but none parsed: nested elements, or malformed
            if failed_buffers >= FAILED_BUFFERS_LIMIT:
                return start
        elif len(buf) > 4 * CHUNK_CHARS:
            return start  # an element longer than the buffer, or no objects at all
        if not eof:
            raw = handle.read(CHUNK_CHARS)
            read_bytes += len(raw)
            eof = not raw
            buf += raw
            if progress is not None:
                progress(read_bytes)


def _leading_elements(buf: bytearray) -> tuple[list | None, int]:
    """The elements before the last top-level ``},`` in ``buf`` (which starts with "[") and the index just
    past that comma; (None, tries) when no cut parsed (tries: how many candidates were parsed in vain)."""
    end = len(buf)
    tries = 0
    for _ in range(CUT_CANDIDATES):
        end = buf.rfind(b"},", 1, end)
        if end < 0:
            break
        following = buf[end + 2:end + 2 + LOOKAHEAD].lstrip(_JSON_WS)[:1]
        if following not in (b"{", b""):
            continue  # "}," inside a text ("体温{38.5},咳嗽"): in an array of objects the next element opens
        items = _parse_in_place(buf, end + 1)
        if items is not None:
            return items, end + 2
        tries += 1
        if tries == CUT_TRIES:
            break
    return None, tries


def _parse_in_place(buf: bytearray, closing: int) -> list | None:
    """The elements in ``buf[1:closing]`` (comma-separated JSON values after the leading "[") as ``json``
    reads them, or None when that is not exactly whole elements. ``buf[closing]`` is "]" for the parse."""
    saved = buf[closing]
    buf[closing] = 0x5D
    try:
        with memoryview(buf) as view, view[:closing + 1] as wrapped:
            try:
                items = orjson.loads(wrapped)
            except orjson.JSONDecodeError:
                items = None
            if items is not None and not _may_hold_widened_ints(items):
                return items
            try:
                # What orjson refused or may have read differently: json decides (NaN, lone surrogates, big ints).
                return json.loads(str(wrapped, "utf-8"))
            except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
                return None
    finally:
        buf[closing] = saved


def _may_hold_widened_ints(items: list) -> bool:
    """True when a float in ``items`` lies outside ±2**63: it may be an integer orjson widened.

    An array of flat objects with text values (the dialogue and o1 files) is checked with C-level
    set/map calls, without a Python loop per record; anything else is walked.
    """
    if set(map(type, items)) <= _OBJECT:
        values = list(chain.from_iterable(map(dict.values, items)))
        if set(map(type, values)) <= _NARROW_SCALARS:
            return False
        return _has_wide_number(values)
    return _has_wide_number(items)


def _has_wide_number(value) -> bool:
    """True when a float in ``value`` lies outside ±2**63 (or is NaN): it may be an integer orjson widened."""
    kind = value.__class__
    if kind is dict:
        value = value.values()
    elif kind is not list:
        return kind is float and not -_WIDE < value < _WIDE
    return any(item.__class__ is not str and item is not None and _has_wide_number(item) for item in value)


def _prefix_position(path: Path, nbytes: int) -> tuple[int, int]:
    """Newlines and characters in the first ``nbytes`` bytes of ``path`` (BOM excluded), for error messages."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
    lines = chars = 0
    with open(path, "rb") as handle:
        while nbytes > 0:
            block = handle.read(min(CHUNK_CHARS, nbytes))
            if not block:
                break
            nbytes -= len(block)
            lines += block.count(b"\n")
            chars += len(decoder.decode(block))
    return lines, chars


def _exact_elements(path: Path, handle, progress, start: int) -> Iterator:
    """Yield elements from byte ``start`` of ``handle`` with ``json``'s decoder over a moving text buffer:
    ``start`` is 0 (the whole array) or the offset of an element just after a top-level comma."""
    decoder = json.JSONDecoder()
    # Bytes in, one incremental decode per chunk: faster than a text-mode read(n) and exact for byte progress.
    text_decoder = codecs.getincrementaldecoder("utf-8-sig" if start == 0 else "utf-8")()
    read_bytes = start
    buf = ""
    pos = 0
    eof = False
    lines_before = 0  # newlines in text already dropped from the buffer
    offset_before = 0  # characters already dropped from the buffer
    prefix: list[tuple[int, int]] = []  # (newlines, characters) before ``start``, counted on first use

    def fill(grow: bool = False) -> None:
        nonlocal buf, pos, eof, lines_before, offset_before, read_bytes
        # Drop what is decoded so the buffer never holds more than the current element plus a chunk.
        lines_before += buf.count("\n", 0, pos)
        offset_before += pos
        buf = buf[pos:]
        pos = 0
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
        if not prefix:
            prefix.append(_prefix_position(path, start) if start else (0, 0))
        prefix_lines, prefix_chars = prefix[0]
        line = prefix_lines + lines_before + buf.count("\n", 0, at) + 1
        return f"{path}: line {line}, character offset {prefix_chars + offset_before + at}"

    def skip_ws() -> None:
        nonlocal pos
        while True:
            pos = _WS_RUN.match(buf, pos).end()
            if pos < len(buf) or eof:
                return
            fill()

    fill()
    if start == 0:
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
    text = read_utf8_text(path, if_directory=f"{path} is a directory; expected a JSON file",
                          if_not_utf8="expected a UTF-8 JSON file")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BridgeError(f"{path}: line {exc.lineno}, column {exc.colno}: malformed JSON: {exc.msg}") from None
    except RecursionError:
        raise BridgeError(f"{path}: JSON nested too deeply to read") from None
