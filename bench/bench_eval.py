"""Character ROUGE-L on o1-sized answers: medft's bit-parallel LCS vs the textbook O(n·m) table.

medical-o1 chains of thought run to ~2,000 characters; a held-out set of 100 pairs must score in
well under a second, not minutes. Both implementations are checked to agree before timing.
"""

from __future__ import annotations

import random
import time

from rich.table import Table

from bench.common import machine_line, save_results
from eval.text import chars, lcs_length
from medft.console import console

VOCAB = "发热咳嗽痰腹泻呕吐头痛胸闷心悸气短乏力患者诊断治疗建议检查血常规心电图，。、"


def lcs_table(a: list[str], b: list[str]) -> int:
    """The naive approach: a full dynamic-programming table, one Python step per cell."""
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def _pairs(n_pairs: int, length: int, seed: int = 0) -> list[tuple[list[str], list[str]]]:
    rng = random.Random(seed)
    make = lambda: chars("".join(rng.choice(VOCAB) for _ in range(length)))  # noqa: E731
    return [(make(), make()) for _ in range(n_pairs)]


def main(quick: bool = False) -> None:
    """Time both LCS implementations on the same pairs and print/save the comparison."""
    length, n_pairs = (500, 5) if quick else (2000, 20)
    pairs = _pairs(n_pairs, length)
    rows = {}
    for name, fn in (("naive DP table", lcs_table), ("medft bit-parallel", lcs_length)):
        start = time.perf_counter()
        values = [fn(a, b) for a, b in pairs]
        rows[name] = {"seconds": time.perf_counter() - start, "lcs": values}
    assert rows["naive DP table"]["lcs"] == rows["medft bit-parallel"]["lcs"], "implementations disagree"
    naive, fast = rows["naive DP table"]["seconds"], rows["medft bit-parallel"]["seconds"]
    table = Table(title=f"char ROUGE-L LCS: {n_pairs} pairs × {length} chars")
    for column in ("approach", "total s", "ms / pair", "speed-up"):
        table.add_column(column, justify="right" if column != "approach" else "left")
    for name, row in rows.items():
        table.add_row(name, f"{row['seconds']:.3f}", f"{1000 * row['seconds'] / n_pairs:.2f}",
                      f"{naive / row['seconds']:.0f}×")
    console.print(table)
    save_results("eval", {"machine": machine_line(), "pairs": n_pairs, "length": length,
                          "naive_seconds": naive, "medft_seconds": fast, "speedup": naive / fast})
