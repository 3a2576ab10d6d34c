"""``bridge audit`` (contamination + MinHash-LSH near-duplicates) vs the naive pairwise comparison.

* samples: every source's sample raw files (``bridge samples``) converted with the defaults, then
  ``audit(dataset_dir, near_dedup=0.7)``: the time ``make data`` adds.
* 100k: 100,000 dialog-sized training records (synthetic, from the sample generator's vocabulary, with
  ``PLANTED`` held-out exam questions pasted into them, and 1 % near-duplicates of a recent record: one
  character changed, one comma swapped) registered beside held-out sets of real size
  (CMExam's 6,811 test questions, CMMLU's medical subjects, CMB's test set, the sample sets) and audited
  with near-dedup. medft: the n-gram index + one pass, MinHash LSH. Naive: every training record against
  every held-out item (set intersection of their 13-grams) and every training pair's exact shingle
  Jaccard, run on a sample of the training records and extrapolated (linearly for the held-out pass,
  quadratically for the pairs); on that sample medft runs too and both must flag the same pairs.

Each measurement runs in its own interpreter and reports its own peak RSS (``VmHWM``); times cover the
work only (imports and input generation excluded).
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

FULL = {"train": 100_000, "naive_heldout": 200, "naive_pairs": 1_000}
QUICK = {"train": 5_000, "naive_heldout": 50, "naive_pairs": 300}
#: Held-out sizes of the real benchmarks (CMExam test 6,811; CMMLU: 10 medical subjects of ~150–300).
REAL_HELDOUT = {"cmexam_test": 6811, "cmmlu_test": 250, "dialog": 3000}
QUICK_HELDOUT = {"cmexam_test": 500, "cmmlu_test": 30, "dialog": 600}
PLANTED = 50


def build_inputs(tmp: Path, n_train: int, heldout_sizes: dict, seed: int = 0) -> tuple[Path, Path]:
    """Converted sample sources (real-size held-out sets) + a registered ``synthetic`` training set of
    ``n_train`` records. Returns (samples dataset_dir, big dataset_dir)."""
    from bench.bench_bridge import _texts
    from bridge.pipeline import convert_source
    from bridge.samples import write_samples
    from bridge.sources import SOURCES
    from bridge.userdata import register_file

    small_raw, small = tmp / "raw-default", tmp / "ds-default"
    write_samples(small_raw, seed=seed)
    for name in SOURCES:
        convert_source(name, small, raw_dir=small_raw)
    raw, big = tmp / "raw-real", tmp / "ds-real"
    write_samples(raw, seed=seed, sizes=heldout_sizes)
    for name in SOURCES:
        convert_source(name, big, raw_dir=raw)
    rng = random.Random(seed)
    asks, answers, _ = _texts(rng)
    exam = [json.loads(line) for line in (big / "cmexam_test.jsonl").read_text(encoding="utf-8").splitlines()]
    planted = set(rng.sample(range(n_train), PLANTED))
    near = set(rng.sample(range(1, n_train), n_train // 100)) - planted
    recent: list[dict] = []
    with open(tmp / "synthetic.jsonl", "w", encoding="utf-8") as handle:
        for i in range(n_train):
            if i in near:  # a near-duplicate of a recent record: one character changed, one comma swapped
                source = rng.choice(recent)
                text = source["instruction"]
                at = rng.randrange(len(text) // 2, len(text))
                record = {**source, "instruction": (text[:at] + "某" + text[at + 1:]).replace("，", ",", 1)}
            else:
                ask = "".join(rng.choice(asks) for _ in range(2))
                if i in planted:
                    q = rng.choice(exam)
                    ask += q["question"] + " " + " ".join(f"{k}.{v}" for k, v in q["options"].items())
                record = {"instruction": f"主题：{rng.choice(asks)[:12]}\n内容：{ask}", "input": "",
                          "output": "".join(rng.choice(answers) for _ in range(3))}
            recent = [*recent, record][-50:]
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    register_file("synthetic", tmp / "synthetic.jsonl", big)
    (tmp / "planted.json").write_text(json.dumps(sorted(planted)), encoding="utf-8")
    (tmp / "planted_near.json").write_text(json.dumps(len(near)), encoding="utf-8")
    return small, big


# ---------------------------------------------------------------- the two sides (run in children)
def work_medft(dataset_dir: str, _arg: str) -> dict:
    from bridge.audit import audit

    report = audit(dataset_dir, near_dedup=0.7)
    planted_file = Path(dataset_dir).parent / "planted.json"
    planted = set(json.loads(planted_file.read_text(encoding="utf-8"))) if planted_file.is_file() else set()
    return {"planted_found": len(planted & set(report["drop"].get("synthetic", []))),
            "worker_peak_rss_mb": report["peak_rss_mb"].get("worker"),
            "flagged_records": {n: t["contaminated_records"] for n, t in report["training"].items()},
            "near_duplicates": {n: t["near_duplicates"] for n, t in report["training"].items()}}


def _sample_records(dataset_dir: str, n: int) -> list[dict]:
    from bridge.userdata import read_records

    return read_records(Path(dataset_dir).parent / "synthetic.jsonl")[:n]  # beside the dataset_dir, see build_inputs


def work_naive_heldout(dataset_dir: str, n: str) -> dict:
    """Every sampled training record × every held-out item: the same rules by brute force."""
    from bridge import audit

    sets, _ = audit.registered_sets(dataset_dir)
    held = [audit.load_held_out(d) for d in sets if d.held_out]
    items = [(h.name, i, h.keys[i], h.contents[i], audit._grams(h.contents[i])) for h in held
             for i in range(len(h.keys))]
    flagged = []
    for number, record in enumerate(_sample_records(dataset_dir, int(n))):
        key, text = audit._training_text(record)
        grams = audit._grams(text)
        for name, i, item_key, content, item_grams in items:
            if key == item_key or (item_grams and content in text):
                flagged.append([number, name, i, "exact"])
            elif item_grams and len(item_grams & grams) > audit.SHARE * len(item_grams):
                flagged.append([number, name, i, "ngram"])
    return {"pairs": len(items) * int(n), "flagged": sorted(flagged)}


def work_medft_heldout(dataset_dir: str, n: str) -> dict:
    """medft's index on the same sample, for the agreement check."""
    from bridge import audit

    sets, _ = audit.registered_sets(dataset_dir)
    held = [audit.load_held_out(d) for d in sets if d.held_out]
    index = audit.Index.build(held)
    flagged = [[number, held[s].name, i, kind] for number, record in enumerate(_sample_records(dataset_dir, int(n)))
               for (s, i), kind in audit.match_record(index, record).items()]
    return {"flagged": sorted(flagged)}


def work_naive_pairs(dataset_dir: str, n: str) -> dict:
    """Greedy near-duplicates by exact shingle Jaccard against every earlier kept record."""
    from bridge import audit
    from bridge.splits import prompt_key

    records = _sample_records(dataset_dir, int(n))
    affixes = audit._common_affixes([prompt_key(r) for r in records[:1000]])
    kept: list[set] = []
    dups = 0
    for record in records:
        text = audit._near_text(record, affixes)
        shingles = {text[i:i + audit.SHINGLE] for i in range(max(1, len(text) - audit.SHINGLE + 1))}
        if any(len(shingles & k) / len(shingles | k) >= 0.7 for k in kept):
            dups += 1
        else:
            kept.append(shingles)
    return {"pairs": int(n) * (int(n) - 1) // 2, "near_duplicates": dups}


def work_medft_pairs(dataset_dir: str, n: str) -> dict:
    from bridge import audit
    from bridge.splits import prompt_key

    records = _sample_records(dataset_dir, int(n))
    affixes = audit._common_affixes([prompt_key(r) for r in records[:1000]])
    near = audit.NearDuplicates(0.7)
    return {"near_duplicates": sum(near.seen(audit._near_text(r, affixes)) for r in records)}


WORKERS = {"medft": work_medft, "naive_heldout": work_naive_heldout, "medft_heldout": work_medft_heldout,
           "naive_pairs": work_naive_pairs, "medft_pairs": work_medft_pairs}


def _child(task: str, src: str, arg: str) -> None:
    import datasketch  # noqa: F401

    import bridge.audit  # noqa: F401  (imports are not timed)

    start = time.perf_counter()
    info = WORKERS[task](src, arg)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_rss_mb(), **info}, ensure_ascii=False))


def measure(task: str, src: Path, arg: str = "") -> dict:
    """Run ``task`` in a fresh interpreter; its work time, peak RSS (MB) and what it reports."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.run([sys.executable, "-m", "bench.bench_audit", "--child", task, str(src), arg],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{task} failed:\n{proc.stderr[-3000:]}")
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    info["seconds"] = round(info["seconds"], 2)
    return info


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def main(quick: bool = False) -> dict:
    """Build the inputs, run both sides, print a table and write bench/results/audit.json."""
    from rich.table import Table

    sizes = QUICK if quick else FULL
    with tempfile.TemporaryDirectory(prefix="medft-bench-audit-") as tmp:
        tmp = Path(tmp)
        with console.status("generating and converting the inputs..."):
            small, big = build_inputs(tmp, sizes["train"], QUICK_HELDOUT if quick else REAL_HELDOUT)
        load_before = _load()
        samples = measure("medft", small)
        full = measure("medft", big)
        naive_h = measure("naive_heldout", big, str(sizes["naive_heldout"]))
        medft_h = measure("medft_heldout", big, str(sizes["naive_heldout"]))
        naive_p = measure("naive_pairs", big, str(sizes["naive_pairs"]))
        medft_p = measure("medft_pairs", big, str(sizes["naive_pairs"]))
        load_after = _load()
    n = sizes["train"]
    heldout_extrapolated = naive_h["seconds"] * n / sizes["naive_heldout"]
    pairs_extrapolated = naive_p["seconds"] * (n * (n - 1) / 2) / naive_p["pairs"]
    rows = [
        {"bench": "samples", "input": "default sample sets, all sources", "impl": "medft", **samples},
        {"bench": "100k", "input": f"{n:,} training records vs all held-out sets", "impl": "medft", **full},
        {"bench": "held-out pass", "input": f"{sizes['naive_heldout']} training records (sample)", "impl": "naive",
         "extrapolated_seconds": round(heldout_extrapolated, 1), **{k: v for k, v in naive_h.items() if k != "flagged"},
         "flagged_pairs": len(naive_h["flagged"])},
        {"bench": "held-out pass", "input": f"{sizes['naive_heldout']} training records (sample)", "impl": "medft",
         **{k: v for k, v in medft_h.items() if k != "flagged"}, "flagged_pairs": len(medft_h["flagged"]),
         "agrees_with_naive": medft_h["flagged"] == naive_h["flagged"]},
        {"bench": "near-dup", "input": f"{sizes['naive_pairs']:,} training records (sample)", "impl": "naive",
         "extrapolated_seconds": round(pairs_extrapolated, 1), **naive_p},
        {"bench": "near-dup", "input": f"{sizes['naive_pairs']:,} training records (sample)", "impl": "medft",
         **medft_p},
    ]
    table = Table(title=f"bridge audit vs naive pairwise ({'quick' if quick else 'full size'})")
    for col in ("bench", "input", "impl", "seconds", "peak RSS MB", "notes"):
        table.add_column(col, justify="right" if col in ("seconds", "peak RSS MB") else "left")
    for r in rows:
        note = ", ".join(f"{k} {r[k]}" for k in ("worker_peak_rss_mb", "planted_found", "extrapolated_seconds",
                                                  "flagged_pairs",
                                                  "agrees_with_naive",
                                                  "near_duplicates") if k in r and not isinstance(r[k], dict))
        table.add_row(r["bench"], r["input"], r["impl"], f"{r['seconds']:.2f}", f"{r['peak_rss_mb']:.0f}", note)
    console.print(table)
    result = {"machine": machine_info(), "load_before": load_before, "load_after": load_after, "quick": quick,
              "planted": PLANTED, "rows": rows}
    console.print(f"load average before/after: {load_before} / {load_after}")
    console.print(f"saved {save_results('audit', result)}")
    return result


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else "")
    else:
        main(quick="--quick" in sys.argv)
