"""What the exam sources (cmb, cmexam, cmmlu) share: lettered options, answer letters, the record, leaks.

Every exam question becomes one alpaca record whose ``output`` is the answer letters (sorted, e.g.
``"ACD"``), plus the fields eval scores with: ``question``, ``options`` ({letter: text}), ``answer``,
``question_type`` (单项选择题 / 多项选择题), ``category`` and ``subject`` (the benchmark's own two
levels), ``exam`` and ``id``. Training splits keep only the alpaca fields.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from bridge.common import BridgeError, Counts, cell_text

SINGLE, MULTI = "单项选择题", "多项选择题"
QUESTION_TYPES = (SINGLE, MULTI)
#: Option letters the benchmarks use (CMB goes up to F; none goes past H).
LETTERS = "ABCDEFGH"
ALPACA_KEYS = ("instruction", "input", "output")
#: Full-width letters (Ａ…Ｈ) that some files and models write instead of ASCII ones.
_FULL_WIDTH = {chr(ord("Ａ") + i): chr(ord("A") + i) for i in range(26)}


def option_text(value) -> str | None:
    """An option's text, or None when the slot is blank (CMB pads unused letters with "" or " ")."""
    text = cell_text(value)
    return None if text is None else text.strip()


def clean_options(raw: Mapping, where: str) -> dict[str, str]:
    """``{letter: text}`` in letter order, blank options dropped; a key that is not a letter is an error."""
    if not isinstance(raw, Mapping):
        raise BridgeError(f"{where}: 'option' must be an object of letter -> text, found {type(raw).__name__}")
    options = {}
    for key, value in raw.items():
        letter = str(key).strip().upper()
        letter = _FULL_WIDTH.get(letter, letter)
        if len(letter) != 1 or letter not in LETTERS:
            raise BridgeError(f"{where}: option key {key!r} is not a letter A-{LETTERS[-1]}")
        text = option_text(value)
        if text is not None:
            options[letter] = text
    return dict(sorted(options.items()))


def answer_letters(value) -> str | None:
    """The answer as sorted, unique ASCII letters ("CA" → "AC", "Ａ、Ｃ" → "AC"); None if it has none.

    CMB's answer file holds a few unsorted multi-answers ("CA", "DB"); they mean the same set.
    """
    text = cell_text(value)
    if text is None:
        return None
    letters = {_FULL_WIDTH.get(ch, ch) for ch in text.upper()}
    letters = {ch for ch in letters if "A" <= ch <= "Z"}
    return "".join(sorted(letters)) or None


def render_options(options: Mapping[str, str]) -> str:
    """``A. text`` lines, the form CMB's and CMMLU's own prompts use."""
    return "\n".join(f"{letter}. {text}" for letter, text in options.items())


def parse_options(prompt: str) -> dict[str, str]:
    """The options :func:`render_options` wrote at the end of a prompt (training splits keep only the alpaca
    fields): the trailing run of ``X. text`` lines in letter order from A, ``{}`` when there is none."""
    lines = prompt.rstrip("\n").split("\n")
    found: list[tuple[str, str]] = []
    for line in reversed(lines):
        letter, dot, text = line[:1], line[1:3], line[3:]
        if letter not in LETTERS or not letter or dot != ". ":
            break
        found.append((letter, text))
        if letter == "A":  # the first option: a stem line above it that looks like one is still the stem
            break
    found.reverse()
    letters = "".join(letter for letter, _ in found)
    return dict(found) if letters and letters == LETTERS[:len(letters)] else {}


def check_answer(answer: str | None, options: Mapping[str, str], counts: Counts) -> bool:
    """True when the answer is usable: present and every letter names a non-blank option (else counted)."""
    if answer is None:
        counts.skip("empty_answer")
        return False
    if not options:
        counts.skip("no_options")
        return False
    if any(letter not in options for letter in answer):
        counts.skip("answer_not_in_options")
        return False
    return True


def exam_record(instruction: str, *, question: str, options: dict[str, str], answer: str, question_type: str,
                category: str, subject: str, exam: str, id, **extra) -> dict:
    """The alpaca record with the fields eval needs; ``extra`` holds source-specific fields (annotations…)."""
    return {"instruction": instruction, "input": "", "output": answer, "question": question, "options": options,
            "answer": answer, "question_type": question_type, "category": category, "subject": subject,
            "exam": exam, "id": id, **extra}


def training_record(record: dict) -> dict:
    """Only the alpaca fields: what LLaMA-Factory trains on."""
    return {key: record[key] for key in ALPACA_KEYS}


def question_key(record: Mapping) -> bytes:
    """Identity of a question for leak checks: its stem and its option texts (any order), whitespace ignored.

    Two files of one benchmark often hold the same question with the options in another order; the
    answer letter then differs but the question is the same, and seeing it in training is a leak.
    """
    def squash(text: str) -> str:
        return "".join(text.split())

    parts = [squash(record["question"]), *sorted(squash(t) for t in record["options"].values())]
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=12).digest()


def unique_questions(records: Iterable[dict], counts: Counts, split: str) -> list[dict]:
    """The records of a held-out ``split`` (test, dev) with each question once: a later record repeating an
    earlier question (stem and option texts, see :func:`question_key`) is dropped and counted as
    ``<split>_duplicate_question``, so no two held-out records share a prompt. Ids stay unique: a kept record
    whose id an earlier one already has (a file with a broken index column) gets ``<id>#<n>``."""
    seen: set[bytes] = set()
    ids: set = set()
    kept = []
    for record in records:
        key = question_key(record)
        if key in seen:
            counts.skip(f"{split}_duplicate_question")
            continue
        seen.add(key)
        if record["id"] in ids:
            number = 2
            while f"{record['id']}#{number}" in ids:
                number += 1
            record = {**record, "id": f"{record['id']}#{number}"}
            counts.skip(f"{split}_id_renamed")
        ids.add(record["id"])
        kept.append(record)
    return kept


def drop_leaks(records: Iterable[dict], held_out: set[bytes], counts: Counts, split: str):
    """Yield the records whose question is not in ``held_out``; the others are counted as ``<split>_in_test``."""
    for record in records:
        if question_key(record) in held_out:
            counts.skip(f"{split}_in_test")
            continue
        yield record
