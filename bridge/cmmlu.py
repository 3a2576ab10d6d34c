"""cmmlu: CMMLU (haonan-li/CMMLU), the medical subjects by default.

Files as published (``data/`` of the GitHub repo): ``test/<subject>.csv`` and ``dev/<subject>.csv``
(5 questions per subject, the few-shot pool), UTF-8, header ``,Question,A,B,C,D,Answer`` (the first
column is the row index). There is no training split.

Splits: ``med_cmmlu_test`` and ``med_cmmlu_dev`` for the chosen ``subjects``. ``subject`` is the
subject's Chinese name as CMMLU's prompts use it, ``category`` its CMMLU category (STEM, Humanities,
Social Science, Other, China specific; a subject may be in two). The CMMLU authors report the
average of the per-subject accuracies (and per category the average over its subjects).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from bridge.common import BridgeError, Counts, Prompt, is_blank, mark_duplicates, sample_ordered
from bridge.csvfile import read_rows
from bridge.exam import (
    SINGLE,
    answer_letters,
    check_answer,
    drop_leaks,
    exam_record,
    question_key,
    render_options,
    unique_questions,
)

NAME = "cmmlu"
VERSION = 2  # 2: held-out questions unique (duplicates dropped and counted)
#: CMMLU's own zero-shot prompt (answer-only), with the question under 题目： and the options as A. lines.
DEFAULT_PROMPT = "以下是关于{subject}的单项选择题，请直接给出正确答案的选项。\n\n题目：{question}\n{options}\n答案是："
PROMPT_FIELDS = ("subject", "question", "options")
MEDICAL_SUBJECTS = ("anatomy", "clinical_knowledge", "college_medicine", "college_medical_statistics", "genetics",
                    "nutrition", "professional_medicine", "traditional_chinese_medicine", "virology")
DEFAULT_PARAMS = {"test_size": None, "seed": 42, "subjects": list(MEDICAL_SUBJECTS)}
SPLITS = ("test", "dev")
#: Scored against published numbers on the same questions: bridge never changes the held-out set (see bridge.splits).
HELDOUT_AS_PUBLISHED = True
#: The eval task that scores this source's held-out sets (eval.tasks reads it: med_cmmlu_test -> mcq).
TASK = "mcq"
COLUMNS = ("Question", "A", "B", "C", "D", "Answer")

STEM, HUM, SOC, OTHER, CHINA = "STEM", "Humanities", "Social Science", "Other", "China specific"
#: subject -> (Chinese name, CMMLU categories), as CMMLU's own src/categories.py assigns them.
SUBJECTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "agronomy": ("农学", (OTHER,)), "anatomy": ("解剖学", (STEM,)), "ancient_chinese": ("古汉语", (SOC, CHINA)),
    "arts": ("艺术学", (HUM,)), "astronomy": ("天文学", (STEM,)), "business_ethics": ("商业伦理", (SOC,)),
    "chinese_civil_service_exam": ("中国公务员考试", (SOC, CHINA)),
    "chinese_driving_rule": ("中国驾驶规则", (OTHER, CHINA)), "chinese_food_culture": ("中国饮食文化", (SOC, CHINA)),
    "chinese_foreign_policy": ("中国外交政策", (SOC, CHINA)), "chinese_history": ("中国历史", (HUM, CHINA)),
    "chinese_literature": ("中国文学", (HUM, CHINA)),
    "chinese_teacher_qualification": ("中国教师资格", (SOC, CHINA)), "clinical_knowledge": ("临床知识", (OTHER,)),
    "college_actuarial_science": ("大学精算学", (STEM,)), "college_education": ("大学教育学", (SOC,)),
    "college_engineering_hydrology": ("大学工程水文学", (STEM,)), "college_law": ("大学法律", (HUM,)),
    "college_mathematics": ("大学数学", (STEM,)), "college_medical_statistics": ("大学医学统计", (STEM,)),
    "college_medicine": ("大学医学", (OTHER,)), "computer_science": ("计算机科学", (STEM,)),
    "computer_security": ("计算机安全", (OTHER,)), "conceptual_physics": ("概念物理学", (STEM,)),
    "construction_project_management": ("建设工程管理", (OTHER, CHINA)), "economics": ("经济学", (SOC,)),
    "education": ("教育学", (SOC,)), "electrical_engineering": ("电气工程", (STEM,)),
    "elementary_chinese": ("小学语文", (SOC, CHINA)), "elementary_commonsense": ("小学常识", (OTHER, CHINA)),
    "elementary_information_and_technology": ("小学信息技术", (OTHER,)),
    "elementary_mathematics": ("初等数学", (STEM,)), "ethnology": ("民族学", (SOC, CHINA)),
    "food_science": ("食品科学", (OTHER,)), "genetics": ("遗传学", (STEM,)), "global_facts": ("全球事实", (HUM,)),
    "high_school_biology": ("高中生物", (STEM,)), "high_school_chemistry": ("高中化学", (STEM,)),
    "high_school_geography": ("高中地理", (SOC,)), "high_school_mathematics": ("高中数学", (STEM,)),
    "high_school_physics": ("高中物理学", (STEM,)), "high_school_politics": ("高中政治", (SOC, CHINA)),
    "human_sexuality": ("人类性行为", (OTHER,)), "international_law": ("国际法学", (HUM,)),
    "journalism": ("新闻学", (SOC,)), "jurisprudence": ("法理学", (HUM,)),
    "legal_and_moral_basis": ("法律与道德基础", (OTHER,)), "logical": ("逻辑学", (HUM,)),
    "machine_learning": ("机器学习", (STEM,)), "management": ("管理学", (SOC,)), "marketing": ("市场营销", (SOC,)),
    "marxist_theory": ("马克思主义理论", (HUM,)), "modern_chinese": ("现代汉语", (SOC, CHINA)),
    "nutrition": ("营养学", (OTHER,)), "philosophy": ("哲学", (HUM,)),
    "professional_accounting": ("专业会计", (SOC,)), "professional_law": ("专业法学", (HUM,)),
    "professional_medicine": ("专业医学", (OTHER,)), "professional_psychology": ("专业心理学", (SOC,)),
    "public_relations": ("公共关系", (SOC,)), "security_study": ("安全研究", (SOC,)), "sociology": ("社会学", (SOC,)),
    "sports_science": ("体育学", (OTHER,)), "traditional_chinese_medicine": ("中医中药", (OTHER, CHINA)),
    "virology": ("病毒学", (STEM,)), "world_history": ("世界历史", (HUM,)), "world_religions": ("世界宗教", (HUM,)),
}


def resolve_subjects(value) -> list[str]:
    """The subjects to convert: a list or comma-separated text of names, ``medical`` or ``all``."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    names: list[str] = []
    for item in value or []:
        expanded = {"medical": MEDICAL_SUBJECTS, "all": tuple(SUBJECTS)}.get(item, (item,))
        names.extend(name for name in expanded if name not in names)
    unknown = [name for name in names if name not in SUBJECTS]
    if unknown or not names:
        raise BridgeError(f"unknown CMMLU subject(s) {unknown or value!r}; choose from 'medical', 'all' or "
                          f"{', '.join(SUBJECTS)}")
    return names


def read_csv(path: Path) -> Iterator[tuple[str, str, dict]]:
    """Yield (where, row index, {column: text}) from one CMMLU subject CSV; columns found by header name."""
    for where, number, cells in read_rows(path, COLUMNS, f"CMMLU's header ',{','.join(COLUMNS)}'"):
        # The published files start with an unnamed index column; without it the row number stands in.
        yield where, cells[""] if "" in cells else str(number - 1), cells


def convert(rows, subject: str, prompt: Prompt, counts: Counts | None = None) -> Iterator[dict]:
    """Turn the rows of one subject's CSV into exam records.

    Raw (``test/anatomy.csv``)::

        ,Question,A,B,C,D,Answer
        0,女性生殖腺是,卵巢,前庭大腺,前庭球,乳腺,A

    Output::

        {"instruction": "以下是关于解剖学的单项选择题，请直接给出正确答案的选项。\\n\\n题目：女性生殖腺是\\n
                         A. 卵巢\\nB. 前庭大腺\\nC. 前庭球\\nD. 乳腺\\n答案是：",
         "input": "", "output": "A", "question": "女性生殖腺是", "options": {"A": "卵巢", …}, "answer": "A",
         "question_type": "单项选择题", "category": "STEM", "subject": "解剖学", "exam": "cmmlu",
         "id": "anatomy/0", "subject_en": "anatomy", "categories": ["STEM"]}
    """
    counts = counts if counts is not None else Counts()
    name_zh, categories = SUBJECTS[subject]
    for _, index, row in rows:
        counts.read += 1
        if is_blank(row["Question"]):
            counts.skip("empty_question")
            continue
        options = {letter: row[letter].strip() for letter in "ABCD" if not is_blank(row[letter])}
        if len(options) < 4:  # CMMLU always has four; a blank cell is dropped, and counted
            counts.skip("empty_option_dropped")
        answer = answer_letters(row["Answer"])
        if not check_answer(answer, options, counts):
            continue
        instruction = prompt.render(subject=name_zh, question=row["Question"], options=render_options(options))
        yield exam_record(instruction, question=row["Question"], options=options, answer=answer,
                          question_type=SINGLE, category=categories[0], subject=name_zh, exam=NAME,
                          id=f"{subject}/{index}", subject_en=subject, categories=list(categories))


def _subject_files(paths: list[Path], subjects: list[str], split: str) -> list[tuple[str, Path]]:
    by_name = {Path(p).stem: Path(p) for p in paths}
    missing = [f"{split}/{s}.csv" for s in subjects if s not in by_name]
    if missing:
        raise BridgeError(f"CMMLU files missing: {missing} (download CMMLU's data/ folder, or choose --subjects)")
    return [(s, by_name[s]) for s in subjects]


def build(inputs: dict[str, list[Path]], params: dict, prompt: Prompt, counts: Counts, dedup: bool = False,
          progress=None) -> dict[str, list[dict]]:
    """Test: every question of the chosen subjects (or a seeded ``test_size``); dev: their 5-shot pools."""
    subjects = resolve_subjects(params["subjects"])

    def read(split: str) -> list[dict]:
        return [r for subject, path in _subject_files(inputs[split], subjects, split)
                for r in convert(read_csv(path), subject, prompt, counts)]

    test = sample_ordered(unique_questions(read("test"), counts, "test"), params["test_size"], params["seed"])
    dev = unique_questions(drop_leaks(read("dev"), {question_key(r) for r in test}, counts, "dev"), counts, "dev")
    return mark_duplicates({"test": test, "dev": dev}, counts, drop=dedup)


def find_inputs(raw: Path) -> dict[str, list[Path]]:
    """Every ``test/*.csv`` and ``dev/*.csv`` under ``raw/cmmlu`` (the subjects are chosen in ``build``)."""
    found = {split: sorted(p for p in raw.rglob("*.csv") if p.parent.name == split) for split in SPLITS}
    missing = [f"{split}/*.csv" for split, paths in found.items() if not paths]
    if missing:
        raise BridgeError(f"no CMMLU data under {raw}: missing {missing} (CMMLU's data/ folder)")
    return found
