"""The medical vocabulary the sample raw files are written from (``bridge.samples``, ``bridge.exam_samples``).

Symptoms, exams, diseases, drugs and departments come from the tiny models' training corpus, so the
offline tiny tokenizer knows every word the samples use.
"""

from __future__ import annotations

from medft.tiny_models import corpus_lines


def _vocab() -> dict[str, list[str]]:
    # The corpus holds space-separated word lists (symptoms, exams, diseases, drugs, departments).
    lists = {}
    for line in corpus_lines():
        words = line.split()
        if len(words) > 8:
            lists[words[0]] = words
    return {"symptom": lists["发热"], "exam": lists["血常规"], "disease": lists["糖尿病"],
            "drug": lists["阿莫西林"], "dept": lists["内科"]}


V = _vocab()
AGES = ["三岁", "十个月", "25岁", "32岁", "45岁", "58岁", "67岁", "72岁"]
DURATIONS = ["两天", "三天", "一周", "半个月", "一个月", "三个月", "半年"]
