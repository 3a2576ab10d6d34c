"""Small but realistic raw files for the exam sources (CMB-Exam, CMExam, CMMLU) in their published formats.

Called by ``bridge.samples.write_samples``. The questions are built from the same medical vocabulary
as the other samples; they look like licensing-exam items (a case stem or a knowledge question, five
options, one or several answers) and include the real files' awkward cases: blank option slots (CMB
pads to six letters), unsorted multi-answers in CMB's answer file ("CA"), a CMExam row without an
answer, test questions that also occur, with the options shuffled, in a training or few-shot file.
"""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

from bridge.sample_vocab import AGES, DURATIONS, V
from medft.io import atomic_write_text

LETTERS = "ABCDEF"
#: CMB-Exam structure: (exam_type, exam_class, exam_subjects, test questions). Unequal class sizes on purpose:
#: CMB's score.py averages per class, so a plain mean over questions would give a different number.
CMB_CLASSES = [
    ("医师考试", "执业医师", ("临床执业医师", "口腔执业医师"), 14),
    ("医师考试", "规培结业", ("神经内科", "康复医学科"), 9),
    ("护理考试", "护士执业资格", ("护士执业资格",), 12),
    ("药师考试", "执业西药师", ("药学专业知识（一）",), 7),
    ("药师考试", "初级药士", ("相关专业知识",), 5),
    ("专业知识考试", "临床医学", ("诊断学", "内科学"), 10),
    ("医学考研", "西医综合", ("生理学", "病理学"), 11),
]
CMEXAM_DISCIPLINES = ("临床医学", "口腔医学", "公卫预防", "中医学", "药学")
CMEXAM_DEPARTMENTS = ("内科", "外科", "儿科", "口腔科", "中医科", "不符合")
CMEXAM_DISEASE_GROUPS = ("消化系统疾病", "循环系统疾病", "呼吸系统疾病", "某些感染性疾病或寄生虫病", "不符合")
CMEXAM_COMPETENCIES = ("医学基础知识", "疾病诊断和鉴别诊断", "疾病治疗", "公卫法律伦理")
CMMLU_SUBJECTS = ("anatomy", "clinical_knowledge", "college_medicine", "college_medical_statistics", "genetics",
                  "nutrition", "professional_medicine", "traditional_chinese_medicine", "virology",
                  "high_school_biology")

SINGLE_STEMS = [
    ("患者{sex}，{age}，{s1}{dur}，伴{s2}，{exam}提示异常。最可能的诊断是", "disease"),
    ("治疗{disease}的首选药物是", "drug"),
    ("对确诊{disease}最有价值的检查是", "exam"),
    ("{s1}伴{s2}的患者，应首先就诊的科室是", "dept"),
    ("{disease}患者最常见的首发症状是", "symptom"),
]
MULTI_STEMS = [
    ("{disease}的常见临床表现有", "symptom"),
    ("下列药物中，可用于治疗{disease}的有", "drug"),
    ("诊断{disease}时，应完善的检查包括", "exam"),
]


def question(rng: random.Random, multi: bool, n_options: int = 5) -> tuple[str, list[str], str]:
    """One exam question: (stem, option texts, answer letters sorted)."""
    stem, kind = rng.choice(MULTI_STEMS if multi else SINGLE_STEMS)
    s1, s2 = rng.sample(V["symptom"], 2)
    text = stem.format(sex=rng.choice(["男", "女"]), age=rng.choice(AGES), dur=rng.choice(DURATIONS), s1=s1, s2=s2,
                       exam=rng.choice(V["exam"]), disease=rng.choice(V["disease"]))
    options = rng.sample(V[kind], n_options)
    picks = sorted(rng.sample(range(n_options), rng.randint(2, min(4, n_options)) if multi else 1))
    return text, options, "".join(LETTERS[i] for i in picks)


def _json_text(obj) -> str:
    # CMB's files are indented with four spaces (json.dump(..., indent=4, ensure_ascii=False)).
    return json.dumps(obj, ensure_ascii=False, indent=4)


def _shuffled(options: list[str], answer: str, rng: random.Random) -> tuple[list[str], str]:
    """The same question with its options in another order (how duplicates across files usually look)."""
    order = list(range(len(options)))
    rng.shuffle(order)
    chosen = {LETTERS.index(letter) for letter in answer}
    return [options[i] for i in order], "".join(sorted(LETTERS[j] for j, i in enumerate(order) if i in chosen))


def cmb_item(rng: random.Random, exam_type: str, exam_class: str, subjects: tuple[str, ...], multi: bool) -> dict:
    """One CMB-Exam item (without id/answer), key order as in the published files."""
    n_options = 6 if rng.random() < 0.1 else 5
    text, options, answer = question(rng, multi, n_options)
    option = {LETTERS[i]: t for i, t in enumerate(options)}
    if n_options == 5 and rng.random() < 0.3:
        option["F"] = rng.choice(["", " "])  # blank padding slot, as in the real files
    return {"exam_type": exam_type, "exam_class": exam_class, "exam_subject": rng.choice(subjects),
            "question": text, "answer": answer, "question_type": "多项选择题" if multi else "单项选择题",
            "option": option}


def cmb_files(rng: random.Random, train_size: int) -> dict[str, str]:
    """The four CMB-Exam files as text: train, val (with explanations), test questions, test answers."""
    test, answers, val, train = [], [], [], []
    next_id = 1
    for exam_type, exam_class, subjects, n_test in CMB_CLASSES:
        for k in range(n_test):
            item = cmb_item(rng, exam_type, exam_class, subjects, multi=k % 6 == 5)
            answer = item.pop("answer")
            if len(answer) == 2 and not any(len(a["answer"]) == 2 and a["answer"] != "".join(sorted(a["answer"]))
                                            for a in answers):
                answer = answer[::-1]  # the answer file holds a few unsorted multi-answers ("CA", "DB")
            test.append({"id": next_id, **item})
            answers.append({"id": next_id, "exam_type": exam_type, "exam_class": exam_class,
                            "exam_subject": item["exam_subject"], "question_type": item["question_type"],
                            "answer": answer})
            next_id += 1
        for k in range(3):
            item = cmb_item(rng, exam_type, exam_class, subjects, multi=k == 2)
            item["explanation"] = f"本题考查{item['exam_subject']}相关知识，正确答案为{item['answer']}。"
            val.append(item)
    for k in range(train_size):
        exam_type, exam_class, subjects, _ = CMB_CLASSES[k % len(CMB_CLASSES)]
        train.append(cmb_item(rng, exam_type, exam_class, subjects, multi=k % 7 == 6))
    for source in (test[3], test[20]):  # test questions that leaked into the training file
        leaked = {key: value for key, value in source.items() if key != "id"}
        letters = [k for k, v in source["option"].items() if v.strip()]
        options, answer = _shuffled([source["option"][k] for k in letters],
                                    next(a["answer"] for a in answers if a["id"] == source["id"]), rng)
        leaked["option"] = {LETTERS[i]: t for i, t in enumerate(options)}
        leaked["answer"] = answer
        train.insert(rng.randrange(len(train)), {key: leaked[key] for key in
                                                 ("exam_type", "exam_class", "exam_subject", "question", "answer",
                                                  "question_type", "option")})
    return {"train": _json_text(train), "val": _json_text(val), "test": _json_text(test),
            "answers": _json_text(answers)}


def _csv_text(header: list[str], rows: list[list]) -> str:
    # pandas.DataFrame.to_csv's dialect: minimal quoting, "\n" line ends, UTF-8 without BOM.
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def cmexam_row(rng: random.Random, multi: bool, annotated: bool) -> list:
    """One CMExam CSV row: Question, Options ("A 文本" lines), Answer, Explanation [, five annotations]."""
    text, options, answer = question(rng, multi)
    packed = "\n".join(f"{LETTERS[i]} {t}" for i, t in enumerate(options))
    disease, exam = rng.choice(V["disease"]), rng.choice(V["exam"])
    explanation = f"{text}，答案为{answer}。{disease}的诊治要点需结合临床表现与{exam}。"
    row = [text, packed, answer, explanation]
    if annotated:
        row += [rng.choice(CMEXAM_DISEASE_GROUPS), rng.choice(CMEXAM_COMPETENCIES), rng.choice(CMEXAM_DEPARTMENTS),
                rng.choice(CMEXAM_DISCIPLINES), rng.randint(1, 5)]
    return row


CMEXAM_HEADER = ["Question", "Options", "Answer", "Explanation"]
CMEXAM_ANNOTATIONS = ["Disease Group", "Area of Competency", "Clinical Department", "Medical Discipline",
                      "Difficulty level"]


def cmexam_files(rng: random.Random, n_train: int, n_val: int, n_test: int) -> dict[str, str]:
    """train.csv, val.csv, test_with_annotations.csv as text; one train row without an answer, one leak."""
    test = [cmexam_row(rng, i % 8 == 7, annotated=True) for i in range(n_test)]
    val = [cmexam_row(rng, i % 8 == 7, annotated=False) for i in range(n_val)]
    train = [cmexam_row(rng, i % 8 == 7, annotated=False) for i in range(n_train)]
    train[5][2] = ""  # CMExam has a question with no answer (pandas reads NaN)
    options = [line.split(" ", 1)[1] for line in test[2][1].split("\n")]
    shuffled, answer = _shuffled(options, test[2][2], rng)
    train.insert(11, [test[2][0], "\n".join(f"{LETTERS[i]} {t}" for i, t in enumerate(shuffled)), answer,
                      test[2][3]])
    return {"train": _csv_text(CMEXAM_HEADER, train), "val": _csv_text(CMEXAM_HEADER, val),
            "test": _csv_text(CMEXAM_HEADER + CMEXAM_ANNOTATIONS, test)}


def cmmlu_file(rng: random.Random, n: int) -> str:
    """One CMMLU subject CSV: header ``,Question,A,B,C,D,Answer``, the row index first."""
    rows = []
    for i in range(n):
        text, options, answer = question(rng, multi=False, n_options=4)
        if i % 5 == 3:  # quotes inside a cell (CMMLU has 强调"常吃奶类、豆类"): the CSV quotes and doubles them
            text = f'{text}（即"{rng.choice(V["disease"])}"）'
        if i % 7 == 4:
            text = f"{text}, 下列哪项正确"  # an ASCII comma inside a cell
        rows.append([i, text, *options, answer])
    return _csv_text(["", "Question", "A", "B", "C", "D", "Answer"], rows)


def sample_paths(out: Path) -> dict[str, Path]:
    """Where the exam samples go (the ``raw/`` layout each converter's ``find_inputs`` looks for)."""
    cmb = out / "cmb" / "CMB" / "CMB-Exam"
    paths = {
        "cmb_train": cmb / "CMB-train" / "CMB-train-merge.json",
        "cmb_val": cmb / "CMB-val" / "CMB-val-merge.json",
        "cmb_test": cmb / "CMB-test" / "CMB-test-choice-question-merge.json",
        "cmb_answers": out / "cmb" / "CMB-test-choice-answer.json",
        "cmexam_train": out / "cmexam" / "data" / "train.csv",
        "cmexam_val": out / "cmexam" / "data" / "val.csv",
        "cmexam_test": out / "cmexam" / "data" / "test_with_annotations.csv",
    }
    for subject in CMMLU_SUBJECTS:
        for split in ("test", "dev"):
            paths[f"cmmlu_{split}_{subject}"] = out / "cmmlu" / "data" / split / f"{subject}.csv"
    return paths


def write_samples(out: Path, seed: int, sizes: dict[str, int]) -> dict[str, Path]:
    """Write the exam sample files under ``out``; a seed of their own keeps the other samples unchanged."""
    files = sample_paths(out)
    rng = random.Random(f"exams-{seed}")
    cmb = cmb_files(rng, sizes["cmb_train"])
    for key in ("train", "val", "test", "answers"):
        atomic_write_text(files[f"cmb_{key}"], cmb[key])
    cmexam = cmexam_files(rng, sizes["cmexam_train"], sizes["cmexam_val"], sizes["cmexam_test"])
    for key in ("train", "val", "test"):
        atomic_write_text(files[f"cmexam_{key}"], cmexam[key])
    for subject in CMMLU_SUBJECTS:
        test = cmmlu_file(rng, sizes["cmmlu_test"])
        atomic_write_text(files[f"cmmlu_test_{subject}"], test)
        dev_rows = cmmlu_file(rng, 5).splitlines(keepends=True)
        if subject == "anatomy":  # a few-shot example that is also a test question
            dev_rows[3] = "2," + test.splitlines(keepends=True)[4].split(",", 1)[1]
        atomic_write_text(files[f"cmmlu_dev_{subject}"], "".join(dev_rows))
    return files
