"""bridge vs the tutorial's throw-away scripts, on synthetic inputs of real size.

* dialog: an 800k-record JSON array (~0.9 GB, like ModelScope's train_0001_of_0001.json), 5000 + 100
  sampled. Tutorial: ``json.load`` + ``random.shuffle``. medft: the streaming reader (orjson over
  whole-element segments) + seeded reservoir (the whole ``convert_source``: hashing the input, converting,
  writing, registering). medft also runs on
  half the array to show that its peak memory does not grow with the input.
* norm: a 100k-row Yidu-N7K-style xlsx. Tutorial: ``pandas.read_excel`` + ``iterrows`` loop. medft:
  python-calamine via ``convert_source``.
* stats: token lengths of 20k dialog-sized records with the tiny Qwen tokenizer. Tutorial: one
  ``tokenizer(text)`` call per record for the max length. medft: ``compute_stats`` (LLaMA-Factory template,
  batched fast tokenization, percentiles).

Every measurement runs in its own subprocess, which reports its own peak RSS (``VmHWM``, see
``bench.common.peak_rss_mb``), so one run's memory never hides another's. Times cover the work only
(imports excluded on both sides). At full size each measurement runs ``FULL_REPEATS`` times, the two
sides alternating, and the fastest run counts (this VM's neighbours add up to ±30 % noise; the minimum
is the least disturbed); every run's time is saved. The page cache is flushed (``os.sync``) after the
inputs are generated, so that no side pays for writing back the freshly written input (medft fsyncs its
outputs).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import machine_info, peak_rss_mb, save_results
from medft.console import console

FULL = {"dialog": 800_000, "norm": 100_000, "stats": 20_000}
QUICK = {"dialog": 20_000, "norm": 5_000, "stats": 2_000}
FULL_REPEATS = 2  # --quick runs each once


# ---------------------------------------------------------------- synthetic inputs
def _texts(rng: random.Random):
    from bridge.sample_vocab import V
    from bridge.samples import ANSWER_TEMPLATES, ASK_TEMPLATES, _fill

    asks = [_fill(rng, rng.choice(ASK_TEMPLATES)) for _ in range(500)]
    answers = [_fill(rng, rng.choice(ANSWER_TEMPLATES)) for _ in range(500)]
    return asks, answers, V


def write_dialog_array(path: Path, n: int, seed: int = 0) -> None:
    """``n`` records of ~1.2 KB each (the real array averages ~1.2 KB per record), unique titles."""
    rng = random.Random(seed)
    asks, answers, vocab = _texts(rng)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("[\n")
        for i in range(n):
            ask = "".join(rng.choice(asks) for _ in range(3))
            answer = "".join(rng.choice(answers) for _ in range(5))
            record = {"instruction": f"{rng.choice(vocab['symptom'])}怎么办（{i}）", "input": ask, "output": answer,
                      "history": None}
            handle.write(json.dumps(record, ensure_ascii=False, indent=4))
            handle.write(",\n" if i < n - 1 else "\n")
        handle.write("]\n")


def write_norm_xlsx(path: Path, n: int, seed: int = 0) -> None:
    """``n`` rows of 原始词/标准词 written with openpyxl's streaming writer."""
    from openpyxl import Workbook

    from bridge.norm import XLSX_COLUMNS
    from bridge.samples import norm_rows

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(list(XLSX_COLUMNS))
    for row in norm_rows(n, random.Random(seed)):
        sheet.append(list(row))
    workbook.save(path)


def write_stats_dataset(directory: Path, n: int, seed: int = 0) -> None:
    """A registered alpaca jsonl of ``n`` dialog-like records."""
    from bridge import registry

    rng = random.Random(seed)
    asks, answers, _ = _texts(rng)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "bench.jsonl", "w", encoding="utf-8") as handle:
        for _ in range(n):
            rec = {"instruction": "主题：" + rng.choice(asks)[:12] + "\n内容：" + rng.choice(asks), "input": "",
                   "output": "".join(rng.choice(answers) for _ in range(rng.randint(1, 6)))}
            handle.write(json.dumps(rec, ensure_ascii=False) + "\n")
    registry.register(directory, {"bench": registry.alpaca_entry("bench.jsonl")}, {})


# ---------------------------------------------------------------- workers (run in a child process)
def work_dialog_medft(src: str, out: str) -> dict:
    from bridge.pipeline import convert_source

    result = convert_source("dialog", out, inputs={"train": [Path(src)], "test": [Path(src)]})
    return {"rows": result.counts["written"]}


def work_dialog_tutorial(src: str, out: str) -> dict:
    # The tutorial: load everything, shuffle, slice, format, dump (the prompt is the converter's own).
    from bridge.dialog import DEFAULT_PROMPT

    with open(src, encoding="utf-8") as handle:
        data = json.load(handle)
    random.seed(42)
    random.shuffle(data)
    Path(out).mkdir(parents=True, exist_ok=True)
    splits = {"train": data[:5000], "test": data[5000:5100]}
    for split, records in splits.items():
        with open(Path(out) / f"dialog_{split}.jsonl", "w", encoding="utf-8") as handle:
            for item in records:
                rec = {"instruction": DEFAULT_PROMPT.format(title=item["instruction"], ask=item["input"]), "input": "",
                       "output": item["output"]}
                handle.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return {"rows": {k: len(v) for k, v in splits.items()}}


def work_norm_medft(src: str, out: str) -> dict:
    from bridge.pipeline import convert_source

    val = Path(src).with_name("val.xlsx")
    result = convert_source("norm", out, inputs={"train": [Path(src)], "test": [val]},
                            params={"train_size": None})
    return {"rows": result.counts["written"]}


def work_norm_tutorial(src: str, out: str) -> dict:
    import pandas as pd

    from bridge.norm import DEFAULT_PROMPT, XLSX_COLUMNS

    word, term = XLSX_COLUMNS  # the column names, owned by the converter
    Path(out).mkdir(parents=True, exist_ok=True)
    rows = {}
    for split, path in (("train", Path(src)), ("test", Path(src).with_name("val.xlsx"))):
        df = pd.read_excel(path)
        records = []
        for _, row in df.iterrows():
            if pd.isna(row[word]) or pd.isna(row[term]):
                continue
            records.append({"instruction": DEFAULT_PROMPT.format(word=row[word]), "input": "", "output": row[term]})
        with open(Path(out) / f"norm_{split}.jsonl", "w", encoding="utf-8") as handle:
            for rec in records:
                handle.write(json.dumps(rec, ensure_ascii=False) + "\n")
        rows[split] = len(records)
    return {"rows": rows}


def work_stats_medft(src: str, out: str) -> dict:
    from bridge.stats import compute_stats

    stats = compute_stats(src, out, "qwen", 2048)
    return {"max_total": stats["datasets"]["bench"]["total_tokens"]["max"]}


def work_stats_tutorial(src: str, out: str) -> dict:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(out)
    longest = 0
    with open(Path(src) / "bench.jsonl", encoding="utf-8") as handle:
        for line in handle:
            item = json.loads(line)
            longest = max(longest, len(tokenizer(item["instruction"] + item["output"])["input_ids"]))
    return {"max_total": longest}


WORKERS = {name[len("work_"):]: fn for name, fn in globals().items() if name.startswith("work_")}
PRELOAD = {"stats_medft": ["transformers", "llamafactory.data", "bridge.stats"], "stats_tutorial": ["transformers"],
           "norm_tutorial": ["pandas"], "norm_medft": ["python_calamine", "bridge.pipeline"],
           "dialog_medft": ["bridge.pipeline"]}


def _child(task: str, src: str, out: str) -> None:
    import importlib

    for module in PRELOAD.get(task, []):
        importlib.import_module(module)
    start = time.perf_counter()
    info = WORKERS[task](src, out)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_rss_mb(), **info}, ensure_ascii=False))


def measure(task: str, src: Path, out: Path) -> dict:
    """Run ``task`` in a fresh interpreter; return its work time, peak RSS (MB) and what it reports."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.run([sys.executable, "-m", "bench.bench_bridge", "--child", task, str(src), str(out)],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{task} failed:\n{proc.stderr[-3000:]}")
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    info["seconds"] = round(info["seconds"], 2)
    return info


def main(quick: bool = False) -> dict:
    """Generate the inputs, run every pair side by side, print a table and write bench/results/bridge.json."""
    from rich.table import Table

    from medft.tiny_models import tiny_qwen

    sizes = QUICK if quick else FULL
    rows = []
    with tempfile.TemporaryDirectory(prefix="medft-bench-") as tmp:
        tmp = Path(tmp)
        with console.status("generating synthetic inputs..."):
            dialog, dialog_half = tmp / "dialog.json", tmp / "dialog_half.json"
            write_dialog_array(dialog, sizes["dialog"])
            write_dialog_array(dialog_half, sizes["dialog"] // 2, seed=1)
            (tmp / "norm").mkdir()
            write_norm_xlsx(tmp / "norm" / "train.xlsx", sizes["norm"])
            write_norm_xlsx(tmp / "norm" / "val.xlsx", 1000, seed=1)
            write_stats_dataset(tmp / "stats", sizes["stats"])
            model = tiny_qwen()
            os.sync()  # the inputs' dirty pages would otherwise be written back during the first fsync
        size_mb = dialog.stat().st_size / 1e6
        plan = [
            ("dialog", f"{sizes['dialog']:,} records, {size_mb:.0f} MB", "tutorial", "dialog_tutorial", dialog),
            ("dialog", f"{sizes['dialog']:,} records, {size_mb:.0f} MB", "medft", "dialog_medft", dialog),
            ("dialog", f"{sizes['dialog'] // 2:,} records, {dialog_half.stat().st_size / 1e6:.0f} MB", "medft",
             "dialog_medft", dialog_half),
            ("norm", f"{sizes['norm']:,}-row xlsx", "tutorial", "norm_tutorial", tmp / "norm" / "train.xlsx"),
            ("norm", f"{sizes['norm']:,}-row xlsx", "medft", "norm_medft", tmp / "norm" / "train.xlsx"),
            ("stats", f"{sizes['stats']:,} records", "tutorial", "stats_tutorial", tmp / "stats"),
            ("stats", f"{sizes['stats']:,} records", "medft", "stats_medft", tmp / "stats"),
        ]
        runs: dict[int, list[dict]] = {index: [] for index in range(len(plan))}
        for repeat in range(1 if quick else FULL_REPEATS):
            for index, (bench, size, who, task, src) in enumerate(plan):
                out = model if task.startswith("stats") else tmp / f"out{index}-{repeat}"
                with console.status(f"{bench}: {who} ({size}), run {repeat + 1}..."):
                    runs[index].append(measure(task, src, out))
        for index, (bench, size, who, _task, _src) in enumerate(plan):
            best = min(runs[index], key=lambda info: info["seconds"])
            rows.append({"bench": bench, "input": size, "impl": who, **best,
                         "all_seconds": [info["seconds"] for info in runs[index]]})
    speedups = {}
    for bench in ("dialog", "norm", "stats"):
        tut = next(r for r in rows if r["bench"] == bench and r["impl"] == "tutorial")
        med = next(r for r in rows if r["bench"] == bench and r["impl"] == "medft")
        speedups[bench] = {"time_ratio_medft_over_tutorial": round(med["seconds"] / tut["seconds"], 3),
                           "speedup": round(tut["seconds"] / med["seconds"], 2)}
    table = Table(title=f"bridge vs tutorial ({'quick' if quick else 'full size'})")
    for col in ("bench", "input", "impl", "seconds", "peak RSS MB"):
        table.add_column(col, justify="right" if col in ("seconds", "peak RSS MB") else "left")
    for r in rows:
        table.add_row(r["bench"], r["input"], r["impl"], f"{r['seconds']:.2f}", f"{r['peak_rss_mb']:.0f}")
    table.caption = "  ".join(f"{b}: medft {s['speedup']}x" for b, s in speedups.items())
    console.print(table)
    result = {"machine": machine_info(), "quick": quick, "rows": rows, "speedups": speedups}
    console.print(f"saved {save_results('bridge', result)}")
    return result


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        _child(*sys.argv[2:])
    else:
        main(quick="--quick" in sys.argv)
