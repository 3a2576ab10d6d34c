"""Read raw CSV files (CMExam, CMMLU; Toyhom dialog shares the field limit): any encoding, columns by header
name, clear errors."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path

from bridge.common import BridgeError
from bridge.textfile import decode_error, detect_encoding, open_text

#: The csv module refuses fields over 128 KiB by default; a long answer or explanation is still a valid field.
CSV_FIELD_LIMIT = 1 << 30


def allow_long_fields() -> None:
    """Raise the csv module's field limit (a C long: 2**30 fits everywhere, sys.maxsize may overflow)."""
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)


def read_rows(path: Path, required: Sequence[str], expected: str) -> Iterator[tuple[str, int, dict[str, str]]]:
    """Yield ``(where, record number, {column: cell})`` for every row of a CSV whose header has ``required``.

    ``expected`` describes the header in the error for a file without those columns; a row whose cell count
    differs from the header's is an error naming the record and line.
    """
    allow_long_fields()
    enc = detect_encoding(path)
    try:
        with open_text(path, enc) as handle:
            reader = csv.reader(handle)
            header = [name.strip().lstrip("\ufeff") for name in next(reader, [])]
            missing = [col for col in required if col not in header]
            if missing:
                raise BridgeError(f"{path}: missing column(s) {missing}; expected {expected}, found {header}")
            for number, row in enumerate(reader, 1):
                where = f"{path}: record {number} (line {reader.line_num})"
                if len(row) != len(header):
                    raise BridgeError(f"{where}: {len(row)} cells, the header has {len(header)}; malformed CSV row")
                yield where, number, dict(zip(header, row, strict=True))
    except UnicodeDecodeError as exc:
        raise decode_error(path, enc, exc) from None
    except csv.Error as exc:
        raise BridgeError(f"{path}: malformed CSV: {exc}") from None
