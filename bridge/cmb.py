"""cmb: CMB-Exam (FreedomIntelligence/CMB), the Chinese medical licensing-exam benchmark.

Files as published (``data/CMB.zip`` of the GitHub repo, unzipped, plus the test answers that ship
separately): ``CMB-train-merge.json`` (269,359 questions), ``CMB-val-merge.json`` (280, with
``explanation``; the few-shot pool), ``CMB-test-choice-question-merge.json`` (11,200, no answers)
and ``CMB-test-choice-answer.json`` (``id`` → ``answer``). Each is one JSON array of objects.

Splits: ``med_cmb`` (a seeded sample of train, questions that also occur in test or val removed),
``med_cmb_test`` (all of test by default) and ``med_cmb_dev`` (val, the few-shot pool).
``category`` is ``exam_type`` and ``subject`` is ``exam_class``: CMB's official score.py averages
accuracy per exam_class within each exam_type.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

from bridge.common import BridgeError, Counts, Prompt, is_blank, mark_duplicates, require_keys, sample_ordered
from bridge.dialog import reservoir
from bridge.exam import (
    MULTI,
    QUESTION_TYPES,
    SINGLE,
    answer_letters,
    check_answer,
    clean_options,
    drop_leaks,
    exam_record,
    question_key,
    render_options,
    training_record,
    unique_questions,
)
from bridge.jsonstream import iter_json_array, load_json

NAME = "cmb"
VERSION = 2  # 2: held-out questions unique (duplicates dropped and counted)
#: CMB's own answer-only prompt (its README, "Answer-only Prompt"), options as ``A. text`` lines.
DEFAULT_PROMPT = ("以下是中国{exam_type}中{exam_class}考试的一道{question_type}，不需要做任何分析和解释，"
                  "直接输出答案选项。\n{question}\n{options}")
PROMPT_FIELDS = ("exam_type", "exam_class", "question_type", "question", "options")
DEFAULT_PARAMS = {"train_size": 5000, "test_size": None, "seed": 42}
SPLITS = ("train", "test", "dev")
#: Scored against published numbers on the same questions: bridge never changes the held-out set (see bridge.splits).
HELDOUT_AS_PUBLISHED = True
#: The eval task that scores this source's held-out sets (eval.tasks reads it: med_cmb_test -> mcq).
TASK = "mcq"
RECORD_KEYS = ("exam_type", "exam_class", "question_type", "question", "option")
FILES = {"train": "CMB-train-merge.json", "dev": "CMB-val-merge.json",
         "test": "CMB-test-choice-question-merge.json", "answers": "CMB-test-choice-answer.json"}


def convert(records: Iterable, prompt: Prompt, counts: Counts | None = None, answers: Mapping | None = None,
            where: str = "CMB") -> Iterator[dict]:
    """Turn CMB-Exam questions into exam records; ``answers`` (id → answer) supplies test answers.

    Raw::

        {"exam_type": "医师考试", "exam_class": "执业医师", "exam_subject": "口腔执业医师",
         "question": "患者，男性，11岁……此男孩可能患", "answer": "D", "question_type": "单项选择题",
         "option": {"A": "小叶型肺炎", "B": "浸润性肺结核", "C": "继发性肺结核", "D": "原发性肺结核",
                    "E": "粟粒型肺结核"}}

    Output::

        {"instruction": "以下是中国医师考试中执业医师考试的一道单项选择题，不需要做任何分析和解释，直接输出答案选项。\\n
                         患者，男性，11岁……此男孩可能患\\nA. 小叶型肺炎\\nB. 浸润性肺结核\\n…\\nE. 粟粒型肺结核",
         "input": "", "output": "D", "question": "…", "options": {"A": "小叶型肺炎", …}, "answer": "D",
         "question_type": "单项选择题", "category": "医师考试", "subject": "执业医师", "exam": "cmb", "id": 0,
         "exam_subject": "口腔执业医师"}

    Blank options ("" or " ", CMB pads to the longest option list) are dropped; multi-answers are
    sorted ("CA" → "AC").
    """
    counts = counts if counts is not None else Counts()
    for index, raw in enumerate(records):
        counts.read += 1
        here = f"{where}: record {index}"
        if not isinstance(raw, dict):
            raise BridgeError(f"{here}: expected an object with keys {list(RECORD_KEYS)}, "
                              f"found {type(raw).__name__}")
        require_keys(raw, RECORD_KEYS + (("id",) if answers is not None else ("answer",)), here)
        if answers is not None:
            if raw["id"] not in answers:
                raise BridgeError(f"{here} (id {raw['id']}): no answer for this id in {FILES['answers']}; "
                                  "is the answer file from the same CMB release?")
            answer = answer_letters(answers[raw["id"]])
        else:
            answer = answer_letters(raw["answer"])
        if is_blank(raw["question"]):
            counts.skip("empty_question")
            continue
        options = clean_options(raw["option"], here)
        if not check_answer(answer, options, counts):
            continue
        question_type = raw["question_type"] if raw["question_type"] in QUESTION_TYPES else (
            MULTI if len(answer) > 1 else SINGLE)
        instruction = prompt.render(exam_type=raw["exam_type"], exam_class=raw["exam_class"],
                                    question_type=question_type, question=raw["question"],
                                    options=render_options(options))
        yield exam_record(instruction, question=raw["question"], options=options, answer=answer,
                          question_type=question_type, category=raw["exam_type"], subject=raw["exam_class"],
                          exam=NAME, id=raw.get("id", index), exam_subject=raw.get("exam_subject", ""),
                          **({"explanation": raw["explanation"]} if "explanation" in raw else {}))


def read_answers(path: Path, counts: Counts | None = None) -> dict:
    """``id → answer`` from CMB-test-choice-answer.json (a JSON array of {id, …, answer}).

    An id given twice with different answers is an error naming it (which one is right cannot be told);
    given twice with the same answer, a warning in ``counts``.
    """
    data = load_json(path)
    if not isinstance(data, list):
        raise BridgeError(f"{path}: expected a JSON array of {{id, answer}} objects (CMB-test-choice-answer.json)")
    answers: dict = {}
    repeated: list = []
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise BridgeError(f"{path}: record {index} is not an object; expected keys ['id', 'answer']")
        require_keys(item, ("id", "answer"), f"{path}: record {index}")
        key = item["id"]
        if not isinstance(key, str | int) or isinstance(key, bool):
            raise BridgeError(f"{path}: record {index}: 'id' must be a number or text, found {key!r}")
        if key in answers:
            if answer_letters(answers[key]) != answer_letters(item["answer"]):
                raise BridgeError(f"{path}: record {index}: id {key!r} appears again with answer "
                                  f"{item['answer']!r} (earlier {answers[key]!r}); which is right cannot be told — "
                                  "fix the answer file (or fetch it again)")
            repeated.append(key)
        answers[key] = item["answer"]
    if repeated and counts is not None:
        shown = ", ".join(map(str, repeated[:5])) + (" …" if len(repeated) > 5 else "")
        counts.warnings.append(f"{path.name}: {len(repeated)} id(s) given twice with the same answer ({shown})")
    return answers


def _split_test_inputs(paths: list[Path]) -> tuple[list[Path], Path]:
    """The question file(s) and the answer file among the test inputs (the answer file is named *answer*)."""
    answer_files = [p for p in paths if "answer" in Path(p).name.lower()]
    questions = [p for p in paths if p not in answer_files]
    if len(answer_files) != 1 or not questions:
        raise BridgeError(f"CMB test needs {FILES['test']} and {FILES['answers']} (the answers ship separately); "
                          f"got {[str(p) for p in paths]}")
    return questions, answer_files[0]


def _read(paths: list[Path], prompt: Prompt, counts: Counts, answers: Mapping | None = None,
          progress: Callable[[int], None] | None = None) -> Iterator[dict]:
    for path in paths:
        yield from convert(iter_json_array(path, progress), prompt, counts, answers, where=str(path))


def build(inputs: dict[str, list[Path]], params: dict, prompt: Prompt, counts: Counts, dedup: bool = False,
          progress: Callable[[int], None] | None = None) -> dict[str, list[dict]]:
    """Test (all, or ``test_size`` seeded) with the separate answers; dev = val; train: a seeded reservoir of
    ``train_size`` from the 269k training questions, leaving out those that are also in test or val."""
    questions, answer_file = _split_test_inputs(inputs["test"])
    test = unique_questions(_read(questions, prompt, counts, read_answers(answer_file, counts)), counts, "test")
    test = sample_ordered(test, params["test_size"], params["seed"])
    dev = unique_questions(drop_leaks(_read(inputs["dev"], prompt, counts), {question_key(r) for r in test}, counts,
                                      "dev"), counts, "dev")
    held_out = {question_key(r) for r in test + dev}
    stream = drop_leaks(_read(inputs["train"], prompt, counts, progress=progress), held_out, counts, "train")
    if params["train_size"] is None:
        train = list(stream)
    else:
        train = [r for _, r in sorted(reservoir(stream, params["train_size"], random.Random(params["seed"])),
                                      key=lambda pair: pair[0])]
    splits = {"train": [training_record(r) for r in train], "test": test, "dev": dev}
    return mark_duplicates(splits, counts, drop=dedup)


def find_inputs(raw: Path) -> dict[str, list[Path]]:
    """The four CMB-Exam files anywhere under ``raw/cmb`` (e.g. the unzipped ``CMB/CMB-Exam/...`` tree)."""
    found = {key: sorted(raw.rglob(name)) for key, name in FILES.items()}
    missing = [FILES[key] for key, paths in found.items() if not paths]
    if missing:
        hint = " (unzip data/CMB.zip there)" if sorted(raw.rglob("CMB.zip")) else ""
        raise BridgeError(f"no complete CMB-Exam data under {raw}{hint}: missing {missing}")
    return {"train": found["train"][:1], "test": found["test"][:1] + found["answers"][:1], "dev": found["dev"][:1]}
