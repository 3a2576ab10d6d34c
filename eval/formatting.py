"""How eval writes numbers: values with their CIs, deltas with significance, floats rounded for saved reports.

Shared by the task report (``eval.report``), the exams' per-category breakdown and the judge's report.
"""

from __future__ import annotations

#: Marks a delta whose confidence interval excludes 0.
SIGNIFICANT = "*"
#: Digits kept in saved reports: enough for any comparison, few enough that reruns are byte-identical.
DIGITS = 6


def round_floats(value, digits: int = DIGITS):
    """``value`` with every float inside it (lists and dicts too) rounded to ``digits``."""
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, list):
        return [round_floats(v, digits) for v in value]
    if isinstance(value, dict):
        return {k: round_floats(v, digits) for k, v in value.items()}
    return value


def format_value(value: float | None, ci: list[float] | None, digits: int = 3) -> str:
    """``0.412 [0.371, 0.455]`` (or just the value without a CI, ``—`` when missing)."""
    if value is None:
        return "—"
    text = f"{value:.{digits}f}"
    return f"{text} [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]" if ci else text


def format_delta(delta: dict | None, digits: int = 3) -> str:
    """``+0.043 [+0.010, +0.080] *`` with ``*`` when the interval excludes 0."""
    if not delta or delta.get("value") is None:
        return "—"
    text = f"{delta['value']:+.{digits}f}"
    if delta.get("ci"):
        low, high = delta["ci"]
        text += f" [{low:+.{digits}f}, {high:+.{digits}f}]"
    return text + (f" {SIGNIFICANT}" if delta.get("significant") else "")
