"""loglik: the most likely option letter on the real tiny model, batched, cached beside generated answers."""

import json

import pytest
from transformers import AutoTokenizer

from eval.heldout import load_records
from eval.loglik import LoglikError, choose, letter_logprobs, letter_token_ids, loglik_key
from eval.models import ModelSpec
from eval.predict import GenerationSettings, generate, load_model, prediction_key, read_predictions
from eval.prompting import prompt_ids


def test_choices_are_option_letters_cached_and_independent_of_batching(tiny_qwen_path, exam_dir, tmp_path):
    spec = ModelSpec("base", str(tiny_qwen_path))
    records = load_records(exam_dir, "med_cmb_test", limit=9)
    out = tmp_path / "preds.jsonl"
    calls = []
    first = choose(spec, records, out, "qwen", batch_size=4, on_batch=calls.append)
    assert calls == [4, 4, 1]
    assert all(letter in record["options"] for letter, record in zip(first, records, strict=True))
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 9 and all(line["mode"] == "loglik" for line in lines)
    for line in lines:  # the prediction is the best of the question's letters
        assert line["prediction"] == max(line["logprobs"], key=lambda k, lp=line["logprobs"]: (lp[k], -ord(k)))
        assert set(line["logprobs"]) == set(records[line["index"]]["options"])
    assert choose(spec, records, out, "qwen", on_batch=calls.append) == first and calls == [4, 4, 1]
    one_by_one = choose(spec, records, tmp_path / "single.jsonl", "qwen", batch_size=1)
    assert one_by_one == first, "left padding with shifted positions scores each prompt as if alone"


def test_padding_does_not_change_the_log_probabilities(tiny_qwen_path, exam_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_qwen_path)
    model = load_model(ModelSpec("base", str(tiny_qwen_path)), "cpu")
    records = load_records(exam_dir, "med_cmexam_test", limit=3)
    prompts = [prompt_ids(tokenizer, "qwen", r) for r in records]
    letters = [sorted(r["options"]) for r in records]
    ids = letter_token_ids(tokenizer, "ABCDE")
    batched = letter_logprobs(model, prompts, letters, ids, pad_id=0)
    alone = [letter_logprobs(model, [p], [lt], ids, pad_id=0)[0] for p, lt in zip(prompts, letters, strict=True)]
    for got, want in zip(batched, alone, strict=True):
        assert got == pytest.approx(want, abs=1e-4)


def test_loglik_and_generated_answers_share_the_cache_under_distinct_keys(tiny_qwen_path, exam_dir, tmp_path):
    spec = ModelSpec("base", str(tiny_qwen_path))
    records = load_records(exam_dir, "med_cmmlu_test", limit=3)
    out = tmp_path / "preds.jsonl"
    assert choose(spec, records, out, "qwen").finish_reasons == ["stop"] * 3, "loglik cuts nothing off"
    generate(spec, records, out, "qwen", GenerationSettings(max_new_tokens=3))
    entries = read_predictions(out)
    assert len(entries) == 6 and sum(e.get("mode") == "loglik" for e in entries.values()) == 3
    tokenizer = AutoTokenizer.from_pretrained(tiny_qwen_path)
    prompt = prompt_ids(tokenizer, "qwen", records[0])
    assert loglik_key(spec, "qwen", prompt, "ABCD") != prediction_key(spec, "qwen", prompt, GenerationSettings())
    assert loglik_key(spec, "qwen", prompt, "ABCD") != loglik_key(spec, "qwen", prompt, "ABC")


def test_errors(tiny_qwen_path, heldout_dir, tmp_path):
    spec = ModelSpec("base", str(tiny_qwen_path))
    with pytest.raises(LoglikError, match="record 1 has no 'options': loglik scores exam questions"):
        choose(spec, load_records(heldout_dir, "med_norm_test"), tmp_path / "p.jsonl", "qwen")
    tokenizer = AutoTokenizer.from_pretrained(tiny_qwen_path)
    with pytest.raises(LoglikError, match="one token; this tokenizer splits 'ZQXJV'"):
        letter_token_ids(tokenizer, ["A", "ZQXJV"])
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        choose(spec, [], tmp_path / "p.jsonl", "qwen", batch_size=0)
