"""The Chinese medical text shipped with medft (``medft/assets/corpus_zh.txt``) and the word lists in it.

It is the one offline source of language the embedded models know: the tiny tokenizers are trained on
it, the sample raw files are written from its word lists (``bridge.sample_vocab``), and the control
model's general pre-training text is built from them (``medft.control_model``).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

#: How long a complaint has lasted, as patients say it (sample records and the control model's text).
DURATIONS = ["两天", "三天", "一周", "半个月", "一个月", "三个月", "半年"]


@lru_cache(maxsize=1)
def _text() -> str:
    return resources.files("medft").joinpath("assets/corpus_zh.txt").read_text(encoding="utf-8")


def corpus_lines() -> list[str]:
    """The corpus's non-blank lines (prompts, dialogues, terms, word lists)."""
    return [line for line in _text().splitlines() if line.strip()]


def word_lists() -> dict[str, list[str]]:
    """The corpus's space-separated word lists: symptom, exam, disease, drug, dept (each ≥ 9 words)."""
    lists = {}
    for line in corpus_lines():
        words = line.split()
        if len(words) > 8:
            lists[words[0]] = words
    return {"symptom": lists["发热"], "exam": lists["血常规"], "disease": lists["糖尿病"],
            "drug": lists["阿莫西林"], "dept": lists["内科"]}
