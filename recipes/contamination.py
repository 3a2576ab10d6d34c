"""Pre-flight warning: a training set the saved audit (``bridge audit``) found overlapping a held-out set.

Kept apart from recipes/validate.py's checks (one small function, one job): it only reads
``<dataset_dir>/audit.json`` and never recomputes the audit, so pre-flight stays instant.
"""

from __future__ import annotations

from pathlib import Path


def overlap_warnings(datasets: list[str], dataset_dir: Path) -> list[str]:
    """One warning per (training set of this run, held-out set) pair the last audit flagged, plus one when a
    training set changed since that audit (its sha256 differs). No audit saved: no warning."""
    from bridge.audit import load_report
    from medft.io import sha256_file

    report = load_report(dataset_dir)
    if not report:
        return []
    warnings = []
    for cell in report.get("matrix", []):
        if cell.get("train") in datasets and (cell.get("exact") or cell.get("ngram")):
            warnings.append(f"training set {cell['train']} overlaps held-out {cell['heldout']}: {cell['exact']} exact "
                            f"and {cell['ngram']} 13-gram item(s) (bridge audit); scores on {cell['heldout']} would "
                            "be inflated. Remove them with `make audit AUDIT_ARGS=--fix`")
    for name in datasets:
        seen = report.get("training", {}).get(name)
        if seen and Path(seen["file"]).is_file() and sha256_file(seen["file"]) != seen.get("sha256"):
            warnings.append(f"training set {name} changed since the last audit: run `make audit` to check it "
                            "against the held-out sets")
    return warnings
