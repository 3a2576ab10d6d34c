"""A held-out record's own reference, given as the prediction, scores the best attainable value of every
headline metric, for every source, language and form bridge writes.

This ties each reader in eval to the format its converter writes (one owner per format): a marker or a
section restated in eval and drifted from bridge (the English o1 ``### Answer:`` once did) fails here.
Records come from the real converters, on the sample raw files and on hypothesis-generated raw records.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge import cmb, dialog, mrg, norm, o1
from bridge.common import Prompt, is_blank
from bridge.exam import LETTERS, QUESTION_TYPES
from bridge.pipeline import convert_source
from bridge.samples import write_samples
from eval.bootstrap import point_estimate
from eval.heldout import load_records
from eval.score import score_records
from eval.tasks import get_task
from eval.tasks.base import columns_of
from tests.eval.test_cblue import official_dialogue

#: (label, source, params, held-out dataset name, task)
CONVERTED = [
    ("dialog", "dialog", {}, "med_dialog_test", "dialog"),
    ("norm", "norm", {}, "med_norm_test", "norm"),
    ("mrg", "mrg", {}, "med_mrg_test", "mrg"),
    ("o1-zh", "o1", {"lang": "zh"}, "med_o1_test", "o1"),
    ("o1-zh-think", "o1", {"lang": "zh", "form": "think"}, "med_o1_test", "o1"),
    ("o1-en", "o1", {"lang": "en"}, "med_o1_test", "o1"),
    ("o1-en-think", "o1", {"lang": "en", "form": "think"}, "med_o1_test", "o1"),
    ("cmb", "cmb", {}, "med_cmb_test", "mcq"),
    ("cmexam", "cmexam", {}, "med_cmexam_test", "mcq"),
    ("cmmlu", "cmmlu", {}, "med_cmmlu_test", "mcq"),
]


def metrics_of_references(task: str, records: list[dict]) -> dict[str, float]:
    """The task's summary metrics when every prediction is its record's own ``output``."""
    columns = score_records(task, [str(record["output"]) for record in records], records)
    return point_estimate(columns_of(columns), get_task(task).summarise)


def official_cblue(records: list[dict]) -> float:
    """The official CBLUE MRG score (pinned rouge 1.0.1) of the references' first reports against all of them."""
    per_dialogue = [sum(official_dialogue(json.loads(r["output"]), r["references"])) / 3 for r in records]
    return sum(per_dialogue) / len(per_dialogue)


def assert_best(task: str, records: list[dict]) -> None:
    """Every headline metric of ``task`` at its best attainable value on ``records``."""
    assert records, "no records to score"
    metrics = metrics_of_references(task, records)
    if task == "norm":
        assert metrics["accuracy"] == 1.0
        assert metrics["set_f1"] == metrics["set_precision"] == metrics["set_recall"] == 1.0
    elif task in ("dialog", "o1"):
        assert metrics["rougeL"] == pytest.approx(1.0, abs=1e-12)
        assert metrics["answer_rougeL"] == pytest.approx(1.0, abs=1e-12)
    elif task == "mcq":
        assert metrics["score"] == metrics["accuracy"] == 1.0 and metrics["unextracted"] == 0.0
    elif task == "mrg":
        assert metrics["parse_rate"] == 1.0
        assert metrics["cblue_score"] == pytest.approx(official_cblue(records), abs=1e-9)
        columns = score_records("mrg", [r["output"] for r in records], records)
        for record, row in zip(records, columns, strict=True):
            for section in json.loads(record["output"]):
                if section in mrg.REPORT_SECTIONS:  # the reference's own sections are matched exactly
                    assert row[f"{section}_exact"] == row[f"{section}_rougeL"] == 1.0, section
    else:  # a new task needs its own line here
        raise AssertionError(f"no best-value rule for task {task!r}")


@pytest.fixture(scope="module")
def raw_samples(tmp_path_factory):
    out = tmp_path_factory.mktemp("raw")
    write_samples(out, seed=0)
    return out


@pytest.mark.parametrize(("label", "source", "params", "dataset", "task"), CONVERTED, ids=[c[0] for c in CONVERTED])
def test_sample_references_score_best(raw_samples, tmp_path, label, source, params, dataset, task):
    convert_source(source, tmp_path, raw_dir=raw_samples, params=params)
    records = load_records(tmp_path, dataset)
    if label.startswith("o1-en"):  # the English headings, not the Chinese ones, are what eval must split on
        assert all(o1.ANSWER_HEADINGS["en"] in r["output"] or o1.THINK_CLOSE in r["output"] for r in records)
    assert_best(task, records)


def test_english_o1_final_answer_is_split_on_its_own_heading():
    # The case: same final answer, different reasoning. Before the fix eval looked only for
    # "### 答案：" and "</think>", so answer_rougeL equalled rougeL (≈0.4) instead of 1.
    answer = "Community-acquired pneumonia."
    reference = o1.render_output("Fever with cough suggests pneumonia.", answer, "sections", "en")
    prediction = o1.render_output("Lungs crackle; an X-ray would help.", answer, "sections", "en")
    columns = score_records("o1", [prediction], [{"output": reference}])
    assert columns[0]["answer_rougeL"] == 1.0 and columns[0]["rougeL"] < 0.8


# Text with the characters and markers the formats use, so the generated records reach every edge.
PIECES = st.sampled_from(["### 答案：", "### Answer:", "</think>", "<think>", "##", "。", ".", "\n", " ", "{", "}", '"',
                          "\\", "```", "：", "腹泻", "A", "B", "无", "（空）", "x"])
TEXT = st.lists(st.one_of(PIECES, st.text(max_size=6)), max_size=8).map("".join)
#: Text the converters keep (blank fields are skipped, and bridge's own tests cover that).
KEPT = TEXT.filter(lambda text: not is_blank(text))


def prompt_of(module, text=None) -> Prompt:
    return Prompt(text or module.DEFAULT_PROMPT, module.PROMPT_FIELDS)


@pytest.mark.property
@given(st.lists(st.fixed_dictionaries({"instruction": TEXT, "input": TEXT, "output": TEXT, "history": st.none()}),
                max_size=6))
def test_generated_dialog(raws):
    records = list(dialog.convert(raws, prompt_of(dialog)))
    if records:
        assert_best("dialog", records)


@pytest.mark.property
@given(st.lists(st.tuples(TEXT, TEXT), max_size=6))
def test_generated_norm(rows):
    records = list(norm.convert(rows, prompt_of(norm)))
    if records:
        # set_f1 is 1 when the references hold any term at all; with none, no prediction can score.
        if any(get_task("norm").score([r["output"]], [r])[0]["n_gold"] for r in records):
            assert_best("norm", records)
        else:
            assert metrics_of_references("norm", records)["accuracy"] == 1.0


@pytest.mark.property
@given(st.lists(st.fixed_dictionaries({"Question": KEPT, "Complex_CoT": KEPT, "Response": KEPT}), min_size=1,
                max_size=5),
       st.sampled_from(o1.FORMS), st.sampled_from(sorted(o1.ANSWER_HEADINGS)))
def test_generated_o1(raws, form, lang):
    prompt = prompt_of(o1, o1.DEFAULT_PROMPT_EN if lang == "en" else None)
    records = list(o1.convert(raws, prompt, form=form, lang=lang))
    if records:
        assert_best("o1", records)
    # The reference against itself cannot see a wrong marker (both sides split alike): other reasoning with
    # the same final answer must also score answer_rougeL 1, which needs eval to split where bridge wrote.
    for raw in raws:
        for record in o1.convert([raw], prompt, form=form, lang=lang):
            prediction = o1.render_output("other reasoning 另一种分析", raw["Response"], form, lang)
            assert score_records("o1", [prediction], [record])[0]["answer_rougeL"] == 1.0


SECTION_TEXT = st.lists(st.sampled_from(["腹泻", "三天", "38.5", "℃", "。", ".", " ", "暂缺。", "", "{", '"', "x"]),
                        max_size=6).map("".join)
REPORT = st.dictionaries(st.sampled_from(mrg.REPORT_SECTIONS), SECTION_TEXT, min_size=1).flatmap(
    lambda report: st.dictionaries(st.sampled_from(["备注", "extra"]), SECTION_TEXT, max_size=1).map(
        lambda extra: {**report, **extra}))
IMCS = st.fixed_dictionaries({"dialogue": st.lists(st.fixed_dictionaries({"speaker": st.sampled_from(["医生", "患者"]),
                                                                          "sentence": TEXT}), min_size=1, max_size=3),
                              "report": st.lists(REPORT, min_size=1, max_size=2)})


@pytest.mark.property
@given(st.lists(IMCS, min_size=1, max_size=4))
def test_generated_mrg(raws):
    records = list(mrg.convert([(str(i), raw) for i, raw in enumerate(raws)], prompt_of(mrg), keep_references=True))
    assert_best("mrg", records)


@st.composite
def cmb_questions(draw):
    n_options = draw(st.integers(2, len(LETTERS)))
    options = {LETTERS[i]: draw(TEXT.filter(str.strip)) for i in range(n_options)}
    answer = "".join(draw(st.lists(st.sampled_from(sorted(options)), min_size=1, unique=True)))
    return {"exam_type": draw(TEXT), "exam_class": draw(TEXT), "question_type": draw(st.sampled_from(QUESTION_TYPES)),
            "question": draw(KEPT), "option": options, "answer": answer}


@pytest.mark.property
@given(st.lists(cmb_questions(), min_size=1, max_size=5))
def test_generated_exam_questions(raws):
    records = list(cmb.convert(raws, prompt_of(cmb)))
    assert_best("mcq", records)
