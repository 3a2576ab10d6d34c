"""Task scorers: small pure functions, one per held-out task, gathered in ``SCORERS``.

Each scorer takes the model's predictions and the held-out records (alpaca dicts with
``output`` and, for mrg, ``references``) and returns ``(per_example, summary)``: a list of
per-record metric dicts and a dict of corpus-level metrics, every value in [0, 1].
BERTScore is added separately (``eval.score``) because it needs a model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from statistics import fmean

from eval.text import rouge_l_cblue, rouge_l_f, rouge_n_f

#: IMCS-V2 report sections, in the dict order the CBLUE scorer linearises them.
MRG_SECTIONS = ("主诉", "现病史", "辅助检查", "既往史", "诊断", "建议")
NORM_TERM_SEPARATOR = "##"

Scores = tuple[list[dict[str, float]], dict[str, float]]


def clean_norm_prediction(text: str) -> str:
    """Normalise a term-normalisation answer: first non-empty line, surrounding spaces and a final 。 removed.

    Models often continue after the term (an explanation, a second line); the gold answer is one line.
    """
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip().rstrip("。").strip()
    return ""


def split_terms(text: str) -> set[str]:
    """The set of standard terms in a ``##``-joined answer (empty pieces dropped, spaces stripped)."""
    return {term.strip() for term in text.split(NORM_TERM_SEPARATOR) if term.strip()}


def score_norm(predictions: Sequence[str], records: Sequence[dict]) -> Scores:
    """Clinical term normalisation (Yidu-N7K / CHIP-CDN).

    ``accuracy``: exact match of the cleaned answer with the gold ``output`` (the tutorial's metric).
    ``set_f1`` / ``set_precision`` / ``set_recall``: micro scores over ``##``-split term sets, as
    CHIP-CDN: TP = Σ|P∩G|, P = TP/Σ|P|, R = TP/Σ|G|, F1 = 2TP/(Σ|P|+Σ|G|).
    """
    per_example, tp, n_pred, n_gold = [], 0, 0, 0
    for prediction, record in zip(predictions, records, strict=True):
        cleaned = clean_norm_prediction(prediction)
        gold = record["output"].strip()
        pred_terms, gold_terms = split_terms(cleaned), split_terms(gold)
        hits = len(pred_terms & gold_terms)
        tp, n_pred, n_gold = tp + hits, n_pred + len(pred_terms), n_gold + len(gold_terms)
        denominator = len(pred_terms) + len(gold_terms)
        per_example.append({
            "exact_match": float(cleaned == gold),
            "set_f1": 2 * hits / denominator if denominator else 1.0,
        })
    summary = {
        "accuracy": fmean(e["exact_match"] for e in per_example) if per_example else 0.0,
        "set_precision": tp / n_pred if n_pred else 0.0,
        "set_recall": tp / n_gold if n_gold else 0.0,
        "set_f1": 2 * tp / (n_pred + n_gold) if n_pred + n_gold else 0.0,
    }
    return per_example, summary


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def parse_report(text: str) -> dict[str, str] | None:
    """Parse a generated report into ``{section: text}``, or ``None`` if no JSON object is found.

    Accepts a bare object, one inside a ```json fence, or one preceded/followed by chatter: the
    first ``{`` that starts a decodable object wins. Section values are coerced to strings.
    """
    fenced = _FENCE.search(text)
    candidates = [fenced.group(1)] if fenced else []
    candidates.append(text)
    decoder = json.JSONDecoder()
    for candidate in candidates:
        start = candidate.find("{")
        while start != -1:
            try:
                obj, _ = decoder.raw_decode(candidate, start)
            except json.JSONDecodeError:
                start = candidate.find("{", start + 1)
                continue
            if isinstance(obj, dict):
                return {str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
                        for k, v in obj.items()}
            start = candidate.find("{", start + 1)
    return None


def linearise_report(report: dict[str, str]) -> str:
    """``主诉：…现病史：…`` in section order, as the CBLUE IMCS-V2 MRG scorer builds its strings."""
    return "".join(f"{section}：{report.get(section, '')}" for section in MRG_SECTIONS)


def mrg_references(record: dict) -> list[dict[str, str]]:
    """Every reference report of a held-out mrg record (``references``, else the parsed ``output``)."""
    references = record.get("references")
    if references:
        return [ref if isinstance(ref, dict) else (parse_report(ref) or {}) for ref in references]
    return [parse_report(record["output"]) or {}]


def score_mrg(predictions: Sequence[str], records: Sequence[dict]) -> Scores:
    """Medical report generation (IMCS-V2 MRG).

    ``parse_rate``: share of predictions that hold a JSON object. ``rouge1/2/L`` and ``cblue_score``
    ((R1+R2+RL)/3): the CBLUE leaderboard — the report linearised as ``主诉：…`` (raw text when it
    does not parse), split into characters, ROUGE F with set-based n-grams, averaged over the
    reference reports, then over dialogues. ``<section>_exact`` (the tutorial) and
    ``<section>_rougeL`` (PromptCBLUE's per-section character ROUGE-L), best over references; a
    section missing from the prediction (or an unparsable prediction) scores 0.
    """
    per_example = []
    for prediction, record in zip(predictions, records, strict=True):
        parsed = parse_report(prediction)
        hypothesis = linearise_report(parsed) if parsed is not None else prediction
        references = mrg_references(record)
        linear_refs = [linearise_report(ref) for ref in references]
        example = {
            "parsed": float(parsed is not None),
            "rouge1": fmean(rouge_n_f(hypothesis, ref, 1) for ref in linear_refs),
            "rouge2": fmean(rouge_n_f(hypothesis, ref, 2) for ref in linear_refs),
            "rougeL": fmean(rouge_l_cblue(hypothesis, ref) for ref in linear_refs),
        }
        for section in MRG_SECTIONS:
            if parsed is None or section not in parsed:
                # A report that does not parse (or lacks the section) earns nothing for it, even where a
                # reference section happens to be empty.
                example[f"{section}_exact"] = example[f"{section}_rougeL"] = 0.0
                continue
            predicted = parsed[section].strip()
            golds = [ref.get(section, "").strip() for ref in references]
            example[f"{section}_exact"] = max(float(predicted == gold) for gold in golds)
            example[f"{section}_rougeL"] = max(
                (rouge_l_f(predicted, gold) if gold else float(not predicted)) for gold in golds
            )
        per_example.append(example)
    summary = _mean_of(per_example)
    if per_example:
        summary["parse_rate"] = summary.pop("parsed")
        summary["cblue_score"] = (summary["rouge1"] + summary["rouge2"] + summary["rougeL"]) / 3
    return per_example, summary


_ANSWER_MARKERS = ("### 答案：", "</think>")


def split_answer(text: str) -> str:
    """The final answer of a reasoning response: the text after ``### 答案：`` or ``</think>``, else all."""
    for marker in _ANSWER_MARKERS:
        if marker in text:
            return text.rsplit(marker, 1)[1].strip()
    return text.strip()


def score_free_text(predictions: Sequence[str], records: Sequence[dict]) -> Scores:
    """Free-text answers (dialog, o1): character ROUGE-L F1 against the reference ``output``.

    ``answer_rougeL`` compares only the final answers (after ``### 答案：`` / ``</think>``), so a
    reasoning model is not rewarded for copying the chain of thought's wording alone.
    """
    per_example = []
    for prediction, record in zip(predictions, records, strict=True):
        reference = record["output"]
        per_example.append({
            "rougeL": rouge_l_f(prediction, reference),
            "answer_rougeL": rouge_l_f(split_answer(prediction), split_answer(reference)),
        })
    return per_example, _mean_of(per_example)


def _mean_of(per_example: list[dict[str, float]]) -> dict[str, float]:
    if not per_example:
        return {}
    return {key: fmean(example[key] for example in per_example) for key in per_example[0]}


#: task name → scorer. Tasks come from dataset names (``med_norm_test`` → ``norm``).
SCORERS: dict[str, Callable[[Sequence[str], Sequence[dict]], Scores]] = {
    "norm": score_norm,
    "mrg": score_mrg,
    "dialog": score_free_text,
    "o1": score_free_text,
}

#: The metric each task's table leads with.
HEADLINE = {"norm": "accuracy", "mrg": "cblue_score", "dialog": "rougeL", "o1": "rougeL"}
