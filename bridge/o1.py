"""o1: medical-o1-reasoning-SFT (FreedomIntelligence), Chinese and English files.

Two output forms: ``sections`` (the tutorial's text: analysis, then ``### 答案：``) or ``think``
(``<think>…</think>`` then the answer) for R1-style reasoning models.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from bridge.common import (
    BridgeError,
    Counts,
    Prompt,
    held_out_size,
    is_blank,
    mark_duplicates,
    require_keys,
    sample_ordered,
    sample_with_rest,
)
from bridge.jsonstream import iter_json_array

NAME = "o1"
VERSION = 2  # 2: leak-free held-out split (bridge/splits.py); language detected from the content
#: The held-out split is cut from the training file (see bridge/splits.py).
SAME_FILE_SPLIT = True
DEFAULT_PROMPT = "诊断问题：{question}"
DEFAULT_PROMPT_EN = "Question: {question}"
PROMPT_FIELDS = ("question",)
DEFAULT_PARAMS = {"train_size": None, "test_size": 100, "seed": 42, "form": "sections", "lang": "zh"}
RECORD_KEYS = ("Question", "Complex_CoT", "Response")
FORMS = ("sections", "think")
#: The tutorial's section headings, per language (full-width colons in Chinese). This module owns the
#: o1 output format; eval's readers import these markers rather than restating them.
ANALYSIS_HEADINGS = {"zh": "详细分析：", "en": "Detailed analysis: "}
ANSWER_HEADINGS = {"zh": "### 答案：", "en": "### Answer:"}
#: The ``think`` form's reasoning block (R1-style): the final answer follows THINK_CLOSE.
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
#: Every marker an o1 output's final answer follows, in either language and either form.
ANSWER_MARKERS = (*ANSWER_HEADINGS.values(), THINK_CLOSE)


def render_output(cot: str, response: str, form: str, lang: str) -> str:
    """The training target: sections text or ``<think>`` block, CoT and answer verbatim."""
    if form == "think":
        return f"{THINK_OPEN}\n{cot}\n{THINK_CLOSE}\n\n{response}"
    return f"{ANALYSIS_HEADINGS[lang]}{cot}\n{ANSWER_HEADINGS[lang]}\n{response}"


def after_last_marker(text: str, markers: tuple[str, ...] = ANSWER_MARKERS) -> str | None:
    """The text after the last occurrence of any of ``markers`` (unstripped), or None when none occurs.

    The last one wins, whichever it is: a chain of thought may quote a heading before the real one,
    and a ``think`` output may write the sections form inside its reasoning block.
    """
    best, end = -1, 0
    for marker in markers:
        at = text.rfind(marker)
        if at > best or (at == best and at >= 0 and at + len(marker) > end):
            best, end = at, at + len(marker)
    return text[end:] if best >= 0 else None


def convert(records: Iterable[dict], prompt: Prompt, counts: Counts | None = None, form: str = "sections",
            lang: str = "zh") -> Iterator[dict]:
    """Turn medical-o1 records into alpaca records.

    Raw::

        {"Question": "患者男，65岁，胸痛3小时……最可能的诊断是什么？", "Complex_CoT": "胸痛伴大汗……",
         "Response": "急性下壁心肌梗死。"}

    Output (form ``sections``)::

        {"instruction": "诊断问题：患者男，65岁，胸痛3小时……最可能的诊断是什么？", "input": "",
         "output": "详细分析：胸痛伴大汗……\\n### 答案：\\n急性下壁心肌梗死。"}
    """
    if form not in FORMS:
        raise BridgeError(f"unknown o1 output form {form!r}; expected one of {list(FORMS)}")
    counts = counts if counts is not None else Counts()
    for index, raw in enumerate(records):
        counts.read += 1
        if not isinstance(raw, dict):
            counts.skip("not_an_object")
            continue
        require_keys(raw, RECORD_KEYS, f"medical-o1 record {index}")
        if is_blank(raw["Question"]):
            counts.skip("empty_question")
            continue
        if is_blank(raw["Response"]):
            counts.skip("empty_answer")
            continue
        if is_blank(raw["Complex_CoT"]):
            counts.skip("empty_cot")
            continue
        if not all(isinstance(raw[key], str) for key in RECORD_KEYS):
            counts.skip("not_text")  # a number or a list where the text belongs
            continue
        yield {"instruction": prompt.render(question=raw["Question"]), "input": "",
               "output": render_output(raw["Complex_CoT"], raw["Response"], form, lang)}


#: CJK ideograph blocks: the URO, extension A, and the compatibility ideographs.
_CJK = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0xF900, 0xFAFF))
#: How much of the file decides its language: the first records, the start of each field.
LANG_SAMPLE_RECORDS, LANG_SAMPLE_CHARS = 50, 400


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return any(lo <= code <= hi for lo, hi in _CJK)


def detect_lang(path: Path) -> str:
    """"zh" when CJK ideographs make up at least half of the letters in the first records' text, else "en".

    The content decides, not the file name (a copy of the Chinese file under any name is Chinese);
    ``--lang`` overrides. A file with no letters in its first records counts as Chinese, the default.
    """
    cjk = letters = 0
    for index, raw in enumerate(iter_json_array(path)):
        if index >= LANG_SAMPLE_RECORDS:
            break
        if not isinstance(raw, dict):
            continue
        for key in RECORD_KEYS:
            value = raw.get(key)
            for char in value[:LANG_SAMPLE_CHARS] if isinstance(value, str) else ():
                if char.isalpha():
                    letters += 1
                    cjk += _is_cjk(char)
    return "en" if letters and cjk * 2 < letters else "zh"


def build(inputs: dict[str, list[Path]], params: dict, prompt: Prompt, counts: Counts, dedup: bool = False,
          progress: Callable[[int], None] | None = None) -> dict[str, list[dict]]:
    """Seeded disjoint split of one file: ``test_size`` (at most 20 %) held out, up to ``train_size`` of the rest
    for training; records in neither are the ``pool`` the leak rule refills from."""
    records = []
    for path in inputs["train"]:
        stream = iter_json_array(path, progress)
        records.extend(convert(stream, prompt, counts, form=params["form"], lang=params["lang"]))
    test_size = held_out_size(len(records), params["test_size"])
    test_idx = set(sample_ordered(list(range(len(records))), test_size, params["seed"]))
    test = [r for i, r in enumerate(records) if i in test_idx]
    rest = [r for i, r in enumerate(records) if i not in test_idx]
    train, pool = sample_with_rest(rest, params["train_size"], params["seed"] + 1)
    splits = {"train": train, "test": test}
    return {**mark_duplicates(splits, counts, drop=dedup), "pool": pool}


#: The published file of each language; any other .json under raw/o1 is recognised by its content.
FILE_NAMES = {"zh": "medical_o1_sft_Chinese.json", "en": "medical_o1_sft.json"}


def find_inputs(raw: Path, lang: str | None = None) -> dict[str, list[Path]]:
    """The o1 file under ``raw/o1``: of language ``lang`` if given, else the Chinese one, else the English one.

    The published name of a language is taken first; otherwise every ``.json`` there is recognised by its
    content (:func:`detect_lang`), mixes (``*mix*``) last. So the English file alone is found without
    ``--lang en``, and a renamed copy is found too.
    """
    files = sorted(raw.rglob("*.json"), key=lambda p: ("mix" in p.name.lower(), p.name != FILE_NAMES.get(lang or "zh"),
                                                       str(p)))
    languages = {}
    for path in files:
        if path.name in FILE_NAMES.values() and "mix" not in path.name.lower():
            languages[path] = next(k for k, v in FILE_NAMES.items() if v == path.name)
            continue
        try:
            languages[path] = detect_lang(path)
        except BridgeError:
            languages[path] = None  # unreadable: chosen only if nothing else is there, to report why
    for wanted in ([lang] if lang else ["zh", "en"]):
        chosen = [p for p in files if languages[p] == wanted]
        if chosen:
            return {"train": chosen[:1], "test": chosen[:1]}
    if not lang and files:
        return {"train": files[:1], "test": files[:1]}
    other = sorted({v for v in languages.values() if v and v != lang})
    if lang and other:
        raise BridgeError(f"no {'Chinese' if lang == 'zh' else 'English'} o1 file under {raw} (--lang {lang}); "
                          f"found {', '.join(p.name for p in files)} ({'/'.join(other)}): drop --lang or pass "
                          f"--lang {other[0]}")
    raise BridgeError(f"no o1 data under {raw}: expected {FILE_NAMES['zh']} (Chinese) or {FILE_NAMES['en']} "
                      "(English; the language is read from the content, --lang zh|en overrides it)")
