"""Eval throughput: answers/s of ``eval``'s predict stage vs the tutorial's one-prompt-at-a-time loop.

Same model (the offline tiny Qwen2), same held-out prompts (dialog-like records of varied length,
built with the training template), same greedy budget. The tutorial tokenizes each prompt with
``padding="max_length"`` to 1024 and calls ``generate`` once per prompt; medft batches prompts sorted
by length (``eval.predict.generate``, default batch size 8) and appends to its prediction cache.
Both sides include loading the model; both produce the same number of answers.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from rich.table import Table

from bench.common import machine_line, save_results
from medft.console import console

TUTORIAL_PAD_TO = 1024


def heldout_records(n: int, seed: int = 0) -> list[dict]:
    """``n`` dialog-style alpaca records, rendered with bridge's dialog prompt."""
    from bridge.common import Prompt
    from bridge.dialog import DEFAULT_PROMPT, PROMPT_FIELDS, render
    from bridge.samples import dialog_records

    rng = random.Random(seed)
    prompt = Prompt(DEFAULT_PROMPT, PROMPT_FIELDS)
    raw = [r for r in dialog_records(n * 2, rng) if r["input"] != "无" and r["output"]]
    # Vary the length as real questions do: some repeat their description.
    return [render(r["instruction"], r["input"] * rng.choice([1, 1, 2, 4]), r["output"], prompt) for r in raw[:n]]


def tutorial_loop(model_dir: str, records: list[dict], max_new_tokens: int) -> list[str]:
    """The tutorial's evaluation: one prompt at a time, padded to a fixed 1024 tokens, then generate."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from eval.prompting import prompt_ids

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.padding_side = "left"  # so the padded prompt still ends where generation starts
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    answers = []
    for record in records:
        text = tokenizer.decode(prompt_ids(tokenizer, "qwen", record))
        inputs = tokenizer(text, padding="max_length", max_length=TUTORIAL_PAD_TO, return_tensors="pt")
        with torch.no_grad():
            output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                    pad_token_id=tokenizer.pad_token_id)
        answers.append(tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True))
    return answers


def medft_predict(model_dir: str, records: list[dict], max_new_tokens: int, cache: Path) -> list[str]:
    """eval's stage 1 exactly as `eval run` calls it."""
    from eval.models import ModelSpec
    from eval.predict import GenerationSettings, generate

    return generate(ModelSpec("tiny", model_dir), records, cache, "qwen",
                    GenerationSettings(max_new_tokens=max_new_tokens), batch_size=8, device="cpu")


def main(quick: bool = False) -> dict:
    """Time both on the same records; print and save answers/s and the speed-up."""
    import torch

    from eval.prompting import prompt_ids  # noqa: F401  (import LLaMA-Factory before timing)
    from medft.tiny_models import tiny_qwen

    n, max_new_tokens = (24, 16) if quick else (200, 32)
    model_dir = str(tiny_qwen())
    records = heldout_records(n)
    torch.manual_seed(0)
    rows = {}
    with tempfile.TemporaryDirectory(prefix="medft-bench-") as tmp:
        for name, run in (("tutorial loop (1 prompt, pad to 1024)", lambda: tutorial_loop(model_dir, records,
                                                                                          max_new_tokens)),
                          ("medft eval (batch 8, length-sorted)", lambda: medft_predict(
                              model_dir, records, max_new_tokens, Path(tmp) / "p.jsonl"))):
            with console.status(f"{name}: {n} answers..."):
                start = time.perf_counter()
                answers = run()
                seconds = time.perf_counter() - start
            assert len(answers) == n
            rows[name] = {"seconds": round(seconds, 3), "answers_per_s": round(n / seconds, 2)}
    tutorial, medft = rows.values()
    speedup = round(medft["answers_per_s"] / tutorial["answers_per_s"], 2)
    table = Table(title=f"eval predict: {n} held-out answers, tiny Qwen2, {max_new_tokens} new tokens, CPU")
    for column in ("approach", "seconds", "answers/s"):
        table.add_column(column, justify="left" if column == "approach" else "right")
    for name, row in rows.items():
        table.add_row(name, f"{row['seconds']:.2f}", f"{row['answers_per_s']:.1f}")
    table.caption = f"medft {speedup}× the tutorial's answers/s (target ≥ 5×)"
    console.print(table)
    result = {"machine": machine_line(), "records": n, "max_new_tokens": max_new_tokens, "rows": rows,
              "speedup": speedup, "quick": quick}
    save_results("predict", result)
    return result
