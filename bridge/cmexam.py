"""cmexam: CMExam (williamliujl/CMExam), questions of the Chinese National Medical Licensing Examination.

Files as published (``data/`` of the GitHub repo): ``train.csv`` (54,497), ``val.csv`` (6,811) and
``test_with_annotations.csv`` (6,811), UTF-8, header ``Question,Options,Answer,Explanation``; the
test file adds five annotation columns (``Disease Group``, ``Area of Competency``, ``Clinical
Department``, ``Medical Discipline``, ``Difficulty level``). ``Options`` packs all choices into one
cell, one ``A 选项文本`` line per option; ``Answer`` is the letter(s), e.g. ``ABCE``.

Splits: ``med_cmexam`` (a seeded sample of train, questions also in test or val removed),
``med_cmexam_test`` (all of test by default) and ``med_cmexam_dev`` (val, the few-shot pool).
``category`` is the ``Medical Discipline`` and ``subject`` the ``Clinical Department`` annotation
(test only); the CMExam paper reports plain accuracy over all questions.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from bridge.common import BridgeError, Counts, Prompt, cell_text, is_blank, mark_duplicates, sample_ordered
from bridge.csvfile import read_rows
from bridge.exam import (
    MULTI,
    SINGLE,
    answer_letters,
    check_answer,
    drop_leaks,
    exam_record,
    question_key,
    render_options,
    training_record,
    unique_questions,
)

NAME = "cmexam"
VERSION = 2  # 2: held-out questions unique (duplicates dropped and counted)
DEFAULT_PROMPT = "以下是中国医师资格考试的一道{question_type}，请直接给出正确答案的选项。\n{question}\n{options}"
PROMPT_FIELDS = ("question_type", "question", "options")
DEFAULT_PARAMS = {"train_size": 5000, "test_size": None, "seed": 42}
SPLITS = ("train", "test", "dev")
#: Scored against published numbers on the same questions: bridge never changes the held-out set (see bridge.splits).
HELDOUT_AS_PUBLISHED = True
#: The eval task that scores this source's held-out sets (eval.tasks reads it: med_cmexam_test -> mcq).
TASK = "mcq"
COLUMNS = ("Question", "Options", "Answer")
#: The test file's annotation columns, as published, and the names medft keeps them under.
ANNOTATIONS = {"Disease Group": "disease_group", "Area of Competency": "competency",
               "Clinical Department": "department", "Medical Discipline": "discipline",
               "Difficulty level": "difficulty"}
FILES = {"train": "train.csv", "dev": "val.csv", "test": "test_with_annotations.csv"}
UNLABELLED = "未标注"
#: "A 文本" (CMExam's form), also "A. 文本" / "A、文本": a letter, then a space or a separator.
_OPTION_LINE = re.compile(r"^\s*([A-HＡ-Ｈ])(?:\s+|\s*[.．、:：]\s*)(.*?)\s*$")


def parse_options(cell: str, where: str, counts: Counts | None = None) -> dict[str, str]:
    """``{letter: text}`` from CMExam's packed ``Options`` cell (``A 文本`` lines; blank lines ignored).

    A line that starts no option continues the one before (an option text with a line break). An option
    with no text is dropped (counted as ``empty_option_dropped`` in ``counts``).
    """
    options: dict[str, str] = {}
    last = None
    for line in (cell or "").splitlines():
        if not line.strip():
            continue
        match = _OPTION_LINE.match(line)
        if not match:
            if last is None:
                raise BridgeError(f"{where}: Options cell starts with {line!r}; expected lines like 'A 选项文本'")
            options[last] = f"{options[last]}\n{line.strip()}".strip()
            continue
        last = answer_letters(match.group(1))
        if last in options:
            raise BridgeError(f"{where}: option {last} appears twice in the Options cell")
        options[last] = match.group(2)
    if counts is not None:
        for _ in range(sum(not text for text in options.values())):
            counts.skip("empty_option_dropped")
    return {letter: text for letter, text in sorted(options.items()) if text}


def read_csv(path: Path) -> Iterator[tuple[str, dict]]:
    """Yield (where, row as {column: text}) from a CMExam CSV; columns are found by header name."""
    for where, _, cells in read_rows(path, COLUMNS, f"CMExam's header {[*COLUMNS, 'Explanation']}"):
        yield where, cells


def convert(rows, prompt: Prompt, counts: Counts | None = None) -> Iterator[dict]:
    """Turn CMExam rows into exam records.

    Raw (one CSV row)::

        Question = "下列哪项不是胃溃疡的并发症", Options = "A 出血\\nB 穿孔\\nC 幽门梗阻\\nD 癌变\\nE 贫血",
        Answer = "E", Explanation = "……", Medical Discipline = "临床医学", Clinical Department = "内科", …

    Output::

        {"instruction": "以下是中国医师资格考试的一道单项选择题，请直接给出正确答案的选项。\\n
                         下列哪项不是胃溃疡的并发症\\nA. 出血\\nB. 穿孔\\nC. 幽门梗阻\\nD. 癌变\\nE. 贫血",
         "input": "", "output": "E", "question": "…", "options": {"A": "出血", …}, "answer": "E",
         "question_type": "单项选择题", "category": "临床医学", "subject": "内科", "exam": "cmexam", "id": 1,
         "explanation": "……", "annotations": {"disease_group": …, "department": "内科", …}}

    A question with several answer letters is a 多项选择题. Rows without an answer are skipped.
    """
    counts = counts if counts is not None else Counts()
    for number, (where, row) in enumerate(rows, 1):
        counts.read += 1
        if is_blank(row["Question"]):
            counts.skip("empty_question")
            continue
        options = parse_options(row["Options"], where, counts)
        answer = answer_letters(row["Answer"])
        if not check_answer(answer, options, counts):
            continue
        question_type = MULTI if len(answer) > 1 else SINGLE
        annotations = {key: cell_text(row.get(column)) or UNLABELLED
                       for column, key in ANNOTATIONS.items() if column in row}
        instruction = prompt.render(question_type=question_type, question=row["Question"],
                                    options=render_options(options))
        extra = {"explanation": row.get("Explanation", "")}
        if annotations:
            extra["annotations"] = annotations
        yield exam_record(instruction, question=row["Question"], options=options, answer=answer,
                          question_type=question_type, category=annotations.get("discipline", ""),
                          subject=annotations.get("department", ""), exam=NAME, id=number, **extra)


def build(inputs: dict[str, list[Path]], params: dict, prompt: Prompt, counts: Counts, dedup: bool = False,
          progress=None) -> dict[str, list[dict]]:
    """Test from test_with_annotations.csv (all, or ``test_size`` seeded), dev from val.csv, and a seeded
    ``train_size`` sample of train.csv without the questions that also occur in test or val."""
    def read(split: str) -> list[dict]:
        return [r for path in inputs[split] for r in convert(read_csv(path), prompt, counts)]

    test = sample_ordered(unique_questions(read("test"), counts, "test"), params["test_size"], params["seed"])
    dev = unique_questions(drop_leaks(read("dev"), {question_key(r) for r in test}, counts, "dev"), counts, "dev")
    train = list(drop_leaks(read("train"), {question_key(r) for r in test + dev}, counts, "train"))
    splits = {"train": [training_record(r) for r in sample_ordered(train, params["train_size"], params["seed"])],
              "test": test, "dev": dev}
    return mark_duplicates(splits, counts, drop=dedup)


def find_inputs(raw: Path) -> dict[str, list[Path]]:
    """train.csv, val.csv and test_with_annotations.csv anywhere under ``raw/cmexam``."""
    found = {split: sorted(raw.rglob(name)) for split, name in FILES.items()}
    missing = [FILES[split] for split, paths in found.items() if not paths]
    if missing:
        raise BridgeError(f"no complete CMExam data under {raw}: missing {missing}")
    return {split: paths[:1] for split, paths in found.items()}
