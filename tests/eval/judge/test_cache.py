"""The judge's reply cache: whatever else is in the file, our entries are read back exactly."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eval.judge import cache
from tests.conftest import examples

PROFILE = settings(max_examples=examples(120), deadline=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture])

_entries = st.lists(st.tuples(st.text(min_size=1, max_size=12), st.text(max_size=40)), max_size=8)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6)


def _line(key, reply):
    return json.dumps({"key": key, "reply": reply, "dataset": "d"}, ensure_ascii=False).encode() + b"\n"


@st.composite
def _noise(draw):
    """A line that is not one of our entries: foreign JSON, an entry of the wrong shape, bytes, a torn entry."""
    kind = draw(st.sampled_from(["json", "shape", "bytes", "torn"]))
    if kind == "json":
        value = draw(_json)
        if isinstance(value, dict) and isinstance(value.get("key"), str) and isinstance(value.get("reply"), str):
            value = [value]
        return json.dumps(value).encode()
    if kind == "shape":
        return json.dumps({"key": draw(st.integers()), "reply": draw(st.text(max_size=5))}).encode()
    if kind == "bytes":
        return draw(st.binary(max_size=30)).replace(b"\n", b"")
    whole = _line(draw(st.text(max_size=8)), draw(st.text(max_size=20)))[:-1]
    return whole[: draw(st.integers(0, max(len(whole) - 2, 0)))]


def _is_entry(raw: bytes) -> bool:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return False
    return isinstance(value, dict) and isinstance(value.get("key"), str) and isinstance(value.get("reply"), str)


@pytest.mark.property
@PROFILE
@given(entries=_entries, noise=st.lists(_noise(), max_size=8), data=st.data())
def test_reading_keeps_exactly_our_entries(tmp_path_factory, entries, noise, data):
    path = tmp_path_factory.mktemp("cache") / "cache.jsonl"
    lines = [_line(k, r) for k, r in entries]
    for item in noise:
        lines.insert(data.draw(st.integers(0, len(lines))), item + b"\n")
    path.write_bytes(b"".join(lines))
    expected = {}
    for raw in b"".join(lines).split(b"\n"):
        if _is_entry(raw):
            entry = json.loads(raw)
            expected[entry["key"]] = entry["reply"]
    assert cache.read(path) == expected
    assert {k: r for k, r in entries}.items() <= cache.read(path).items()


@pytest.mark.property
@PROFILE
@given(before=_entries, torn=_noise(), after=_entries)
def test_appending_after_a_torn_line_loses_nothing(tmp_path_factory, before, torn, after):
    path = tmp_path_factory.mktemp("cache") / "cache.jsonl"
    path.write_bytes(b"".join(_line(k, r) for k, r in before) + torn)  # crashed mid-line: no newline at the end
    with cache.Appender(path) as appender:
        for key, reply in after:
            appender.add(key, reply, attempt=1)
    read = cache.read(path)
    assert {k: r for k, r in after}.items() <= read.items()
    survivors = {k: r for k, r in before if k not in dict(after)}
    assert survivors.items() <= read.items(), "entries written before the crash are still there"
    assert path.read_bytes().startswith(b"".join(_line(k, r) for k, r in before) + torn), "nothing was deleted"


def test_keys_depend_on_judge_messages_and_settings():
    messages = [{"role": "user", "content": "问"}]
    key = cache.call_key("local:abc:qwen", messages, {"max_new_tokens": 8})
    assert key == cache.call_key("local:abc:qwen", [dict(m) for m in messages], {"max_new_tokens": 8})
    assert key != cache.call_key("local:abd:qwen", messages, {"max_new_tokens": 8})
    assert key != cache.call_key("local:abc:qwen", [{"role": "user", "content": "问 "}], {"max_new_tokens": 8})
    assert key != cache.call_key("local:abc:qwen", messages, {"max_new_tokens": 9})


def test_missing_cache_reads_empty(tmp_path):
    assert cache.read(tmp_path / "none.jsonl") == {}
