"""dialog: Chinese medical dialogue QA (ModelScope xiaofengalg/Chinese-medical-dialogue, Toyhom CSVs).

The ModelScope file is ONE JSON array (~634 MB, ~800k records); it is streamed element by element
and sampled with a seeded reservoir, so peak memory stays flat however large the array is.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import math
import random
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
)
from bridge.csvfile import allow_long_fields
from bridge.jsonstream import iter_json_array
from bridge.textfile import decode_error, detect_encoding, open_text

NAME = "dialog"
VERSION = 2  # 2: leak-free held-out split (bridge/splits.py), drawn with a reserve to refill it
#: Patients' own words: personal identifiers are masked by default (bridge/pii.py; opt out with --keep-pii).
PATIENT_TEXT = True
#: The held-out split is cut from the training file (see bridge/splits.py).
SAME_FILE_SPLIT = True
DEFAULT_PROMPT = "主题：{title}\n内容：{ask}"
PROMPT_FIELDS = ("title", "ask")
DEFAULT_PARAMS = {"train_size": 5000, "test_size": 100, "seed": 42}
JSON_KEYS = ("instruction", "input", "output")
CSV_COLUMNS = ("department", "title", "ask", "answer")


def convert(records: Iterable[dict], prompt: Prompt, counts: Counts | None = None) -> Iterator[dict]:
    """Turn raw dialogue records (ModelScope keys) into alpaca records; skip empty or "无" ones.

    Raw::

        {"instruction": "胃疼反酸烧心是胃炎吗", "input": "饭后经常胃疼，还反酸。", "output": "建议做胃镜检查。",
         "history": null}

    Output::

        {"instruction": "主题：胃疼反酸烧心是胃炎吗\\n内容：饭后经常胃疼，还反酸。", "input": "",
         "output": "建议做胃镜检查。"}
    """
    for title, ask, answer in usable(records, counts if counts is not None else Counts()):
        yield render(title, ask, answer, prompt)


def render(title: str | None, ask: str, answer: str, prompt: Prompt) -> dict:
    """One alpaca record from a usable (title, ask, answer)."""
    return {"instruction": prompt.render(title=title or "", ask=ask), "input": "", "output": answer}


def usable(records: Iterable[dict], counts: Counts) -> Iterator[tuple[str | None, str, str]]:
    """(title, ask, answer) of every record worth training on; the others are counted by reason.

    Split from rendering so that sampling 5k of 800k records formats only the 5k it keeps.
    """
    for index, raw in enumerate(records):
        counts.read += 1
        if not isinstance(raw, dict):
            counts.skip("not_an_object")
            continue
        try:
            title, ask, answer = raw["instruction"], raw["input"], raw["output"]
        except KeyError:
            require_keys(raw, JSON_KEYS, f"dialog record {index}")
            raise
        if is_blank(ask):
            counts.skip("empty_question")
        elif is_blank(answer):
            counts.skip("empty_answer")
        elif ask.__class__ is str and answer.__class__ is str and (title is None or title.__class__ is str):
            yield title, ask, answer  # exact-class checks: this runs 800k times on the full array
        else:
            counts.skip("not_text")  # a number or a list where the dialogue's text belongs


def read_csv(path: str | Path, encoding: str | None = None) -> Iterator[dict]:
    """Yield Toyhom CSV rows (header ``department,title,ask,answer``) in the ModelScope key layout."""
    allow_long_fields()
    enc = encoding or detect_encoding(path)
    try:
        with open_text(path, enc) as handle:
            reader = csv.DictReader(handle)
            header = [name.strip().lstrip("\ufeff") for name in (reader.fieldnames or [])]
            reader.fieldnames = header
            missing = [col for col in ("title", "ask", "answer") if col not in header]
            if missing:
                raise BridgeError(
                    f"{path}: missing column(s) {missing}; expected header {list(CSV_COLUMNS)}, found {header}"
                )
            for row in reader:
                yield {"instruction": row["title"], "input": row["ask"], "output": row["answer"], "history": None}
    except UnicodeDecodeError as exc:
        raise decode_error(path, enc, exc) from None
    except csv.Error as exc:
        raise BridgeError(f"{path}: malformed CSV: {exc}") from None


def read_raw(paths: list[Path], progress: Callable[[int], None] | None = None, encoding: str | None = None):
    """Yield raw records from the JSON array and/or CSV files, in order."""
    done = 0
    for path in paths:
        if path.suffix.lower() == ".csv":
            yield from read_csv(path, encoding)
        else:
            base = done
            yield from iter_json_array(path, None if progress is None else (lambda n, b=base: progress(b + n)))
        done += path.stat().st_size
        if progress is not None:
            progress(done)


def reservoir(records: Iterable, k: int, rng: random.Random) -> list[tuple[int, object]]:
    """A uniform sample of ``k`` (index, record) pairs from a stream of unknown length (Li's Algorithm L).

    Algorithm L draws how many records to skip (geometric) instead of one random number per record,
    so after the first ``k`` the cost per record is only advancing the iterator.
    """
    stream = enumerate(records)
    sample = list(itertools.islice(stream, k))
    if len(sample) < k or k == 0:
        return sample
    # 1 - random() is in (0, 1]: log() never sees 0.
    w = math.exp(math.log(1.0 - rng.random()) / k)
    while True:
        skip = math.floor(math.log(1.0 - rng.random()) / math.log(1.0 - w)) if w < 1.0 else 0
        item = next(itertools.islice(stream, skip, None), None)
        if item is None:
            return sample
        sample[rng.randrange(k)] = item
        w *= math.exp(math.log(1.0 - rng.random()) / k)


def _unique(items: Iterable[tuple], counts: Counts) -> Iterator[tuple]:
    # 12-byte digests (~60 bytes each in a set): memory grows with the input only when --dedup asks for it.
    seen: set[bytes] = set()
    for item in items:
        key = hashlib.blake2b(json.dumps(item, ensure_ascii=False).encode("utf-8"), digest_size=12).digest()
        if key in seen:
            counts.duplicates += 1
            counts.duplicates_dropped += 1
            continue
        seen.add(key)
        yield item


def build(inputs: dict[str, list[Path]], params: dict, prompt: Prompt, counts: Counts, dedup: bool = False,
          progress: Callable[[int], None] | None = None) -> dict[str, list[dict]]:
    """Sample ``train_size`` + ``test_size`` disjoint records (seeded reservoir over the whole stream).

    When fewer usable records exist, the held-out split takes at most 20 % of them. The reservoir also
    draws a reserve of ``test_size`` more records, returned as ``pool``: the leak rule refills the
    held-out split from it (bridge/splits.py).

    Duplicates are counted within the sample; with ``dedup`` repeats are dropped from the stream before
    sampling (this keeps a set of digests, ~60 bytes per distinct record).
    """
    train_size, test_size, seed = params["train_size"], params["test_size"], params["seed"]
    rng = random.Random(seed)
    stream = usable(read_raw(inputs["train"], progress, params.get("encoding")), counts)
    if dedup:
        stream = _unique(stream, counts)
    sample = reservoir(stream, train_size + 2 * test_size, rng)
    rng.shuffle(sample)
    test_size = held_out_size(len(sample), test_size)
    test, train, rest = sample[:test_size], sample[test_size:test_size + train_size], sample[test_size + train_size:]
    splits = {"train": [render(*r, prompt) for _, r in sorted(train, key=lambda p: p[0])],
              "test": [render(*r, prompt) for _, r in sorted(test, key=lambda p: p[0])]}
    splits = mark_duplicates(splits, counts, drop=dedup)
    splits["pool"] = [render(*r, prompt) for _, r in rest]
    return splits


def find_inputs(raw: Path) -> dict[str, list[Path]]:
    """The dialogue files under ``raw/dialog``: the ModelScope JSON array, else the Toyhom CSVs."""
    arrays = sorted(p for p in raw.rglob("*.json") if p.is_file())
    csvs = sorted(p for p in raw.rglob("*.csv") if p.is_file())
    files = arrays or csvs
    if not files:
        raise BridgeError(f"no dialog data under {raw}: expected data/train_0001_of_0001.json or Toyhom *.csv files")
    return {"train": files, "test": files}
