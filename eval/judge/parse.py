"""Read a judge's reply: scores per dimension (pointwise) or a winner (pairwise), or None.

Judges wrap their JSON in prose or code fences, use the dimension's Chinese name instead of its key,
write numbers as strings ("4", "4分", "4/5"), or use full-width punctuation. The parsers accept all
of that, never raise, and return None when the reply does not say what was asked: a missing
dimension, a score outside 1-5, a winner other than A / B / tie. None is counted as *unparsed*, never
as a score.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence

SCALE = range(1, 6)
#: Full-width characters judges write in JSON-ish replies, folded before a second parsing attempt.
_FOLD = str.maketrans({"“": '"', "”": '"', "＂": '"', "：": ":", "，": ",", "｛": "{", "｝": "}", "＃": "#"})
_SCORE_TEXT = re.compile(r"^\s*([1-5])(?:\.0+)?\s*(?:分|points?)?\s*(?:/\s*5\s*(?:分)?)?\s*$", re.IGNORECASE)
_WINNERS = {"a": "A", "ａ": "A", "回答a": "A", "答案a": "A", "模型a": "A",
            "b": "B", "ｂ": "B", "回答b": "B", "答案b": "B", "模型b": "B",
            "tie": "tie", "draw": "tie", "equal": "tie", "平局": "tie", "平手": "tie", "相当": "tie", "一样好": "tie"}
_WINNER_KEYS = ("winner", "胜者", "更好", "better", "verdict", "结论")


#: Only the reply's last TAIL characters are read: the verdict ends the reply, and a bounded window keeps
#: every parse cheap however long (or hostile) the reply is.
TAIL = 8192
#: At most this many brace-balanced spans are handed to the JSON decoder per pass, last first.
MAX_DECODES = 64


def _spans(text: str) -> set[tuple[int, int]]:
    """``(start, end)`` of brace-balanced ``{...}`` in ``text``, in two linear passes, as a set.

    One pass skips braces inside JSON strings (a string opened inside an object also ends at a newline,
    which JSON strings never hold); the other counts every brace. Truncated or hostile text can flip the
    first pass's idea of what is inside a string, hiding the verdict; the second still sees it. What is not
    an object fails to decode later. Unmatched braces are skipped.
    """
    spans: set[tuple[int, int]] = set()
    for skip_strings in (True, False):
        stack: list[int] = []
        in_string = escaped = False
        for index, char in enumerate(text):
            if in_string:
                if escaped:
                    escaped = False
                elif char == "\\":
                    escaped = True
                elif char == '"' or char == "\n":
                    in_string = False
            elif char == '"':
                in_string = skip_strings and bool(stack)
            elif char == "{":
                stack.append(index)
            elif char == "}" and stack:
                spans.add((stack.pop(), index + 1))
    return spans


def _decode(text: str) -> object:
    """json.loads, on its own line so the work it does can be counted (tests)."""
    return json.loads(text)


def _objects(text: str) -> Iterator[dict]:
    """The JSON objects in ``text`` (its tail), the one that ends last first; each object's nested objects
    follow it. Bounded work: one linear scan plus at most MAX_DECODES decodes of at most TAIL characters."""
    spans = sorted(_spans(text), key=lambda span: (-span[1], span[0]))[:MAX_DECODES]
    for start, end in spans:
        try:
            value = _decode(text[start:end])
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict):
            yield value
            yield from (v for v in value.values() if isinstance(v, dict))


def _candidates(text: str) -> Iterator[dict]:
    tail = text[-TAIL:]
    yield from _objects(tail)
    folded = tail.translate(_FOLD)
    if folded != tail:
        yield from _objects(folded)


def score_value(value: object) -> int | None:
    """1-5 from ``4``, ``4.0``, ``"4"``, ``"4分"``, ``"4/5"``; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value) if value == int(value) and int(value) in SCALE else None
    if isinstance(value, str):
        match = _SCORE_TEXT.match(value)
        return int(match.group(1)) if match else None
    return None


def parse_scores(reply: str, dimensions: Sequence[tuple[str, str]]) -> dict[str, int] | None:
    """Scores ``{key: 1..5}`` for every ``(key, name)`` dimension, or None if any is missing or invalid.

    The judge's final verdict wins: the JSON object ending last in the reply that scores any dimension (by
    key or by name) decides, and must score all of them; so an answer's injected ``{... 5 ...}`` that the
    judge quotes before its own verdict is not read as the verdict. A reply without one is read as
    ``名称：4`` lines. Only the last TAIL characters are read.
    """
    if not isinstance(reply, str) or not dimensions:
        return None
    for candidate in _candidates(reply):
        if any(key in candidate or name in candidate for key, name in dimensions):
            return _from_mapping(candidate, dimensions)  # the final verdict; incomplete means unparsed
    return _from_lines(reply[-TAIL:].translate(_FOLD), dimensions)


def _from_mapping(candidate: Mapping, dimensions: Sequence[tuple[str, str]]) -> dict[str, int] | None:
    scores = {}
    for key, name in dimensions:
        raw = candidate.get(key, candidate.get(name))
        value = score_value(raw)
        if value is None:
            return None
        scores[key] = value
    return scores


def _from_lines(text: str, dimensions: Sequence[tuple[str, str]]) -> dict[str, int] | None:
    scores = {}
    for key, name in dimensions:
        pattern = rf'(?:{re.escape(key)}|{re.escape(name)})\s*"?\s*[:=]\s*"?\s*([1-5])(?![\d.])'
        found = {int(m) for m in re.findall(pattern, text)}
        if len(found) != 1:  # absent, or contradictory scores for one dimension
            return None
        scores[key] = found.pop()
    return scores


def winner_value(value: object) -> str | None:
    """``"A"``, ``"B"`` or ``"tie"`` from the spellings judges use; None for anything else."""
    if not isinstance(value, str):
        return None
    return _WINNERS.get(re.sub(r"[\s\"'“”]", "", value).lower())


def parse_winner(reply: str) -> str | None:
    """The verdict of a pairwise reply: ``"A"``, ``"B"`` or ``"tie"``, or None.

    As for scores, the object ending last that names a winner decides (``回答B说 {"winner": "B"}，但我认为
    {"winner": "A"}`` is A); only the last TAIL characters are read.
    """
    if not isinstance(reply, str):
        return None
    for candidate in _candidates(reply):
        for key in _WINNER_KEYS:
            if key in candidate:
                return winner_value(candidate[key])
    folded = reply[-TAIL:].translate(_FOLD)
    found = {winner_value(m) for m in re.findall(r'"?winner"?\s*:\s*"?([A-Za-z]+)"?', folded, flags=re.IGNORECASE)}
    found.discard(None)
    return found.pop() if len(found) == 1 else None
