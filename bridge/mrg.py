"""mrg: medical report generation from doctor-patient dialogues, IMCS-V2 (CBLUE).

The training target is ``report[0]`` as indented JSON; held-out records also keep every reference
report (``references``) for multi-reference scoring. IMCS-V2_test.json has no reports and is refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from bridge.common import BridgeError, Counts, Prompt, mark_duplicates, sample_ordered, sample_with_rest
from bridge.jsonstream import load_json

NAME = "mrg"
VERSION = 2  # 2: leak-free held-out split (bridge/splits.py)
#: Patients' own words: personal identifiers are masked by default (bridge/pii.py; opt out with --keep-pii).
PATIENT_TEXT = True
#: IMCS-V2 report sections, in the order the references write them (eval's mrg task imports them).
REPORT_SECTIONS = ("主诉", "现病史", "辅助检查", "既往史", "诊断", "建议")
DEFAULT_PROMPT = (
    "问诊对话历史：\n{dialogue}\n根据上述对话，给出诊疗报告\n"
    f"说明：诊疗报告分为{', '.join(REPORT_SECTIONS)}这六个章节，以标准的json格式输出。\n答："
)
PROMPT_FIELDS = ("dialogue",)
DEFAULT_PARAMS = {"train_size": None, "test_size": 100, "seed": 42, "all_reports": False}
RECORD_KEYS = ("dialogue", "report")
TURN_KEYS = ("speaker", "sentence")


def _clean_keys(record: dict) -> dict:
    # Some CBLUE files carry a BOM inside the first key; "\ufeffdialogue" must still be found.
    return {key.lstrip("\ufeff") if isinstance(key, str) else key: value for key, value in record.items()}


def dialogue_text(turns: list[dict], where: str) -> str:
    """One line ``{speaker}：{sentence}`` per turn, the turns' text verbatim (including "（空）")."""
    lines = []
    for index, turn in enumerate(turns):
        if not isinstance(turn, dict) or any(key not in turn for key in TURN_KEYS):
            raise BridgeError(f"{where}: dialogue turn {index} lacks {list(TURN_KEYS)}")
        lines.append(f"{turn['speaker']}：{turn['sentence']}")
    return "\n".join(lines)


def convert(records: Iterable[tuple[str, dict]], prompt: Prompt, counts: Counts | None = None,
            all_reports: bool = False, keep_references: bool = False) -> Iterator[dict]:
    """Turn IMCS-V2 (id, record) items into alpaca records.

    Raw::

        "10626355": {"diagnosis": "小儿消化不良", "self_report": "…",
                     "dialogue": [{"speaker": "患者", "sentence": "这个粑粑正常吗？", …}, …],
                     "report": [{"主诉": "大便异常。", "现病史": "…", "辅助检查": "暂缺。", "既往史": "不详。",
                                 "诊断": "小儿消化不良", "建议": "…"}, {…}]}

    Output (``keep_references`` adds ``id`` and ``references``, all reports as dicts)::

        {"instruction": "问诊对话历史：\\n患者：这个粑粑正常吗？\\n…\\n答：", "input": "",
         "output": "{\\n  \\"主诉\\": \\"大便异常。\\", …}"}

    ``all_reports`` yields one record per report instead of one per dialogue.
    """
    counts = counts if counts is not None else Counts()
    for rid, raw in records:
        counts.read += 1
        where = f"IMCS-V2 record {rid}"
        if not isinstance(raw, dict):
            raise BridgeError(f"{where}: expected an object with keys {list(RECORD_KEYS)}")
        raw = _clean_keys(raw)
        if "report" not in raw and "dialogue" in raw:
            raise BridgeError(
                f"{where} has no 'report': this is the unlabelled IMCS-V2_test.json (CBLUE keeps its reports "
                "private); use IMCS-V2_train.json for training and IMCS-V2_dev.json as the held-out set"
            )
        missing = [key for key in RECORD_KEYS if key not in raw]
        if missing:
            raise BridgeError(f"{where}: missing key(s) {missing}; expected keys {list(RECORD_KEYS)}")
        turns, reports = raw["dialogue"], raw["report"]
        if not isinstance(turns, list) or not turns:
            counts.skip("empty_dialogue")
            continue
        reports = [r for r in reports if isinstance(r, dict) and r] if isinstance(reports, list) else []
        if not reports:
            counts.skip("no_report")
            continue
        instruction = prompt.render(dialogue=dialogue_text(turns, where))
        for report in reports if all_reports else reports[:1]:
            record = {"instruction": instruction, "input": "",
                      "output": json.dumps(report, ensure_ascii=False, indent=2)}
            if keep_references:
                record["id"] = str(rid)
                record["references"] = reports
            yield record


def read_raw(path: Path) -> Iterator[tuple[str, dict]]:
    """Yield (id, record) from an IMCS-V2 json dict (id -> record)."""
    data = load_json(path)
    if not isinstance(data, dict):
        raise BridgeError(f"{path}: expected the IMCS-V2 layout, a JSON object mapping dialogue id -> record; "
                          f"found a JSON {type(data).__name__}")
    first = next(iter(data.values()), None)
    if isinstance(first, dict) and "report" not in _clean_keys(first) and "dialogue" in _clean_keys(first):
        raise BridgeError(
            f"{path} has no 'report' fields: it is the unlabelled IMCS-V2_test.json (CBLUE keeps its reports "
            "private); use IMCS-V2_train.json for training and IMCS-V2_dev.json as the held-out set"
        )
    yield from data.items()


def build(inputs: dict[str, list[Path]], params: dict, prompt: Prompt, counts: Counts, dedup: bool = False,
          progress=None) -> dict[str, list[dict]]:
    """Train from IMCS-V2_train.json; test: ``test_size`` dialogues of IMCS-V2_dev.json with references
    (the other dev dialogues are the ``pool`` the leak rule refills from)."""
    train = [r for path in inputs["train"]
             for r in convert(read_raw(path), prompt, counts, all_reports=params["all_reports"])]
    test = [r for path in inputs["test"] for r in convert(read_raw(path), prompt, counts, keep_references=True)]
    test, pool = sample_with_rest(test, params["test_size"], params["seed"])
    splits = {"train": sample_ordered(train, params["train_size"], params["seed"]), "test": test}
    return {**mark_duplicates(splits, counts, drop=dedup), "pool": pool}


def find_inputs(raw: Path) -> dict[str, list[Path]]:
    """IMCS-V2_train.json (train) and IMCS-V2_dev.json (held out); never IMCS-V2_test.json."""
    train, dev = sorted(raw.rglob("IMCS-V2_train.json")), sorted(raw.rglob("IMCS-V2_dev.json"))
    if not (train and dev):
        raise BridgeError(f"no mrg data under {raw}: expected IMCS-V2_train.json and IMCS-V2_dev.json")
    return {"train": train[:1], "test": dev[:1]}
