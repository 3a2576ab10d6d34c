"""The positive control bites: the same trained control model, run wrongly, scores measurably worse, and
the parity check catches a path that answers differently.

Each test breaks one thing users most often get wrong (LLaMA-Factory issues #9598, #10596, #8720): the chat
template at evaluation, an adapter that silently does not load, a served or merged model that drifts from
the trained one. A check that cannot see these would pass a broken pipeline.
"""

from __future__ import annotations

import json

import pytest

from app import parity
from eval.models import ModelSpec, resolve
from eval.pipeline import evaluate
from eval.predict import GenerationSettings, _load_model

pytestmark = pytest.mark.slow

#: Enough records for the drops below to be far outside noise (measured: the CIs do not overlap).
LIMIT = 30


def _score(specs, demo_dir, out, dataset="med_mrg_test", **kwargs):
    results = evaluate(specs, [dataset], demo_dir / "dataset_info", out, limit=LIMIT, limit_mode="first",
                       settings=GenerationSettings(max_new_tokens=256), bootstrap=200, **kwargs)
    return {label: results[label][dataset]["metrics"] for label in results}


def test_a_wrong_chat_template_at_evaluation_lowers_the_score(demo_dir, tmp_path):
    run = demo_dir / "runs" / "lora"
    right = _score([resolve("tuned", str(run))], demo_dir, tmp_path / "right")["tuned"]
    # LLaMA-Factory's `default` template ("Human: ... Assistant:") instead of the `qwen` the run trained with.
    wrong = _score([resolve("tuned", str(run))], demo_dir, tmp_path / "wrong", template="default")["tuned"]
    print("right", right, "wrong", wrong)
    assert right["parse_rate"] >= 0.3
    assert wrong["cblue_score"] < right["cblue_score"] - 0.1, (right, wrong)


def test_an_adapter_that_silently_fails_to_load_lowers_the_score(demo_dir, tmp_path, monkeypatch):
    run = demo_dir / "runs" / "lora"
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    adapter = ModelSpec("tuned", manifest["base_model"], adapter=str(run), template="qwen")
    loaded = _score([adapter], demo_dir, tmp_path / "loaded")["tuned"]
    import peft

    # The mutation: PEFT hands back the base model untouched, as a mismatched adapter config can make it do.
    monkeypatch.setattr(peft.PeftModel, "from_pretrained", staticmethod(lambda model, *args, **kwargs: model))
    _load_model.cache_clear()
    try:
        missing = _score([adapter], demo_dir, tmp_path / "missing")["tuned"]
    finally:
        _load_model.cache_clear()
    print("loaded", loaded, "missing", missing)
    assert loaded["parse_rate"] >= 0.3
    assert missing["parse_rate"] < loaded["parse_rate"] - 0.2, (loaded, missing)
    assert missing["cblue_score"] < loaded["cblue_score"] - 0.1


def test_every_path_gives_the_same_greedy_answers(demo_dir, tmp_path):
    report = parity.check(demo_dir / "runs" / "lora", demo_dir / "dataset_info", ["med_norm_test", "med_mrg_test"],
                          tmp_path / "parity", prompts=20, max_new_tokens=48)
    assert report.paths == ["adapter", "merged", "served-adapter", "served-merged"]
    assert report.prompts == 20 and report.template_checked == 20
    assert report.ok, [m.__dict__ for m in report.mismatches]


def test_parity_names_the_first_prompt_where_a_path_drifts(demo_dir, tmp_path, monkeypatch):
    import peft

    # The in-process adapter path silently runs the base model: the merged export must now disagree.
    monkeypatch.setattr(peft.PeftModel, "from_pretrained", staticmethod(lambda model, *args, **kwargs: model))
    _load_model.cache_clear()
    try:
        report = parity.check(demo_dir / "runs" / "lora", demo_dir / "dataset_info", ["med_mrg_test"],
                              tmp_path / "parity", prompts=4, max_new_tokens=24, serve=False)
    finally:
        _load_model.cache_clear()
    (mismatch,) = report.mismatches
    assert mismatch.path == "merged" and mismatch.dataset == "med_mrg_test" and mismatch.index == 0
    assert mismatch.expected != mismatch.got and "first difference at character" in mismatch.detail


def test_parity_names_the_first_differing_prompt_token_of_a_wrong_template(demo_dir):
    from eval.heldout import load_records

    run = demo_dir / "runs" / "lora"
    merged = ModelSpec("merged", str(run / "merged"), template="qwen")
    records = load_records(demo_dir / "dataset_info", "med_norm_test", limit=3)
    assert parity._check_template(merged, "qwen", records) is None
    mismatch = parity._check_template(merged, "default", records)
    assert mismatch is not None and mismatch.index == 0 and "prompt token ids differ at position" in mismatch.detail
