"""The medical vocabulary the sample raw files are written from (``bridge.samples``, ``bridge.exam_samples``).

Symptoms, exams, diseases, drugs and departments come from the tiny models' training corpus, so the
offline tiny tokenizer knows every word the samples use.
"""

from __future__ import annotations

from medft.corpus import DURATIONS, word_lists

__all__ = ["AGES", "DURATIONS", "V"]  # DURATIONS is the corpus module's, re-exported for the samples

V = word_lists()
AGES = ["三岁", "十个月", "25岁", "32岁", "45岁", "58岁", "67岁", "72岁"]
