"""Small but realistic raw files for every source, in their exact published formats.

``bridge samples --out DIR`` writes them (deterministic for a seed) so the demo and the tests run the
real converters on real file formats without a download: a ModelScope-style dialogue JSON array and a
GB18030 Toyhom CSV, Yidu-N7K xlsx, IMCS-V2 dicts with two reports per dialogue (and the unlabelled
test file), medical-o1 json, and the exams (CMB-Exam json, CMExam csv, CMMLU csv; see
``bridge.exam_samples``). They include the real data's awkward cases: "无" questions, empty
answers, empty cells, multi-term ``##`` outputs, "（空）" turns, a BOM, exact duplicates.
"""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

from bridge import exam_samples
from bridge.mrg import REPORT_SECTIONS
from bridge.norm import TERM_SEPARATOR, XLSX_COLUMNS
from bridge.sample_vocab import AGES, DURATIONS, V
from medft.io import atomic_write_bytes, atomic_write_text, atomic_writer

DEFAULT_SIZES = {"dialog": 300, "dialog_csv": 60, "norm_train": 200, "norm_val": 60, "mrg_train": 40,
                 "mrg_dev": 12, "mrg_test": 10, "o1": 60, "o1_en": 20,
                 "cmb_train": 120, "cmexam_train": 80, "cmexam_val": 20, "cmexam_test": 40, "cmmlu_test": 8}


ASK_TEMPLATES = [
    "我{age}，最近{dur}一直{s1}，还有点{s2}，请问是什么原因？需要做什么检查？",
    "孩子{age}，{dur}前开始{s1}，晚上更明显，伴有{s2}，吃了{drug}也没见好，怎么办？",
    "体检发现{exam}异常，平时偶尔{s1}，医生说可能是{disease}，严重吗？",
    "{s1}{dur}了，有{disease}病史，现在在吃{drug}，可以同时吃别的药吗？",
]
ANSWER_TEMPLATES = [
    "根据你的描述，考虑{disease}的可能性大，建议到{dept}就诊，完善{exam}检查，明确诊断后对症治疗。",
    "{s1}伴{s2}常见于{disease}，可以在医生指导下服用{drug}，注意休息，清淡饮食，多喝水，定期复查。",
    "你好，这种情况需要排除{disease}，先查{exam}，如果症状加重或者出现高热，要及时到医院就诊。",
]


def _fill(rng: random.Random, template: str) -> str:
    s1, s2 = rng.sample(V["symptom"], 2)
    return template.format(age=rng.choice(AGES), dur=rng.choice(DURATIONS), s1=s1, s2=s2,
                           exam=rng.choice(V["exam"]), disease=rng.choice(V["disease"]),
                           drug=rng.choice(V["drug"]), dept=rng.choice(V["dept"]))


def dialog_records(n: int, rng: random.Random) -> list[dict]:
    """ModelScope layout: title in ``instruction``, question in ``input``; ~5 % "无" asks, a few empty answers."""
    records = []
    for i in range(n):
        s1 = rng.choice(V["symptom"])
        title = f"{s1}{rng.choice(['怎么办', '是什么原因', '要紧吗', '吃什么药好'])}"
        ask = _fill(rng, rng.choice(ASK_TEMPLATES))
        answer = _fill(rng, rng.choice(ANSWER_TEMPLATES))
        if i % 20 == 7:
            ask = "无"
        if i % 50 == 13:
            answer = ""
        records.append({"instruction": title, "input": ask, "output": answer, "history": None})
    for i in range(0, min(n, 40), 20):  # exact duplicates, as scraped QA sites repost questions
        records.append(dict(records[i]))
    return records


def toyhom_csv(n: int, rng: random.Random) -> bytes:
    """A Toyhom CSV (GB18030, header department,title,ask,answer; fields with commas get quoted)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["department", "title", "ask", "answer"])
    for _ in range(n):
        rec = dialog_records(1, rng)[0]
        writer.writerow([rng.choice(V["dept"]), rec["instruction"], rec["input"].replace("，", ",", 1),
                         rec["output"]])
    return out.getvalue().encode("gb18030")


MODIFIERS = ["", "", "慢性", "急性", "左侧", "右侧", "原发性", "复发性"]
SUFFIXES = ["", "", "术后", "（待查）", "伴感染", "史", "病", "3级（极高危）", "可能"]


def norm_rows(n: int, rng: random.Random) -> list[tuple[str | None, str | None]]:
    """(原始词, 标准词) rows; ~5 % multi-term ``a##b``, a few empty cells."""
    rows = []
    for i in range(n):
        disease = rng.choice(V["disease"])
        word = f"{rng.choice(MODIFIERS)}{disease}{rng.choice(SUFFIXES)}"
        term = disease
        if i % 20 == 3:
            other = rng.choice([d for d in V["disease"] if d != disease])
            word, term = f"{word}合并{other}", f"{disease}{TERM_SEPARATOR}{other}"
        if i % 40 == 17:
            term = None
        if i % 55 == 29:
            word = None
        rows.append((word, term))
    return rows


def write_xlsx(path: Path, rows: list[tuple], header=XLSX_COLUMNS) -> None:
    """Write a one-sheet xlsx with openpyxl (as the Yidu-N7K files are laid out)."""
    import datetime

    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    # Fixed document dates: the sample files stay the same from run to run (and so do their hashes).
    stamp = datetime.datetime(2019, 1, 1)
    workbook.properties.created = workbook.properties.modified = stamp
    buffer = io.BytesIO()
    workbook.save(buffer)
    with atomic_writer(path, "wb") as handle:
        handle.write(_fixed_zip_times(buffer.getvalue(), stamp))


def _fixed_zip_times(data: bytes, stamp) -> bytes:
    """Re-pack an xlsx (a zip) with one fixed timestamp on every entry and in docProps/core.xml.

    openpyxl stamps each zip entry with the wall clock (2-second resolution) and the document with
    the save time, so two saves of the same workbook differ unless both are pinned.
    """
    import re
    import zipfile

    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + iso.encode(), content)
            entry = zipfile.ZipInfo(info.filename, date_time=stamp.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            target.writestr(entry, content)
    return out.getvalue()


PATIENT_TURNS = ["医生你好，{s1}{dur}了，还有点{s2}。", "{age}，之前没有什么病。", "吃过{drug}，效果不明显。",
                 "（空）", "图片因隐私问题无法显示", "嗯", "好的，谢谢医生。", "查过{exam}，说是正常的。"]
DOCTOR_TURNS = ["你好，{s1}多长时间了？有没有{s2}？", "做过{exam}吗？", "考虑是{disease}，建议服用{drug}。",
                "注意休息，清淡饮食，多喝水。", "如果症状加重要及时到医院就诊。"]


def imcs_record(rng: random.Random, with_report: bool) -> dict:
    """One IMCS-V2 record: dialogue turns with annotation fields, and two reports when labelled."""
    s1, s2 = rng.sample(V["symptom"], 2)
    disease, exam = rng.choice(V["disease"]), rng.choice(V["exam"])
    turns = []
    for k in range(rng.randint(6, 12)):
        speaker = "患者" if k % 2 == 0 else "医生"
        template = PATIENT_TURNS[0] if k == 0 else rng.choice(PATIENT_TURNS if speaker == "患者" else DOCTOR_TURNS)
        # One dialogue talks about one complaint: the same symptoms, disease and exam in every turn.
        sentence = template.format(s1=s1, s2=s2, disease=disease, exam=exam, age=rng.choice(AGES),
                                   dur=rng.choice(DURATIONS), drug=rng.choice(V["drug"]))
        turns.append({"sentence_id": str(k + 1), "speaker": speaker, "sentence": sentence,
                      "dialogue_act": rng.choice(["Inform-Symptom", "Request-Symptom", "Diagnose", "Other"]),
                      "BIO_label": " ".join("O" for _ in sentence), "symptom_norm": [s1] if k == 0 else [],
                      "symptom_type": ["1"] if k == 0 else [], "local_implicit_info": {}})
    record = {"diagnosis": disease, "self_report": f"{s1}{rng.choice(DURATIONS)}，伴{s2}，怎么办？",
              "explicit_info": {"Symptom": [s1, s2]}, "dialogue": turns, "implicit_info": {"Symptom": {s1: "1"}}}
    if with_report:
        # Values in REPORT_SECTIONS order (主诉, 现病史, 辅助检查, 既往史, 诊断, 建议), as IMCS-V2 writes them.
        record["report"] = [
            dict(zip(REPORT_SECTIONS, [
                f"{s1}{rng.choice(DURATIONS)}。", f"患者{s1}，伴{s2}，{rng.choice(['无发热', '精神可'])}。",
                rng.choice([f"{exam}未见异常。", "暂缺。", ""]), rng.choice(["不详。", "无。"]),
                disease, f"{rng.choice(V['drug'])}口服，{rng.choice(['注意休息', '清淡饮食'])}。"], strict=True)),
            dict(zip(REPORT_SECTIONS, [f"{s1}。", f"{s1}伴{s2}。", "暂缺。", "不详。", disease, "及时就诊。"],
                     strict=True)),
        ]
    return record


def imcs_file(n: int, rng: random.Random, with_report: bool, start: int) -> dict:
    """id -> record dict as in IMCS-V2_*.json; every tenth labelled record has an empty report list."""
    data = {str(start + 7919 * i): imcs_record(rng, with_report) for i in range(n)}
    if with_report:
        for i, key in enumerate(data):
            if i % 10 == 9:
                data[key]["report"] = []
    return data


O1_Q = ["一名{age}患者，{s1}{dur}，伴{s2}，{exam}提示异常，最可能的诊断是什么？",
        "患者{age}，既往{disease}病史，近{dur}出现{s1}，应首选哪种药物治疗？"]
O1_COT = ("首先，患者的主要症状是{s1}，同时伴有{s2}。结合年龄和病程，需要考虑{disease}。"
          "其次，{exam}的结果支持这一判断，需要与其他引起{s1}的疾病鉴别。"
          "嗯，再想一想，如果是其他原因，通常不会同时出现{s2}。所以最可能的诊断是{disease}，治疗上可以选择{drug}。")
O1_R = "最可能的诊断是{disease}，可在医生指导下使用{drug}治疗，并复查{exam}。"


def o1_records(n: int, rng: random.Random, english: bool = False) -> list[dict]:
    """medical-o1 records; a couple with an empty Response."""
    records = []
    for i in range(n):
        if english:
            q = f"A {30 + i}-year-old presents with fever and cough for {i % 5 + 2} days. What is the diagnosis?"
            rec = {"Question": q, "Complex_CoT": "Fever with productive cough suggests a lower respiratory infection.",
                   "Response": "Community-acquired pneumonia."}
        else:
            params = {"age": rng.choice(AGES), "dur": rng.choice(DURATIONS), "disease": rng.choice(V["disease"]),
                      "exam": rng.choice(V["exam"]), "drug": rng.choice(V["drug"])}
            params["s1"], params["s2"] = rng.sample(V["symptom"], 2)
            rec = {"Question": rng.choice(O1_Q).format(**params), "Complex_CoT": O1_COT.format(**params),
                   "Response": O1_R.format(**params)}
        if i % 30 == 11:
            rec["Response"] = ""
        records.append(rec)
    return records


def _json_text(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2) + "\n"


def sample_paths(out: str | Path) -> dict[str, Path]:
    """Where ``write_samples`` puts each file (the ``raw/`` layout the converters look for)."""
    out = Path(out)
    return {
        "dialog": out / "dialog" / "data" / "train_0001_of_0001.json",
        "dialog_csv": out / "dialog_toyhom" / "Data_数据" / "IM_内科" / "内科5000-33000.csv",
        "norm_train": out / "norm" / "train.xlsx",
        "norm_val": out / "norm" / "val.xlsx",
        "mrg_train": out / "mrg" / "IMCS-V2_train.json",
        "mrg_dev": out / "mrg" / "IMCS-V2_dev.json",
        "mrg_test": out / "mrg" / "IMCS-V2_test.json",
        "o1": out / "o1" / "medical_o1_sft_Chinese.json",
        "o1_en": out / "o1" / "medical_o1_sft.json",
        **exam_samples.sample_paths(out),
    }


def write_samples(out: str | Path, seed: int = 0, sizes: dict[str, int] | None = None) -> dict[str, Path]:
    """Write every sample raw file under ``out`` in the ``raw/`` layout; return {label: path}."""
    out = Path(out)
    files = sample_paths(out)
    n = {**DEFAULT_SIZES, **(sizes or {})}
    rng = random.Random(seed)
    atomic_write_text(files["dialog"], _json_text(dialog_records(n["dialog"], rng)))
    atomic_write_bytes(files["dialog_csv"], toyhom_csv(n["dialog_csv"], rng))
    write_xlsx(files["norm_train"], norm_rows(n["norm_train"], rng))
    write_xlsx(files["norm_val"], norm_rows(n["norm_val"], rng))
    atomic_write_text(files["mrg_train"], _json_text(imcs_file(n["mrg_train"], rng, True, 10000000)))
    # CBLUE ships some files with a UTF-8 BOM; the dev sample has one so the readers are exercised.
    atomic_write_text(files["mrg_dev"], "\ufeff" + _json_text(imcs_file(n["mrg_dev"], rng, True, 20000000)))
    atomic_write_text(files["mrg_test"], _json_text(imcs_file(n["mrg_test"], rng, False, 30000000)))
    atomic_write_text(files["o1"], _json_text(o1_records(n["o1"], rng)))
    atomic_write_text(files["o1_en"], _json_text(o1_records(n["o1_en"], rng, english=True)))
    exam_samples.write_samples(out, seed, n)
    return files
