"""norm: clinical term normalisation, Yidu-N7K (CHIP-2019) xlsx and CHIP-CDN json.

Columns are found by header name (``原始词``, ``标准词``), never by position. Outputs holding several
standard terms joined by ``##`` are kept intact: the evaluation scores them as term sets.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from bridge.common import BridgeError, Counts, Prompt, cell_text, mark_duplicates, require_keys, sample_with_rest
from bridge.jsonstream import load_json

NAME = "norm"
VERSION = 2  # 2: leak-free held-out split (bridge/splits.py)
DEFAULT_PROMPT = (
    "你是一个医疗专家，你的任务是临床术语标准化。\n"
    "具体来说，针对给出的通用语，转换为相应的标准化医学术语，确保转换后的内容符合医学专业标准，"
    "直接输出转换后的临床标准术语。\n"
    "原始词：{word}\n"
    "该词的标准术语为："
)
PROMPT_FIELDS = ("word",)
DEFAULT_PARAMS = {"train_size": 5000, "test_size": 100, "seed": 42}
XLSX_COLUMNS = ("原始词", "标准词")
#: Joins the standard terms of a 标准词 that holds several (``2型糖尿病##高血糖症``); eval splits on it.
TERM_SEPARATOR = "##"
CDN_KEYS = ("text", "normalized_result")


def convert(records: Iterable[tuple[object, object]], prompt: Prompt, counts: Counts | None = None) -> Iterator[dict]:
    """Turn (原始词, 标准词) pairs into alpaca records; empty or NaN cells are skipped and counted.

    Raw (one xlsx row)::

        原始词 = "2型糖尿病伴血糖控制不佳", 标准词 = "2型糖尿病##高血糖症"

    Output::

        {"instruction": "你是一个医疗专家，…\\n原始词：2型糖尿病伴血糖控制不佳\\n该词的标准术语为：", "input": "",
         "output": "2型糖尿病##高血糖症"}
    """
    counts = counts if counts is not None else Counts()
    for word, term in records:
        counts.read += 1
        word, term = cell_text(word), cell_text(term)
        if word is None:
            counts.skip("empty_word")
            continue
        if term is None:
            counts.skip("empty_term")
            continue
        yield {"instruction": prompt.render(word=word), "input": "", "output": term}


def read_xlsx(path: str | Path) -> Iterator[tuple[object, object]]:
    """Yield (原始词, 标准词) from the first sheet of a Yidu-N7K xlsx, columns located by header name."""
    from python_calamine import CalamineWorkbook  # Rust reader: ~10x faster than pandas/openpyxl here

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        rows = workbook.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except Exception as exc:  # calamine raises its own error types for non-xlsx input
        raise BridgeError(f"{path}: not a readable xlsx workbook ({exc})") from None
    if not rows:
        raise BridgeError(f"{path}: the first sheet is empty; expected columns {list(XLSX_COLUMNS)}")
    header = [str(cell).strip() if cell is not None else "" for cell in rows[0]]
    missing = [col for col in XLSX_COLUMNS if col not in header]
    if missing:
        raise BridgeError(f"{path}: missing column(s) {missing}; expected {list(XLSX_COLUMNS)}, found {header}")
    word_col, term_col = (header.index(column) for column in XLSX_COLUMNS)
    for row in rows[1:]:
        if all(cell_text(cell) is None for cell in row):
            continue  # trailing blank rows that Excel keeps in the used range are not records
        yield (row[word_col] if word_col < len(row) else None, row[term_col] if term_col < len(row) else None)


def read_cdn_json(path: str | Path) -> Iterator[tuple[object, object]]:
    """Yield (text, normalized_result) from a CHIP-CDN json array."""
    data = load_json(path)
    if not isinstance(data, list):
        raise BridgeError(f"{path}: expected a JSON array of {{text, normalized_result}} objects")
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise BridgeError(f"{path}: element {index} is not an object; expected keys {list(CDN_KEYS)}")
        require_keys(item, CDN_KEYS, f"{path}: element {index}")
        yield item["text"], item["normalized_result"]


def read_raw(path: Path) -> Iterator[tuple[object, object]]:
    """Dispatch on the file type: xlsx (Yidu-N7K) or json (CHIP-CDN)."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls"):
        return read_xlsx(path)
    if suffix == ".json":
        return read_cdn_json(path)
    raise BridgeError(f"{path}: norm expects Yidu-N7K .xlsx or CHIP-CDN .json, got {suffix or 'no extension'}")


def build(inputs: dict[str, list[Path]], params: dict, prompt: Prompt, counts: Counts, dedup: bool = False,
          progress=None) -> dict[str, list[dict]]:
    """Train: up to ``train_size`` rows of the train file; test: ``test_size`` rows of the val file (seeded);
    the val rows left over are the ``pool`` the leak rule refills from."""
    splits, pools = {}, {}
    for split, size_key in (("train", "train_size"), ("test", "test_size")):
        records = [r for path in inputs[split] for r in convert(read_raw(path), prompt, counts)]
        splits[split], pools[split] = sample_with_rest(records, params[size_key], params["seed"])
    return {**mark_duplicates(splits, counts, drop=dedup), "pool": pools["test"]}


def find_inputs(raw: Path) -> dict[str, list[Path]]:
    """Yidu-N7K ``train.xlsx`` + ``val.xlsx``, else CHIP-CDN ``*train*.json`` + ``*dev*.json``."""
    for train_glob, test_glob in (("train.xlsx", "val.xlsx"), ("*train*.json", "*dev*.json")):
        train, test = sorted(raw.rglob(train_glob)), sorted(raw.rglob(test_glob))
        if train and test:
            return {"train": train[:1], "test": test[:1]}
    raise BridgeError(f"no norm data under {raw}: expected Yidu-N7K train.xlsx and val.xlsx "
                      "(or CHIP-CDN_train.json and CHIP-CDN_dev.json)")
