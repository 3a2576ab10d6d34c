"""The rules every conversion's train / held-out pair obeys, in one place (the pipeline applies them).

**Leak rule.** No held-out record shares its normalised prompt with a training record of the same
dataset, and no two held-out records share one. The normalised prompt is instruction + input (for a
sharegpt record: every turn's text but the final answer), Unicode NFKC, every whitespace character
removed — so "ＣＴ 检查" and "CT检查" are the same question. Offending held-out records are dropped
(counted as ``leaks_removed``); the held-out split is then refilled, up to the size the source asked for,
from the records the conversion read but did not use (the source's ``pool``, in its seeded order),
skipping any whose prompt is already in either split. Where the held-out split is cut from the training
file (``SAME_FILE_SPLIT`` in the source module: dialog, o1) and the pool runs dry, records whose prompt
occurs exactly once in training move from training to the held-out side (seeded order) — training
then never keeps a twin of a held-out prompt.

**Benchmarks keep their held-out set as published.** A source whose module sets
``HELDOUT_AS_PUBLISHED`` (the exams: CMB, CMExam, CMMLU) is scored against numbers other people report
on the very same questions, so its held-out split is never changed — duplicates included. The leak
rule then works on the other side: training records whose prompt is in the held-out set are dropped
(counted as ``leaks_removed``).

**Size rule.** A conversion with no training record, or with an empty held-out split, is an error and
writes nothing; a held-out split shorter than ``test_size`` is a warning in the summary and the manifest.

A source module only has to return ``build(...) -> {"train": [...], "test": [...]}``; adding ``"pool":
[...]`` (unused held-out candidates, best first) lets the leak rule refill instead of shrinking the split.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from bridge.common import MAX_TEST_SHARE, BridgeError, Counts

_SPACE = re.compile(r"\s+")
#: Conversation keys of sharegpt records and the key holding each turn's text.
_TURN_TEXT = {"conversations": "value", "messages": "content"}


def normalise(text: str) -> str:
    """NFKC, then every whitespace character removed."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", text))


def prompt_key(record: dict) -> str:
    """The normalised prompt of an alpaca record (instruction + input) or a sharegpt one (all turns but
    the last); non-text values count as their ``str()``."""
    for key, text_key in _TURN_TEXT.items():
        turns = record.get(key)
        if isinstance(turns, list) and "instruction" not in record:
            texts = [t.get(text_key) if isinstance(t, dict) else t for t in turns[:-1]]
            return normalise("\u241e".join(_text(t) for t in texts))
    return normalise(_text(record.get("instruction")) + _text(record.get("input")))


def _text(value) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


@dataclass
class LeakFree:
    """The held-out split after the leak rule, the training split (smaller only if records moved), counts."""

    train: list[dict]
    test: list[dict]
    removed: int
    refilled: int


def leak_free(train: list[dict], test: list[dict], target: int, pool: list[dict] = (),
              borrow_seed: int | None = None, key: Callable[[dict], str] = prompt_key) -> LeakFree:
    """Apply the leak rule: drop held-out records whose prompt is in ``train`` or earlier in ``test``, then
    refill up to ``target`` from ``pool`` and, with ``borrow_seed``, from training records whose prompt
    occurs there once (moved, in an order seeded by ``borrow_seed``)."""
    train_count = Counter(key(r) for r in train)
    kept, seen, removed = [], set(), 0
    for record in test:
        k = key(record)
        if k in train_count or k in seen:
            removed += 1
            continue
        seen.add(k)
        kept.append(record)
    refilled = 0
    for record in pool:
        if len(kept) >= target:
            break
        k = key(record)
        if k in train_count or k in seen:
            continue
        seen.add(k)
        kept.append(record)
        refilled += 1
    moved: set[int] = set()
    if borrow_seed is not None and len(kept) < target:
        keys = [key(r) for r in train]
        for index in random.Random(borrow_seed).sample(range(len(train)), len(train)):
            if len(kept) >= target:
                break
            k = keys[index]
            if train_count[k] != 1 or k in seen:
                continue
            seen.add(k)
            kept.append(train[index])
            moved.add(index)
            refilled += 1
    if moved:
        train = [r for i, r in enumerate(train) if i not in moved]
    return LeakFree(train, kept, removed, refilled)


def apply_rules(module, built: dict[str, list], params: dict, counts: Counts, names: dict[str, str],
                inputs: dict[str, list]) -> dict[str, list[dict]]:
    """The leak rule, then the size rule, on what ``module.build`` returned; returns the splits to write.

    The rules concern the ``train`` / ``test`` pair; other splits a source returns (an exam's ``dev``) pass
    through unchanged, and a source without a training split gets only the held-out checks. Raises
    BridgeError (nothing has been written yet) for an empty split; records a warning in ``counts`` for a
    held-out split shorter than ``params["test_size"]``.
    """
    result = {split: records for split, records in built.items() if split != "pool"}
    same_file = getattr(module, "SAME_FILE_SPLIT", False)
    asked_for = len(result.get("test", []))  # what the source aimed for (it may cap test_size, e.g. at 20 %)
    leaks = LeakFree(result.get("train", []), result.get("test", []), 0, 0)
    if "train" in result and "test" in result and getattr(module, "HELDOUT_AS_PUBLISHED", False):
        held_out = {prompt_key(r) for r in result["test"]}
        kept = [r for r in result["train"] if prompt_key(r) not in held_out]
        leaks = LeakFree(kept, result["test"], len(result["train"]) - len(kept), 0)
        result["train"] = kept
        counts.leaks_removed += leaks.removed
    elif "train" in result and "test" in result:
        leaks = leak_free(result["train"], result["test"], asked_for, built.get("pool") or [],
                          borrow_seed=params.get("seed", 0) if same_file else None)
        result["train"], result["test"] = leaks.train, leaks.test
        counts.leaks_removed += leaks.removed
    files = ", ".join(sorted({str(p) for paths in inputs.values() for p in paths}))
    if "train" in result and not result["train"]:
        raise BridgeError(
            f"{module.NAME}: no usable training records in {files} (read {counts.read}, skipped "
            f"{dict(sorted(counts.skipped.items())) or 'none'}); nothing was written"
        )
    if "test" in result and not result["test"]:
        if leaks.removed:
            why = f"all {leaks.removed} candidate(s) share their prompt with a training record or each other"
        elif same_file:
            why = (f"only {len(result.get('train', []))} usable record(s): the held-out split takes at most "
                   f"{int(MAX_TEST_SHARE * 100)} % of them")
        else:
            why = f"no usable record in {', '.join(str(p) for p in inputs.get('test', []))}"
        raise BridgeError(f"{module.NAME}: the held-out split {names.get('test', 'test')} would be empty ({why}); "
                          "nothing was written")
    wanted = params.get("test_size")
    if "test" in result and isinstance(wanted, int) and len(result["test"]) < wanted:
        reasons = []
        if asked_for < wanted:
            reasons.append(f"the input offers {asked_for}" if not same_file else
                           f"at most {int(MAX_TEST_SHARE * 100)} % of the usable records are held out")
        if leaks.removed:
            reasons.append(f"{leaks.removed} leaked record(s) removed and the unused pool could refill "
                           f"{leaks.refilled}")
        counts.warnings.append(f"{names.get('test', 'test')} has {len(result['test'])} records, fewer than the "
                               f"{wanted} asked (" + "; ".join(reasons or ["not enough usable records"]) + ")")
    return result
