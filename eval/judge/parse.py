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


def _objects(text: str) -> Iterator[dict]:
    """Every JSON object embedded in ``text``, outermost first, in order of appearance."""
    decoder = json.JSONDecoder()
    position = text.find("{")
    while position != -1:
        try:
            value, end = decoder.raw_decode(text, position)
        except (json.JSONDecodeError, RecursionError):
            position = text.find("{", position + 1)
            continue
        if isinstance(value, dict):
            yield value
            yield from (v for v in value.values() if isinstance(v, dict))
        position = text.find("{", end)


def _candidates(text: str) -> Iterator[dict]:
    yield from _objects(text)
    folded = text.translate(_FOLD)
    if folded != text:
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

    The first JSON object in the reply that scores every dimension (by key or by name) wins; a reply
    without one is read as ``名称：4`` lines.
    """
    if not isinstance(reply, str) or not dimensions:
        return None
    for candidate in _candidates(reply):
        found = _from_mapping(candidate, dimensions)
        if found is not None:
            return found
    return _from_lines(reply.translate(_FOLD), dimensions)


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
    """The verdict of a pairwise reply: ``"A"``, ``"B"`` or ``"tie"``, or None."""
    if not isinstance(reply, str):
        return None
    for candidate in _candidates(reply):
        for key in _WINNER_KEYS:
            if key in candidate:
                return winner_value(candidate[key])
    folded = reply.translate(_FOLD)
    found = {winner_value(m) for m in re.findall(r'"?winner"?\s*:\s*"?([A-Za-z]+)"?', folded, flags=re.IGNORECASE)}
    found.discard(None)
    return found.pop() if len(found) == 1 else None
