import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge import jsonstream
from bridge.common import BridgeError
from bridge.jsonstream import iter_json_array, load_json


def test_stream_equals_json_load(samples_dir):
    path = samples_dir / "dialog" / "data" / "train_0001_of_0001.json"
    assert list(iter_json_array(path)) == json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_elements_cut_at_every_chunk_boundary(tmp_path, monkeypatch, chunk):
    # Tiny chunks put the buffer edge inside strings, numbers, literals and multi-byte characters.
    monkeypatch.setattr(jsonstream, "CHUNK_CHARS", chunk)
    data = [{"a": "胃疼，反酸", "n": 12345.5}, 123456789, True, None, "末尾", [1, [2, {"x": "y"}]], -0.25e3]
    path = tmp_path / "a.json"
    path.write_text(" \n" + json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    assert list(iter_json_array(path)) == data


def test_dialog_shaped_arrays_never_need_the_exact_reader(tmp_path, monkeypatch):
    # The fast path (orjson over whole-element segments) must carry the common shape on its own, even
    # with "}," inside the text and records spanning chunk edges; the exact reader is the slow fallback.
    monkeypatch.setattr(jsonstream, "CHUNK_CHARS", 256)
    monkeypatch.setattr(jsonstream, "_exact_elements", lambda *args: pytest.fail("fell back to the exact reader"))
    data = [{"instruction": f"标题{i}", "input": "体温{38.5},咳嗽},\n三天" * (i % 4), "output": "建议就医",
             "history": None} for i in range(300)]
    path = tmp_path / "dialog.json"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=4), encoding="utf-8")
    assert list(iter_json_array(path)) == data


@pytest.mark.parametrize("text", ['[{"a": 1},]', '[{"a": 1}, ]', '[{"a": 1},,{"b": 2}]', '[{"a": 1}},{"b": 2}]',
                                  '[{"a": 1}]]', '[,{"a": 1}]'])
def test_fast_path_accepts_nothing_json_rejects(tmp_path, text):
    path = tmp_path / "x.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    with pytest.raises(BridgeError, match=r"x\.json: line 1, character offset \d+"):
        list(iter_json_array(path))


def test_values_are_the_ones_json_reads(tmp_path):
    # orjson widens integers beyond 64 bits to floats and refuses NaN and lone surrogates; json decides those.
    text = ('[{"n": 123456789012345678901234567890}, {"x": NaN, "s": "\\ud800"}, {"m": -99999999999999999999},'
            ' {"f": 1e300}]')
    path = tmp_path / "v.json"
    path.write_text(text, encoding="utf-8")
    got = list(iter_json_array(path))
    assert got[0] == {"n": 123456789012345678901234567890} and type(got[0]["n"]) is int
    assert got[1]["s"] == "\ud800" and got[1]["x"] != got[1]["x"]  # NaN
    assert got[2] == {"m": -99999999999999999999} and got[3] == {"f": 1e300}


def test_error_after_many_fast_elements_names_the_right_line(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonstream, "CHUNK_CHARS", 64)
    good = ",\n".join(json.dumps({"q": f"问题{i}"}, ensure_ascii=False) for i in range(100))
    text = "[\n" + good + ',\n{"q": "坏", }\n]'
    path = tmp_path / "late.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)
    with pytest.raises(BridgeError, match=f"line {expected.value.lineno}, character offset {expected.value.pos}:"):
        list(iter_json_array(path))


ELEMENT = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6)
SEPARATOR = st.sampled_from([",", ", ", ",\n  ", ",,", "", " ", "},", ",]", "]", "[,"])


@pytest.mark.property
@given(st.lists(st.tuples(ELEMENT, SEPARATOR), max_size=8), st.sampled_from(["]", ",]", "", "]]", "] x", "]\n"]),
       st.sampled_from([1, 5, 64, 1 << 22]))
def test_stream_agrees_with_json_on_hostile_separators(tmp_path_factory, parts, closing, chunk):
    # Elements joined by random, often wrong, separators: the stream yields exactly json's elements or
    # fails with medft's error, whatever the chunk size puts at the buffer edge.
    text = "["
    for index, (element, separator) in enumerate(parts):
        text += json.dumps(element, ensure_ascii=False) + (separator if index < len(parts) - 1 else "")
    text += closing
    path = tmp_path_factory.mktemp("hostile") / "h.json"
    path.write_text(text, encoding="utf-8")
    try:
        expected = json.loads(text)
    except json.JSONDecodeError:
        expected = None
    saved, jsonstream.CHUNK_CHARS = jsonstream.CHUNK_CHARS, chunk
    try:
        got = list(iter_json_array(path))
    except BridgeError:
        got = None
    finally:
        jsonstream.CHUNK_CHARS = saved
    assert got == expected


def test_bom_and_empty_array(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf[ ]")
    assert list(iter_json_array(path)) == []
    path.write_bytes(b'\xef\xbb\xbf[{"k": "\xe6\x97\xa0"}]')
    assert list(iter_json_array(path)) == [{"k": "无"}]


def test_malformed_json_names_file_line_and_offset(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[\n{"a": 1},\n{"a": 2,,}\n]', encoding="utf-8")
    stream = iter_json_array(path)
    assert next(stream) == {"a": 1}
    with pytest.raises(BridgeError, match=r"bad\.json: line 3, character offset 20: malformed JSON"):
        next(stream)


@pytest.mark.parametrize(("text", "message"), [
    ('{"a": 1}', "expected a JSON array"),
    ("", "file is empty"),
    ('[{"a": 1}', "unexpected end of file"),
    ('[{"a": 1} {"b": 2}]', "expected ',' or ']'"),
    ('[{"a": 1}] x', "unexpected data after the JSON array"),
    ('[{"a": "unterminated}]', "malformed JSON: Unterminated string"),
])
def test_structural_errors(tmp_path, text, message):
    path = tmp_path / "x.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BridgeError, match=message):
        list(iter_json_array(path))


def test_load_json_errors_name_position(tmp_path):
    path = tmp_path / "d.json"
    path.write_text('{"a": \n  oops}', encoding="utf-8")
    with pytest.raises(BridgeError, match=r"d\.json: line 2, column 3: malformed JSON"):
        load_json(path)
    path.write_bytes("{\"a\": \"胃疼反酸烧心\"}".encode("gb18030"))
    with pytest.raises(BridgeError, match="not UTF-8"):
        load_json(path)


def test_progress_reports_bytes(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(list(range(1000))), encoding="utf-8")
    seen = []
    list(iter_json_array(path, progress=seen.append))
    assert seen and seen[-1] == path.stat().st_size


def test_a_string_field_over_8_mb_is_valid(tmp_path):
    big = "胃" * (9 << 20)  # 9 M characters, 27 MB of UTF-8: longer than any buffer margin
    path = tmp_path / "big.json"
    path.write_text(json.dumps([{"a": 1}, {"text": big}, {"b": 2}], ensure_ascii=False), encoding="utf-8")
    items = list(iter_json_array(path))
    assert items[0] == {"a": 1} and items[2] == {"b": 2} and items[1]["text"] == big


def test_a_long_unterminated_string_is_still_malformed(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[{"text": "' + "x" * (9 << 20) + "}]", encoding="utf-8")
    with pytest.raises(BridgeError, match="malformed JSON: Unterminated string"):
        list(iter_json_array(path))


@pytest.mark.parametrize("reader", [iter_json_array, load_json])
def test_file_cut_mid_character_is_truncated(tmp_path, reader):
    path = tmp_path / "cut.json"
    path.write_bytes('[{"q": "胃疼反酸"}]'.encode()[:-4])  # ends inside the last Chinese character
    with pytest.raises(BridgeError, match="the file is truncated") as caught:
        result = reader(path)
        list(result) if reader is iter_json_array else result
    assert "not UTF-8" not in caught.value.message
