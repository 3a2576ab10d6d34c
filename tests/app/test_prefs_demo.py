"""End to end on the control model (`make prefs-demo`): SFT → preferences from the exam's training split → DPO →
base / SFT / DPO side by side with CIs in one report. Real llamafactory-cli runs; about a minute on 2 cores."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from app.prefs_demo import K, run_prefs_demo
from bridge.splits import prompt_key

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("prefs-demo")
    run_prefs_demo(root)
    return root


def _jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_report_puts_base_sft_and_dpo_side_by_side_with_cis(demo):
    report = json.loads((demo / "report" / "report.json").read_text(encoding="utf-8"))
    results = report["results"]
    assert list(results) == ["base", "sft", "dpo"]
    for label in results:
        entry = results[label]["med_cmb_test"]
        low, high = entry["ci"]["score"]
        assert low <= entry["metrics"]["score"] <= high
    # The positive control: SFT taught the answer format (letters), far outside noise.
    assert results["sft"]["med_cmb_test"]["delta"]["unextracted"]["ci"][1] < 0
    assert "dpo" in (demo / "report" / "report.md").read_text(encoding="utf-8")


def test_the_preference_set_is_graded_samples_of_training_questions_only(demo):
    data = demo / "dataset_info"
    pairs = _jsonl(data / "med_cmb_pref.jsonl")
    manifest = json.loads((data / ".medft-manifest.json").read_text(encoding="utf-8"))["datasets"]["med_cmb_pref"]
    counts, provenance = manifest["counts"], manifest["provenance"]
    assert len(pairs) == counts["written"]["train"] == provenance["pairs"] > 0
    assert counts["written"]["train"] + sum(counts["dropped"].values()) == provenance["questions"] == 120
    assert provenance["sampling"]["seeds"] == [42 + j for j in range(K)]
    assert provenance["generator"]["model"] == str(demo / "runs" / "sft")
    assert "med_cmb_test" in manifest["leak_checked_against"] and "med_cmb_dev" in manifest["leak_checked_against"]
    held = {prompt_key(r) for name in ("cmb_test.jsonl", "cmb_dev.jsonl") for r in _jsonl(data / name)}
    training = {prompt_key(r) for r in _jsonl(data / "cmb_train.jsonl")}
    for pair in pairs:
        assert prompt_key(pair) in training and prompt_key(pair) not in held
        assert pair["chosen"] != pair["rejected"]


def test_dpo_started_from_the_sft_model_and_trained_against_it(demo):
    run = demo / "runs" / "dpo"
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "success" and manifest["stage"] == "dpo"
    assert manifest["from_run"] == str(demo / "runs" / "sft")
    assert manifest["reference_model"] == f"{demo / 'runs' / 'sft'} (the policy with its new adapter switched off)"
    adapter = json.loads((run / "adapter_config.json").read_text(encoding="utf-8"))
    assert adapter["base_model_name_or_path"] == str(demo / "runs" / "sft")
    # DPO's first loss is ln 2 exactly when the reference model is the policy it starts from (the SFT model):
    # a reference that were the bare base would give other log-ratios from the first step.
    first = _jsonl(run / "trainer_log.jsonl")[0]
    assert math.isclose(first["loss"], math.log(2), abs_tol=2e-3), first


def test_kto_trains_on_the_same_samples_tagged_good_or_bad(demo):
    """The other data format: `eval prefs exam --kind kto` (the cached samples, no new generation) → train-kto."""
    from app.prefs_demo import ANSWER_TOKENS, COMMON_ARGS

    data, runs = demo / "dataset_info", demo / "runs"
    env = {**os.environ, "MEDFT_RUNS_DIR": str(runs), "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "eval", "prefs", "exam", "med_cmb", "--model", str(runs / "sft"),
                    "--dataset-dir", str(data), "--k", str(K), "--max-new-tokens", str(ANSWER_TOKENS), "--cache",
                    str(demo / "samples"), "--kind", "kto"], check=True, env=env, capture_output=True)
    tagged = _jsonl(data / "med_cmb_kto.jsonl")
    pairs = _jsonl(data / "med_cmb_pref.jsonl")
    assert len(tagged) == 2 * len(pairs) and sum(r["kto_tag"] for r in tagged) == len(pairs)
    subprocess.run([sys.executable, "-m", "recipes", "train", "kto", "--from", str(runs / "sft"), "--dataset-dir",
                    str(data), "--datasets", "med_cmb_kto", "--run", "kto", "learning_rate=5e-4", *COMMON_ARGS],
                   check=True, env=env, capture_output=True)
    manifest = json.loads((runs / "kto" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "success" and manifest["stage"] == "kto"
