"""``OUT/report.html``: one self-contained page per evaluation — verdict, evidence record by record, charts.

The page opens from disk with no network: CSS, JS and the PNG charts are inline (images as data URIs).
It is built from the report directory alone (``report.json``, ``scores/<model>/<dataset>.jsonl``, the charts
and, when the judge ran, ``judge/<rubric>/<mode>/``), so ``eval run``, ``eval report`` and ``eval judge``
all rewrite it the same way.

- Summary (rendered here, readable without JS): per dataset every metric per model with its CI, Δ to the
  first model coloured where significant, the flag counts and a warning line above ``eval.flags.WARN_SHARE``.
- Examples (rendered by a small vanilla script from a ``<script type="application/json">`` block): per
  dataset the question, reference and each model's answer side by side, per-record scores and Δ, flags
  and judge verdicts; sorted by Δ (largest regressions first), filtered by category / flag / text, paged.

Model outputs are untrusted text: the JSON block escapes every ``<`` (so no answer can close the script
tag), and the script inserts text with ``textContent`` only, never as markup.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import orjson

from eval.flags import FLAGS, WARN_SHARE, format_flags
from eval.flags import warnings as flag_warnings
from eval.formatting import format_delta, format_value
from eval.report_assets import SCRIPT, STYLE
from eval.tasks import TASKS
from medft.io import atomic_write_bytes

#: Per-record columns the page shows: the task's own, not the bootstrap's indicator columns (``n|…``).
_HIDDEN = {"parsed", "unextracted", "tp", "n_pred", "n_gold"}
JUDGE_UNPARSED = "judge_unparsed"


def _read_jsonl(path: Path) -> list[dict]:
    """The JSON lines of ``path`` ([] when it is missing); lines that are not objects are skipped."""
    try:
        data = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return []
    rows = []
    for line in data.splitlines():
        try:
            row = orjson.loads(line)  # ~4x json's speed: 30,000 score lines are most of the page's cost
        except orjson.JSONDecodeError:
            try:
                row = json.loads(line)  # what orjson refuses (a lone surrogate) json still reads
            except ValueError:
                continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _headline(task: str) -> str | None:
    return TASKS[task].headline if task in TASKS else None


def _record_score(task: str, row: dict) -> float | None:
    return TASKS[task].score_of(row) if task in TASKS else None


def _columns(rows: list[dict]) -> list[str]:
    """The score columns of a set's rows worth showing per record (numbers, not indicators)."""
    if not rows:
        return []
    skip = {"index", "prediction", "reference", "prompt", "subject", "category", "finish_reason", "flags"}
    return [key for key, value in rows[0].items()
            if key not in skip and key not in _HIDDEN and "|" not in key and isinstance(value, int | float)]


def _judge_runs(out_dir: Path) -> list[tuple[str, dict, Path]]:
    """Every judge run in ``OUT/judge`` as (rubric/mode, its report.json, its folder), in name order."""
    runs = []
    for report_path in sorted((out_dir / "judge").glob("*/*/report.json")):
        try:
            report = json.loads(report_path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(report, dict) and report.get("mode") in ("pointwise", "pairwise"):
            runs.append((f"{report_path.parent.parent.name}/{report_path.parent.name}", report, report_path.parent))
    return runs


def _judge_notes(runs: list[tuple[str, dict, Path]]) -> dict[tuple[str, int], list[dict]]:
    """(dataset, record index) -> the judge's verdicts on it: who, what, and its reply (the rationale)."""
    notes: dict[tuple[str, int], list[dict]] = {}
    for name, report, folder in runs:
        for row in _read_jsonl(folder / "judgements.jsonl"):
            models, parsed = row.get("models") or [], row.get("parsed")
            if not isinstance(row.get("index"), int):
                continue
            if parsed is None:
                verdict = "unparsed"
            elif report["mode"] == "pointwise" and isinstance(parsed, dict):
                verdict = " · ".join(f"{k} {v}" for k, v in parsed.items())
            else:
                verdict = {"A": f"{models[0]} better", "B": f"{models[-1]} better"}.get(parsed, "tie") \
                    if models else str(parsed)
            notes.setdefault((str(row.get("dataset")), row["index"]), []).append(
                {"run": name, "models": [str(m) for m in models], "verdict": verdict,
                 "reply": str(row.get("reply") or ""), "parsed": parsed is not None})
    return notes


def collect(out_dir: Path) -> dict:
    """Everything the page shows, read from ``out_dir`` (report.json must exist)."""
    report = json.loads((out_dir / "report.json").read_text(encoding="utf-8"))
    results = report["results"]
    models = list(results)
    runs = _judge_runs(out_dir)
    notes = _judge_notes(runs)
    datasets = []
    for dataset in report.get("datasets") or list(dict.fromkeys(d for m in results.values() for d in m)):
        entries = [results[m].get(dataset) for m in models]
        task = next((e["task"] for e in entries if e), "")
        per_model = [_read_jsonl(out_dir / "scores" / m / f"{dataset}.jsonl") for m in models]
        size = min((len(rows) for rows in per_model), default=0)
        columns = _columns(per_model[0]) if per_model else []
        records = []
        for i in range(size):
            rows = [model_rows[i] for model_rows in per_model]
            first = rows[0]
            judged = notes.get((dataset, first.get("index", i)), [])
            flags = []
            for model, row in zip(models, rows, strict=True):
                own = [f for f in row.get("flags") or [] if f in FLAGS]
                if any(not j["parsed"] and model in j["models"] for j in judged):
                    own.append(JUDGE_UNPARSED)
                flags.append(own)
            group = " / ".join(str(first[k]) for k in ("category", "subject") if first.get(k))
            records.append({
                "i": first.get("index", i), "p": str(first.get("prompt", "")), "r": str(first.get("reference", "")),
                "g": group, "a": [str(row.get("prediction", "")) for row in rows],
                "s": [_record_score(task, row) for row in rows],
                "m": [[row.get(c) for c in columns] for row in rows], "f": flags,
                **({"j": judged} if judged else {}),
            })
        datasets.append({"name": dataset, "task": task, "headline": _headline(task), "columns": columns,
                         "records": records})
    return {"report": report, "models": models, "datasets": datasets, "judge": runs}


def _data_uri(path: Path) -> str | None:
    try:
        return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
    except (FileNotFoundError, IsADirectoryError):
        return None


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _summary_table(results: dict, models: list[str], dataset: str, metrics: list[str], headline: str | None,
                   flags: bool = False) -> str:
    head = "".join(f"<th>{_e(m)}</th>" for m in models) + "".join(
        f"<th>Δ {_e(m)} − {_e(models[0])}</th>" for m in models[1:])
    rows = []
    for metric in metrics:
        cells = []
        for model in models:
            entry = results[model].get(dataset) or {}
            value = format_value((entry.get("metrics") or {}).get(metric), (entry.get("ci") or {}).get(metric))
            cells.append(f'<td class="num" data-model="{_e(model)}" data-dataset="{_e(dataset)}" '
                         f'data-metric="{_e(metric)}">{_e(value)}</td>')
        for model in models[1:]:
            delta = ((results[model].get(dataset) or {}).get("delta") or {}).get(metric)
            tone = ("up" if delta["value"] > 0 else "down") if delta and delta.get("significant") else "flat"
            cells.append(f'<td class="num delta {tone}" data-model="{_e(model)}" data-dataset="{_e(dataset)}" '
                         f'data-delta="{_e(metric)}">{_e(format_delta(delta))}</td>')
        rows.append(f'<tr{" class=headline" if metric == headline else ""}><th>{_e(metric)}</th>{"".join(cells)}</tr>')
    if flags:
        cells = []
        for model in models:
            entry = results[model].get(dataset) or {}
            warn = " class=warn" if _over(entry) else ""
            cells.append(f'<td data-model="{_e(model)}" data-flags="{_e(dataset)}"{warn}>'
                         f'{_e(format_flags(entry.get("flags"), entry.get("n") or 0))}</td>')
        rows.append(f'<tr class="flagrow"><th>flags</th>{"".join(cells)}{"<td></td>" * (len(models) - 1)}</tr>')
    return f'<div class="scroll"><table class="summary"><tr><th>metric</th>{head}</tr>{"".join(rows)}</table></div>'


def _summary(report: dict, models: list[str]) -> str:
    results = report["results"]
    parts = []
    alerts = flag_warnings(results)
    if alerts:
        parts.append('<div class="warnings">' + "".join(f"<p>{_e(line)}</p>" for line in alerts) + "</div>")
    for dataset in report.get("datasets") or []:
        entries = {m: results[m][dataset] for m in models if dataset in results[m]}
        if not entries:
            continue
        task = next(iter(entries.values()))["task"]
        headline = _headline(task)
        names = list(dict.fromkeys(k for e in entries.values() for k in e.get("metrics", {})))
        names.sort(key=lambda name: name != headline)
        main = [n for n in names if "/" not in n]
        groups = [n for n in names if "/" in n]
        sizes = "/".join(sorted({str(e["n"]) for e in entries.values()}))
        parts.append(f'<section class="dataset" data-dataset="{_e(dataset)}"><h3>{_e(dataset)} '
                     f'<small>{_e(task)}, n={_e(sizes)}</small></h3>')
        parts.append(_summary_table(results, models, dataset, main, headline, flags=True))
        if groups:
            parts.append(f"<details><summary>{len(groups)} per-category / per-subject metrics</summary>"
                         + _summary_table(results, models, dataset, groups, None) + "</details>")
        parts.append("</section>")
    return "".join(parts)


def _over(entry: dict) -> bool:
    n = entry.get("n") or 0
    return any(c is not None and n and c / n > WARN_SHARE for c in (entry.get("flags") or {}).values())


def _judge_section(runs: list[tuple[str, dict, Path]]) -> str:
    parts = []
    for name, report, folder in runs:
        calls = report.get("calls") or {}
        judged, unparsed = calls.get("judged") or 0, calls.get("unparsed") or 0
        parts.append(f"<h3>judge · {_e(name)} <small>{_e(report.get('judge', ''))}</small></h3>")
        line = f"{judged} judgements, {unparsed} unparsed"
        warn = judged and unparsed / judged > WARN_SHARE
        parts.append(f'<p class="{"warn" if warn else ""}">{"warning: " if warn else ""}{_e(line)}</p>')
        models = report.get("models") or []
        for dataset, entry in (report.get("results") or {}).items():
            if report["mode"] == "pointwise":
                dims = [d["key"] for d in report.get("dimensions") or []] + ["overall"]
                rows = "".join(
                    f"<tr><th>{_e(k)}</th>" + "".join(
                        f'<td class="num">{_e(format_value(v.get("value"), v.get("ci"), 2))}</td>'
                        for v in (entry["models"][m]["metrics"].get(k, {}) for m in models)) + "</tr>"
                    for k in dims)
                head = "".join(f"<th>{_e(m)}</th>" for m in models)
                parts.append(f"<h4>{_e(dataset)}</h4><table class=summary><tr><th>dimension (1–5)</th>{head}</tr>"
                             f"{rows}</table>")
            else:
                rows = "".join(
                    f"<tr><th>{_e(pair)}</th><td>{s['wins']}</td><td>{s['ties']}</td><td>{s['losses']}</td>"
                    f"<td>{s['unparsed']}</td><td class=num>{_e(_rate(s['win_rate']))}</td></tr>"
                    for pair, s in entry.get("pairs", {}).items())
                parts.append(f"<h4>{_e(dataset)}</h4><table class=summary><tr><th>pair</th><th>wins</th><th>ties</th>"
                             f"<th>losses</th><th>unparsed</th><th>win rate</th></tr>{rows}</table>")
        uri = _data_uri(folder / "report.png")
        if uri:
            parts.append(f'<img alt="judge chart {_e(name)}" src="{uri}">')
    return "".join(parts)


def _rate(entry: dict) -> str:
    return format_value(entry.get("value"), entry.get("ci"))


def _sweep_section(out_dir: Path) -> str:
    """The checkpoint sweep's verdict when ``eval sweep`` wrote this directory: best point, Δ against final."""
    try:
        summary = json.loads((out_dir / "sweep.json").read_text(encoding="utf-8"))
        best = summary["best"]
        deltas = summary["best_vs_final"]
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return ""
    items = "".join(f'<li>{_e(d)}: Δ {_e(best["label"])} − final = <span class="delta '
                    f'{("up" if v.get("value", 0) > 0 else "down") if v.get("significant") else "flat"}">'
                    f"{_e(format_delta(v))}</span></li>" for d, v in deltas.items())
    return (f'<p id="best-checkpoint">Best checkpoint: <b>{_e(best["label"])}</b> (step {_e(best["step"])}) of '
            f'{len(summary.get("points") or [])} points (see sweep.png below)</p><ul>{items}</ul>')


def _charts(out_dir: Path) -> str:
    images = [out_dir / "sweep.png", out_dir / "report.png", *sorted(out_dir.glob("categories_*.png"))]
    return "".join(f'<figure><img alt="{_e(p.name)}" src="{uri}"><figcaption>{_e(p.name)}</figcaption></figure>'
                   for p in images if (uri := _data_uri(p)))


def _json_block(data) -> str:
    # Every "<" escaped: no answer can close the script element or open a comment in it.
    try:
        text = orjson.dumps(data).decode("utf-8")
    except TypeError:  # a lone surrogate: json writes it, the page then shows "?" for it
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c")


def render(out_dir: Path, collected: dict) -> str:
    """The page as text."""
    report, models = collected["report"], collected["models"]
    level = round(100 * ((report.get("bootstrap") or {}).get("level") or 0.95))
    payload = {"models": models, "flags": [*FLAGS, JUDGE_UNPARSED], "datasets": collected["datasets"]}
    budget = (report.get("generation") or {}).get("max_new_tokens")
    budget_text = ", ".join(f"{k} {v}" for k, v in budget.items()) if isinstance(budget, dict) else str(budget)
    limit = report.get("limit")
    subset = (f"subset of {limit} per set ({report.get('limit_mode', 'first')})" if limit else "every record")
    judge = _judge_section(collected["judge"])
    return (
        '<!DOCTYPE html><html lang="zh"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>medft evaluation · {_e(', '.join(models))}</title><style>{STYLE}</style></head><body>"
        f"<h1>medft evaluation</h1><p class=meta>models: {_e(', '.join(models))} (Δ against {_e(models[0])}) · "
        f"{_e(subset)} · max_new_tokens: {_e(budget_text)} · cells: value [{level} % paired-bootstrap CI]; Δ green/red "
        "where its CI excludes 0</p>"
        '<nav><a href="#summary">summary</a> <a href="#charts">charts</a> <a href="#examples">examples</a>'
        f'{" <a href=#judge>judge</a>" if judge else ""}</nav>'
        f'<h2 id="summary">Summary</h2>{_sweep_section(out_dir)}{_summary(report, models)}'
        f'<h2 id="charts">Charts</h2><div class="charts">{_charts(out_dir)}</div>'
        '<h2 id="examples">Examples</h2><div id="controls"></div><div id="pager"></div><div id="examples-table">'
        "<noscript>The examples need JavaScript.</noscript></div>"
        f'{f"<h2 id=judge>Judge</h2>{judge}" if judge else ""}'
        f'<script type="application/json" id="medft-data">{_json_block(payload)}</script>'
        f"<script>{SCRIPT}</script></body></html>"
    )


def write(out_dir: Path) -> Path:
    """Write ``out_dir/report.html`` (atomically) from what the report directory holds; return its path."""
    path = out_dir / "report.html"
    text = render(out_dir, collect(out_dir))
    # A lone surrogate in a model's answer cannot be UTF-8: it becomes "?" instead of failing the report.
    atomic_write_bytes(path, text.encode("utf-8", errors="replace"))
    return path
