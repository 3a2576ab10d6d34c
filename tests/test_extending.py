"""docs/extending.md is true: a new source and a new eval task are each one file plus one registry line,
and the exams' task comes from their bridge converters."""

from __future__ import annotations

import importlib
import json
import textwrap

from bridge import cmb, cmexam, cmmlu
from bridge.heldout import heldout_names
from bridge.pipeline import convert_source
from bridge.sources import SOURCES
from eval.bootstrap import point_estimate
from eval.heldout import load_records, task_of
from eval.score import score_records
from eval.tasks import ALIASES, TASKS
from eval.tasks.base import columns_of

SOURCE = '''
    """toy: a JSON array of {"q": ..., "a": ...} (the smallest source docs/extending.md describes)."""
    import json

    from bridge.common import BridgeError, Counts, sample_with_rest

    NAME, VERSION = "toy", 1
    DEFAULT_PROMPT, PROMPT_FIELDS = "问题：{q}", ("q",)
    DEFAULT_PARAMS = {"train_size": None, "test_size": 2, "seed": 42}
    ANSWER_PREFIX = "答："  # a format constant: the task below imports it


    def convert(records, prompt, counts=None):
        counts = counts if counts is not None else Counts()
        for raw in records:
            counts.read += 1
            yield {"instruction": prompt.render(q=raw["q"]), "input": "", "output": ANSWER_PREFIX + raw["a"]}


    def build(inputs, params, prompt, counts, dedup=False, progress=None):
        records = [r for path in inputs["train"] for r in convert(json.loads(path.read_text("utf-8")), prompt, counts)]
        test, train = sample_with_rest(records, params["test_size"], params["seed"])
        return {"train": train, "test": test}


    def find_inputs(raw):
        found = sorted(raw.rglob("toy.json"))
        if not found:
            raise BridgeError(f"no toy data under {raw}: expected toy.json")
        return {"train": found, "test": found}
'''

TASK = '''
    """toytask: exact match of the answer after the source's own prefix."""
    from toy_source import ANSWER_PREFIX

    from eval.tasks.base import Task


    def score(predictions, records):
        return [{"accuracy": float(p.removeprefix(ANSWER_PREFIX) == r["output"].removeprefix(ANSWER_PREFIX))}
                for p, r in zip(predictions, records, strict=True)]


    TASK = Task("toy", score, headline="accuracy", max_new_tokens=16)
'''


def test_a_source_and_a_task_are_one_file_and_one_line_each(tmp_path, monkeypatch):
    code = tmp_path / "code"
    code.mkdir()
    (code / "toy_source.py").write_text(textwrap.dedent(SOURCE), encoding="utf-8")
    (code / "toy_task.py").write_text(textwrap.dedent(TASK), encoding="utf-8")
    monkeypatch.syspath_prepend(str(code))
    monkeypatch.setitem(SOURCES, "toy", importlib.import_module("toy_source"))        # the registry line
    monkeypatch.setitem(TASKS, "toy", importlib.import_module("toy_task").TASK)       # the registry line

    raw, data = tmp_path / "raw", tmp_path / "data"
    (raw / "toy").mkdir(parents=True)
    items = [{"q": f"第{i}题", "a": f"答案{i}"} for i in range(10)]
    (raw / "toy" / "toy.json").write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    assert convert_source("toy", data, raw_dir=raw).status == "written"

    info = json.loads((data / "dataset_info.json").read_text(encoding="utf-8"))
    assert set(info) == {"med_toy", "med_toy_test"}
    assert heldout_names(data) == {"med_toy_test": "test"}  # kept out of training and the web UI's dropdown
    assert task_of("med_toy_test") == "toy"
    records = load_records(data, "med_toy_test")
    predictions = [r["output"].removeprefix("答：") for r in records]
    summary = point_estimate(columns_of(score_records("toy", predictions, records)), TASKS["toy"].summarise)
    assert summary == {"accuracy": 1.0}


def test_exams_name_their_task_in_bridge():
    assert ALIASES == {"cmb": "mcq", "cmexam": "mcq", "cmmlu": "mcq"}
    assert cmb.TASK == cmexam.TASK == cmmlu.TASK == "mcq"
    assert task_of("med_cmexam_test") == "mcq"
