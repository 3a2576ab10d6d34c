"""``loglik`` scoring of exam questions: the option letter the model finds most likely, no generation.

The "ppl"/loglikelihood mode of lm-eval and OpenCompass, and what CMMLU's authors run for open models:
after the prompt (built with LLaMA-Factory's template exactly as for generation, few-shot turns
included) one forward pass gives the next-token distribution; the prediction is the option letter
(among the question's own options) with the highest log-probability. Prompts of similar length are
batched (left padding, positions counted from each prompt's first token, so a padded row scores as it
would alone). A multi-answer question gets one letter, so it counts as wrong — use ``generate`` for
多项选择题 (the report's ``type/多项选择题`` row shows it).

Results go through the same append-only predictions file as generated answers: one line per record,
``prediction`` the chosen letter, ``logprobs`` the letters' log-probabilities, under a key that hashes
``loglik`` with the weights, template, prompt and letters — never the key of a generated answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from eval.models import ModelSpec
from eval.predict import STOP, Predictions, _drop_torn_tail, load_model, load_tokenizer, read_predictions
from eval.prompting import prompt_ids
from medft.console import get_logger

log = get_logger("eval.loglik")
MODE = "loglik"


class LoglikError(ValueError):
    """The model's tokenizer cannot score option letters one token each."""


def loglik_key(spec: ModelSpec, template: str, prompt: Sequence[int], letters: Sequence[str]) -> str:
    """The append-only key of one loglik choice (distinct from every generation key by its ``loglik`` tag)."""
    payload = json.dumps([MODE, spec.fingerprint(), template, list(prompt), list(letters)])
    return hashlib.sha1(payload.encode()).hexdigest()


def letter_token_ids(tokenizer, letters: Sequence[str]) -> dict[str, int]:
    """The single token id of each option letter as the model would write it right after the prompt."""
    ids = {}
    for letter in letters:
        tokens = tokenizer.encode(letter, add_special_tokens=False)
        if len(tokens) != 1:
            raise LoglikError(f"loglik mode needs every option letter to be one token; this tokenizer splits "
                              f"{letter!r} into {len(tokens)} — use --mode generate")
        ids[letter] = tokens[0]
    return ids


def choose(
    spec: ModelSpec,
    records: Sequence[dict],
    out_path: Path,
    template: str,
    settings=None,
    batch_size: int = 8,
    device: str | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> Predictions:
    """The most likely option letter of every record (cached in ``out_path``); ``settings`` is unused (no
    generation) and accepted so this is a drop-in for ``eval.predict.generate``."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = load_tokenizer(spec)
    prompts = [prompt_ids(tokenizer, template, record) for record in records]
    letters = [sorted(record.get("options") or {}) for record in records]
    for number, options in enumerate(letters, 1):
        if not options:
            raise LoglikError(f"record {number} has no 'options': loglik scores exam questions (mcq) only")
    keys = [loglik_key(spec, template, p, o) for p, o in zip(prompts, letters, strict=True)]
    done = read_predictions(out_path)
    todo = sorted((i for i, key in enumerate(keys) if key not in done), key=lambda i: (-len(prompts[i]), i))
    if todo:
        log.info("%s: %d to score (loglik), %d already in %s", spec.label, len(todo), len(keys) - len(todo), out_path)
        token_ids = letter_token_ids(tokenizer, sorted({letter for options in letters for letter in options}))
        model = load_model(spec, device)
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        out_path.parent.mkdir(parents=True, exist_ok=True)
        _drop_torn_tail(out_path)
        with out_path.open("a", encoding="utf-8") as handle:
            for start in range(0, len(todo), batch_size):
                batch = todo[start:start + batch_size]
                scores = letter_logprobs(model, [prompts[i] for i in batch], [letters[i] for i in batch],
                                         token_ids, pad_id)
                for i, logprobs in zip(batch, scores, strict=True):
                    best = max(letters[i], key=lambda letter, lp=logprobs: (lp[letter], -ord(letter)))
                    entry = {"key": keys[i], "index": i, "model": spec.label, "prediction": best, "mode": MODE,
                             "logprobs": {letter: round(value, 6) for letter, value in logprobs.items()}}
                    done[keys[i]] = entry
                    handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
                handle.flush()  # a crash loses at most the batch being scored
                if on_batch:
                    on_batch(len(batch))
    # Nothing is generated, so nothing is cut off: every answer "stopped" (the flags then say truncated 0, not ?).
    return Predictions([done[key]["prediction"] for key in keys], [STOP] * len(keys))


def letter_logprobs(model, prompts: list[list[int]], letters: list[list[str]], token_ids: dict[str, int],
                    pad_id: int) -> list[dict[str, float]]:
    """One forward pass over left-padded prompts: each prompt's next-token log-probability of its letters."""
    import torch

    width = max(len(p) for p in prompts)
    device = model.device
    input_ids = torch.tensor([[pad_id] * (width - len(p)) + p for p in prompts], device=device)
    attention = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=device)
    # Positions start at 0 on each prompt's first real token, as for the prompt alone (generate() does the same).
    positions = (attention.cumsum(dim=1) - 1).clamp(min=0)
    inputs = {"input_ids": input_ids, "attention_mask": attention, "position_ids": positions}
    with torch.no_grad():
        try:
            # Only the last position's logits: a 150k-token vocabulary over every position of a batch would
            # take gigabytes for nothing.
            logits = model(**inputs, logits_to_keep=1).logits[:, -1, :]
        except TypeError:  # an architecture without logits_to_keep
            logits = model(**inputs).logits[:, -1, :]
    logprobs = torch.log_softmax(logits.float(), dim=-1).cpu()
    return [{letter: float(logprobs[row, token_ids[letter]]) for letter in row_letters}
            for row, row_letters in enumerate(letters)]
