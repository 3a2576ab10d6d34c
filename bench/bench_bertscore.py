"""BERTScore pairs/s: medft's batched scorer vs calling ``bert_score.score`` once per pair.

Both use the same local BERT (the offline tiny character BERT) and the same (candidate, reference)
pairs of dialog-answer length. The per-pair side is how the tutorials score a held-out set: a loop
calling ``bert_score.score([c], [r], model_type=...)``, which builds the model again on every call.
medft (``eval.bertscore.bertscore_f1``) loads one scorer and scores all pairs in batches of 32.
The F1 values are checked to agree before the timings are reported.
"""

from __future__ import annotations

import random
import time

from rich.table import Table

from bench.common import machine_line, save_results
from medft.console import console


def pairs(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """``n`` (candidate, reference) answer pairs from the sample dialog generator."""
    from bridge.samples import ANSWER_TEMPLATES, _fill

    rng = random.Random(seed)
    candidates = [_fill(rng, rng.choice(ANSWER_TEMPLATES)) * rng.choice([1, 2]) for _ in range(n)]
    references = [_fill(rng, rng.choice(ANSWER_TEMPLATES)) for _ in range(n)]
    return candidates, references


def per_pair(model: str, num_layers: int, candidates: list[str], references: list[str]) -> list[float]:
    """The naive loop: one ``bert_score.score`` call (and one model load) per pair."""
    from bert_score import score

    return [float(score([c], [r], model_type=model, num_layers=num_layers, device="cpu")[2][0])
            for c, r in zip(candidates, references, strict=True)]


def main(quick: bool = False) -> dict:
    """Time both; print and save pairs/s and the speed-up."""
    from eval.bertscore import _resolve_num_layers, bertscore_f1
    from medft.tiny_models import tiny_bert

    n_fast, n_naive = (64, 8) if quick else (1000, 50)
    model = str(tiny_bert())
    layers = _resolve_num_layers(model, None)
    candidates, references = pairs(n_fast)
    bertscore_f1(candidates[:2], references[:2], model, device="cpu")  # warm the imports, not the timed scorer
    from eval.bertscore import _scorer

    _scorer.cache_clear()
    rows = {}
    start = time.perf_counter()
    fast = bertscore_f1(candidates, references, model, device="cpu")
    rows["medft (one scorer, batches of 32)"] = {"pairs": n_fast, "seconds": time.perf_counter() - start}
    with console.status(f"bert_score.score per pair ({n_naive} pairs)..."):
        start = time.perf_counter()
        naive = per_pair(model, layers, candidates[:n_naive], references[:n_naive])
        rows["bert_score.score per pair"] = {"pairs": n_naive, "seconds": time.perf_counter() - start}
    assert all(abs(a - b) < 1e-4 for a, b in zip(naive, fast, strict=False)), "scorers disagree"
    for row in rows.values():
        row["pairs_per_s"] = round(row["pairs"] / row["seconds"], 1)
        row["seconds"] = round(row["seconds"], 3)
    speedup = round(rows["medft (one scorer, batches of 32)"]["pairs_per_s"]
                    / rows["bert_score.score per pair"]["pairs_per_s"], 1)
    table = Table(title="BERTScore F1, tiny character BERT, CPU")
    for column in ("approach", "pairs", "seconds", "pairs/s"):
        table.add_column(column, justify="left" if column == "approach" else "right")
    for name, row in rows.items():
        table.add_row(name, str(row["pairs"]), f"{row['seconds']:.2f}", f"{row['pairs_per_s']:.1f}")
    table.caption = f"medft {speedup}× the pairs/s of the per-pair loop"
    console.print(table)
    result = {"machine": machine_line(), "rows": rows, "speedup": speedup, "quick": quick}
    save_results("bertscore", result)
    return result
