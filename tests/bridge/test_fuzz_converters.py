"""Property-based tests of every converter: random records, missing keys, wrong types, empty and huge strings,
random encodings and truncated files, through the whole pipeline onto a directory holding good outputs."""

import csv
import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge import dialog, mrg, norm, o1
from bridge.common import BridgeError, Counts, load_prompt
from bridge.jsonstream import iter_json_array
from bridge.pipeline import convert_source
from bridge.samples import write_xlsx
from bridge.splits import leak_free, prompt_key
from tests.bridge.fuzzing import (
    CELL_TEXT,
    CUTS,
    ENCODINGS,
    GOOD,
    JSON,
    PLAIN,
    TEXT,
    VALUE,
    WORDS,
    attempt,
    encode,
    record,
    records,
    workspace,
)

pytestmark = pytest.mark.property

SIZES = st.fixed_dictionaries({"train_size": st.integers(1, 30), "test_size": st.integers(1, 8),
                               "seed": st.integers(0, 2**31)})


def _convert_all(convert, items, *args, **kwargs):
    """Run a converter to the end; only BridgeError may escape; every output is an alpaca record of text."""
    counts = Counts()
    try:
        out = list(convert(items, *args, counts=counts, **kwargs))
    except BridgeError:
        return None
    for rec in out:
        assert {"instruction", "input", "output"} <= set(rec)
        assert all(isinstance(rec[k], str) for k in ("instruction", "input", "output"))
    assert counts.read == len(items)
    return out


@given(st.lists(record(dialog.JSON_KEYS), max_size=8))
def test_dialog_convert(items):
    out = _convert_all(dialog.convert, items, load_prompt(dialog.DEFAULT_PROMPT, dialog.PROMPT_FIELDS))
    assert out is None or all(rec["output"].strip() not in ("", "无") for rec in out)


@given(st.lists(st.tuples(VALUE, VALUE), max_size=8))
def test_norm_convert(items):
    _convert_all(norm.convert, items, load_prompt(norm.DEFAULT_PROMPT, norm.PROMPT_FIELDS))


TURN = record(mrg.TURN_KEYS, TEXT)
GOOD_TURN = st.fixed_dictionaries({"speaker": st.sampled_from(["医生", "患者"]), "sentence": GOOD})
REPORT = st.dictionaries(st.sampled_from(mrg.REPORT_SECTIONS), GOOD, min_size=1)
GOOD_IMCS = st.fixed_dictionaries({"dialogue": st.lists(GOOD_TURN, min_size=1, max_size=4),
                                   "report": st.lists(REPORT, max_size=2)})
WILD_IMCS = st.one_of(
    st.fixed_dictionaries({"dialogue": st.lists(TURN, max_size=4) | JSON,
                           "report": st.lists(st.dictionaries(st.sampled_from(mrg.REPORT_SECTIONS), TEXT) | JSON,
                                              max_size=3) | JSON}),
    record(mrg.RECORD_KEYS))
IMCS = GOOD_IMCS | WILD_IMCS


@given(st.lists(st.tuples(PLAIN, IMCS), max_size=6), st.booleans(), st.booleans())
def test_mrg_convert(items, all_reports, keep_references):
    _convert_all(mrg.convert, items, load_prompt(mrg.DEFAULT_PROMPT, mrg.PROMPT_FIELDS), all_reports=all_reports,
                 keep_references=keep_references)


@given(st.lists(record(o1.RECORD_KEYS), max_size=8), st.sampled_from(o1.FORMS), st.sampled_from(["zh", "en"]))
def test_o1_convert(items, form, lang):
    _convert_all(o1.convert, items, load_prompt(o1.DEFAULT_PROMPT, o1.PROMPT_FIELDS), form=form, lang=lang)


@given(st.lists(JSON, max_size=6), ENCODINGS, CUTS)
def test_json_stream_equals_json_or_fails_cleanly(tmp_path_factory, items, encoding, cut):
    path = tmp_path_factory.mktemp("stream") / "a.json"
    text = json.dumps(items, ensure_ascii=False)
    data = encode(text, encoding, cut)
    path.write_bytes(data)
    try:
        got = list(iter_json_array(path))
    except BridgeError:
        return
    assert got == json.loads(data.decode("utf-8-sig"))


@given(records(dialog.JSON_KEYS), ENCODINGS, CUTS, SIZES)
def test_dialog_pipeline(converted_dir, items, encoding, cut, sizes):
    with workspace(converted_dir) as (data, raw):
        path = raw / "train_0001_of_0001.json"
        path.write_bytes(encode(json.dumps(items, ensure_ascii=False), encoding, cut))
        attempt(lambda: convert_source("dialog", data, inputs={"train": [path], "test": [path]}, params=sizes), data)


ROW = st.one_of(*[st.lists(WORDS | TEXT, min_size=4, max_size=4)] * 4, st.lists(st.one_of(TEXT, st.none()), max_size=5))


@given(st.lists(ROW, min_size=10, max_size=30), st.sampled_from(["utf-8", "gb18030", "gb18030", "utf-8-sig", "utf-16"]),
       CUTS, SIZES, st.sampled_from([False, False, False, True]))
def test_dialog_csv_pipeline(converted_dir, rows, encoding, cut, sizes, no_header):
    out = io.StringIO()
    writer = csv.writer(out)
    if not no_header:
        writer.writerow(dialog.CSV_COLUMNS)
    writer.writerows([["" if c is None else c for c in row] for row in rows])
    with workspace(converted_dir) as (data, raw):
        path = raw / "内科.csv"
        path.write_bytes(encode(out.getvalue(), encoding, cut))
        attempt(lambda: convert_source("dialog", data, inputs={"train": [path], "test": [path]}, params=sizes), data)


CELL = st.one_of(CELL_TEXT, CELL_TEXT, st.none(), st.integers(-1000, 1000), st.floats(-1e6, 1e6))


@given(st.lists(st.tuples(CELL, CELL), max_size=12), st.lists(st.tuples(CELL, CELL), max_size=10),
       st.sampled_from([("原始词", "标准词"), ("标准词", "原始词"), ("原始词", "标准")]), SIZES, st.booleans())
def test_norm_pipeline(converted_dir, train_rows, val_rows, header, sizes, garbage):
    with workspace(converted_dir) as (data, raw):
        train, val = raw / "train.xlsx", raw / "val.xlsx"
        write_xlsx(train, train_rows, header=header)
        if garbage:
            val.write_bytes(b"PK\x03\x04 not really a workbook")
        else:
            write_xlsx(val, val_rows)
        attempt(lambda: convert_source("norm", data, inputs={"train": [train], "test": [val]}, params=sizes), data)


IDS = st.integers(0, 10**7).map(str)


@given(st.dictionaries(IDS, GOOD_IMCS, min_size=3, max_size=16), st.dictionaries(IDS, GOOD_IMCS, min_size=1,
                                                                                  max_size=12),
       st.none() | WILD_IMCS, st.none() | JSON, ENCODINGS, CUTS, SIZES)
def test_mrg_pipeline(converted_dir, train_items, dev_items, wild_record, other_layout, encoding, cut, sizes):
    with workspace(converted_dir) as (data, raw):
        train, dev = raw / "IMCS-V2_train.json", raw / "IMCS-V2_dev.json"
        if wild_record is not None:
            train_items = {**train_items, "wild": wild_record}
        content = train_items if other_layout is None else other_layout
        train.write_bytes(encode(json.dumps(content, ensure_ascii=False), encoding, cut))
        dev.write_text(json.dumps(dev_items, ensure_ascii=False), encoding="utf-8")
        params = {**sizes, "train_size": None}
        attempt(lambda: convert_source("mrg", data, inputs={"train": [train], "test": [dev]}, params=params), data)


@given(records(o1.RECORD_KEYS), ENCODINGS, CUTS, SIZES, st.sampled_from([None, "zh", "en"]))
def test_o1_pipeline(converted_dir, items, encoding, cut, sizes, lang):
    with workspace(converted_dir) as (data, raw):
        path = raw / "medical_o1_sft_Chinese.json"
        path.write_bytes(encode(json.dumps(items, ensure_ascii=False), encoding, cut))
        params = {**sizes, "lang": lang}
        attempt(lambda: convert_source("o1", data, inputs={"train": [path], "test": [path]}, params=params), data)


SMALL = st.sampled_from(["a", "b", "c", "d", "e", "f", " a", "Ａ", "b\n"])
ALPACA = st.fixed_dictionaries({"instruction": SMALL, "input": st.sampled_from(["", "", "x"]), "output": SMALL})


@given(st.lists(ALPACA, max_size=8), st.lists(ALPACA, max_size=8), st.lists(ALPACA, max_size=8),
       st.integers(0, 8), st.one_of(st.none(), st.integers(0, 5)))
def test_leak_rule(train, test, pool, target, borrow):
    result = leak_free(train, test, target, pool, borrow_seed=borrow)
    held = [prompt_key(r) for r in result.test]
    assert len(set(held)) == len(held)
    assert not set(held) & {prompt_key(r) for r in result.train}
    assert len(result.test) <= max(target, len(test))
    assert all(r in train for r in result.train) and len(result.train) + result.refilled >= len(train)
    assert all(any(r is c for c in [*test, *pool, *train]) for r in result.test)
    assert result.removed == len(test) - sum(any(r is t for r in result.test) for t in test)
