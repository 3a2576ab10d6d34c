"""Contamination notes for a report: held-out sets the saved audit (``bridge audit``) found in the training
data of a run being evaluated. eval reads bridge's ``audit.json``; it never recomputes the audit."""

from __future__ import annotations

from pathlib import Path


def notes(dataset_dir: Path, datasets: list[str], trained_on: dict[str, list[str]]) -> dict[str, list[str]]:
    """Held-out set → notes, one per (model label, training set) pair the audit flagged for it.

    ``trained_on`` maps each model label to the datasets its run trained on (from the run's train.yaml).
    """
    from bridge.audit import load_report

    report = load_report(dataset_dir) if any(trained_on.values()) else None
    if not report:
        return {}
    found: dict[str, list[str]] = {}
    for cell in report.get("matrix", []):
        if cell.get("heldout") not in datasets or not (cell.get("exact") or cell.get("ngram")):
            continue
        for label, names in trained_on.items():
            if cell.get("train") in names:
                found.setdefault(cell["heldout"], []).append(
                    f"{label} was trained on {cell['train']}, which holds {cell['exact']} exact and {cell['ngram']} "
                    f"13-gram match(es) of {cell['heldout']} items (bridge audit): its score here may be inflated")
    return found


def markdown(found: dict[str, list[str]] | None) -> str:
    """A "Contamination" section for report.md ('' when there is nothing to say)."""
    if not found:
        return ""
    lines = ["## Contamination", ""]
    lines += [f"- **{held}**: {note}" for held, items in found.items() for note in items]
    return "\n".join(lines) + "\n"
