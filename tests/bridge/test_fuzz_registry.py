"""Property-based tests of registration: random existing dataset_info.json contents (bytes, JSON, entries,
encodings, a directory) under a conversion and under `bridge register`, and random user files to register."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge import registry
from bridge.common import BridgeError
from bridge.pipeline import convert_source
from bridge.registry import alpaca_entry
from bridge.userdata import register_file
from tests.bridge.fuzzing import CUTS, ENCODINGS, JSON, PLAIN, TEXT, WORDS, attempt, encode, workspace

pytestmark = pytest.mark.property

NAMES = st.sampled_from(["med_norm", "med_norm_test", "med_dialog", "mine", "mine_test", "alpaca_zh_demo"]) | PLAIN
ENTRY_KEYS = st.sampled_from(["file_name", "formatting", "columns", "num_samples", "split", "hf_hub_url", "ranking",
                              "tags", "extra"])
ENTRY = st.one_of(
    st.dictionaries(ENTRY_KEYS, JSON, max_size=4),
    st.fixed_dictionaries({"file_name": st.sampled_from(["norm_train.jsonl", "norm_test.jsonl", "other.json"]) | PLAIN},
                          optional={"num_samples": st.integers(1, 100), "hf_hub_url": PLAIN,
                                    "formatting": st.sampled_from(["alpaca", "sharegpt"])}),
    JSON)
INFO = st.dictionaries(NAMES, ENTRY, max_size=5)
#: What an existing dataset_info.json may be: JSON in some encoding (maybe cut), random bytes, a directory.
KIND = st.sampled_from(["json", "json", "json", "bytes", "directory"])


def _write_info(data, kind, content, raw_bytes, encoding, cut) -> dict | None:
    """Put the drawn dataset_info.json in place; return it parsed (None if bridge must refuse to read it)."""
    info = data / registry.INFO_NAME
    info.unlink(missing_ok=True)
    if kind == "directory":
        info.mkdir()
        return None
    info.write_bytes(encode(json.dumps(content, ensure_ascii=False, indent=2), encoding, cut) if kind == "json"
                     else raw_bytes)
    try:
        return registry.load_dataset_info(data)
    except BridgeError:
        return None


def _check_entries(before: dict, manifest: dict, after: dict, entries: dict[str, dict]) -> None:
    """Foreign entries keep value and order; replaced ones follow the merge rule (user keys kept)."""
    foreign = [k for k in before if k not in entries]
    assert [k for k in after if k in foreign] == foreign
    assert all(after[k] == before[k] for k in foreign)
    clashing = {c.split(" -> ")[0] for c in registry.conflicts(before, manifest, entries)}
    for name, entry in entries.items():
        expected = dict(entry) if name in clashing else registry.merge_entry(before.get(name), entry)
        assert after[name] == expected, name


@given(KIND, INFO | JSON, st.binary(max_size=64), ENCODINGS, CUTS, st.booleans(), st.booleans())
def test_conversion_over_any_dataset_info(samples_dir, converted_dir, kind, content, raw_bytes, encoding, cut, force,
                                          keep_manifest):
    with workspace(converted_dir) as (data, _):
        if not keep_manifest:
            (data / registry.MANIFEST_NAME).unlink()
        before = _write_info(data, kind, content, raw_bytes, encoding, cut)
        manifest = registry.load_manifest(data)
        result = attempt(lambda: convert_source("norm", data, raw_dir=samples_dir, force=force), data)
        if result is not None:
            entries = {"med_norm": alpaca_entry("norm_train.jsonl"), "med_norm_test": alpaca_entry("norm_test.jsonl")}
            _check_entries(before or {}, manifest, registry.load_dataset_info(data), entries)


ALPACA = st.fixed_dictionaries({"instruction": WORDS | TEXT, "output": WORDS | TEXT},
                               optional={"input": WORDS | TEXT | JSON, "system": TEXT})
TURN = st.fixed_dictionaries({"from": st.sampled_from(["human", "gpt", "system", "x"]), "value": WORDS | TEXT | JSON})
WILD = st.one_of(ALPACA, st.fixed_dictionaries({"conversations": st.lists(TURN, max_size=4)}), JSON)
#: Valid records of one style: alpaca, sharegpt "conversations", or OpenAI-style "messages".
VALID = (
    st.fixed_dictionaries({"instruction": WORDS, "input": st.sampled_from(["", "", "三天"]), "output": WORDS}),
    st.lists(st.tuples(WORDS, WORDS), min_size=1, max_size=2).map(lambda pairs: {"conversations": [
        turn for q, a in pairs for turn in ({"from": "human", "value": q}, {"from": "gpt", "value": a})]}),
    st.lists(st.tuples(WORDS, WORDS), min_size=1, max_size=2).map(lambda pairs: {"messages": [
        turn for q, a in pairs for turn in ({"role": "user", "content": q}, {"role": "assistant", "content": a})]}),
)


@st.composite
def user_records(draw) -> list:
    """Valid records of one style, and in about half of the files one record that may break the rules."""
    records = draw(st.lists(draw(st.sampled_from(VALID)), max_size=10))
    wild = draw(st.lists(WILD, max_size=1))
    at = draw(st.integers(0, len(records)))
    return records[:at] + wild + records[at:]


USER_FILE = st.tuples(user_records(), st.sampled_from([".jsonl", ".json", ".jsonl"]), ENCODINGS, CUTS)


def _user_file(path_stem, drawn):
    records, suffix, encoding, cut = drawn
    path = path_stem.with_suffix(suffix)
    text = ("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records) if suffix == ".jsonl"
            else json.dumps(records, ensure_ascii=False))
    path.write_bytes(encode(text, encoding, cut))
    return path


@given(USER_FILE, st.none() | USER_FILE, st.sampled_from([None, "alpaca", "sharegpt"]), st.booleans(), KIND,
       INFO, st.binary(max_size=32), ENCODINGS)
def test_register_any_user_file(converted_dir, drawn, drawn_test, formatting, force, kind, content, raw_bytes,
                                encoding):
    with workspace(converted_dir) as (data, raw):
        before = _write_info(data, kind, content, raw_bytes, encoding, None)
        manifest = registry.load_manifest(data)
        path = _user_file(raw / "mine", drawn)
        test_path = None if drawn_test is None else _user_file(raw / "held", drawn_test)
        result = attempt(lambda: register_file("mine", path, data, formatting, force, test_path=test_path), data)
        if result is not None:
            entries = {"mine": result["entry"], **({"mine_test": result["test_entry"]} if test_path else {})}
            _check_entries(before or {}, manifest, registry.load_dataset_info(data), entries)
            assert result["rows"] == len(drawn[0])
