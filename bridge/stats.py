"""Token-length statistics of registered datasets, counted exactly as LLaMA-Factory's training sees them.

The prompt/response ids come from LLaMA-Factory's own ``template.encode_oneturn`` (so system prompt,
special tokens and template quirks are included). To make that fast, the template runs twice over a
tokenizer proxy: the first pass only collects every string the template wants encoded, those are
tokenized in large batches by the fast (Rust) tokenizer, and the second pass replays the template
with the cached ids. The result is identical to calling ``encode_oneturn`` record by record.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from bridge import registry
from bridge.common import BridgeError
from medft.io import atomic_write_json

BATCH_SIZE = 1024
ROUND_TO = 128


class _MarkingTokenizer:
    """Stands in for the tokenizer inside the template: ``encode(text)`` returns one negative marker id.

    Real token ids are never negative, so after the template has run, each negative id in its output is
    a placeholder for "the ids of text k" and each non-negative id is a special token the template added
    itself (eos, bos, ...). Every other attribute is the real tokenizer's.
    """

    def __init__(self, tokenizer):
        self._tokenizer = tokenizer
        self.texts: dict[str, int] = {}

    def encode(self, text: str, add_special_tokens: bool = False, **_kwargs) -> list[int]:
        index = self.texts.setdefault(text, len(self.texts))
        return [-1 - index]

    def __getattr__(self, name):
        return getattr(self._tokenizer, name)


def alpaca_messages(record: dict, columns: dict) -> tuple[list[dict], str | None]:
    """Messages the way LLaMA-Factory's AlpacaDatasetConverter builds them ("prompt\\nquery", history, system)."""
    messages = []
    history = record.get(columns.get("history", ""))
    if isinstance(history, list):
        for old_prompt, old_response in history:
            messages += [{"role": "user", "content": old_prompt}, {"role": "assistant", "content": old_response}]
    query = [record[c] for c in (columns.get("prompt"), columns.get("query")) if c and record.get(c)]
    messages.append({"role": "user", "content": "\n".join(query)})
    response = record.get(columns.get("response", "output"))
    messages.append({"role": "assistant", "content": response if isinstance(response, str) else ""})
    system = record.get(columns["system"]) if columns.get("system") else None
    return messages, system


def percentiles(values: list[int]) -> dict[str, int]:
    """p50/p90/p99 (nearest rank: an actual observed length, never interpolated) and max."""
    if not values:
        return {"p50": 0, "p90": 0, "p99": 0, "max": 0}
    ordered = sorted(values)

    def rank(p: float) -> int:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    return {"p50": rank(50), "p90": rank(90), "p99": rank(99), "max": ordered[-1]}


def load_template(tokenizer, template: str):
    """LLaMA-Factory's template object (and the tokenizer fixes it applies, e.g. eos/pad tokens)."""
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.hparams import DataArguments

    return get_template_and_fix_tokenizer(tokenizer, DataArguments(template=template))


@contextmanager
def _parallel_tokenizers():
    # medft's Makefile exports TOKENIZERS_PARALLELISM=false (it protects forked dataloader workers); the
    # stats process forks nothing, so its batches may use every core. The user's value is restored after.
    old = os.environ.get("TOKENIZERS_PARALLELISM")
    os.environ["TOKENIZERS_PARALLELISM"] = "true"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TOKENIZERS_PARALLELISM", None)
        else:
            os.environ["TOKENIZERS_PARALLELISM"] = old


def _encode_batch(tokenizer, batch: list[str]) -> list[list[int]]:
    """Ids of each text without special tokens, straight from the Rust tokenizer when there is one.

    Skips transformers' per-encoding Python conversion; the equality with ``tokenizer.encode`` is what
    tests/bridge/test_stats.py checks against ``encode_oneturn``.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return tokenizer(batch, add_special_tokens=False)["input_ids"]
    return [encoding.ids for encoding in backend.encode_batch(batch, add_special_tokens=False)]


def encode_lengths(records: list[dict], columns: dict, tokenizer, template) -> tuple[list[int], list[int]]:
    """(prompt lengths, response lengths) of every record, identical to ``template.encode_oneturn``.

    The template runs once per record over a marking tokenizer; the distinct texts it asked for are then
    tokenized in large parallel batches and the markers replaced by their lengths.
    """
    marker = _MarkingTokenizer(tokenizer)
    encoded = [template.encode_oneturn(marker, *alpaca_messages(r, columns)) for r in records]
    texts = list(marker.texts)
    lengths: list[int] = []
    with _parallel_tokenizers():
        for start in range(0, len(texts), BATCH_SIZE):
            lengths.extend(len(ids) for ids in _encode_batch(tokenizer, texts[start:start + BATCH_SIZE]))

    def length(ids: list[int]) -> int:
        return sum(lengths[-1 - i] if i < 0 else 1 for i in ids)

    return [length(p) for p, _ in encoded], [length(r) for _, r in encoded]


def response_truncated(prompt_len: int, response_len: int, cutoff_len: int) -> bool:
    """Would LLaMA-Factory's truncation (``infer_seqlen``) cut the end of this response?"""
    from llamafactory.data.processor.processor_utils import infer_seqlen

    _, kept = infer_seqlen(prompt_len, response_len, cutoff_len)
    return kept < response_len


def read_jsonl_or_json(path: Path) -> list[dict]:
    """Records of a registered file (.jsonl or .json array); unreadable files are one-line BridgeErrors."""
    from bridge.userdata import read_records

    return read_records(path)


def recommend_cutoff(p99s: list[int]) -> int:
    """Largest p99 of prompt+response over the datasets, rounded up to a multiple of 128 (at least 128)."""
    top = max(p99s, default=0)
    return max(ROUND_TO, math.ceil(top / ROUND_TO) * ROUND_TO)


def compute_stats(dataset_dir: str | Path, model: str | Path, template: str = "qwen", cutoff_len: int = 2048,
                  names: list[str] | None = None, notes: Callable[[str], None] | None = None) -> dict:
    """Statistics for ``names`` (default: every alpaca entry whose file exists), as saved in stats.json."""
    from transformers import AutoTokenizer

    dataset_dir = Path(dataset_dir)
    info = registry.load_dataset_info(dataset_dir)
    half = registry.pending_names(dataset_dir)
    if half:
        raise BridgeError(f"{dataset_dir}: a conversion of {', '.join(half)} was interrupted while replacing its "
                          "files; run `python -m bridge recover` (any bridge convert also finishes it) first")
    unknown = [n for n in names or [] if n not in info]
    if unknown:
        raise BridgeError(f"not registered in {dataset_dir / registry.INFO_NAME}: {unknown}; known: {sorted(info)}")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(model))
    except OSError as exc:
        raise BridgeError(f"cannot load a tokenizer from {model}: {exc}") from None
    if not getattr(tokenizer, "is_fast", False):
        raise BridgeError(f"{model}: bridge stats needs a fast tokenizer (tokenizer.json)")
    tmpl = load_template(tokenizer, template)
    result = {"tokenizer": str(model), "template": template, "cutoff_len": cutoff_len, "datasets": {}}
    for name in names or list(info):
        entry = info[name]
        if not isinstance(entry, dict):
            if notes:
                notes(f"{name}: skipped, its dataset_info.json entry is not an object")
            continue
        path = Path(entry.get("file_name", ""))
        path = path if path.is_absolute() else dataset_dir / path
        if entry.get("formatting", "alpaca") != "alpaca":
            if notes:
                notes(f"{name}: skipped, stats supports alpaca entries only ({entry.get('formatting')})")
            continue
        if not path.is_file():
            if notes:
                notes(f"{name}: skipped, {path} does not exist (convert it first)")
            continue
        columns = {"prompt": "instruction", "query": "input", "response": "output", **entry.get("columns", {})}
        records = read_jsonl_or_json(path)
        prompt_lens, response_lens = encode_lengths(records, columns, tokenizer, tmpl)
        totals = [p + r for p, r in zip(prompt_lens, response_lens, strict=True)]
        result["datasets"][name] = {
            "rows": len(records),
            "prompt_tokens": percentiles(prompt_lens),
            "response_tokens": percentiles(response_lens),
            "total_tokens": percentiles(totals),
            "over_cutoff": sum(t > cutoff_len for t in totals),
            "response_truncated": sum(
                response_truncated(p, r, cutoff_len) for p, r in zip(prompt_lens, response_lens, strict=True)),
        }
    result["recommended_cutoff_len"] = recommend_cutoff([d["total_tokens"]["p99"] for d in result["datasets"].values()])
    return result


def save_stats(dataset_dir: str | Path, stats: dict) -> Path:
    """Write ``<dataset_dir>/stats.json`` atomically."""
    path = Path(dataset_dir) / "stats.json"
    atomic_write_json(path, stats)
    return path


def stats_table(stats: dict):
    """A rich table: per dataset three lines (prompt, response, total tokens) with p50/p90/p99/max."""
    from rich import box
    from rich.table import Table

    table = Table(title=f"token lengths ({stats['template']} template, cutoff_len {stats['cutoff_len']})",
                  box=box.SIMPLE_HEAD)
    for col in ("dataset", "rows", "tokens", "p50", "p90", "p99", "max", ">cutoff", "resp. cut"):
        table.add_column(col, justify="left" if col in ("dataset", "tokens") else "right", no_wrap=True)
    for name, d in stats["datasets"].items():
        for kind in ("prompt", "response", "total"):
            q = d[f"{kind}_tokens"]
            last = kind == "total"
            table.add_row(name if kind == "prompt" else "", str(d["rows"]) if kind == "prompt" else "", kind,
                          *(str(q[k]) for k in ("p50", "p90", "p99", "max")),
                          str(d["over_cutoff"]) if last else "", str(d["response_truncated"]) if last else "",
                          end_section=last)
    table.caption = (f"recommended cutoff_len: {stats['recommended_cutoff_len']} (largest p99 of prompt+response, "
                     "rounded up to 128); resp. cut: rows whose response end LLaMA-Factory would truncate")
    return table
