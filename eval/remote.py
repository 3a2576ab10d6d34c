"""Predict through an OpenAI-compatible chat-completions server (``llamafactory-cli api``, vLLM, ...).

The server applies the chat template: ``llamafactory-cli api`` with the run's template builds exactly
the prompt training saw (``make serve`` passes it); a bare ``vllm serve`` uses the model's own chat
template from ``tokenizer_config.json``, which matches only if training used the same one.

Requests go to the given endpoint only: no proxy from the environment, no redirects followed, and
no OpenAI credentials from the environment (a server that wants a key gets ``MEDFT_API_KEY``).
Predictions share the local backend's append-only cache file and resume the same way; the key is
a hash of (endpoint, served model id, messages, request settings).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from eval.models import ModelSpec
from eval.predict import GenerationSettings, _drop_torn_tail, read_predictions
from medft.console import get_logger

log = get_logger("eval.remote")

DEFAULT_CONCURRENCY = 8
#: Seconds per request. Generous: a server with one worker queues concurrent requests behind each other.
DEFAULT_TIMEOUT = 600.0
#: Retries after the first attempt, on connection errors, timeouts, 408/409/429 and 5xx, with the
#: openai client's exponential backoff (0.5 s doubling to 8 s, with jitter).
DEFAULT_RETRIES = 3

Messages = list[dict[str, str]]


class RemoteError(RuntimeError):
    """The server cannot be reached or refused a request (after the bounded retries)."""


def messages_for(record: dict, system: str | None = None) -> Messages:
    """Chat messages for an alpaca record: ``instruction`` and ``input`` joined by a newline, as
    LLaMA-Factory's AlpacaDatasetConverter (and ``eval.prompting``) join them; a ``history`` (few-shot
    examples) becomes earlier user/assistant turns; a record's ``system`` becomes a system message, which
    LLaMA-Factory's server passes to the template as the system prompt."""
    query = "\n".join(part for part in (record.get("instruction"), record.get("input")) if part)
    system = system or record.get("system")
    messages = [{"role": "system", "content": system}] if system else []
    for old_query, old_answer in record.get("history") or []:
        messages += [{"role": "user", "content": old_query}, {"role": "assistant", "content": old_answer}]
    return [*messages, {"role": "user", "content": query}]


def request_options(settings: GenerationSettings) -> dict:
    """Chat-completions parameters for ``settings``. Greedy is ``temperature=0``: the OpenAI way, which
    LLaMA-Factory turns into ``do_sample=False`` and vLLM into greedy sampling."""
    options: dict = {"max_tokens": settings.max_new_tokens}
    if settings.do_sample:
        options.update(temperature=settings.temperature, top_p=settings.top_p, seed=settings.seed)
    else:
        options["temperature"] = 0.0
    if settings.repetition_penalty != 1.0:
        # Not an OpenAI parameter: vLLM reads it from the body; LLaMA-Factory ignores unknown fields.
        options["extra_body"] = {"repetition_penalty": settings.repetition_penalty}
    return options


def request_key(endpoint: str, served: str, messages: Messages, options: dict) -> str:
    """The cache key of one request: endpoint, served model id, messages and settings."""
    payload = json.dumps([endpoint, served, messages, options], ensure_ascii=False, sort_keys=True)
    return hashlib.sha1(payload.encode()).hexdigest()


def _client(endpoint: str, timeout: float, retries: int):
    import openai

    # trust_env=False: no HTTP(S)_PROXY, no .netrc; follow_redirects=False: data goes to this host only.
    http = openai.DefaultAsyncHttpxClient(trust_env=False, follow_redirects=False, timeout=timeout)
    return openai.AsyncOpenAI(
        base_url=endpoint, api_key=os.environ.get("MEDFT_API_KEY") or "EMPTY", admin_api_key="",
        organization="", project="", timeout=timeout, max_retries=retries, http_client=http,
    )


def _describe(exc: Exception, endpoint: str) -> str:
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return f"{endpoint} did not answer in time"
    if isinstance(exc, openai.APIConnectionError):
        return f"cannot reach {endpoint} (is the server running? `make serve RUN=...`)"
    if isinstance(exc, openai.APIStatusError):
        body = exc.response.text.strip().replace("\n", " ")[:300]
        return f"{endpoint} answered HTTP {exc.status_code}: {body}"
    return f"{endpoint}: {type(exc).__name__}: {exc}"


# Mutation testing (`make mutation`) covers the cache key, request options and retries; what follows
# until "no mutate end" needs a real server and is covered by the slow tests.
# pragma: no mutate start
async def _served_model(client, endpoint: str, wanted: str | None) -> str:
    import openai

    try:
        listed = [model.id async for model in client.models.list()]
    except openai.OpenAIError as exc:
        raise RemoteError(_describe(exc, endpoint)) from exc
    if wanted:
        if listed and wanted not in listed:
            raise RemoteError(f"{endpoint} serves {listed}, not {wanted!r}; fix the name after '#'")
        return wanted
    if len(listed) != 1:
        raise RemoteError(f"{endpoint} serves {listed or 'no model'}: name one as {endpoint}#NAME")
    return listed[0]


def served_model(endpoint: str, wanted: str | None = None, timeout: float = 30.0, retries: int = 1) -> str:
    """The model id to request: ``wanted`` (checked against ``/v1/models``) or the only one listed."""

    async def ask() -> str:
        async with _client(endpoint, timeout, retries) as client:
            return await _served_model(client, endpoint, wanted)

    return asyncio.run(ask())


def with_served_name(spec: ModelSpec) -> ModelSpec:
    """``spec`` with ``model`` set to the served model id; asks the server only when the URL names none
    (so predictions cached under a named model are reused with no server running)."""
    if not spec.endpoint or spec.model:
        return spec
    return replace(spec, model=served_model(spec.endpoint))


# pragma: no mutate end
async def _complete_all(endpoint, served, conversations, options, concurrency, timeout, retries, on_result):
    import openai

    async with _client(endpoint, timeout, retries) as client:
        gate = asyncio.Semaphore(concurrency)

        async def one(i: int, messages: Messages) -> tuple[int, str]:
            async with gate:
                try:
                    response = await client.chat.completions.create(model=served, messages=messages, **options)
                except openai.OpenAIError as exc:
                    raise RemoteError(f"request {i}: {_describe(exc, endpoint)}") from exc
            return i, (response.choices[0].message.content or "") if response.choices else ""

        tasks = [asyncio.create_task(one(i, messages)) for i, messages in conversations]
        try:
            for finished in asyncio.as_completed(tasks):
                on_result(*await finished)
        finally:
            # On an error or Ctrl-C nothing keeps talking to the server behind our back.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def complete(
    endpoint: str,
    served: str,
    conversations: Sequence[tuple[int, Messages]],
    options: dict,
    on_result: Callable[[int, str], None],
    concurrency: int = DEFAULT_CONCURRENCY,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
) -> None:
    """Send every ``(id, messages)`` with up to ``concurrency`` requests in flight; call
    ``on_result(id, reply)`` as each answer arrives (in completion order, on this thread).

    Raises RemoteError on the first request that still fails after ``retries`` retries; replies
    already handed to ``on_result`` stay handed over (callers cache them, so a rerun resumes).
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if conversations:
        asyncio.run(_complete_all(endpoint, served, conversations, options, concurrency, timeout, retries,
                                  on_result))


# pragma: no mutate block
def generate(
    spec: ModelSpec,
    records: Sequence[dict],
    out_path: Path,
    settings: GenerationSettings,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_batch: Callable[[int], None] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
) -> list[str]:
    """Predict every record not yet in ``out_path`` through ``spec.endpoint``; return all predictions in
    record order. Same file format as ``eval.predict.generate``; each answer is appended as it arrives."""
    spec = with_served_name(spec)
    options = request_options(settings)
    conversations = [messages_for(record) for record in records]
    keys = [request_key(spec.endpoint, spec.model, messages, options) for messages in conversations]
    done = read_predictions(out_path)
    todo = [(i, conversations[i]) for i, key in enumerate(keys) if key not in done]
    if todo:
        served_model(spec.endpoint, spec.model)  # a server answers any name; check it serves this one
        log.info("%s: %d to predict through %s (%s), %d already in %s", spec.label, len(todo), spec.endpoint,
                 spec.model, len(keys) - len(todo), out_path)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        _drop_torn_tail(out_path)
        with out_path.open("a", encoding="utf-8") as handle:

            def keep(i: int, reply: str) -> None:
                # strip() as the local backend does: the same text whichever backend produced it.
                entry = {"key": keys[i], "index": i, "model": spec.label, "prediction": reply.strip()}
                done[keys[i]] = entry
                handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
                handle.flush()
                if on_batch:
                    on_batch(1)

            complete(spec.endpoint, spec.model, todo, options, keep, concurrency, timeout, retries)
    return [done[key]["prediction"] for key in keys]
