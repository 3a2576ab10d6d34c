"""Stage 2 of eval: score predictions per task, with BERTScore where a BERT model is given."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import fmean

from eval.bertscore import bertscore_f1
from eval.scorers import MRG_SECTIONS, SCORERS, mrg_references, parse_report, split_answer


def bertscore_metrics(task: str, predictions: Sequence[str], records: Sequence[dict], bert_model: str) -> dict:
    """BERTScore F1 metrics for a task (none for norm, where exact match and set F1 are the measure).

    dialog / o1: ``bertscore_f1`` of the whole answer (o1 also ``answer_bertscore_f1`` on the final
    answers). mrg: the tutorial's per-section BERTScore, best over references, averaged over
    sections (``bertscore_f1``) and reported per section.
    """
    if task in ("dialog", "o1"):
        metrics = {"bertscore_f1": fmean(bertscore_f1(predictions, [r["output"] for r in records], bert_model))}
        if task == "o1":
            answers = [split_answer(p) for p in predictions]
            gold = [split_answer(r["output"]) for r in records]
            metrics["answer_bertscore_f1"] = fmean(bertscore_f1(answers, gold, bert_model))
        return metrics
    if task == "mrg":
        # One slot per (record, section); a section the prediction lacks (or an unparsable report)
        # stays 0, as in the exact-match and ROUGE-L section scores.
        slots = [0.0] * (len(records) * len(MRG_SECTIONS))
        present, candidates, references = [], [], []
        for r, (prediction, record) in enumerate(zip(predictions, records, strict=True)):
            parsed = parse_report(prediction) or {}
            refs = mrg_references(record)
            for s, section in enumerate(MRG_SECTIONS):
                if section in parsed:
                    present.append(r * len(MRG_SECTIONS) + s)
                    candidates.append(parsed[section])
                    references.append([ref.get(section, "") for ref in refs])
        for slot, value in zip(present, bertscore_f1(candidates, references, bert_model), strict=True):
            slots[slot] = value
        per_section = {
            f"{section}_bertscore_f1": fmean(slots[i::len(MRG_SECTIONS)]) for i, section in enumerate(MRG_SECTIONS)
        }
        return {"bertscore_f1": fmean(slots), **per_section}
    return {}


def score_task(
    task: str, predictions: Sequence[str], records: Sequence[dict], bert_model: str | None = None
) -> tuple[list[dict], dict]:
    """Per-example metrics and the summary for one (model, dataset) pair."""
    per_example, summary = SCORERS[task](predictions, records)
    if bert_model and predictions:
        summary.update(bertscore_metrics(task, predictions, records, bert_model))
    return per_example, {key: round(value, 6) for key, value in summary.items()}
