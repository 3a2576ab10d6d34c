"""What every converter shares: counts, errors, prompt templates, blank checks, seeded sampling."""

from __future__ import annotations

import hashlib
import json
import math
import random
import string
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import click

#: Placeholder answers the real data uses for "no content"; such records teach nothing.
BLANK_VALUES = frozenset({"", "无"})
#: Longer text is never blank: the length test spares hashing every fresh 800k-record string.
LONGEST_BLANK = max(map(len, BLANK_VALUES))


class BridgeError(click.ClickException):
    """A problem with the user's input that the CLI reports as one clear message (no traceback)."""


@dataclass
class Counts:
    """What a conversion did: records read, written per split, skipped by reason, duplicates seen."""

    read: int = 0
    written: dict[str, int] = field(default_factory=dict)
    skipped: Counter = field(default_factory=Counter)
    duplicates: int = 0
    duplicates_dropped: int = 0
    #: Held-out records dropped by the leak rule (bridge/splits.py): prompt also in training, or repeated.
    leaks_removed: int = 0
    #: Problems that did not stop the conversion (a held-out split shorter than asked), shown in the summary.
    warnings: list[str] = field(default_factory=list)
    #: Identifiers masked per type (bridge/pii.py); None when the conversion did not scrub.
    pii_masked: Counter | None = None

    def skip(self, reason: str) -> None:
        """Count one record skipped for ``reason``."""
        self.skipped[reason] += 1

    def to_dict(self) -> dict:
        """Plain, key-sorted dict for JSON (the manifest and ``--dry-run`` output)."""
        return {
            "read": self.read,
            "written": dict(sorted(self.written.items())),
            "skipped": dict(sorted(self.skipped.items())),
            "duplicates": self.duplicates,
            "duplicates_dropped": self.duplicates_dropped,
            "leaks_removed": self.leaks_removed,
            "warnings": list(self.warnings),
            **({} if self.pii_masked is None else {"pii_masked": dict(sorted(self.pii_masked.items()))}),
        }


#: Characters json.dumps leaves raw that str.splitlines() (and so many jsonl readers) takes for line ends.
_LINE_BREAKING = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def jsonl_line(record) -> str:
    """One jsonl line: compact UTF-8 JSON (not ASCII-escaped) ending in "\\n", with U+0085/U+2028/U+2029
    escaped so that every reader, even one splitting on Unicode line breaks, sees one record per line."""
    line = json.dumps(record, ensure_ascii=False)
    if any(char in line for char in _LINE_BREAKING):
        for char, escaped in _LINE_BREAKING.items():
            line = line.replace(char, escaped)
    return line + "\n"


def is_blank(value) -> bool:
    """True for None, NaN, whitespace-only text and the placeholder "无"."""
    if value.__class__ is str:
        # Fast path for the 800k-record stream: strip() returns text without edge whitespace itself, uncopied.
        stripped = value.strip()
        return len(stripped) <= LONGEST_BLANK and stripped in BLANK_VALUES
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() in BLANK_VALUES


def cell_text(value) -> str | None:
    """Spreadsheet cell as text: None for empty/NaN; integral floats lose their ".0" (Excel stores 3 as 3.0)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = value if isinstance(value, str) else str(value)
    return None if not text.strip() else text


@dataclass(frozen=True)
class Prompt:
    """A prompt template with ``{name}`` placeholders; literal braces are written ``{{`` and ``}}``."""

    text: str
    fields: tuple[str, ...]

    def render(self, **values: str) -> str:
        """Fill the placeholders (the data's text is inserted verbatim)."""
        return self.text.format_map(values)

    @property
    def sha256(self) -> str:
        """Hash recorded in the manifest so a changed prompt re-runs the conversion."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def load_prompt(default: str, fields: tuple[str, ...], path: str | Path | None = None) -> Prompt:
    """Return the default prompt, or the template in ``path`` (UTF-8 text, used verbatim) after checking it.

    The file must use exactly the placeholders the source provides, so a typo fails here
    rather than producing thousands of prompts with a literal ``{titel}`` in them.
    """
    text = default
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise BridgeError(f"cannot read prompt file {path}: {exc.strerror}") from exc
    try:
        used = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise BridgeError(f"prompt template {path or '(default)'} is not valid: {exc}") from exc
    unknown, missing = used - set(fields), set(fields) - used
    if unknown or missing:
        raise BridgeError(
            f"prompt template {path or '(default)'}: "
            + (f"unknown placeholder(s) {sorted(unknown)}; " if unknown else "")
            + (f"missing placeholder(s) {sorted(missing)}; " if missing else "")
            + f"expected exactly {['{' + f + '}' for f in fields]}"
        )
    return Prompt(text, fields)


def sample_ordered(items: list, k: int | None, seed: int) -> list:
    """A seeded sample of ``k`` items kept in their original order (all items when k is None or large)."""
    return sample_with_rest(items, k, seed)[0]


def sample_with_rest(items: list, k: int | None, seed: int) -> tuple[list, list]:
    """:func:`sample_ordered`, plus the items it left out in a seeded order (the pool a held-out split is
    refilled from when the leak rule drops records)."""
    if k is None or k >= len(items):
        return list(items), []
    keep = sorted(random.Random(seed).sample(range(len(items)), k))
    chosen = set(keep)
    rest = [i for i in random.Random(seed + 1).sample(range(len(items)), len(items)) if i not in chosen]
    return [items[i] for i in keep], [items[i] for i in rest]


#: A held-out split cut from the same file as the training split never takes more than this share.
MAX_TEST_SHARE = 0.2


def held_out_size(available: int, test_size: int) -> int:
    """``test_size``, capped at 20 % of the usable records so a small input still leaves most for training."""
    return min(test_size, int(available * MAX_TEST_SHARE))


def record_key(record: dict) -> bytes:
    """Identity of an output record for duplicate detection: its alpaca fields."""
    payload = json.dumps([record["instruction"], record["input"], record["output"]], ensure_ascii=False)
    return hashlib.blake2b(payload.encode("utf-8"), digest_size=12).digest()


def mark_duplicates(splits: dict[str, list[dict]], counts: Counts, drop: bool) -> dict[str, list[dict]]:
    """Count records repeating an earlier one (test first, so a leaked test item is dropped from train).

    With ``drop`` the repeats are removed; otherwise they are only counted.
    """
    seen: set[bytes] = set()
    order = sorted(splits, key=lambda name: name != "test")
    result = {}
    for name in order:
        kept = []
        for record in splits[name]:
            key = record_key(record)
            if key in seen:
                counts.duplicates += 1
                if drop:
                    counts.duplicates_dropped += 1
                    continue
            seen.add(key)
            kept.append(record)
        result[name] = kept
    return {name: result[name] for name in splits}


#: Keys that identify each source's records, to name the right source when a file is given to the wrong one.
SIGNATURES = {
    "dialog": ("instruction", "input", "output"),
    "o1": ("Question", "Complex_CoT", "Response"),
    "mrg": ("dialogue", "report"),
    "norm (CHIP-CDN)": ("text", "normalized_result"),
}


def guess_source(record: dict) -> str | None:
    """The source whose signature keys ``record`` has, if any."""
    keys = {k.lstrip("\ufeff") for k in record if isinstance(k, str)}
    return next((name for name, sig in SIGNATURES.items() if set(sig) <= keys), None)


def require_keys(record: dict, expected: tuple[str, ...], where: str) -> None:
    """Raise naming the missing key(s), listing what a record of this source must have (and what it looks like)."""
    missing = [key for key in expected if key not in record]
    if missing:
        guess = guess_source(record)
        hint = f" (this looks like a record of {guess}: wrong file for this source?)" if guess else ""
        raise BridgeError(f"{where}: missing key(s) {missing}; expected keys {list(expected)}{hint}")
