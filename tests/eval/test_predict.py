import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer

from eval.heldout import load_records
from eval.models import ModelSpec
from eval.predict import GenerationSettings, generate, read_predictions
from eval.prompting import prompt_ids

SETTINGS = GenerationSettings(max_new_tokens=4)


def test_prompt_matches_the_qwen_training_template(tiny_qwen_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_qwen_path)
    ids = prompt_ids(tokenizer, "qwen", {"instruction": "原始词：头痛", "input": "补充"})
    assert tokenizer.decode(ids) == (
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n原始词：头痛\n补充<|im_end|>\n<|im_start|>assistant\n"
    )


def test_generation_is_deterministic_and_resumes(tiny_qwen_path, heldout_dir, tmp_path):
    spec = ModelSpec("base", str(tiny_qwen_path))
    records = load_records(heldout_dir, "med_norm_test")
    out = tmp_path / "preds.jsonl"

    class Stop(Exception):
        pass

    def interrupt(_n):
        raise Stop

    with pytest.raises(Stop):  # interrupted after the first batch of 2
        generate(spec, records, out, "qwen", SETTINGS, batch_size=2, on_batch=interrupt)
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2
    with out.open("a", encoding="utf-8") as handle:
        handle.write('{"key": "torn')  # a crash mid-write leaves half a line
    calls = []
    first = generate(spec, records, out, "qwen", SETTINGS, batch_size=2, on_batch=calls.append)
    assert calls == [2, 1], "only the 3 missing records are generated"
    assert len(first) == 5
    again = generate(spec, records, out, "qwen", SETTINGS, batch_size=2, on_batch=calls.append)
    assert again == first and calls == [2, 1], "a finished run generates nothing"
    fresh = generate(spec, records, tmp_path / "other.jsonl", "qwen", SETTINGS, batch_size=5)
    assert fresh == first, "greedy decoding gives the same text whatever the batching"


def test_new_settings_give_new_keys(tiny_qwen_path, heldout_dir, tmp_path):
    spec = ModelSpec("base", str(tiny_qwen_path))
    records = load_records(heldout_dir, "med_dialog_test")
    out = tmp_path / "p.jsonl"
    generate(spec, records, out, "qwen", SETTINGS)
    generate(spec, records, out, "qwen", GenerationSettings(max_new_tokens=6))
    assert len(read_predictions(out)) == 2
    assert all(json.loads(line)["model"] == "base" for line in out.read_text().splitlines())


def test_pending_prompts_are_batched_by_length_and_returned_in_record_order(tiny_qwen_path, tmp_path):
    spec = ModelSpec("base", str(tiny_qwen_path))
    records = [{"instruction": "短", "output": ""}, {"instruction": "很长的问题" * 40, "output": ""},
               {"instruction": "中等长度的问题" * 5, "output": ""}, {"instruction": "很长的问题" * 39, "output": ""}]
    out = tmp_path / "p.jsonl"
    predictions = generate(spec, records, out, "qwen", SETTINGS, batch_size=2)
    written = [json.loads(line)["index"] for line in out.read_text(encoding="utf-8").splitlines()]
    assert written == [1, 3, 2, 0], "longest first, so the two long prompts share a batch"
    assert predictions == generate(spec, records, tmp_path / "one.jsonl", "qwen", SETTINGS, batch_size=1)


def test_foreign_and_broken_cache_lines_are_skipped(tiny_qwen_path, heldout_dir, tmp_path):
    spec = ModelSpec("base", str(tiny_qwen_path))
    records = load_records(heldout_dir, "med_norm_test")
    out = tmp_path / "p.jsonl"
    first = generate(spec, records, out, "qwen", SETTINGS)
    lines = out.read_text(encoding="utf-8").splitlines()
    foreign = ["[1, 2]", '{"index": 49}', '{"key": 3, "prediction": "x"}', '"text"', "[" * 5000,
               '{"key": "k", "prediction": null}']
    out.write_bytes(("\n".join(lines[:2] + foreign + lines[2:]) + "\n").encode() + b"\xff\xfe broken\n")
    assert len(read_predictions(out)) == 5
    calls = []
    assert generate(spec, records, out, "qwen", SETTINGS, on_batch=calls.append) == first and calls == []


def test_bad_batch_size_fails_before_loading_anything(tmp_path):
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        generate(ModelSpec("base", str(tmp_path / "no-model")), [{"instruction": "x", "output": ""}],
                 tmp_path / "p.jsonl", "qwen", SETTINGS, batch_size=0)


_LINE = st.one_of(
    st.binary(max_size=60),
    st.text(max_size=60).map(str.encode),
    st.builds(lambda k, p: json.dumps({"key": k, "index": 0, "prediction": p}).encode(), st.text(max_size=8),
              st.text(max_size=20)),
    st.recursive(st.none() | st.integers() | st.text(max_size=5),
                 lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                 max_leaves=10).map(lambda v: json.dumps(v).encode()),
)


@pytest.mark.property
@given(st.lists(_LINE, max_size=12), st.booleans())
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_cache_reading_survives_any_bytes(tmp_path_factory, lines, torn):
    path = tmp_path_factory.mktemp("cache") / "p.jsonl"
    data = b"\n".join(lines) + (b"" if torn else b"\n")
    path.write_bytes(data)
    done = read_predictions(path)
    assert all(isinstance(k, str) and isinstance(v["prediction"], str) for k, v in done.items())
    valid = sum(1 for line in lines if line.startswith(b'{"key"'))
    assert len(done) <= valid


def test_finish_reason_tells_a_cut_off_answer_from_a_stopped_one(tiny_qwen_path):
    from eval.predict import generate_batch_with_reasons, load_model, load_tokenizer

    spec = ModelSpec("tiny", str(tiny_qwen_path))
    tokenizer, model = load_tokenizer(spec), load_model(spec, "cpu")
    prompt = prompt_ids(tokenizer, "qwen", {"instruction": "你好", "input": ""})
    pad = tokenizer.pad_token_id
    # No reachable stop token: the answer fills the budget and is cut off.
    _, reasons = generate_batch_with_reasons(model, tokenizer, [prompt, prompt[1:]], pad, [10**9], SETTINGS)
    assert reasons == ["length", "length"]
    # Every token stops: the first generated token ends the answer.
    every = list(range(len(tokenizer)))
    assert generate_batch_with_reasons(model, tokenizer, [prompt], pad, every, SETTINGS)[1] == ["stop"]


def test_predictions_carry_their_finish_reasons_through_the_cache(tiny_qwen_path, heldout_dir, tmp_path):
    records = load_records(heldout_dir, "med_norm_test")[:2]
    out = tmp_path / "p.jsonl"
    first = generate(ModelSpec("tiny", str(tiny_qwen_path)), records, out, "qwen", SETTINGS)
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["finish_reason"] for line in sorted(lines, key=lambda e: e["index"])] == first.finish_reasons
    again = generate(ModelSpec("tiny", str(tiny_qwen_path)), records, out, "qwen", SETTINGS)
    assert again.finish_reasons == first.finish_reasons and set(first.finish_reasons) <= {"stop", "length"}
