"""Per-category results of the exam sets: a Markdown table per set and a grouped-bar PNG (one bar per model).

A set whose metrics include ``category/<name>`` (the mcq task) gets, beside report.md and report.png in
the same report directory: ``categories.md`` (categories, then subjects, models as columns, Δ to the
first model, every cell with its CI) and ``categories_<dataset>.png`` (grouped bars per subject, every
subject of the set, base vs tuned, values printed, CI error bars, a chance line at 1/number of options).
Both are written atomically and are byte-identical for identical scores.
"""

from __future__ import annotations

from pathlib import Path

from eval.formatting import format_delta, format_value
from medft.io import atomic_write_bytes, atomic_write_text
from medft.plotting import png_bytes

#: results[model][dataset] = {"task", "n", "metrics", "ci", "delta"} (see eval.report)
Results = dict[str, dict[str, dict]]
KINDS = ("category", "subject")
#: Fonts that draw Chinese, tried in order; without one the chart uses the benchmarks' English names.
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
             "SimHei", "Microsoft YaHei", "PingFang SC", "Heiti SC", "Noto Sans CJK JP")
#: English names of the categories the papers use: CMB's exam types (CMB paper), CMExam's disciplines (its repo).
ENGLISH = {"医师考试": "Physician", "护理考试": "Nurse", "药师考试": "Pharmacist", "医技考试": "Technician",
           "专业知识考试": "Disciplines", "医学考研": "Graduate Entrance", "临床医学": "ClinMed", "口腔医学": "Dent",
           "公卫预防": "PH&PM", "中医学": "TCM", "中西医结合": "ICWM", "药学": "Pharm", "中药学": "TCPharm"}


def _datasets(results: Results) -> list[str]:
    seen: dict[str, None] = {}
    for per_dataset in results.values():
        seen.update(dict.fromkeys(per_dataset))
    return list(seen)


def groups(results: Results, dataset: str, kind: str = "category") -> list[str]:
    """The group names of ``kind`` (category or subject) reported for ``dataset``, in report order."""
    names: dict[str, None] = {}
    prefix = f"{kind}/"
    for per_dataset in results.values():
        for metric in per_dataset.get(dataset, {}).get("metrics", {}):
            if metric.startswith(prefix):
                names[metric[len(prefix):]] = None
    return list(names)


def broken_down(results: Results) -> list[str]:
    """The datasets that have per-category metrics."""
    return [d for d in _datasets(results) if groups(results, d)]


def markdown(results: Results, level: float | None = None) -> str:
    """``categories.md``: per set, a table of categories and one of subjects, models as columns."""

    models = list(results)
    lines = ["# Per-category results", "",
             f"Cells: accuracy [{round((level or 0.95) * 100)} % paired-bootstrap CI]; Δ = model − {models[0]}, "
             "`*` where its CI excludes 0. Categories average their subjects where the benchmark does "
             "(CMB's score.py, CMMLU); subjects are plain accuracy.", ""]
    for dataset in broken_down(results):
        n = {results[m][dataset]["n"] for m in models if dataset in results[m]}
        for kind in KINDS:
            names = groups(results, dataset, kind)
            if not names:
                continue
            header = [kind, *models, *[f"Δ {m} − {models[0]}" for m in models[1:]]]
            lines += [f"## {dataset} by {kind} (n={'/'.join(map(str, sorted(n)))})", "",
                      "| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
            for name in names:
                metric = f"{kind}/{name}"
                cells = [format_value(results[m].get(dataset, {}).get("metrics", {}).get(metric),
                                      (results[m].get(dataset, {}).get("ci") or {}).get(metric)) for m in models]
                cells += [format_delta((results[m].get(dataset, {}).get("delta") or {}).get(metric))
                          for m in models[1:]]
                lines.append(f"| {name} | " + " | ".join(cells) + " |")
            lines.append("")
    return "\n".join(lines)


def bar_chart_png(results: Results, dataset: str) -> bytes:
    """Horizontal grouped bars: one group per subject of ``dataset`` (every subject; categories when the set
    has no subjects), one bar per model with its value printed and CI error bars, and a dashed line at
    chance (the set's mean 1/number of options, ``chance`` in the results) when known."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kind = "subject" if groups(results, dataset, "subject") else "category"
    names, models = groups(results, dataset, kind), list(results)
    labels = _labels(names)
    width = 0.8 / max(len(models), 1)
    fig, ax = plt.subplots(figsize=(7.5, max(2.6, 0.22 * len(names) * max(len(models), 1) + 1.4)), dpi=100)
    for i, model in enumerate(models):
        entry = results[model].get(dataset, {})
        values, low, high = [], [], []
        for name in names:
            value = entry.get("metrics", {}).get(f"{kind}/{name}") or 0.0
            ci = (entry.get("ci") or {}).get(f"{kind}/{name}")
            values.append(value)
            low.append(max(value - ci[0], 0.0) if ci else 0.0)
            high.append(max(ci[1] - value, 0.0) if ci else 0.0)
        bars = ax.barh([g + i * width for g in range(len(names))], values, width, label=model, xerr=[low, high],
                       capsize=2, error_kw={"linewidth": 0.7})
        ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize=6, padding=2)
    chance = next((results[m][dataset].get("chance") for m in models if dataset in results[m]), None)
    if chance:
        ax.axvline(chance, color="grey", linestyle="--", linewidth=0.9, label=f"chance {chance:.2f}")
    ax.set_yticks([g + width * (len(models) - 1) / 2 for g in range(len(names))], labels, fontsize=8)
    ax.invert_yaxis()  # the first subject on top, as in categories.md
    ax.set_xlim(0, 1.1)
    ax.set_xlabel("accuracy (95 % CI)")
    ax.set_title(f"{dataset} by {kind} ({len(names)})", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    return png_bytes(fig)


def _labels(names: list[str]) -> list[str]:
    """Category labels the chart can draw: the names with a CJK font, else English names or ``#k`` (the
    k-th row of categories.md)."""
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    if all(name.isascii() for name in names):
        return names
    installed = {font.name for font in font_manager.fontManager.ttflist}
    font = next((f for f in CJK_FONTS if f in installed), None)
    if font is not None:
        plt.rcParams["font.sans-serif"] = [font, *plt.rcParams["font.sans-serif"]]
        plt.rcParams["axes.unicode_minus"] = False  # CJK fonts often lack U+2212: draw "-" instead
        return names
    return [name if name.isascii() else ENGLISH.get(name, f"#{k}") for k, name in enumerate(names, 1)]


def write(results: Results, out_dir: Path, level: float | None = None) -> list[Path]:
    """Write ``categories.md`` and one ``categories_<dataset>.png`` per broken-down set; none if there is none."""
    datasets = broken_down(results)
    if not datasets:
        return []
    paths = [out_dir / "categories.md"]
    atomic_write_text(paths[0], markdown(results, level))
    for dataset in datasets:
        paths.append(out_dir / f"categories_{dataset}.png")
        atomic_write_bytes(paths[-1], bar_chart_png(results, dataset))
    return paths
