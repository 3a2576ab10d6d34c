"""The judge's reports: rich tables, and report.json / report.md / report.png (written atomically).

Same inputs give byte-identical files (seeded bootstrap, no timestamps, PNG without metadata).
"""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from rich.text import Text

from eval.flags import WARN_SHARE
from eval.formatting import format_delta, format_value, round_floats
from medft.io import atomic_write_bytes, atomic_write_json, atomic_write_text
from medft.plotting import png_bytes


def _metric(entry: dict, digits: int = 2) -> str:
    return format_value(entry.get("value"), entry.get("ci"), digits)


def _scope(dataset: str) -> str:
    return "all datasets" if dataset == "all" else dataset


def _dimension_rows(report: dict) -> list[tuple[str, str]]:
    return [(d["key"], f"{d['name']} ({d['key']})") for d in report["dimensions"]] + [("overall", "overall")]


def pointwise_tables(report: dict) -> list[Table]:
    """Per dataset: dimensions × models (mean [CI] on 1–5), Δ to the first model, parsed counts."""
    models, out = report["models"], []
    for dataset, entry in report["results"].items():
        table = Table(title=f"judge · {_scope(dataset)} (pointwise, {report['rubric']['name']}, n={entry['n']})",
                      title_justify="left")
        table.add_column("dimension (1–5)")
        for model in models:
            table.add_column(model, justify="right")
        for model in models[1:]:
            table.add_column(f"Δ {model} − {models[0]}", justify="right")
        for key, label in _dimension_rows(report):
            cells = [_metric(entry["models"][m]["metrics"][key]) for m in models]
            deltas = [format_delta(entry["models"][m]["metrics"][key].get("delta"), 2) for m in models[1:]]
            table.add_row(label, *cells, *deltas, style="bold" if key == "overall" else None)
        table.add_row("parsed", *[_parsed(entry["models"][m], entry["n"]) for m in models], *[""] * (len(models) - 1),
                      style="dim")
        out.append(table)
    return out


def _parsed(counts: dict, n: int) -> str:
    text = f"{counts['parsed']}/{n}"
    return text + (f" ({counts['retried']} retried)" if counts.get("retried") else "")


def pairwise_tables(report: dict) -> list[Table | Text]:
    """Per dataset: each pair's wins / ties / losses, consistency, win rate [CI]; the ranking for 3+ models."""
    out = []
    for dataset, entry in report["results"].items():
        table = Table(title=f"judge · {_scope(dataset)} (pairwise, both orders, n={entry['n']})",
                      title_justify="left")
        for name in ("pair", "wins", "ties", "losses", "unparsed", "consistency", "win rate"):
            table.add_column(name, justify="left" if name == "pair" else "right")
        for pair, stats in entry["pairs"].items():
            table.add_row(pair, str(stats["wins"]), str(stats["ties"]), str(stats["losses"]), str(stats["unparsed"]),
                          _metric(stats["consistency"]), _metric(stats["win_rate"]))
        out.append(table)
        if "ranking" in entry and not entry["comparisons"]:
            out.append(Text(f"no Bradley–Terry ranking · {_scope(dataset)}: no parsed comparison", style="italic"))
        elif "ranking" in entry:
            ranked = Table(title=f"Bradley–Terry ranking · {_scope(dataset)} (Elo scale)", title_justify="left")
            for name in ("rank", "model", "rating"):
                ranked.add_column(name, justify="left" if name == "model" else "right")
            for row in entry["ranking"]:
                ranked.add_row(str(row["rank"]), row["model"], format_value(row["rating"], row["ci"], 0))
            out.append(ranked)
    return out


def tables(report: dict) -> list[Table | Text]:
    """The tables of a pointwise or pairwise report."""
    return pointwise_tables(report) if report["mode"] == "pointwise" else pairwise_tables(report)


def markdown(report: dict) -> str:
    """The report as Markdown."""
    level = round(100 * report["bootstrap"]["level"])
    lines = [f"# medft judge: {report['mode']}", "",
             f"Rubric `{report['rubric']['name']}` ({report['rubric']['title']}); judge {report['judge']}.",
             f"Brackets: {level} % paired-bootstrap intervals over records ({report['bootstrap']['resamples']} "
             "resamples); unparsed judgements are excluded from means and rates.", ""]
    calls = report.get("calls") or {}
    if calls.get("judged") and calls.get("unparsed", 0) / calls["judged"] > WARN_SHARE:
        share = 100 * calls["unparsed"] / calls["judged"]
        lines += [f"> **warning: {calls['unparsed']}/{calls['judged']} ({share:.1f} %) judge replies unparsed**", ""]
    models = report["models"]
    for dataset, entry in report["results"].items():
        lines += [f"## {_scope(dataset)} (n={entry['n']})", ""]
        if report["mode"] == "pointwise":
            header = ["dimension", *models, *[f"Δ {m} − {models[0]}" for m in models[1:]]]
            lines += ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
            for key, label in _dimension_rows(report):
                cells = [_metric(entry["models"][m]["metrics"][key]) for m in models]
                deltas = [format_delta(entry["models"][m]["metrics"][key].get("delta"), 2) for m in models[1:]]
                lines.append("| " + " | ".join([label, *cells, *deltas]) + " |")
            lines.append("| parsed | " + " | ".join([_parsed(entry["models"][m], entry["n"]) for m in models]
                                                     + [""] * (len(models) - 1)) + " |")
        else:
            lines += ["| pair | wins | ties | losses | unparsed | consistency | win rate |",
                      "| --- |" + " ---: |" * 6]
            for pair, s in entry["pairs"].items():
                lines.append(f"| {pair} | {s['wins']} | {s['ties']} | {s['losses']} | {s['unparsed']} | "
                             f"{_metric(s['consistency'])} | {_metric(s['win_rate'])} |")
            if "ranking" in entry and not entry["comparisons"]:
                lines += ["", "No Bradley–Terry ranking: no comparison was parsed."]
            elif "ranking" in entry:
                lines += ["", "| rank | model | Bradley–Terry rating (Elo scale) |", "| ---: | --- | ---: |"]
                lines += [f"| {r['rank']} | {r['model']} | {format_value(r['rating'], r['ci'], 0)} |"
                          for r in entry["ranking"]]
        lines.append("")
    return "\n".join(lines)


def chart_png(report: dict) -> bytes:
    """Pointwise: mean per dimension and model with CI bars. Pairwise: ratings (3+ models) or win rates."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scope = "all" if "all" in report["results"] else next(iter(report["results"]))
    entry, models = report["results"][scope], report["models"]
    if report["mode"] == "pointwise":
        size = (max(4.5, 0.45 * (len(report["dimensions"]) + 1) * len(models) + 1.5), 3.4)
    else:
        size = (6.0, max(2.4, 1.0 + 0.45 * max(len(models), len(entry["pairs"]))))
    fig, ax = plt.subplots(figsize=size, dpi=100)
    if report["mode"] == "pointwise":
        keys = [key for key, _ in _dimension_rows(report)]
        width = 0.8 / max(len(models), 1)
        for i, model in enumerate(models):
            shown = [entry["models"][model]["metrics"][k] for k in keys]
            values, errors = _bars(shown)
            bars = ax.bar([k + i * width for k in range(len(keys))], values, width, yerr=errors, label=model,
                          capsize=3, error_kw={"linewidth": 0.8})
            ax.bar_label(bars, labels=_labels(shown), fontsize=6, padding=2)
        ax.set_xticks([k + width * (len(models) - 1) / 2 for k in range(len(keys))], keys, fontsize=8)
        ax.set_ylim(0, 5)
        ax.set_ylabel("mean score 1–5 (CI)")
        ax.legend(fontsize=8)
    elif "ranking" in entry and entry["comparisons"]:
        rows = entry["ranking"]
        values, errors = _bars([{"value": r["rating"], "ci": r["ci"]} for r in rows])
        ax.errorbar(values, range(len(rows)), xerr=errors, fmt="o", capsize=3)
        ax.set_yticks(range(len(rows)), [r["model"] for r in rows], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("Bradley–Terry rating, Elo scale (CI)")
    else:
        pairs = list(entry["pairs"])
        shown = [entry["pairs"][p]["win_rate"] for p in pairs]
        values, errors = _bars(shown)
        bars = ax.bar(range(len(pairs)), values, yerr=errors, capsize=3)
        ax.bar_label(bars, labels=_labels(shown), fontsize=7, padding=2)
        ax.axhline(0.5, color="grey", linewidth=0.8, linestyle="--")
        ax.set_xticks(range(len(pairs)), pairs, fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_ylabel("win rate of the first model (CI)")
    ax.set_title(f"judge · {_scope(scope)} ({report['mode']})", fontsize=9)
    return png_bytes(fig)


def _labels(entries: list[dict]) -> list[str]:
    """Bar labels: the value, or "—" where there is none (all replies unparsed): never a made-up 0."""
    return ["—" if e.get("value") is None else f"{e['value']:.2f}" for e in entries]


def _bars(entries: list[dict]) -> tuple[list[float], list[list[float]]]:
    """Values (0 where missing) and asymmetric error bars from {"value", "ci"} entries."""
    values, low, high = [], [], []
    for entry in entries:
        value, ci = entry.get("value"), entry.get("ci")
        values.append(value or 0.0)
        low.append(max(value - ci[0], 0.0) if value is not None and ci else 0.0)
        high.append(max(ci[1] - value, 0.0) if value is not None and ci else 0.0)
    return values, [low, high]


def judgement_line(outcome) -> dict:
    """One line of judgements.jsonl: what a call judged (dataset, record index, models as shown), the parsed
    verdict, the attempts and the reply. The one place that says what a line holds; :func:`read_judgements`
    reads it back."""
    return {"dataset": outcome.call.dataset, "index": outcome.call.index, "models": list(outcome.call.models),
            "parsed": outcome.parsed, "attempts": outcome.attempts, "reply": outcome.reply}


def read_judgements(path: Path) -> list:
    """The outcomes (``eval.judge.run.Outcome``, messages not kept) of a judgements.jsonl; ValueError naming
    the line that is not one."""
    import json

    from eval.judge.run import Call, Outcome

    outcomes = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            item = json.loads(line)
            call = Call(str(item["dataset"]), int(item["index"]), tuple(str(m) for m in item["models"]), [])
            outcomes.append(Outcome(call, item.get("parsed"), str(item.get("reply", "")), int(item.get("attempts", 1))))
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"{path}, line {number}: not a judgement (expected dataset, index, models, "
                             "parsed)") from None
    return outcomes


def write(report: dict, out_dir: Path, judgements: list[dict]) -> list[Path]:
    """Write report.json, report.md, report.png and judgements.jsonl (one line per call) into ``out_dir``."""
    from medft.io import atomic_write_jsonl

    report = round_floats(report)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out_dir / "report.json", report)
    atomic_write_text(out_dir / "report.md", markdown(report))
    atomic_write_bytes(out_dir / "report.png", chart_png(report))
    atomic_write_jsonl(out_dir / "judgements.jsonl", judgements)
    return [out_dir / name for name in ("report.json", "report.md", "report.png", "judgements.jsonl")]
