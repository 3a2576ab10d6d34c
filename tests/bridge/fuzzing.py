"""Strategies and checks shared by bridge's property-based tests.

Every property test runs an operation on a dataset_dir that already holds a good conversion of all four
sample sources, then checks: the only exception is medft's own (BridgeError / click's); on an error the
directory is byte-for-byte as before; on success the committed files are what the manifest says, the
held-out sets are leak-free and no temporary file is left.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

from hypothesis import event
from hypothesis import strategies as st

from bridge import registry
from bridge.common import BridgeError
from medft.io import sha256_file

#: Text the real data has (placeholders, BOM, full-width), random text without surrogates, and huge strings.
SPECIAL = st.sampled_from(["", " ", "无", " 无\n", "（空）", "\ufeff", "胃疼反酸", "a\nb", "ＣＴ 检查", "暂缺。",
                          "{x}"])
PLAIN = st.text(st.characters(blacklist_categories=("Cs",)), max_size=24)
BIG = st.integers(10_000, 60_000).map(lambda n: "胃" * n)
TEXT = st.one_of(SPECIAL, PLAIN, PLAIN, BIG)
#: Text openpyxl can store (no control characters).
CELL_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=16) | SPECIAL.filter(
    lambda s: s != "\ufeff")
LEAF = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False,
                                                                                 allow_infinity=False), TEXT)
JSON = st.recursive(LEAF, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(PLAIN, inner, max_size=3),
                    max_leaves=6)
VALUE = st.one_of(TEXT, TEXT, TEXT, JSON)
ENCODINGS = st.sampled_from(["utf-8"] * 6 + ["utf-8-sig", "gbk", "gb18030", "utf-16", "latin-1"])
#: Where to cut the file (None: whole), as a fraction of its length.
CUTS = st.one_of(st.none(), st.none(), st.none(), st.floats(0, 1))


#: Plausible medical text: most pipeline examples should get far enough to write something.
WORDS = st.text("胃疼咳嗽发热头痛腹泻高血压糖尿病伴三天 ，。abc", min_size=2, max_size=12)
GOOD = st.one_of(WORDS, WORDS, WORDS, WORDS, TEXT, JSON)


def record(keys: tuple[str, ...], value=VALUE) -> st.SearchStrategy:
    """Mostly records with the source's keys (random values), sometimes missing keys, extra keys or no object."""
    full = st.fixed_dictionaries({k: value for k in keys}, optional={"extra": JSON})
    partial = st.dictionaries(st.sampled_from([*keys, "other"]), value, max_size=len(keys))
    return st.one_of(full, full, full, partial, JSON)


def records(keys: tuple[str, ...], max_size: int = 24) -> st.SearchStrategy:
    """A file's worth of records: plausible ones with the source's keys, and in about half of the examples
    one broken record (missing keys, another type) somewhere among them."""
    full = st.fixed_dictionaries({k: GOOD for k in keys}, optional={"extra": JSON})
    broken = st.dictionaries(st.sampled_from([*keys, "other"]), VALUE, max_size=len(keys) - 1) | JSON
    return st.tuples(st.lists(full, min_size=10, max_size=max_size), st.lists(broken, max_size=1),
                     st.integers(0, max_size)).map(
        lambda t: t[0][: t[2]] + t[1] + t[0][t[2]:])


def encode(text: str, encoding: str, cut: float | None) -> bytes:
    """``text`` in ``encoding`` (unencodable characters replaced), cut at ``cut`` of its length."""
    data = text.encode(encoding, errors="replace")
    return data if cut is None else data[: int(len(data) * cut)]


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` (but the lock file, which locking may create) and its bytes."""
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*"))
            if p.is_file() and not p.name.endswith(".lock")}


@contextlib.contextmanager
def workspace(baseline: Path) -> Iterator[tuple[Path, Path]]:
    """(dataset_dir copied from ``baseline``, an empty directory for raw files), removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        shutil.copytree(baseline, data)
        raw = Path(tmp) / "raw"
        raw.mkdir()
        yield data, raw


def attempt(action: Callable[[], object], data: Path):
    """Run ``action``; on BridgeError assert ``data`` is untouched and return None, else check and return."""
    before = snapshot(data)
    try:
        result = action()
    except BridgeError as exc:
        assert exc.message.strip(), "an error says what is wrong"
        assert snapshot(data) == before, "an error leaves every earlier output as it was"
        # `pytest --hypothesis-show-statistics` shows how often each outcome was reached.
        event("refused: " + re.sub(r"/\S+", "<path>", exc.message)[-60:])
        return None
    consistent(data)
    event("succeeded")
    return result


def _norm(rec: dict) -> str:
    if "instruction" not in rec:  # sharegpt: every turn's text but the last
        turns = rec.get("conversations") or rec.get("messages") or []
        text = "\u241e".join(str(t.get("value", t.get("content", ""))) for t in turns[:-1])
    else:
        text = str(rec.get("instruction") or "") + str(rec.get("input") or "")
    return "".join(unicodedata.normalize("NFKC", text).split())


def consistent(data: Path) -> None:
    """The committed state: manifest without ``pending``, every medft file as hashed, leak-free pairs, no temp."""
    manifest = registry.load_manifest(data)
    info = registry.load_dataset_info(data)
    assert "pending" not in manifest
    assert not [p.name for p in data.iterdir() if p.name.endswith(".tmp")]
    # Entries the user removed or re-pointed by hand since are theirs: only registered medft files are checked.
    live = {name for name, entry in manifest["datasets"].items()
            if isinstance(info.get(name), dict) and info[name].get("file_name") == entry.get("file_name")}
    for name in live:
        entry = manifest["datasets"][name]
        if entry.get("converter") == "register" and not name.endswith("_test"):
            continue  # the user's own file, registered where it is
        assert sha256_file(data / entry["file_name"]) == entry["sha256"], name
    for name in live:
        test = f"{name}_test"
        if test in live and not name.endswith("_test"):
            train_file = Path(info[name]["file_name"])
            train_file = train_file if train_file.is_absolute() else data / train_file
            train = _records(train_file)
            held = [_norm(r) for r in _records(data / info[test]["file_name"])]
            assert held and len(set(held)) == len(held), test
            assert not set(held) & {_norm(r) for r in train}, test


def _records(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.split("\n") if line.strip()]
    return json.loads(text)
