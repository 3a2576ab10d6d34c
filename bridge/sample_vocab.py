"""The medical vocabulary the sample raw files are written from (``bridge.samples``, ``bridge.exam_samples``).

Symptoms, exams, diseases, drugs and departments come from the tiny models' training corpus, so the
offline tiny tokenizer knows every word the samples use.
"""

from __future__ import annotations

from medft.corpus import word_lists

V = word_lists()
AGES = ["三岁", "十个月", "25岁", "32岁", "45岁", "58岁", "67岁", "72岁"]
DURATIONS = ["两天", "三天", "一周", "半个月", "一个月", "三个月", "半年"]
