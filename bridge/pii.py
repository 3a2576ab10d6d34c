"""Mask personal identifiers in patient text (dialog, mrg, and user data registered with ``--scrub-pii``).

Each identifier becomes a typed placeholder; the counts per type go to the summary and the manifest.

- ``id_card`` → ``[身份证号]``: 18-character resident ID (6-digit region, a real birth date 18xx–20xx, 3-digit
  sequence, GB 11643-1999 mod 11-2 check character 0–9 or X); a number failing the check is left alone.
- ``id_card_15`` → ``[身份证号]``: 15-digit first-generation ID (region, YYMMDD birth date, sequence; no check).
- ``bank_card`` → ``[银行卡号]``: 16–19 digits (optionally grouped by spaces or hyphens) passing the Luhn check.
- ``mobile`` → ``[电话]``: mainland mobile ``1[3-9]`` + 9 digits, optionally ``+86``/``86``, plain or grouped
  (138-1234-5678, 138 1234 5678).
- ``landline`` → ``[电话]``: ``0`` + 2–3 digit area code, then 7–8 digits: ``010-62345678`` or ``(010)62345678``.
- ``email`` → ``[邮箱]``: ``local@domain.tld`` (ASCII).
- ``url`` → ``[网址]``: ``http://``, ``https://`` or ``www.`` followed by ASCII URL characters.

Not covered: names, addresses, hospitals, QQ/WeChat ids, landlines written without a separator, plate and
passport numbers — finding those needs named-entity recognition or context (out of scope; see README).

Digit identifiers are bounded by digits only (``ID110105…`` is still an ID). Every pattern is linear-time:
each starts with a look-behind that fails inside a run of the characters it consumes (so a long digit or
letter run is scanned once, not once per start position), quantifiers are bounded or
possessive, and validity (check digit, Luhn, dates) is decided in Python on the match.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date

#: Placeholder written for each identifier type.
PLACEHOLDERS = {"id_card": "[身份证号]", "id_card_15": "[身份证号]", "bank_card": "[银行卡号]", "mobile": "[电话]",
                "landline": "[电话]", "email": "[邮箱]", "url": "[网址]"}
#: GB 11643-1999: weights of the first 17 digits, and the check character for (weighted sum mod 11).
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"

_DAY = r"(?:0[1-9]|[12]\d|3[01])"
_MONTH = r"(?:0[1-9]|1[0-2])"
# Order matters: longer digit identifiers first, so a resident ID is never read as a bank card or phone.
_PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    ("id_card", re.compile(rf"(?<![0-9])[1-9]\d{{5}}(?:18|19|20)\d\d{_MONTH}{_DAY}\d{{3}}[0-9Xx](?![0-9])")),
    ("id_card_15", re.compile(rf"(?<![0-9])[1-9]\d{{5}}\d\d{_MONTH}{_DAY}\d{{3}}(?![0-9])")),
    ("bank_card", re.compile(r"(?<![0-9])[1-9]\d{3}(?:[ -]?\d{4}){3}(?:[ -]?\d{1,3})?(?![0-9])")),
    ("mobile", re.compile(r"(?<![0-9+])(?:\+?86[ -]?)?1[3-9]\d(?:\d{8}|[ -]\d{4}[ -]\d{4})(?![0-9])")),
    ("landline", re.compile(r"(?<![0-9])(?:0\d{2,3}-|[(（]0\d{2,3}[)）] ?)[2-9]\d{6,7}(?![0-9])")),
    ("email", re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*+"
                         r"(?![A-Za-z0-9-])")),
    ("url", re.compile(r"(?<![A-Za-z0-9])(?:[Hh][Tt][Tt][Pp][Ss]?://|[Ww][Ww][Ww]\.)[A-Za-z0-9\-._~:/?#@!$&*+,;=%]++")),
)
# Characters one of the patterns needs: text without any of them is returned at once (most dialogue turns).
_NEEDS = re.compile(r"\d{3}|@|[Hh][Tt][Tt][Pp]|[Ww][Ww][Ww]\.")


def id_check_char(first17: str) -> str:
    """The GB 11643-1999 mod 11-2 check character (0–9 or X) of an ID's first 17 digits."""
    return ID_CHECK[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def valid_id18(number: str) -> bool:
    """True for an 18-character resident ID whose birth date exists and whose check character is right."""
    if len(number) != 18 or not number[:17].isdigit() or not _real_date(number[6:14]):
        return False
    return id_check_char(number[:17]) == number[17].upper()


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check bank card numbers pass."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _real_date(yyyymmdd: str) -> bool:
    try:
        date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return True


def _accept(kind: str, text: str) -> bool:
    """Whether a match of ``kind`` really is one (the patterns find candidates; checks decide)."""
    if kind == "id_card":
        return valid_id18(text)
    if kind == "id_card_15":
        return _real_date("19" + text[6:12])
    if kind == "bank_card":
        digits = text.replace(" ", "").replace("-", "")
        return 16 <= len(digits) <= 19 and luhn_ok(digits)
    if kind == "email":
        tld = text.rsplit(".", 1)
        return "." in text.split("@", 1)[1] and tld[-1].isalpha() and len(tld[-1]) >= 2
    return True


def scrub(text: str) -> tuple[str, Counter]:
    """``text`` with every identifier replaced by its placeholder, and how many of each type were masked."""
    found: Counter = Counter()
    if not _NEEDS.search(text):
        return text, found
    for kind, pattern in _PATTERNS:
        def replace(match: re.Match, kind=kind) -> str:
            if not _accept(kind, match.group()):
                return match.group()
            found[kind] += 1
            return PLACEHOLDERS[kind]

        text = pattern.sub(replace, text)
    return text, found


def scrub_record(record, found: Counter):
    """A copy of ``record`` (dict / list / str, any depth) with every string scrubbed; adds to ``found``."""
    if isinstance(record, str):
        text, counts = scrub(record)
        found.update(counts)
        return text
    if isinstance(record, dict):
        return {key: scrub_record(value, found) for key, value in record.items()}
    if isinstance(record, list):
        return [scrub_record(value, found) for value in record]
    return record


def scrub_splits(splits: dict[str, list], found: Counter) -> dict[str, list]:
    """Every record of every split scrubbed (the pool too, so the leak rule compares scrubbed prompts)."""
    return {name: [scrub_record(r, found) for r in records] for name, records in splits.items()}
