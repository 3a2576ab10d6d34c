"""Build evaluation prompts with LLaMA-Factory's own template code, exactly as training saw them."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=8)
def template_for(tokenizer, template_name: str):
    """LLaMA-Factory's template object for ``template_name`` (it also fixes the tokenizer's eos/pad).

    Cached per tokenizer object, so every prompt of a run reuses one template.
    """
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.hparams import DataArguments

    return get_template_and_fix_tokenizer(tokenizer, DataArguments(template=template_name))


def prompt_ids(tokenizer, template_name: str, record: dict, system: str | None = None) -> list[int]:
    """Token ids of the prompt for an alpaca ``record``: ``instruction`` and ``input`` joined by a newline.

    This mirrors LLaMA-Factory's AlpacaDatasetConverter and ``encode_oneturn``, so the model sees at
    evaluation exactly the prefix it was trained to continue (system prompt included). An alpaca
    ``history`` ([[query, answer], ...], how eval passes few-shot examples) becomes earlier turns, as
    LLaMA-Factory's converter makes them.
    """
    query = "\n".join(part for part in (record.get("instruction"), record.get("input")) if part)
    messages = []
    for old_query, old_answer in record.get("history") or []:
        messages += [{"role": "user", "content": old_query}, {"role": "assistant", "content": old_answer}]
    messages += [{"role": "user", "content": query}, {"role": "assistant", "content": ""}]
    ids, _ = template_for(tokenizer, template_name).encode_oneturn(
        tokenizer, messages, system or record.get("system") or None
    )
    return ids


def stop_token_ids(tokenizer, template_name: str) -> list[int]:
    """Token ids that end generation for this template (eos plus the template's stop words)."""
    return template_for(tokenizer, template_name).get_stop_token_ids(tokenizer)
