"""Preference sets: the record formats DPO / ORPO / SimPO (ranking) and KTO (kto_tag) train on, their
validation, the leak check against every held-out set, and their registration with provenance.

This module owns the formats (readers import them from here). Both are alpaca files LLaMA-Factory 0.9.5 reads
(``data/converter.py`` ``AlpacaDatasetConverter``; ``data/parser.py`` columns):

- **ranking** (``"ranking": true``; stages ``dpo`` and ``rm``)::

      {"instruction": "以下是中国医学考试的单项选择题……", "input": "", "chosen": "B", "rejected": "D"}

  columns ``prompt: instruction``, ``query: input``, ``chosen``, ``rejected``. A user's sharegpt ranking file
  (``conversations`` ending with the user's turn, ``chosen`` / ``rejected`` message objects) is validated
  and registered as it is.
- **kto** (stage ``kto``): one record per answer, ``kto_tag`` true (desirable) or false::

      {"instruction": "…", "input": "", "output": "B", "kto_tag": true}

  columns ``prompt``, ``query``, ``response: output``, ``kto_tag``.

Whatever builds a set (graded exam samples, judge verdicts, a user's file), :func:`write_preferences` drops
every record that touches a held-out set — bridge.audit's rules (exact prompt, verbatim content, 13-gram
share) against every registered test set and few-shot pool — and records its provenance and the count of
each reason a candidate was dropped in bridge's manifest.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

from bridge import registry
from bridge.audit import Dataset, Index, load_held_out, match_record, strip_punctuation
from bridge.common import BridgeError, jsonl_line
from bridge.heldout import heldout_names
from bridge.splits import normalise, prompt_key
from bridge.userdata import MAX_PROBLEMS, SHAREGPT_STYLES, read_records
from medft.io import sha256_file, staged_writer
from medft.names import BadName, check_name

RANKING, KTO = "ranking", "kto"
KINDS = (RANKING, KTO)
RANKING_COLUMNS = {"prompt": "instruction", "query": "input", "chosen": "chosen", "rejected": "rejected"}
KTO_COLUMNS = {"prompt": "instruction", "query": "input", "response": "output", "kto_tag": "kto_tag"}
#: What ``write_preferences`` records as the converter in the manifest.
CONVERTER, CONVERTER_VERSION = "prefs", 1
#: The dataset name suffix each kind gets by default (med_cmb → med_cmb_pref / med_cmb_kto).
SUFFIXES = {RANKING: "_pref", KTO: "_kto"}


def ranking_record(instruction: str, chosen: str, rejected: str, input: str = "") -> dict:
    """One ranking (pairwise) record: the prompt, the preferred answer and the worse one."""
    return {"instruction": instruction, "input": input, "chosen": chosen, "rejected": rejected}


def kto_records(pair: Mapping) -> list[dict]:
    """The two KTO records of a ranking pair: its chosen answer desirable, its rejected one not."""
    base = {"instruction": pair["instruction"], "input": pair.get("input", "")}
    return [{**base, "output": pair["chosen"], "kto_tag": True}, {**base, "output": pair["rejected"], "kto_tag": False}]


def entry(file_name: str, kind: str) -> dict:
    """The dataset_info.json entry of a preference file medft writes."""
    if kind == RANKING:
        return {"file_name": file_name, "formatting": "alpaca", "ranking": True, "columns": dict(RANKING_COLUMNS)}
    if kind == KTO:
        return {"file_name": file_name, "formatting": "alpaca", "columns": dict(KTO_COLUMNS)}
    raise BridgeError(f"unknown preference kind {kind!r}; choose one of {', '.join(KINDS)}")


def _text(value) -> bool:
    return isinstance(value, str) and bool(value.strip())


def validate_ranking(records: list, formatting: str) -> tuple[dict, list[str]]:
    """Check a user's ranking file; return its dataset_info entry (without file_name) and every problem
    (up to MAX_PROBLEMS), each naming the record and what was expected.

    alpaca: ``instruction``, ``chosen`` and ``rejected`` non-empty strings (``input`` a string if present),
    chosen different from rejected. sharegpt: ``conversations`` (from/value) or ``messages`` (role/content)
    alternating user/assistant and ending with the user's turn, ``chosen`` and ``rejected`` assistant message
    objects with different string contents.
    """
    problems: list[str] = []
    if not records:
        return {}, ["the file holds no records"]
    if formatting == "alpaca":
        for index, rec in enumerate(records):
            if not isinstance(rec, dict):
                problems.append(f"record {index}: not an object")
            else:
                for key in ("instruction", "chosen", "rejected"):
                    if not _text(rec.get(key)):
                        problems.append(f"record {index}: '{key}' missing or empty (a ranking record needs "
                                        "instruction, chosen and rejected)")
                if "input" in rec and not isinstance(rec["input"], str):
                    problems.append(f"record {index}: 'input' must be a string")
                if _text(rec.get("chosen")) and rec.get("chosen") == rec.get("rejected"):
                    problems.append(f"record {index}: 'chosen' and 'rejected' are the same answer")
            if len(problems) >= MAX_PROBLEMS:
                break
        return {"formatting": "alpaca", "ranking": True, "columns": dict(RANKING_COLUMNS)}, problems[:MAX_PROBLEMS]
    if formatting != "sharegpt":
        return {}, [f"unknown formatting {formatting!r}; expected alpaca or sharegpt"]
    key = next((k for k in SHAREGPT_STYLES if isinstance(records[0], dict) and k in records[0]), "conversations")
    role, content, user, assistant, system = SHAREGPT_STYLES[key]
    for index, rec in enumerate(records):
        turns = rec.get(key) if isinstance(rec, dict) else None
        if not isinstance(turns, list) or not turns:
            problems.append(f"record {index}: '{key}' missing or empty")
        elif any(not isinstance(t, dict) or not isinstance(t.get(content), str) for t in turns):
            problems.append(f"record {index}: every turn needs '{role}' and a string '{content}'")
        else:
            roles = [t.get(role) for t in turns if t.get(role) != system]
            if len(roles) % 2 == 0 or any(r != (user if i % 2 == 0 else assistant) for i, r in enumerate(roles)):
                problems.append(f"record {index}: turns must alternate {user}/{assistant} and end with {user} "
                                "(the answers are in chosen / rejected)")
        answers = [rec.get(k) if isinstance(rec, dict) else None for k in ("chosen", "rejected")]
        for name, answer in zip(("chosen", "rejected"), answers, strict=True):
            if not isinstance(answer, dict) or answer.get(role) != assistant or not _text(answer.get(content)):
                problems.append(f"record {index}: '{name}' must be an object with {role}={assistant!r} and a "
                                f"non-empty '{content}'")
        if all(isinstance(a, dict) for a in answers) and answers[0].get(content) == answers[1].get(content):
            problems.append(f"record {index}: 'chosen' and 'rejected' are the same answer")
        if len(problems) >= MAX_PROBLEMS:
            break
    result = {"formatting": "sharegpt", "ranking": True,
              "columns": {"messages": key, "chosen": "chosen", "rejected": "rejected"}}
    if key == "messages":
        result["tags"] = {"role_tag": role, "content_tag": content, "user_tag": user, "assistant_tag": assistant,
                          "system_tag": system}
    return result, problems[:MAX_PROBLEMS]


def _record_texts(record: dict) -> tuple[str, str]:
    """(prompt key, punctuation-free prompt + every answer): what the leak check compares (bridge.audit)."""
    answers = []
    for key in ("chosen", "rejected", "output"):
        value = record.get(key)
        if isinstance(value, dict):
            value = next((v for k, v in value.items() if k in ("value", "content")), "")
        if isinstance(value, str):
            answers.append(value)
    turns = next((record[k] for k in SHAREGPT_STYLES if isinstance(record.get(k), list)), None)
    if turns is not None and "instruction" not in record:
        # A ranking conversation ends with the question: every turn is prompt (prompt_key drops the last).
        texts = [str(t.get("value", t.get("content", ""))) if isinstance(t, dict) else str(t) for t in turns]
        key = normalise("\u241e".join(texts))
    else:
        key = prompt_key(record)
    return key, strip_punctuation(key + "".join(normalise(a) for a in answers))


class LeakCheck:
    """Every held-out set registered in a dataset_dir (test sets and few-shot pools, as bridge.heldout reads
    the manifest), indexed once; :meth:`hits` names the held-out sets a record touches."""

    def __init__(self, dataset_dir: str | Path) -> None:
        dataset_dir = Path(dataset_dir)
        info = registry.load_dataset_info(dataset_dir)
        held = []
        for name in heldout_names(dataset_dir):
            file_name = info[name].get("file_name") if isinstance(info.get(name), dict) else None
            if not isinstance(file_name, str):
                continue
            path = Path(file_name) if Path(file_name).is_absolute() else dataset_dir / file_name
            if path.is_file():
                held.append(load_held_out(Dataset(name, path, True)))
        self.names = [h.name for h in held]
        self.index = Index.build(held)

    def hits(self, record: dict) -> list[str]:
        """The held-out sets ``record`` shares a question or passage with (bridge.audit's rules)."""
        found = match_record(self.index, record, _record_texts(record))
        return sorted({self.index.sets[s].name for s, _ in found})


def drop_leaks(records: Iterable[dict], check: LeakCheck, dropped: Counter) -> list[dict]:
    """The records that touch no held-out set; the others are counted in ``dropped["heldout_leak"]``."""
    kept = []
    for record in records:
        if check.hits(record):
            dropped["heldout_leak"] += 1
        else:
            kept.append(record)
    return kept


def write_preferences(dataset_dir: str | Path, name: str, records: list[dict], kind: str, provenance: dict,
                      dropped: Mapping[str, int] | None = None, force: bool = False,
                      info_entry: dict | None = None) -> dict:
    """Leak-check ``records`` (ranking or kto records, see the module docstring) against every held-out set,
    then write ``<name>.jsonl`` and register it as ``name`` with its provenance, in one commit.

    ``provenance`` (generator model, judge, rubric, seed, …) and ``dropped`` (reason -> candidates left
    out before this point) go into the manifest with the counts of this step. ``info_entry`` replaces the
    dataset_info entry of ``kind`` (a user's sharegpt ranking file keeps its own columns). Returns the summary
    written. Raises BridgeError, writing nothing, when no record is left.
    """
    dataset_dir = Path(dataset_dir)
    try:
        check_name(name, "dataset name")  # it becomes <dataset_dir>/<name>.jsonl
    except BadName as exc:
        raise BridgeError(str(exc)) from None
    reasons = Counter({reason: n for reason, n in (dropped or {}).items() if n})
    check = LeakCheck(dataset_dir)
    kept = drop_leaks(records, check, reasons)
    if not kept:
        raise BridgeError(f"{name}: no preference record left of {len(records)} "
                          f"(dropped: {dict(sorted(reasons.items())) or 'none'}); nothing was registered")
    file_name = f"{name}.jsonl"
    data = "".join(jsonl_line(r) for r in kept).encode("utf-8")
    counts = {"candidates": len(records), "written": {"train": len(kept)}, "dropped": dict(sorted(reasons.items()))}
    if kind == KTO:
        counts["desirable"] = sum(1 for r in kept if r.get("kto_tag") is True)
    manifest_entry = {"file_name": file_name, "split": "train", "sha256": hashlib.sha256(data).hexdigest(),
                      "converter": CONVERTER, "converter_version": CONVERTER_VERSION, "kind": kind,
                      "provenance": provenance, "leak_checked_against": check.names, "counts": counts}
    info = {"file_name": file_name, **info_entry} if info_entry else entry(file_name, kind)
    existed = (dataset_dir / file_name).exists()
    with staged_writer(dataset_dir / file_name, "wb") as (handle, tmp):
        handle.write(data)
    registry.commit(dataset_dir, {file_name: tmp}, {name: info}, {name: manifest_entry}, force=force)
    return {"name": name, "file": str(dataset_dir / file_name), "status": "replaced" if existed else "written",
            **manifest_entry}


def register_file(name: str, path: str | Path, dataset_dir: str | Path, formatting: str | None = None,
                  force: bool = False) -> dict:
    """Validate a user's ranking file (LLaMA-Factory's ranking format, alpaca or sharegpt) and register a
    leak-checked copy as ``name``; the user's file is never changed. BridgeError lists every problem."""
    path = Path(path)
    if not path.is_file():
        raise BridgeError(f"file not found: {path}")
    records = read_records(path)
    if formatting is None:
        first = records[0] if records and isinstance(records[0], dict) else {}
        formatting = "sharegpt" if any(isinstance(first.get(k), list) for k in SHAREGPT_STYLES) else "alpaca"
    columns, problems = validate_ranking(records, formatting)
    if problems:
        raise BridgeError(f"{path} is not a valid {formatting} ranking file:\n  " + "\n  ".join(problems))
    provenance = {"source": "file", "path": str(path.resolve()), "sha256": sha256_file(path),
                  "formatting": formatting}
    return write_preferences(dataset_dir, name, records, RANKING, provenance, force=force,
                             info_entry=columns if formatting == "sharegpt" else None)
