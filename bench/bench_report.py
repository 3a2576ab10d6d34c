"""Writing report.html: 5 datasets × 3 models × 2,000 records must take under 2 s.

The report directory is built the way ``eval run`` builds it, minus generation: seeded synthetic records
and answers (``write_sample_report``, also used by the browser test) go through the real scorers,
``eval.pipeline.score_all`` and ``eval.report.write_reports``. The timed part is ``eval.report_html.write``
alone — read report.json and every scores file, build the page, write it — best of ``REPEATS``.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from pathlib import Path

from rich.table import Table

from bench.common import machine_line, save_results
from medft.console import console

REPEATS = 3
#: A hostile answer: it must stay text on the page (no script, no markup).
HOSTILE = '</script><script>document.title="pwned"</script><img src=x onerror="document.title=1"><!--'
SUBJECTS = {"医学": ["解剖学", "临床知识", "医学遗传学", "大学医学"], "生物": ["高中生物", "大学生物"],
            "其他": ["营养学", "中医中药", "专业医学"]}
TERMS = ["高血压", "2型糖尿病", "冠状动脉粥样硬化性心脏病", "慢性胃炎", "支气管哮喘", "肺炎", "贫血"]
SECTIONS = ("主诉", "现病史", "辅助检查", "既往史", "诊断", "建议")


def _records(task: str, n: int, rng: random.Random) -> list[dict]:
    if task == "norm":
        return [{"instruction": f"原始词：{rng.choice(TERMS)}样症状{i}\n该词的标准术语为：", "input": "",
                 "output": rng.choice(TERMS)} for i in range(n)]
    if task == "mrg":
        out = []
        for i in range(n):
            report = {s: f"{s}内容{rng.randint(0, 9)}，患儿腹泻{i % 7}天。" for s in SECTIONS}
            prompt = f"问诊对话历史：\n患者：宝宝拉肚子{i}天\n医生：有发烧吗？\n根据上述对话，给出诊疗报告\n答："
            out.append({"instruction": prompt, "input": "", "output": json.dumps(report, ensure_ascii=False, indent=2),
                        "references": [report, report]})
        return out
    if task == "mcq":
        out = []
        groups = [(c, s) for c, subjects in SUBJECTS.items() for s in subjects]
        for i in range(n):
            category, subject = groups[i % len(groups)]
            answer = "ABCD"[rng.randrange(4)]
            options = {letter: f"选项{letter}{i}" for letter in "ABCD"}
            out.append({"instruction": f"以下是关于{subject}的单项选择题。\n第{i}题：哪一项正确？\n"
                        + "\n".join(f"{k}. {v}" for k, v in options.items()) + "\n答案：", "input": "",
                        "output": answer, "question": f"第{i}题", "options": options, "answer": answer,
                        "question_type": "单项选择题", "category": category, "subject": subject, "exam": "cmmlu",
                        "id": i})
        return out
    length = 400 if task == "o1" else 80
    return [{"instruction": f"主题：胃疼{i}\n内容：" + "饭后胃疼，" * rng.randint(1, 6), "input": "",
             "output": "建议做胃镜检查，" * (length // 8 + rng.randint(0, 5))} for i in range(n)]


def _answer(task: str, record: dict, quality: float, rng: random.Random) -> tuple[str, str]:
    """A model's (answer, finish reason): right with probability ``quality``, sometimes empty or cut off."""
    roll = rng.random()
    if roll < 0.03:
        return "", "stop"
    if roll < 0.05:
        return "建议" * 40, "length"
    good = rng.random() < quality
    if task == "norm":
        return (record["output"] if good else rng.choice(TERMS)), "stop"
    if task == "mcq":
        if rng.random() < 0.04:
            return "我不确定。", "stop"
        return (record["answer"] if good else rng.choice("ABCD")), "stop"
    if task == "mrg":
        if not good and rng.random() < 0.5:
            return "诊断：腹泻", "stop"
        report = dict(record["references"][0]) if good else {s: "暂缺。" for s in SECTIONS}
        return json.dumps(report, ensure_ascii=False), "stop"
    text = record["output"] if good else "多喝水，注意休息。" * rng.randint(1, 20)
    return text, "stop"


def write_sample_report(out_dir: Path, n: int = 40, models: tuple[str, ...] = ("base", "tuned", "other"),
                        tasks: tuple[str, ...] = ("norm", "mrg", "dialog", "mcq", "o1"), bootstrap: int = 200,
                        seed: int = 0) -> dict:
    """A report directory as ``eval run`` writes it (report.{json,csv,md,png,html}, scores/), from seeded
    synthetic records and answers: the second model better than the first on average, with regressions,
    empty / cut-off / unparsed / letterless answers and one hostile answer. Returns report.json's data."""
    from eval.pipeline import score_all
    from eval.predict import Predictions
    from eval.report import write_reports

    rng = random.Random(seed)
    loaded = {f"med_{task}_test": (task, _records(task, n, rng)) for task in tasks}
    quality = {label: 0.3 + 0.3 * (k % 2) for k, label in enumerate(models)}
    predictions: dict[str, dict[str, list[str]]] = {label: {} for label in models}
    for label in models:
        for dataset, (task, records) in loaded.items():
            pairs = [_answer(task, record, quality[label], rng) for record in records]
            if label == models[-1] and dataset == next(iter(loaded)):
                pairs[1] = (HOSTILE, "stop")
            predictions[label][dataset] = Predictions([p[0] for p in pairs], [p[1] for p in pairs])
    results = score_all(list(models), loaded, predictions, out_dir, bootstrap=bootstrap, seed=seed)
    meta = {"models": {label: {"model": f"synthetic/{label}"} for label in models}, "datasets": list(loaded),
            "limit": None, "generation": {"max_new_tokens": {d: 64 for d in loaded}},
            "bootstrap": {"resamples": bootstrap, "level": 0.95, "seed": seed, "paired": True}}
    write_reports(results, out_dir, meta)
    return {**meta, "results": results}


def main(quick: bool = False) -> dict:
    """Build the sample report directory, then time writing report.html alone."""
    from eval import report_html

    n = 200 if quick else 2000
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        start = time.perf_counter()
        write_sample_report(out, n=n, bootstrap=0)
        setup = time.perf_counter() - start
        times = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            path = report_html.write(out)
            times.append(time.perf_counter() - start)
        size = path.stat().st_size
    best = min(times)
    table = Table(title=f"report.html · 5 datasets × 3 models × {n} records · {machine_line()}", title_justify="left")
    for name in ("step", "seconds", "page size"):
        table.add_column(name, justify="left" if name == "step" else "right")
    table.add_row(f"write report.html (best of {REPEATS})", f"{best:.2f}", f"{size / 1e6:.1f} MB")
    table.add_row("build the report dir (score, untimed)", f"{setup:.1f}", "")
    console.print(table)
    payload = {"records": n, "datasets": 5, "models": 3, "seconds": round(best, 3), "all": [round(t, 3) for t in times],
               "bytes": size, "target_seconds": 2.0}
    save_results("report", payload)
    return payload
