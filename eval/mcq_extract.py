"""Which option(s) a model chose, from the text it wrote: a pure function, rules tried strongest first.

Models answer exam questions in many forms: ``B``, ``B. 原发性肺结核``, ``答案：B``, ``选B``,
``正确答案是A、C``, ``AC``, full-width ``Ｂ``, the option's text instead of its letter, a reasoning model's
``</think>``, ``### 答案：`` or ``### Answer:`` section. The rules, in order (the first that finds letters wins):

1. Only the final answer counts: the text after the last answer marker of bridge's o1 format
   (``</think>``, ``### 答案``, ``### Answer``; colon and the space after ``###`` optional).
   Full-width forms are folded to ASCII first (NFKC), so ``Ｂ`` and ``答案：`` read as ``B`` and ``答案:``.
2. An explicit statement, the last one of its kind: ``答案/正确答案/正确选项 (是|为|:|选) X``,
   ``(故|应)选(择) X``, ``X (项|选项) (是|为)? 正确`` — X one letter or a run of letters joined by
   ``、 , 和 与 及`` or spaces.
3. The answer *is* letters: the text starts with them (``B``, ``(B)``, ``AC``, ``A、C``, ``B. 原发性…``),
   followed by the end, a space or punctuation — never by a word (``B超`` is an examination, not B).
4. Option texts: the options whose text the answer names (longest first, so ``继发性肺结核`` is not also
   read as ``肺结核``); taken when the answer is little more than those texts, or, for a single-answer
   question, when exactly one option is named.
5. Letters standing alone somewhere (not inside a word like ``CT`` or ``B超``): for a single-answer
   question only if exactly one option letter stands alone; for a multi-answer question all of them.

Letters are returned sorted and unique (``"CA"`` → ``"AC"``); ``None`` when no rule finds one — the
scorer counts such an answer as wrong and reports the share as ``unextracted``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from bridge.exam import LETTERS
from bridge.o1 import ANSWER_HEADINGS, THINK_CLOSE, after_last_marker

LETTER = f"[{LETTERS[0]}-{LETTERS[-1]}]"
#: A run of letters: "AC", "A、C", "A, C", "A和C", "A C D".
RUN = rf"{LETTER}(?:\s*(?:[、,/和与及]|and)?\s*{LETTER})*"
#: What may follow a letter run that is an answer: the end, space, punctuation, or a CJK particle that
#: cannot continue a term ("B。", "B选项", "AC两项" are answers; "B超", "CT" are not).
_END = r"(?=$|[\s.。,，、;；:：!！?？)）\]】」'\"]|选项|项|是|为|正确|对|两|三|四)"
_NOT_AFTER_WORD = r"(?<![A-Za-z0-9])"
_STATEMENTS = [
    # 答案：B / 正确答案是A、C / 正确选项为 AC / 答案应该是 D / 答案选C / 最佳选项：E
    re.compile(rf"(?:答案|正确(?:的)?选项|最佳(?:的)?选项)\s*(?:应该|应当|应)?\s*(?:是|为|选择?|:)?\s*(?:选项)?\s*"
               rf"[:(\[【]?\s*{_NOT_AFTER_WORD}({RUN}){_END}"),
    re.compile(rf"(?i:answer\s*(?:is|:)\s*)[(\[]?{_NOT_AFTER_WORD}({RUN}){_END}"),
    # 故选B / 应选择 C / 我选 AD
    re.compile(rf"选择?\s*(?:项)?\s*[:(\[【]?\s*{_NOT_AFTER_WORD}({RUN}){_END}"),
    # B项正确 / 选项C是正确的 / A、C正确
    re.compile(rf"{_NOT_AFTER_WORD}({RUN})\s*(?:两项|三项|四项|选项|项)?\s*(?:都|均)?\s*(?:是|为)?\s*(?:正确|对)"),
]
_LEADING = re.compile(rf"^\s*[(\[【]?\s*({RUN})\s*[)\]】]?{_END}")
_ALONE = re.compile(rf"{_NOT_AFTER_WORD}({LETTER}){_END}")
#: bridge.o1's markers, tolerant of a model's spelling: the headings without their colon, with or without
#: the space after ``###`` ("### 答案:", "###答案：" and "### Answer" all mark the answer).
_HEADINGS = tuple(heading.rstrip(":：") for heading in ANSWER_HEADINGS.values())
_MARKERS = (THINK_CLOSE, *_HEADINGS, *(heading.replace("### ", "###") for heading in _HEADINGS))
#: Characters that do not count as "more than the option texts" in rule 4.
_FILLER = re.compile(r"[\s\W_]|答案|选项|是|为|和|与|及|以上|都|均|正确")
#: Slack (characters) allowed beside the option texts before an answer stops being "just the options".
_SLACK = 6


def final_answer(text: str) -> str:
    """The part of a response that holds the answer: after its last answer marker, else all of it."""
    answer = after_last_marker(text, _MARKERS)
    return text if answer is None else answer


def _letters(run: str, allowed: set[str]) -> str | None:
    found = {ch for ch in run if ch in LETTERS}
    if allowed:
        found &= allowed
    return "".join(sorted(found)) or None


def _by_option_text(text: str, options: Mapping[str, str], multi: bool) -> str | None:
    remaining = text
    named = set()
    for letter, option in sorted(options.items(), key=lambda item: -len(item[1])):
        option = unicodedata.normalize("NFKC", option).strip()
        if option and option in remaining:
            named.add(letter)
            remaining = remaining.replace(option, "\x00")
    if not named:
        return None
    leftover = _FILLER.sub("", remaining.replace("\x00", ""))
    if len(leftover) <= _SLACK and (multi or len(named) == 1):
        return "".join(sorted(named))
    if not multi and len(named) == 1:
        return next(iter(named))
    return None


def extract_choice(text: str, options: Mapping[str, str], multi: bool = False) -> str | None:
    """The option letters a response chose, sorted (``"AC"``), or None when it names none.

    ``options`` maps letters to option texts (only those letters can be chosen); ``multi`` says the
    question may have several answers (多项选择题), which changes only the weak rules 4 and 5.
    """
    if not text or not text.strip():
        return None
    answer = unicodedata.normalize("NFKC", final_answer(text)).strip()
    allowed = {letter.upper() for letter in options}
    for pattern in _STATEMENTS:
        # The last statement wins: a reasoning answer discusses options before it concludes.
        for match in reversed(list(pattern.finditer(answer))):
            letters = _letters(match.group(1), allowed)
            if letters:
                return letters
    leading = _LEADING.match(answer)
    if leading and (letters := _letters(leading.group(1), allowed)):
        return letters
    if options and (letters := _by_option_text(answer, options, multi)):
        return letters
    alone = {m.group(1) for m in _ALONE.finditer(answer)} & (allowed or set(LETTERS))
    if alone and (multi or len(alone) == 1):
        return "".join(sorted(alone))
    return None
