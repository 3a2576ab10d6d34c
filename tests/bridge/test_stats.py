import json

import pytest
from transformers import AutoTokenizer

from bridge.common import BridgeError
from bridge.sources import SOURCES, dataset_names
from bridge.stats import (
    alpaca_messages,
    compute_stats,
    encode_lengths,
    load_template,
    percentiles,
    recommend_cutoff,
    save_stats,
)

COLUMNS = {"prompt": "instruction", "query": "input", "response": "output"}


def test_percentiles_nearest_rank():
    assert percentiles(list(range(1, 101))) == {"p50": 50, "p90": 90, "p99": 99, "max": 100}
    assert percentiles([7]) == {"p50": 7, "p90": 7, "p99": 7, "max": 7}
    assert percentiles([]) == {"p50": 0, "p90": 0, "p99": 0, "max": 0}
    assert recommend_cutoff([300, 129]) == 384 and recommend_cutoff([]) == 128 and recommend_cutoff([256]) == 256


def test_alpaca_messages_match_llamafactory_converter():
    messages, system = alpaca_messages({"instruction": "问", "input": "补充", "output": "答", "sys": "你是医生"},
                                       {**COLUMNS, "system": "sys"})
    assert messages == [{"role": "user", "content": "问\n补充"}, {"role": "assistant", "content": "答"}]
    assert system == "你是医生"


@pytest.mark.parametrize("template", ["qwen", "qwen3", "llama3"])
def test_batched_lengths_equal_encode_oneturn(converted_dir, tiny_qwen_path, template):
    tokenizer = AutoTokenizer.from_pretrained(tiny_qwen_path)
    tmpl = load_template(tokenizer, template)
    records = [json.loads(x) for name in ("mrg_test.jsonl", "norm_test.jsonl", "o1_test.jsonl")
               for x in (converted_dir / name).read_text(encoding="utf-8").splitlines()]
    prompt_lens, response_lens = encode_lengths(records, COLUMNS, tokenizer, tmpl)
    expected = [tmpl.encode_oneturn(tokenizer, *alpaca_messages(r, COLUMNS)) for r in records]
    assert prompt_lens == [len(p) for p, _ in expected]
    assert response_lens == [len(r) for _, r in expected]


def test_compute_and_save_stats(converted_dir, tiny_qwen_path, tmp_path):
    stats = compute_stats(converted_dir, tiny_qwen_path, "qwen", cutoff_len=256)
    assert set(stats) == {"tokenizer", "template", "cutoff_len", "datasets", "recommended_cutoff_len"}
    assert sorted(stats["datasets"]) == sorted(name for source in SOURCES for name in dataset_names(source).values())
    mrg = stats["datasets"]["med_mrg"]
    assert mrg["rows"] == 36
    for key in ("prompt_tokens", "response_tokens", "total_tokens"):
        assert set(mrg[key]) == {"p50", "p90", "p99", "max"}
        assert mrg[key]["p50"] <= mrg[key]["p90"] <= mrg[key]["p99"] <= mrg[key]["max"]
    # mrg dialogues are longer than 256 tokens with this tokenizer: every one is over the cutoff.
    assert mrg["over_cutoff"] == 36 and mrg["total_tokens"]["p50"] > 256
    top = max(d["total_tokens"]["p99"] for d in stats["datasets"].values())
    assert stats["recommended_cutoff_len"] >= top and stats["recommended_cutoff_len"] % 128 == 0
    path = save_stats(tmp_path, stats)
    assert json.loads(path.read_text(encoding="utf-8")) == stats


def test_unknown_dataset_and_bad_model(converted_dir, tmp_path):
    with pytest.raises(BridgeError, match="not registered"):
        compute_stats(converted_dir, tmp_path, names=["nope"])
    with pytest.raises(BridgeError, match="cannot load a tokenizer"):
        compute_stats(converted_dir, tmp_path / "missing-model")
