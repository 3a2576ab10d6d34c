"""`make prefs-demo`: SFT → preferences from graded exam answers → DPO → base / SFT / DPO in one report, offline,
on the control model and CMB-Exam's sample questions.

Every stage runs the command a user would type (printed before it runs), under one directory (``runs/prefs-demo``
by default) with its own dataset_dir and runs dir. Settings chosen by measurement on 2 cores (README
"Preference training"):

- SFT is *full* fine-tuning (6 epochs, lr 2e-3, 120 questions): a LoRA SFT of the control model at the demo's
  8e-3 learned to answer with a letter too rarely (13–19 of 120 questions gave a pair with k = 4), the full
  one answers every question with letters, right about as often as chance, so 4 samples per question give a
  right and a wrong answer on more than half of them (76 of 120 measured).
- DPO (a LoRA on the SFT model; its reference is the SFT model) at lr 5e-4 for 2 epochs. The control model
  knows no medicine, so DPO is not expected to move the score: the report shows what it did, with CIs.
  At lr 5e-3 it unlearned the answer format (unextracted 0 → 100 %): the classic DPO collapse when both
  log-likelihoods fall.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from app.demo import _run
from medft.console import console

#: CMB sample questions: 120 training questions (one pair each at most), the published-size test set.
SAMPLE_SIZES = {"cmb_train": 120}
#: What both runs share: batch 8, short sequences, one process, no checkpoints.
COMMON_ARGS = ["per_device_train_batch_size=8", "gradient_accumulation_steps=1", "cutoff_len=256",
               "save_steps=10000", "preprocessing_num_workers=1", "dataloader_num_workers=0"]
SFT_ARGS = ["num_train_epochs=6", "learning_rate=2e-3", "logging_steps=5", *COMMON_ARGS]
DPO_ARGS = ["learning_rate=5e-4", "num_train_epochs=2", "logging_steps=2", *COMMON_ARGS]
#: Answers sampled per training question (temperature 1.0, seeds 42..45).
K = 4
#: Exam prompts ask for the letters only; 8 tokens is room for "答案：AC".
ANSWER_TOKENS = 8


def run_prefs_demo(demo_dir: Path, seed: int = 0, limit: int | None = None) -> Path:
    """Run control model → samples → convert cmb → SFT → prefs → DPO → eval; return the report directory.

    ``limit``: only the first N training questions are sampled (the test uses a few to stay small).
    """
    from medft.control_model import control_qwen

    demo_dir = demo_dir.resolve()
    python = sys.executable
    raw, data, runs, report = demo_dir / "raw", demo_dir / "dataset_info", demo_dir / "runs", demo_dir / "report"
    env = {**os.environ, "MEDFT_RUNS_DIR": str(runs), "MEDFT_DATASET_DIR": str(data)}
    env.setdefault("OMP_NUM_THREADS", "1")  # tiny models: more threads only contend (app.demo)
    _run("the control model (built once, cached)", [python, "-m", "app.cli", "control-model", "--seed", str(seed)], env)
    base = control_qwen(seed=seed)
    sizes = [arg for name, n in SAMPLE_SIZES.items() for arg in ("--size", f"{name}={n}")]
    _run("raw samples", [python, "-m", "bridge", "samples", "--out", str(raw), "--seed", str(seed), *sizes], env)
    _run("convert + register the CMB exam (training split, test set, few-shot pool)",
         [python, "-m", "bridge", "convert", "cmb", "--raw-dir", str(raw), "--dataset-dir", str(data)], env)
    _run("SFT: full fine-tune of the control model on the exam's training split",
         [python, "-m", "recipes", "train", "full", "--model", str(base), "--dataset-dir", str(data),
          "--datasets", "med_cmb", "--run", "sft", "--force", *SFT_ARGS], env)
    _run(f"preferences: {K} sampled answers per training question, graded; right vs wrong",
         [python, "-m", "eval", "prefs", "exam", "med_cmb", "--model", str(runs / "sft"), "--dataset-dir", str(data),
          "--k", str(K), "--max-new-tokens", str(ANSWER_TOKENS), "--cache", str(demo_dir / "samples"), "--force",
          *(["--limit", str(limit)] if limit else [])], env)
    _run("DPO from the SFT run (recipes/dpo.yaml; reference model = the SFT model)",
         [python, "-m", "recipes", "train", "dpo", "--from", str(runs / "sft"), "--dataset-dir", str(data),
          "--datasets", "med_cmb_pref", "--run", "dpo", "--force", *DPO_ARGS], env)
    _run("evaluate base, SFT and DPO side by side (CMB test set, paired-bootstrap CIs)",
         [python, "-m", "eval", "run", "--model", f"base={base}", "--model", f"sft={runs / 'sft'}", "--model",
          f"dpo={runs / 'dpo'}", "--dataset", "med_cmb_test", "--dataset-dir", str(data), "--out", str(report),
          "--max-new-tokens", str(ANSWER_TOKENS)], env)
    console.rule("[bold green]preference demo finished")
    console.print(f"preference set: {data / 'med_cmb_pref.jsonl'} (provenance in {data / '.medft-manifest.json'})\n"
                  f"runs: {runs / 'sft'}, {runs / 'dpo'}\nreport: {report}/report.md (and .html, .json, .csv)\n"
                  "(the control model knows no medicine: README \"Preference training\" says what the numbers mean)")
    return report
