"""Audit every registered training set against every held-out and few-shot set, and find near-duplicates.

**Which sets.** Every dataset_info.json entry with a local file: a name ending in ``_test`` or ``_dev`` is
held out (a test set or an exam's few-shot pool), every other name is training data — bridge's
conversions, exams and ``bridge register``-ed user data alike.

**Contamination rules** (per training set × held-out set; a held-out item is counted once per pair):

- *exact*: the held-out item's normalised prompt (bridge/splits.py's :func:`~bridge.splits.prompt_key`)
  equals a training record's, or the item's content (below) occurs verbatim in a training record's
  prompt + answer, both compared without whitespace and punctuation (NFKC, then every Unicode ``P*``
  character of the Basic Multilingual Plane dropped: "A. 哮喘" and "A、哮喘" are the same text);
- *n-gram*: more than ``SHARE`` (50 %) of the item's distinct character ``NGRAM``-grams (13, on the same
  punctuation-free text) occur in one training record's prompt + answer — the Cosmopedia rule (drop a sample when the
  matched part covers more than half of the benchmark item) with GPT-3's 13, counted in characters
  because Chinese has no spaces. Items shorter than 13 characters are judged by the exact rule only.

An item's *content* is what makes it that item: for exams the question with its options (``A. …``
lines, as bridge.exam renders them, so CMB's and CMExam's different prompt headers do not matter);
for every other set the normalised prompt without the prefix and suffix every item of its set shares
(the prompt template: 临床术语标准化's long instruction would otherwise match every norm record).

**Near-duplicates** (``near_dedup=THRESHOLD``, default ``NEAR_DEDUP_THRESHOLD`` = 0.7, data-juicer's
choice): training records (content + normalised answer) as sets of character ``SHINGLE``-grams (5),
MinHash (datasketch, ``NUM_PERM`` = 64 permutations) and MinHash LSH at the threshold (8 bands of 8 rows); a record is a
near-duplicate when LSH returns an earlier kept record whose estimated Jaccard similarity reaches the
threshold. Sets are visited in dataset_info.json order, records in file order: the first of a group is
kept, within and across training sets.

Cost: one pass over each training file against an index of the held-out sets' n-grams (no all-pairs
comparison), in a worker process beside the near-duplicate pass; training files are streamed. Memory
holds the held-out index and, per kept training record, its 64-slot signature and LSH entries (about 3 KB:
linear in the training records, never pairwise). 64 permutations instead of 128 halve that and the time;
datasketch's LSH then misses about 5 % of pairs at the threshold (4 % with 128) — see BENCHMARKS.md.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import time
import unicodedata
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bridge import registry
from bridge.common import BridgeError, jsonl_line
from bridge.exam import render_options
from bridge.splits import normalise, prompt_key
from bridge.userdata import read_records
from medft.io import atomic_write_json, atomic_write_text, sha256_file, staged_writer

NGRAM = 13
SHARE = 0.5
SHINGLE = 5
NUM_PERM = 64
NEAR_DEDUP_THRESHOLD = 0.7
HELDOUT_SUFFIXES = ("_test", "_dev")
EXAMPLES = 3
REPORT_JSON, REPORT_MD = "audit.json", "audit.md"
#: Seed of the MinHash permutations: the same records give the same groups on every run.
MINHASH_SEED = 1
_TURN_TEXT = {"conversations": "value", "messages": "content"}


def is_held_out(name: str) -> bool:
    """A dataset_info.json name that is held out: a test set (``_test``) or a few-shot pool (``_dev``)."""
    return name.endswith(HELDOUT_SUFFIXES)


def answer_text(record: dict) -> str:
    """The answer a record trains on: alpaca ``output``, or the last turn of a sharegpt conversation."""
    if "instruction" not in record:
        for key, text_key in _TURN_TEXT.items():
            turns = record.get(key)
            if isinstance(turns, list) and turns and isinstance(turns[-1], dict):
                return str(turns[-1].get(text_key) or "")
    value = record.get("output")
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _exam_content(record: dict) -> str | None:
    if isinstance(record.get("question"), str) and isinstance(record.get("options"), dict):
        return normalise(record["question"] + render_options(record["options"]))
    return None


def _common_affixes(keys: list[str]) -> tuple[int, int]:
    """Lengths of the prefix and suffix every key shares (0, 0 for fewer than two keys)."""
    if len(keys) < 2:
        return 0, 0
    # os.path.commonprefix compares character by character: exactly the longest common prefix of strings.
    prefix = len(os.path.commonprefix(keys))  # noqa: RUF071
    shortest = min(len(k) for k in keys)
    suffix = len(os.path.commonprefix([k[::-1] for k in keys]))  # noqa: RUF071
    return prefix, max(0, min(suffix, shortest - prefix))


def _strip(key: str, affixes: tuple[int, int]) -> str:
    prefix, suffix = affixes
    return key[prefix:len(key) - suffix] if suffix else key[prefix:]


@dataclass
class Dataset:
    """One registered set: name, file, and whether bridge can rewrite it (--fix)."""

    name: str
    path: Path
    held_out: bool


def registered_sets(dataset_dir: str | Path) -> tuple[list[Dataset], list[str]]:
    """The registered sets with a local file, in dataset_info.json order, and notes on the ones skipped."""
    dataset_dir = Path(dataset_dir)
    info = registry.load_dataset_info(dataset_dir)
    found, notes = [], []
    for name, entry in info.items():
        file_name = entry.get("file_name") if isinstance(entry, dict) else None
        if not isinstance(file_name, str):
            notes.append(f"{name}: no local file_name (hub or script dataset): not audited")
            continue
        path = Path(file_name) if Path(file_name).is_absolute() else dataset_dir / file_name
        if not path.is_file():
            notes.append(f"{name}: {path} not found: not audited")
            continue
        found.append(Dataset(name, path, is_held_out(name)))
    return found, notes


@dataclass
class HeldOut:
    """A held-out set ready to be matched: per item its prompt key, content and content n-grams."""

    name: str
    keys: list[str]
    contents: list[str]
    grams: list[int]  # distinct n-grams per item (0: shorter than NGRAM, exact rule only)


_PUNCTUATION: dict[int, None] = {}


def strip_punctuation(text: str) -> str:
    """``text`` without Unicode punctuation (categories P*, Basic Multilingual Plane): what n-grams compare."""
    if not _PUNCTUATION:
        _PUNCTUATION.update((cp, None) for cp in range(0x10000) if unicodedata.category(chr(cp)).startswith("P"))
    return text.translate(_PUNCTUATION)


def _grams(text: str) -> set[str]:
    return {text[i:i + NGRAM] for i in range(len(text) - NGRAM + 1)}


def load_held_out(dataset: Dataset) -> HeldOut:
    """Read a held-out set and work out each item's content (see the module docstring)."""
    records = [r for r in read_records(dataset.path) if isinstance(r, dict)]
    keys = [prompt_key(r) for r in records]
    affixes = _common_affixes(keys)
    contents = [strip_punctuation(_exam_content(r) or _strip(k, affixes)) for r, k in zip(records, keys, strict=True)]
    return HeldOut(dataset.name, keys, contents, [len(_grams(c)) for c in contents])


@dataclass
class Index:
    """Held-out n-grams → (set number, item number), and exact prompt keys → items, for all held-out sets."""

    sets: list[HeldOut]
    grams: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    keys: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    #: The n-grams as a set: ``set & set`` walks the smaller side (``set & dict`` would walk the whole index).
    gram_set: frozenset[str] = frozenset()

    @classmethod
    def build(cls, held: list[HeldOut]) -> Index:
        """Index every item's n-grams and prompt key."""
        index = cls(held)
        for s, h in enumerate(held):
            for i, (key, content) in enumerate(zip(h.keys, h.contents, strict=True)):
                index.keys.setdefault(key, []).append((s, i))
                for gram in _grams(content):
                    index.grams.setdefault(gram, []).append((s, i))
        index.gram_set = frozenset(index.grams)
        return index


def iter_records(path: Path) -> Iterator:
    """The records of a training file one at a time (a .jsonl file is streamed: memory stays flat however
    large the set); other files through :func:`bridge.userdata.read_records`."""
    if path.suffix.lower() != ".jsonl":
        yield from read_records(path)
        return
    try:
        with open(path, encoding="utf-8-sig") as handle:
            for lineno, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise BridgeError(f"{path}: line {lineno}, column {exc.colno}: malformed JSON: {exc.msg}") from None
    except UnicodeDecodeError:
        yield from read_records(path)  # its error names the line and byte that are not UTF-8
    except OSError as exc:
        raise BridgeError(f"cannot read {path}: {exc.strerror}") from None


def _training_text(record: dict) -> tuple[str, str]:
    key = prompt_key(record)
    return key, strip_punctuation(key + normalise(answer_text(record)))


def match_record(index: Index, record: dict, texts: tuple[str, str] | None = None) -> dict[tuple[int, int], str]:
    """Held-out items ``record`` contaminates: (set, item) → "exact" or "ngram" (``texts``: its
    ``_training_text`` when the caller has it already)."""
    key, text = texts or _training_text(record)
    hits: dict[tuple[int, int], str] = {item: "exact" for item in index.keys.get(key, ())}
    if len(text) < NGRAM:
        return hits
    common = _grams(text) & index.gram_set
    if not common:
        return hits
    counts: dict[tuple[int, int], int] = defaultdict(int)
    for gram in common:
        for item in index.grams[gram]:
            counts[item] += 1
    for (s, i), n in counts.items():
        if (s, i) in hits:
            continue
        if index.sets[s].contents[i] in text:
            hits[(s, i)] = "exact"
        elif n > SHARE * index.sets[s].grams[i]:
            hits[(s, i)] = "ngram"
    return hits


def _shingle_hashes(text: str) -> list[int]:
    """32-bit hashes of the text's character SHINGLE-grams (a polynomial over code points, vectorised:
    Python-level hashing of ~300 shingles per record dominated the run time)."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(codes) < SHINGLE:
        codes = np.concatenate([codes, np.zeros(SHINGLE - len(codes), dtype=np.uint64)])
    width = len(codes) - SHINGLE + 1
    h = np.zeros(width, dtype=np.uint64)
    for j in range(SHINGLE):
        h = h * np.uint64(1_000_003) + codes[j:j + width]
    return (h ^ (h >> np.uint64(32))).astype(np.uint32).tolist()


class NearDuplicates:
    """Greedy near-duplicate search: ``seen(text)`` says whether an earlier kept text is near ``text``."""

    def __init__(self, threshold: float = NEAR_DEDUP_THRESHOLD) -> None:
        from datasketch import MinHash, MinHashLSH

        if not 0 < threshold <= 1:
            raise BridgeError(f"--near-dedup threshold must be in (0, 1], got {threshold}")
        self.threshold = threshold
        # One MinHash, cleared per text: building one per record re-parses its permutations each time.
        self._minhash = MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED, hashfunc=int)
        self.lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        #: Signatures of the kept texts (the LSH stores only band hashes), for MinHash.jaccard's estimate.
        self.kept: list[np.ndarray] = []

    def seen(self, text: str) -> bool:
        """True if ``text`` is near an earlier kept one; otherwise it is kept (indexed) and False."""
        m = self._minhash
        m.clear()
        m.update_batch(_shingle_hashes(text))
        for candidate in self.lsh.query(m):
            # MinHash.jaccard: the share of equal signature slots.
            if np.count_nonzero(m.hashvalues == self.kept[candidate]) / NUM_PERM >= self.threshold:
                return True
        self.lsh.insert(len(self.kept), m, check_duplication=False)
        self.kept.append(m.hashvalues.copy())
        return False


def _near_text(record: dict, affixes: tuple[int, int], key: str | None = None) -> str:
    return _strip(prompt_key(record) if key is None else key, affixes) + normalise(answer_text(record))


def _head_affixes(path: Path) -> tuple[int, int]:
    """The template affixes of a training set, from its first 1,000 records."""
    head = [r for r in itertools.islice(iter_records(path), 1000) if isinstance(r, dict)]
    return _common_affixes([prompt_key(r) for r in head])


def contamination_pass(dataset_dir: str | Path) -> dict:
    """Every training set against the held-out index: the matrix, per training set its counts and the
    record numbers to drop, the held-out sets and notes (picklable: it may run in a worker process)."""
    sets, notes = registered_sets(dataset_dir)
    held_sets = [load_held_out(d) for d in sets if d.held_out]
    index = Index.build(held_sets)
    matrix, training, drops = [], {}, {}
    for dataset in (d for d in sets if not d.held_out):
        sha = sha256_file(dataset.path)  # before reading: --fix refuses a file that changed after this
        cells: dict[int, dict] = {}
        drop: set[int] = set()
        number = -1
        for number, record in enumerate(iter_records(dataset.path)):
            if not isinstance(record, dict):
                continue
            for (s, i), kind in match_record(index, record).items():
                cell = cells.setdefault(s, {"exact": set(), "ngram": set(), "examples": []})
                if i not in cell["exact"] and i not in cell["ngram"]:
                    cell[kind].add(i)
                    if len(cell["examples"]) < EXAMPLES:
                        cell["examples"].append({"heldout_item": i, "train_record": number, "rule": kind,
                                                 "text": held_sets[s].contents[i][:80]})
                drop.add(number)
        for s, cell in sorted(cells.items()):
            matrix.append({"train": dataset.name, "heldout": held_sets[s].name, "exact": len(cell["exact"]),
                           "ngram": len(cell["ngram"]), "examples": cell["examples"]})
        training[dataset.name] = {"file": str(dataset.path), "sha256": sha, "records": number + 1,
                                  "contaminated_records": len(drop)}
        drops[dataset.name] = drop
    return {"heldout": {h.name: {"items": len(h.keys)} for h in held_sets}, "training": training,
            "matrix": matrix, "notes": notes, "drop": drops, "peak_rss_mb": _peak_rss_mb()}


def near_duplicate_pass(dataset_dir: str | Path, threshold: float) -> dict[str, set[int]]:
    """Per training set, the record numbers that are near-duplicates of an earlier record (any set)."""
    near = NearDuplicates(threshold)
    sets, _ = registered_sets(dataset_dir)
    found: dict[str, set[int]] = {}
    for dataset in (d for d in sets if not d.held_out):
        affixes = _head_affixes(dataset.path)
        found[dataset.name] = {number for number, record in enumerate(iter_records(dataset.path))
                               if isinstance(record, dict) and near.seen(_near_text(record, affixes))}
    return found


def _peak_rss_mb() -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            return next(round(int(line.split()[1]) / 1024, 1) for line in handle if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return None


def audit(dataset_dir: str | Path, near_dedup: float | None = None, parallel: bool = True) -> dict:
    """The audit of ``dataset_dir``: matrix of contamination counts with examples, near-duplicates, and
    per training set the record numbers --fix would drop (``drop``; not saved in the report).

    With ``near_dedup`` the two passes are independent: the contamination pass runs in a worker process
    while this one searches near-duplicates (two cores, about half the time). A record is counted as a
    near-duplicate only when the contamination pass did not flag it already.
    """
    started = time.perf_counter()
    if near_dedup is None:
        result = contamination_pass(dataset_dir)
        near: dict[str, set[int]] = {}
    else:
        NearDuplicates(near_dedup)  # a bad threshold fails before any work
        if parallel:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
                future = pool.submit(contamination_pass, str(dataset_dir))
                near = near_duplicate_pass(dataset_dir, near_dedup)
                result = future.result()
        else:
            result = contamination_pass(dataset_dir)
            near = near_duplicate_pass(dataset_dir, near_dedup)
    drops = {}
    for name, info in result["training"].items():
        contaminated = result["drop"][name]
        if near_dedup is not None:
            info["near_duplicates"] = len(near.get(name, set()) - contaminated)
        drops[name] = sorted(contaminated | near.get(name, set()))
    return {
        "rules": {"exact": "same normalised prompt, or the item's content verbatim in the training text",
                  "ngram": f"> {SHARE:.0%} of the item's character {NGRAM}-grams in one training record",
                  "near_dedup": None if near_dedup is None else
                  f"MinHash LSH, character {SHINGLE}-shingles, {NUM_PERM} permutations, Jaccard >= {near_dedup}"},
        "heldout": result["heldout"],
        "training": result["training"],
        "matrix": result["matrix"],
        "notes": result["notes"],
        "seconds": round(time.perf_counter() - started, 2),
        "peak_rss_mb": {"main": _peak_rss_mb(),
                        **({"worker": result["peak_rss_mb"]} if near_dedup is not None and parallel else {})},
        "drop": drops,
    }


def overlapping(report: dict) -> list[dict]:
    """The matrix cells with any overlap."""
    return [c for c in report["matrix"] if c["exact"] or c["ngram"]]


def markdown(report: dict) -> str:
    """The audit as a Markdown document (matrix of counts, then examples)."""
    held = list(report["heldout"])
    lines = ["# Contamination audit", "", f"Rules: exact = {report['rules']['exact']}; "
             f"n-gram = {report['rules']['ngram']}. Cells: exact / n-gram held-out items.", "",
             "| training set | records | " + " | ".join(held) + " |", "|---|---:|" + "---:|" * len(held)]
    cells = {(c["train"], c["heldout"]): c for c in report["matrix"]}
    for name, info in report["training"].items():
        row = [f"{cells[(name, h)]['exact']} / {cells[(name, h)]['ngram']}" if (name, h) in cells else "·"
               for h in held]
        lines.append(f"| {name} | {info['records']} | " + " | ".join(row) + " |")
    if report["rules"]["near_dedup"]:
        lines += ["", f"Near-duplicates ({report['rules']['near_dedup']}): " + ", ".join(
            f"{n} {i['near_duplicates']}" for n, i in report["training"].items())]
    examples = [(c, e) for c in overlapping(report) for e in c["examples"]]
    if examples:
        lines += ["", "## Examples", "", "| training set | record | held-out set | item | rule | held-out text |",
                  "|---|---:|---|---:|---|---|"]
        lines += [f"| {c['train']} | {e['train_record']} | {c['heldout']} | {e['heldout_item']} | {e['rule']} | "
                  f"{e['text'].replace('|', '/')} |" for c, e in examples]
    return "\n".join(lines) + "\n"


def save(dataset_dir: str | Path, report: dict) -> tuple[Path, Path]:
    """Write audit.json (without the drop lists) and audit.md into ``dataset_dir``, atomically."""
    dataset_dir = Path(dataset_dir)
    saved = {k: v for k, v in report.items() if k != "drop"}
    atomic_write_json(dataset_dir / REPORT_JSON, saved)
    atomic_write_text(dataset_dir / REPORT_MD, markdown(saved))
    return dataset_dir / REPORT_JSON, dataset_dir / REPORT_MD


def load_report(dataset_dir: str | Path) -> dict | None:
    """The saved audit of ``dataset_dir``, or None when there is none (or it cannot be read)."""
    try:
        return registry.read_json_object(Path(dataset_dir) / REPORT_JSON, "an audit report", "") or None
    except BridgeError:
        return None


def fix(dataset_dir: str | Path, report: dict) -> dict[str, int]:
    """Remove the records the audit flagged from the TRAINING sets only, in one atomic commit.

    Files bridge wrote are replaced in place; a user's registered file is never changed: a cleaned copy
    ``<name>_audited.jsonl`` is written beside dataset_info.json and the entry points at it. The manifest
    records what was removed (``audit`` in each entry). Returns name → records removed.
    """
    dataset_dir = Path(dataset_dir)
    manifest = registry.load_manifest(dataset_dir)
    info = registry.load_dataset_info(dataset_dir)
    staged, entries, manifest_entries, removed = {}, {}, {}, {}
    try:
        for name, drop in report["drop"].items():
            if not drop:
                continue
            have = manifest["datasets"].get(name)
            if have is None:
                raise BridgeError(f"{name} was not registered by bridge (no manifest entry): remove its "
                                  f"{len(drop)} flagged record(s) by hand or register it with `bridge register`")
            path = Path(report["training"][name]["file"])
            if sha256_file(path) != report["training"][name]["sha256"]:
                raise BridgeError(f"{path} changed since the audit; run `bridge audit --fix` again")
            in_place = have.get("converter") != "register" and path.parent.resolve() == dataset_dir.resolve()
            target = path.name if in_place else f"{name}_audited.jsonl"
            dropped = set(drop)
            kept = [r for n, r in enumerate(read_records(path)) if n not in dropped]
            with staged_writer(dataset_dir / target, "wb") as (handle, tmp):
                data = "".join(jsonl_line(r) for r in kept).encode("utf-8")
                handle.write(data)
            staged[target] = tmp
            entry = dict(info[name])
            entry["file_name"] = target
            entries[name] = entry
            near = report["training"][name].get("near_duplicates", 0)
            audit_note = {"removed_contaminated": report["training"][name]["contaminated_records"],
                          "removed_near_duplicates": near, "rules": report["rules"],
                          "date": time.strftime("%Y-%m-%d", time.gmtime())}
            counts = dict(have.get("counts") or {})
            counts["written"] = {**counts.get("written", {}), "train": len(kept)}
            manifest_entries[name] = {**have, "file_name": target, "sha256": hashlib.sha256(data).hexdigest(),
                                      "counts": counts, "audit": audit_note}
            removed[name] = len(drop)
    except BaseException:
        for tmp in staged.values():
            Path(tmp).unlink(missing_ok=True)
        raise
    if staged:
        registry.commit(dataset_dir, staged, entries, manifest_entries)
    return removed
