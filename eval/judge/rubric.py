"""Rubrics are data: one YAML file per rubric (dimensions with 1-5 anchors, prompts, reply format).

A new rubric is one YAML file plus one entry in ``RUBRICS`` (or any file passed as ``--rubric``).
``load`` checks everything at once and names the file and field of each problem; the reply-format
example of each mode must itself parse, so a rubric can never ask for a reply medft cannot read.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from eval.judge.parse import SCALE, parse_scores, parse_winner

#: Shipped rubrics: name → file in eval/judge/rubrics/.
RUBRICS = {"medical_zh": "medical_zh.yaml"}
MODES = ("pointwise", "pairwise")
#: Placeholders each mode's prompt must contain, and the ones it may.
REQUIRED = {"pointwise": {"question", "answer", "reply_format"},
            "pairwise": {"question", "answer_a", "answer_b", "reply_format"}}
OPTIONAL = {"pointwise": {"reference", "dimensions"}, "pairwise": {"reference", "dimensions"}}
PLACEHOLDER = re.compile(r"\{([A-Za-z_]+)\}")

Messages = list[dict[str, str]]


#: Placeholders whose values are data the judge reads (answers can be written by anyone, an attacker too).
DATA_FIELDS = frozenset({"question", "reference", "answer", "answer_a", "answer_b"})
#: Anything in a data field that looks like a fence tag (``<data-``, ``</data-``, full-width ``＜``).
_FORGED_FENCE = re.compile(r"[<＜﹤〈《]\s*/?\s*data\s*-", re.IGNORECASE)


def boundary(fields: dict[str, str]) -> str:
    """The fence tag of one judge call: 16 hex digits of a hash over all its data fields.

    Unguessable by the answer's author, who would have to write the hash of a text into that same text;
    yet deterministic, so a rerun sends the same prompt and the judge cache still answers it.
    """
    payload = json.dumps(sorted((k, v) for k, v in fields.items() if k in DATA_FIELDS), ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def neutralise(text: str) -> str:
    """``text`` with every fence-like tag defused (``<data-`` → ``‹data-``): a forged boundary closes nothing."""
    return _FORGED_FENCE.sub(lambda m: "‹" + m.group(0)[1:], text)


def fence(text: str, tag: str) -> str:
    """``text`` as a fenced data block: ``<data-TAG>`` … ``</data-TAG>`` on lines of their own."""
    return f"<data-{tag}>\n{neutralise(text)}\n</data-{tag}>"


class RubricError(ValueError):
    """A rubric file is missing or malformed (the message lists every problem)."""


@dataclass(frozen=True)
class Dimension:
    """One thing the judge scores, 1-5, with what each score means."""

    key: str
    name: str
    description: str
    anchors: dict[int, str]


@dataclass(frozen=True)
class Rubric:
    """A parsed rubric file."""

    name: str
    title: str
    dimensions: tuple[Dimension, ...]
    prompts: dict[str, dict[str, str]]  # mode → {"system", "prompt", "reply_format"}
    retry: str
    source: str

    @property
    def keys(self) -> list[tuple[str, str]]:
        """``(key, name)`` per dimension, what ``parse_scores`` looks for."""
        return [(d.key, d.name) for d in self.dimensions]

    def dimensions_text(self) -> str:
        """The dimensions and their anchors as the prompt's ``{dimensions}``."""
        lines = []
        for number, dim in enumerate(self.dimensions, 1):
            lines.append(f"{number}. {dim.name}（{dim.key}）：{dim.description}")
            lines += [f"   {score}分：{dim.anchors[score]}" for score in SCALE]
        return "\n".join(lines)

    def messages(self, mode: str, **fields: str) -> Messages:
        """The chat messages of one judge call: the rubric's system prompt and the filled-in prompt.

        Every data field (question, reference, answers) goes into a fenced block, see :func:`fence`.
        """
        tag = boundary(fields)
        values = {**{k: fence(v, tag) if k in DATA_FIELDS else v for k, v in fields.items()},
                  "dimensions": self.dimensions_text(), "reply_format": self.prompts[mode]["reply_format"]}
        # One pass over the template: braces inside answers (JSON reports) are never read as placeholders.
        text = PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), self.prompts[mode]["prompt"])
        system = self.prompts[mode].get("system")
        return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]

    def retry_messages(self, mode: str, first: Messages, reply: str) -> Messages:
        """The second try after an unparsable reply: the conversation so far plus a reminder of the format."""
        reminder = self.retry.replace("{reply_format}", self.prompts[mode]["reply_format"])
        return [*first, {"role": "assistant", "content": reply}, {"role": "user", "content": reminder}]

    def parse(self, mode: str, reply: str):
        """Scores (pointwise) or the winner (pairwise) in ``reply``, or None."""
        return parse_scores(reply, self.keys) if mode == "pointwise" else parse_winner(reply)


def rubric_path(name_or_path: str) -> Path:
    """A shipped rubric's file, or the given path."""
    if name_or_path in RUBRICS:
        return Path(str(resources.files("eval.judge").joinpath("rubrics", RUBRICS[name_or_path])))
    path = Path(name_or_path)
    if not path.exists():
        close = difflib.get_close_matches(name_or_path, list(RUBRICS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; shipped rubrics: {', '.join(RUBRICS)}"
        raise RubricError(f"rubric {name_or_path!r} is neither a shipped rubric nor a file{hint}")
    return path


def load(name_or_path: str) -> Rubric:
    """Read and check a rubric (a shipped name or a YAML file); every problem is reported at once."""
    path = rubric_path(name_or_path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RubricError(f"{path}: cannot read the rubric: {exc}".replace("\n", " ")) from exc
    if not isinstance(data, dict):
        raise RubricError(f"{path}: a rubric is a YAML mapping (name, dimensions, pointwise, pairwise, retry)")
    problems: list[str] = []
    dimensions = _dimensions(data.get("dimensions"), problems)
    prompts = {mode: _prompt(data.get(mode), mode, problems) for mode in MODES}
    retry = data.get("retry")
    if not isinstance(retry, str) or "{reply_format}" not in retry:
        problems.append("retry: a text containing {reply_format} (sent after an unparsable reply)")
    rubric = Rubric(str(data.get("name") or path.stem), str(data.get("title") or data.get("name") or path.stem),
                    tuple(dimensions), prompts, retry if isinstance(retry, str) else "", str(path))
    if dimensions and not problems:
        if rubric.parse("pointwise", prompts["pointwise"]["reply_format"]) is None:
            problems.append("pointwise.reply_format: the example does not score every dimension key 1-5")
        if rubric.parse("pairwise", prompts["pairwise"]["reply_format"]) is None:
            problems.append('pairwise.reply_format: the example names no "winner" of A, B or tie')
    if problems:
        raise RubricError(f"{path}: " + "; ".join(problems))
    return rubric


def _dimensions(raw, problems: list[str]) -> list[Dimension]:
    if not isinstance(raw, list) or not raw:
        problems.append("dimensions: a non-empty list of {key, name, description, anchors}")
        return []
    found, seen = [], set()
    for number, item in enumerate(raw, 1):
        where = f"dimensions[{number}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: a mapping with key, name, description, anchors")
            continue
        key, name = item.get("key"), item.get("name")
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            problems.append(f"{where}.key: an identifier such as accuracy (it is the JSON key of the score)")
            continue
        if key in seen:
            problems.append(f"{where}.key: {key!r} appears twice")
        seen.add(key)
        anchors = item.get("anchors")
        if not isinstance(anchors, dict) or sorted(anchors) != list(SCALE):
            problems.append(f"{where}.anchors: one text for each score 1, 2, 3, 4, 5")
            anchors = {}
        found.append(Dimension(key, str(name or key), str(item.get("description") or ""),
                               {int(k): str(v) for k, v in anchors.items()}))
    return found


def _prompt(raw, mode: str, problems: list[str]) -> dict[str, str]:
    if not isinstance(raw, dict) or not isinstance(raw.get("prompt"), str) or not isinstance(
            raw.get("reply_format"), str):
        problems.append(f"{mode}: a mapping with prompt and reply_format (and optionally system)")
        return {"prompt": "", "reply_format": ""}
    used = set(PLACEHOLDER.findall(raw["prompt"]))
    missing = REQUIRED[mode] - used
    if missing:
        problems.append(f"{mode}.prompt: missing placeholder(s) {', '.join('{' + m + '}' for m in sorted(missing))}")
    for unknown in sorted(used - REQUIRED[mode] - OPTIONAL[mode]):
        close = difflib.get_close_matches(unknown, sorted(REQUIRED[mode] | OPTIONAL[mode]), n=1)
        problems.append(f"{mode}.prompt: unknown placeholder {{{unknown}}}" + (f"; did you mean {{{close[0]}}}?"
                                                                              if close else ""))
    return {k: str(v) for k, v in raw.items() if k in ("system", "prompt", "reply_format") and v is not None}


def rubric_text(name_or_path: str) -> str:
    """The YAML text of a rubric, comments included (to copy and adapt)."""
    return rubric_path(name_or_path).read_text(encoding="utf-8")
