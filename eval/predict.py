"""Stage 1 of eval: generate predictions, append-only and restartable.

Each prediction is one JSON line keyed by a hash of (weights fingerprint, template, prompt,
generation settings). A rerun skips keys already present, so an interrupted run resumes where it
stopped and a finished one costs nothing; changed weights or settings give new keys.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from eval.models import ModelSpec
from eval.prompting import prompt_ids, stop_token_ids
from medft.console import get_logger

log = get_logger("eval.predict")



class PredictionCacheError(ValueError):
    """The predictions file cannot be read or appended to."""


#: Why generation stopped: at a stop token / the server's "stop", or at the token budget.
STOP, LENGTH = "stop", "length"


class Predictions(list):
    """The predictions of a set in record order (plain strings), with ``finish_reasons`` beside them.

    ``finish_reasons[i]`` is ``"stop"``, ``"length"`` (the answer hit ``max_new_tokens``: it is cut off), a
    server's own ``finish_reason``, or None where it is unknown (predictions cached before it was recorded).
    """

    def __init__(self, texts=(), finish_reasons=None):
        super().__init__(texts)
        self.finish_reasons = list(finish_reasons) if finish_reasons is not None else [None] * len(self)


def finish_reasons_of(predictions: Sequence[str]) -> list[str | None]:
    """The finish reasons that came with ``predictions`` (all None for a plain list)."""
    return getattr(predictions, "finish_reasons", None) or [None] * len(predictions)


@dataclass(frozen=True)
class GenerationSettings:
    """Greedy decoding by default: evaluation must give the same text on every run."""

    max_new_tokens: int = 256
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    seed: int = 42


def prediction_key(spec: ModelSpec, template: str, prompt: Sequence[int], settings: GenerationSettings) -> str:
    """The append-only key of one prediction."""
    payload = json.dumps([spec.fingerprint(), template, list(prompt), asdict(settings)])
    return hashlib.sha1(payload.encode()).hexdigest()


def _entry(line: bytes) -> dict | None:
    """One cache line as an entry, or None for anything that is not one (torn, foreign, not UTF-8)."""
    try:
        entry = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("key"), str) \
            or not isinstance(entry.get("prediction"), str):
        return None
    return entry


def read_predictions(path: Path) -> dict[str, dict]:
    """Predictions already on disk, by key.

    Lines that are not entries — a torn last line from an interrupted append, a line some other tool
    wrote, valid JSON of another shape — are skipped: their records are simply predicted again.
    """
    done: dict[str, dict] = {}
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return done
    except IsADirectoryError as exc:
        raise PredictionCacheError(f"{path} is a directory; expected the predictions file (jsonl)") from exc
    for line in data.splitlines():
        entry = _entry(line)
        if entry is not None:
            done[entry["key"]] = entry
    return done


def load_model(spec: ModelSpec, device: str):
    """The model (with the adapter applied, if any) for generation, in eval mode.

    The last one loaded is kept, so evaluating one model on several datasets loads it once; the
    weights' fingerprint is part of the cache key, so retrained weights are loaded afresh.
    """
    return _load_model(spec.model, spec.adapter, device, spec.fingerprint())


@lru_cache(maxsize=1)
def _load_model(model_path: str, adapter: str | None, device: str, _fingerprint: str):
    import torch
    from transformers import AutoModelForCausalLM

    dtype = torch.bfloat16 if device.startswith("cuda") and torch.cuda.is_bf16_supported() else "auto"
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype).to(device)
    if adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter)
    return model.eval()


def load_tokenizer(spec: ModelSpec):
    """Load the tokenizer of ``spec``, with a clear error when the weights are not on this machine."""
    from transformers import AutoTokenizer

    from eval.models import ModelSpecError

    try:
        return AutoTokenizer.from_pretrained(spec.adapter or spec.model)
    except OSError as exc:
        raise ModelSpecError(
            f"cannot load model {spec.model!r} for {spec.label!r}: medft runs offline, so a hub id must "
            "already be downloaded; pass a local directory instead"
        ) from exc


def generate(
    spec: ModelSpec,
    records: Sequence[dict],
    out_path: Path,
    template: str,
    settings: GenerationSettings,
    batch_size: int = 8,
    device: str | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> Predictions:
    """Predict every record not yet in ``out_path``; return all predictions in record order.

    Pending prompts are generated longest first in batches of similar length (a batch is padded to
    its longest prompt, so one outlier would otherwise pad every row beside it); the file records each
    prediction's record index and the result is returned in record order.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = load_tokenizer(spec)
    prompts = [prompt_ids(tokenizer, template, record) for record in records]
    keys = [prediction_key(spec, template, prompt, settings) for prompt in prompts]
    done = read_predictions(out_path)
    todo = sorted((i for i, key in enumerate(keys) if key not in done), key=lambda i: (-len(prompts[i]), i))
    if todo:
        log.info("%s: %d to predict, %d already in %s", spec.label, len(todo), len(keys) - len(todo), out_path)
        model = load_model(spec, device)
        stops = stop_token_ids(tokenizer, template)
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stops[0]
        out_path.parent.mkdir(parents=True, exist_ok=True)
        _drop_torn_tail(out_path)
        torch.manual_seed(settings.seed)
        with out_path.open("a", encoding="utf-8") as handle:
            for start in range(0, len(todo), batch_size):
                batch = todo[start:start + batch_size]
                texts, reasons = generate_batch_with_reasons(model, tokenizer, [prompts[i] for i in batch], pad_id,
                                                             stops, settings)
                for i, text, reason in zip(batch, texts, reasons, strict=True):
                    entry = {"key": keys[i], "index": i, "model": spec.label, "prediction": text,
                             "finish_reason": reason}
                    done[keys[i]] = entry
                    handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
                # One flush per batch: a crash loses at most the batch being generated.
                handle.flush()
                if on_batch:
                    on_batch(len(batch))
    return Predictions([done[key]["prediction"] for key in keys], [done[key].get("finish_reason") for key in keys])


def _drop_torn_tail(path: Path) -> None:
    """Cut a half-written last line (a crash mid-append) so new lines start on a line of their own."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as handle:
        data = handle.read()
        if not data.endswith(b"\n"):
            handle.truncate(data.rfind(b"\n") + 1)


def generate_batch(model, tokenizer, prompts: list[list[int]], pad_id: int, stops: list[int], settings) -> list[str]:
    """Greedy (or seeded sampled) continuations of a batch of prompt ids, left-padded; decoded, stripped."""
    return generate_batch_with_reasons(model, tokenizer, prompts, pad_id, stops, settings)[0]


def generate_batch_with_reasons(model, tokenizer, prompts: list[list[int]], pad_id: int, stops: list[int],
                                settings) -> tuple[list[str], list[str]]:
    """``generate_batch``'s texts and, per row, ``"length"`` when it used all ``max_new_tokens`` without
    reaching a stop token (the answer is cut off), else ``"stop"``."""
    import torch

    device = model.device
    width = max(len(p) for p in prompts)
    # Left padding keeps every prompt's last token adjacent to the generated ones.
    input_ids = torch.tensor([[pad_id] * (width - len(p)) + p for p in prompts], device=device)
    attention = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=device)
    sampling = {"temperature": settings.temperature, "top_p": settings.top_p} if settings.do_sample else {}
    with torch.no_grad():
        output = model.generate(
            input_ids=input_ids, attention_mask=attention, max_new_tokens=settings.max_new_tokens,
            do_sample=settings.do_sample, repetition_penalty=settings.repetition_penalty,
            eos_token_id=stops, pad_token_id=pad_id, **sampling,
        )
    stop_set = set(stops)
    texts, reasons = [], []
    for row in output:
        generated = row[width:].tolist()
        texts.append(tokenizer.decode(generated, skip_special_tokens=True).strip())
        # Rows that stopped early are padded to the batch's longest; only a row with no stop token that
        # filled the whole budget was cut off.
        stopped = any(token in stop_set for token in generated)
        reasons.append(LENGTH if not stopped and len(generated) >= settings.max_new_tokens else STOP)
    return texts, reasons
