"""mrg: medical report generation from doctor–patient dialogues (IMCS-V2).

Metrics:

- ``cblue_score`` = (``rouge1`` + ``rouge2`` + ``rougeL``)/3 and its three parts: the official CBLUE
  IMCS-V2 MRG number (imcs21-cblue ``task3/eval_task3.py`` with PyPI ``rouge`` 1.0.1), reproduced
  exactly by ``eval.cblue``: the predicted report in its own key order, averaged over the reference
  reports, then over dialogues. A prediction that holds no JSON object with at least one report
  section enters as an empty report and scores 0, as an empty submission would.
- ``parse_rate``: share of predictions that hold such an object.
- ``<section>_exact`` (the tutorial) and ``<section>_rougeL`` (PromptCBLUE-style character ROUGE-L),
  best over the references; a section missing from the prediction, or an unparsed prediction,
  scores 0. With a BERT model, ``<section>_bertscore_f1`` and their mean ``bertscore_f1``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

import numpy as np

from bridge.mrg import REPORT_SECTIONS
from eval.cblue import dialogue_scores
from eval.tasks.base import Columns, Task, means
from eval.text import rouge_l_f

#: Candidate objects nested deeper than this (counting braces) are not looked at: a report is depth 1.
MAX_OBJECT_DEPTH = 3
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def _balanced_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every ``{…}`` span at brace depth ≤ MAX_OBJECT_DEPTH, in order of start, in one pass.

    Braces inside JSON strings are skipped (quotes are tracked only inside braces, where JSON is).
    Linear time whatever the input: 1 MB of ``{`` is one scan, not a million parse attempts.
    """
    spans: list[tuple[int, int]] = []
    opens: list[int] = []
    in_string = escaped = False
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"' or char == "\n":
                # A raw newline cannot be inside a JSON string: a stray quote in chatter costs one line.
                in_string = False
        elif char == '"' and opens:
            in_string = True
        elif char == "{":
            opens.append(index)
        elif char == "}" and opens:
            start = opens.pop()
            if len(opens) < MAX_OBJECT_DEPTH:
                spans.append((start, index + 1))
    return sorted(spans)


def _as_text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def parse_report(text: str) -> dict[str, str] | None:
    """The first JSON object in ``text`` (a ```json fence first) that has a report section, or None.

    Keys keep the model's order (the official score linearises the report in its own order, extra
    keys included); non-string values become their JSON text. Objects without any of the six
    sections (``{}``, ``{"1": 2}``) do not count as a report.
    """
    fenced = _FENCE.search(text)
    for candidate in ([fenced.group(1)] if fenced else []) + [text]:
        for start, end in _balanced_spans(candidate):
            try:
                obj = json.loads(candidate[start:end])
            except (ValueError, RecursionError):
                continue
            if isinstance(obj, dict) and any(section in obj for section in REPORT_SECTIONS):
                return {str(key): _as_text(value) for key, value in obj.items()}
    return None


def references_of(record: dict) -> list[dict[str, str]]:
    """Every reference report of a held-out record (``references``, else the parsed ``output``)."""
    references = record.get("references")
    if references:
        return [{str(k): _as_text(v) for k, v in ref.items()} if isinstance(ref, dict)
                else (parse_report(str(ref)) or {}) for ref in references]
    return [parse_report(str(record["output"])) or {}]


def score(predictions: Sequence[str], records: Sequence[dict]) -> Columns:
    """Per record: ``parsed``, the official ``rouge1/2/L``, and per-section ``_exact`` / ``_rougeL``."""
    columns = []
    for prediction, record in zip(predictions, records, strict=True):
        parsed = parse_report(prediction)
        references = references_of(record)
        rouge1, rouge2, rouge_l = dialogue_scores(parsed or {}, references)
        example = {"parsed": float(parsed is not None), "rouge1": rouge1, "rouge2": rouge2, "rougeL": rouge_l}
        for section in REPORT_SECTIONS:
            if parsed is None or section not in parsed:
                # A missing section earns nothing, even where a reference section happens to be empty.
                example[f"{section}_exact"] = example[f"{section}_rougeL"] = 0.0
                continue
            predicted = parsed[section].strip()
            golds = [ref.get(section, "").strip() for ref in references]
            example[f"{section}_exact"] = max(float(predicted == gold) for gold in golds)
            example[f"{section}_rougeL"] = max(
                (rouge_l_f(predicted, gold) if gold else float(not predicted)) for gold in golds
            )
        columns.append(example)
    return columns


def summarise(sums: Mapping[str, np.ndarray], n: np.ndarray) -> dict[str, np.ndarray]:
    """Means of every column; ``cblue_score`` = mean of (R1+R2+RL)/3; ``parsed`` reported as ``parse_rate``."""
    metrics = means(sums, n, [name for name in sums if name != "parsed"])
    metrics["cblue_score"] = (metrics["rouge1"] + metrics["rouge2"] + metrics["rougeL"]) / 3
    metrics["parse_rate"] = sums["parsed"] / n
    return metrics


def bertscore(predictions: Sequence[str], records: Sequence[dict], bert_model: str) -> dict[str, list[float]]:
    """The tutorial's per-section BERTScore, best over references; a missing section scores 0.

    ``bertscore_f1`` per record is the mean over the six sections.
    """
    from eval.bertscore import bertscore_f1

    slots = [0.0] * (len(records) * len(REPORT_SECTIONS))
    present, candidates, references = [], [], []
    for r, (prediction, record) in enumerate(zip(predictions, records, strict=True)):
        parsed = parse_report(prediction) or {}
        refs = references_of(record)
        for s, section in enumerate(REPORT_SECTIONS):
            if section in parsed:
                present.append(r * len(REPORT_SECTIONS) + s)
                candidates.append(parsed[section])
                references.append([ref.get(section, "") for ref in refs])
    for slot, value in zip(present, bertscore_f1(candidates, references, bert_model), strict=True):
        slots[slot] = value
    width = len(REPORT_SECTIONS)
    columns = {"bertscore_f1": [sum(slots[r * width:(r + 1) * width]) / width for r in range(len(records))]}
    for s, section in enumerate(REPORT_SECTIONS):
        columns[f"{section}_bertscore_f1"] = slots[s::width]
    return columns


def record_score(row) -> float:
    """One dialogue's share of ``cblue_score``: (R1 + R2 + RL) / 3."""
    return (row["rouge1"] + row["rouge2"] + row["rougeL"]) / 3


TASK = Task("mrg", score, headline="cblue_score", max_new_tokens=512, summarise=summarise, bertscore=bertscore,
            record_score=record_score)
