"""Exam questions per second: ``loglik`` (one forward pass, best option letter) vs ``generate`` (decode an answer).

The same CMB-style questions (the sample generator's, converted by bridge's cmb source; answer-only prompt
through LLaMA-Factory's qwen template), the offline tiny Qwen2, CPU, batch 8 for both. ``generate`` runs at
the mcq task's budget (64 new tokens) and at a tight one (8): the random tiny model never stops early, so
its generation always uses the whole budget, while a real instruct model answering "D" stops after a few
tokens — the 8-token row is the fairer comparison for such models, the 64-token one for chatty or
reasoning ones. Each timing is one full call on a fresh predictions file (model and tokenizer loading
included, well under a second for the tiny model); imports are done by an untimed warm-up call of each
mode on one question, and nothing is cached between the timed runs.
"""

from __future__ import annotations

import random
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from rich.table import Table

from bench.common import machine_line, save_results
from medft.console import console


def questions(n: int, seed: int = 0) -> list[dict]:
    """``n`` CMB-style exam records (bridge's cmb converter on generated items)."""
    from bridge import cmb
    from bridge.common import load_prompt
    from bridge.exam_samples import CMB_CLASSES, cmb_item

    rng = random.Random(seed)
    items = []
    for k in range(n):
        exam_type, exam_class, subjects, _ = CMB_CLASSES[k % len(CMB_CLASSES)]
        items.append(cmb_item(rng, exam_type, exam_class, subjects, multi=False))
    return list(cmb.convert(items, load_prompt(cmb.DEFAULT_PROMPT, cmb.PROMPT_FIELDS)))


def _timed(fn, *args, **kwargs) -> tuple[float, list[str]]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


def main(quick: bool = False) -> None:
    """Time loglik and generate on the same questions; print and save questions/s."""
    import torch

    from eval.loglik import choose
    from eval.models import ModelSpec
    from eval.predict import GenerationSettings, generate
    from eval.tasks.mcq import TASK
    from medft.tiny_models import tiny_qwen

    n = 24 if quick else 200
    records = questions(n)
    spec = ModelSpec("tiny", str(tiny_qwen()))
    settings = GenerationSettings(max_new_tokens=TASK.max_new_tokens)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        runs = {"loglik": lambda out: choose(spec, records, out, "qwen", batch_size=8, device="cpu"),
                f"generate ({settings.max_new_tokens} tokens)":
                    lambda out: generate(spec, records, out, "qwen", settings, batch_size=8, device="cpu"),
                "generate (8 tokens)":
                    lambda out: generate(spec, records, out, "qwen", replace(settings, max_new_tokens=8),
                                         batch_size=8, device="cpu")}
        warm = records[:1]
        choose(spec, warm, Path(tmp) / "warm-loglik.jsonl", "qwen", device="cpu")  # imports, untimed
        generate(spec, warm, Path(tmp) / "warm-generate.jsonl", "qwen", replace(settings, max_new_tokens=1),
                 device="cpu")
        for k, (name, run) in enumerate(runs.items()):
            seconds, _ = _timed(run, Path(tmp) / f"{k}.jsonl")
            rows[name] = {"seconds": seconds, "questions_per_s": n / seconds}
    loglik = rows["loglik"]["questions_per_s"]
    table = Table(title=f"exam questions/s: {n} CMB-style questions, tiny Qwen2, CPU ({torch.get_num_threads()} "
                        "threads), batch 8")
    for column in ("mode", "total s", "questions/s", "loglik speed-up"):
        table.add_column(column, justify="left" if column == "mode" else "right")
    for name, row in rows.items():
        table.add_row(name, f"{row['seconds']:.2f}", f"{row['questions_per_s']:.1f}",
                      f"{loglik / row['questions_per_s']:.1f}×")
    console.print(table)
    save_results("exams", {"machine": machine_line(), "questions": n, "threads": torch.get_num_threads(),
                           "results": rows})
