"""Reading converted exam files back, for the cmb / cmexam / cmmlu tests."""

from __future__ import annotations

import json
from pathlib import Path

from bridge.exam import question_key


def read_jsonl(path: Path) -> list[dict]:
    """The records of a converted split."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def key_of_prompt(record: dict, header_lines: int = 1) -> bytes:
    """The question key of a training record, rebuilt from its prompt (training records keep only alpaca fields):
    ``header_lines`` lines of instructions, the question, then ``X. text`` option lines."""
    lines = record["instruction"].split("\n")[header_lines:]
    options = {line[0]: line[3:] for line in lines if len(line) > 2 and line[1:3] == ". "}
    question = "\n".join(line for line in lines if not (len(line) > 2 and line[1:3] == ". "))
    return question_key({"question": question, "options": options})
