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
import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from eval.models import ModelSpec, replicas
from eval.predict import GenerationSettings, Predictions, _drop_torn_tail, read_predictions
from medft.console import get_logger

log = get_logger("eval.remote")

DEFAULT_CONCURRENCY = 8
#: Seconds to wait for each answer (``--request-timeout``, ``REQUEST_TIMEOUT=``). A request waits for
#: the server's queue too: a one-worker server answers ``--concurrency`` requests one after another.
DEFAULT_TIMEOUT = 300.0
#: Seconds to wait for a connection: a server that is not there fails fast, whatever the request timeout.
CONNECT_TIMEOUT = 10.0
#: Retries after the first attempt: on connection errors, timeouts, 408/409/429, 5xx, and a 200 answer
#: without a usable completion; waits double from BACKOFF seconds up to MAX_BACKOFF.
DEFAULT_RETRIES = 3
BACKOFF = 0.5
MAX_BACKOFF = 8.0
RETRY_STATUSES = frozenset({408, 409, 429})

Messages = list[dict[str, str]]


class RemoteError(RuntimeError):
    """The server cannot be reached or refused a request (after the bounded retries)."""


class BadReply(ValueError):
    """A server answered 200 without a usable completion (no choices, ``content: null``, not JSON)."""


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
    import httpx
    import openai

    limits = httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT, timeout))
    # trust_env=False: no HTTP(S)_PROXY, no .netrc; follow_redirects=False: data goes to this host only.
    http = openai.DefaultAsyncHttpxClient(trust_env=False, follow_redirects=False, timeout=limits)
    return openai.AsyncOpenAI(
        base_url=endpoint, api_key=os.environ.get("MEDFT_API_KEY") or "EMPTY", admin_api_key="",
        organization="", project="", timeout=limits, max_retries=retries, http_client=http,
    )


def _describe(exc: Exception, endpoint: str, timeout: float | None = None) -> str:
    import openai

    if isinstance(exc, openai.APITimeoutError):
        waited = f" within {timeout:g} s" if timeout else " in time"
        return f"{endpoint} did not answer{waited} (raise --request-timeout / REQUEST_TIMEOUT= for slow servers)"
    if isinstance(exc, openai.APIConnectionError):
        return f"cannot reach {endpoint} (is the server running? `make serve RUN=...`)"
    if isinstance(exc, openai.APIStatusError):
        body = exc.response.text.strip().replace("\n", " ")[:300]
        return f"{endpoint} answered HTTP {exc.status_code}: {body}"
    if isinstance(exc, BadReply | ValueError):
        return f"{endpoint} answered HTTP 200 without a usable completion: {str(exc)[:300]}"
    return f"{endpoint}: {type(exc).__name__}: {exc}"


def _retryable(exc: Exception) -> bool:
    import openai

    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRY_STATUSES or exc.status_code >= 500
    return isinstance(exc, openai.APIConnectionError | ValueError)  # APITimeoutError is a connection error


def completion_text(response) -> str:
    """The text of a chat completion; BadReply if the server sent none.

    An empty string is an answer (a model may stop at once); no choices, ``content: null`` or a body that
    is not a chat completion at all is not, and is never cached as one.
    """
    choices = getattr(response, "choices", None)
    if not isinstance(choices, list):
        shown = response if isinstance(response, str) else type(response).__name__
        raise BadReply(f"the body is not a chat completion ({str(shown)[:120]!r})")
    if not choices:
        raise BadReply("'choices' is empty")
    message = getattr(choices[0], "message", None)
    content = getattr(message, "content", None)
    if not isinstance(content, str):
        raise BadReply("the first choice has no message content (content: null)")
    # The reason travels with the text: "length" (cut off at max_tokens) is a flag in the report.
    return Reply(content, getattr(choices[0], "finish_reason", None))


# Mutation testing (`make mutation`) covers the cache key, request options, reply reading and retries; what
# follows until "no mutate end" needs a real server and is covered by the slow tests.
# pragma: no mutate start
async def _served_model(client, endpoint: str, wanted: str | None) -> str:
    import openai

    try:
        listed = [model.id async for model in client.models.list()]
    except (openai.OpenAIError, ValueError, AttributeError, TypeError) as exc:  # also a 200 that is not a list
        raise RemoteError(_describe(exc if isinstance(exc, openai.OpenAIError) else BadReply(
            f"/models is not a model list ({exc})"), endpoint)) from exc
    if wanted:
        if listed and wanted not in listed:
            raise RemoteError(f"{endpoint} serves {listed}, not {wanted!r}; fix the name after '#'")
        return wanted
    if len(listed) != 1:
        raise RemoteError(f"{endpoint} serves {listed or 'no model'}: name one as {endpoint}#NAME")
    return listed[0]


def served_model(endpoint: str, wanted: str | None = None, timeout: float = 30.0, retries: int = 1) -> str:
    """The model id to request: ``wanted`` (checked against ``/v1/models``) or the only one listed.

    For replicas (``URL,URL``) every one is asked: one that does not answer is logged and left to the others
    (RemoteError if none answers); they must serve the same model.
    """

    async def ask(url: str) -> str:
        async with _client(url, timeout, retries) as client:
            return await _served_model(client, url, wanted)

    urls = replicas(endpoint)
    if len(urls) == 1:
        return asyncio.run(ask(urls[0]))
    names, errors = {}, {}
    for url in urls:
        try:
            names[url] = asyncio.run(ask(url))
        except RemoteError as exc:
            errors[url] = str(exc)
    if not names:
        raise RemoteError(f"no replica of {endpoint} answers: " + "; ".join(errors.values()))
    for url, problem in errors.items():
        log.warning("replica %s: %s; the others take its share", url, problem)
    if len(set(names.values())) > 1:
        raise RemoteError(f"the replicas serve different models ({names}): name the one to use as {endpoint}#NAME")
    return next(iter(names.values()))


def with_served_name(spec: ModelSpec) -> ModelSpec:
    """``spec`` with ``model`` set to the served model id; asks the server only when the URL names none
    (so predictions cached under a named model are reused with no server running)."""
    if not spec.endpoint or spec.model:
        return spec
    return replace(spec, model=served_model(spec.endpoint))


# pragma: no mutate end
class _Tally:
    """Requests in flight, retried and done, reported to ``on_status`` whenever they change."""

    def __init__(self, on_status: Callable[[int, int, int], None] | None) -> None:
        self.in_flight = self.retried = self.done = 0
        self.on_status = on_status

    def change(self, in_flight: int = 0, retried: int = 0, done: int = 0) -> None:
        self.in_flight += in_flight
        self.retried += retried
        self.done += done
        if self.on_status:
            self.on_status(self.in_flight, self.retried, self.done)


@dataclass
class _Item:
    index: int
    messages: Messages
    failures: int = 0


@dataclass
class _Replica:
    url: str
    streak: int = 0  # failures in a row
    down: bool = False


async def _complete_all(endpoint, served, conversations, options, concurrency, timeout, retries, on_result,
                        on_status=None):
    """Send every conversation to the replicas of ``endpoint`` (one server is one replica).

    Each replica runs ``concurrency`` workers that take requests from one shared queue, so the replicas
    share the work by their speed. A request that fails in a retryable way goes back into the queue after a
    doubling wait (any replica may take it); it fails for good after ``retries`` retries per replica, or at
    once if the error is not retryable. A replica that fails ``retries + 1`` times in a row while another one
    is up is taken out: the others do its share.
    """
    # The openai client retries nothing here (max_retries=0): medft retries itself, so that a 200 without a
    # completion is retried like a 503, and every retry is counted and shown.
    import openai

    pool = [_Replica(url) for url in replicas(endpoint)]
    budget = (retries + 1) * len(pool) - 1  # failures a request may have: `retries` on a single server
    queue: asyncio.Queue = asyncio.Queue()
    results: asyncio.Queue = asyncio.Queue()
    for i, messages in conversations:
        queue.put_nowait(_Item(i, messages))
    tally = _Tally(on_status)
    loop = asyncio.get_running_loop()

    async def worker(replica: _Replica, client) -> None:
        while not replica.down:
            item = await queue.get()
            if replica.down:  # taken out while waiting: leave the request to the others
                queue.put_nowait(item)
                return
            tally.change(in_flight=1)
            try:
                response = await client.chat.completions.create(model=served, messages=item.messages, **options)
                text = completion_text(response)
            except (openai.OpenAIError, ValueError) as exc:  # ValueError: a body that is not JSON, BadReply
                tally.change(in_flight=-1)
                item.failures += 1
                replica.streak += 1
                reason = _describe(exc, replica.url, timeout)
                if not _retryable(exc) or item.failures > budget:
                    tries = f" ({item.failures} tries)" if item.failures > 1 else ""
                    results.put_nowait((item, None, f"request {item.index}: {reason}{tries}; nothing was saved "
                                                    "for it"))
                    continue
                wait = min(BACKOFF * 2 ** min(item.failures - 1, 10), MAX_BACKOFF)
                log.warning("request %d: %s; retry in %g s", item.index, reason, wait)
                tally.change(retried=1)
                loop.call_later(wait, queue.put_nowait, item)
                if replica.down:
                    return
                others_up = [r for r in pool if r is not replica and not r.down]
                if replica.streak > retries and others_up:
                    replica.down = True
                    log.warning("replica %s failed %d times in a row: the other replicas take its requests",
                                replica.url, replica.streak)
                    return
                await asyncio.sleep(min(BACKOFF * 2 ** min(replica.streak - 1, 10), MAX_BACKOFF))
                continue
            tally.change(in_flight=-1)
            replica.streak = 0
            results.put_nowait((item, text, None))

    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(_client(r.url, timeout, 0)) for r in pool]
        workers = [asyncio.create_task(worker(r, c)) for r, c in zip(pool, clients, strict=True)
                   for _ in range(concurrency)]
        try:
            for _ in range(len(conversations)):
                item, text, problem = await results.get()
                if problem is not None:
                    raise RemoteError(problem)
                on_result(item.index, text)
                tally.change(done=1)
        finally:
            # On an error or Ctrl-C nothing keeps talking to the servers behind our back.
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)


class Reply(str):
    """A server's answer text, with the ``finish_reason`` it gave (``"length"``: cut off at ``max_tokens``)."""

    finish_reason: str | None

    def __new__(cls, text: str, finish_reason: str | None = None):
        reply = super().__new__(cls, text)
        reply.finish_reason = finish_reason
        return reply


def complete(
    endpoint: str,
    served: str,
    conversations: Sequence[tuple[int, Messages]],
    options: dict,
    on_result: Callable[[int, str], None],
    concurrency: int = DEFAULT_CONCURRENCY,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    on_status: Callable[[int, int, int], None] | None = None,
) -> None:
    """Send every ``(id, messages)`` with up to ``concurrency`` requests in flight; call
    ``on_result(id, reply)`` as each answer arrives (in completion order, on this thread), and
    ``on_status(in_flight, retried, done)`` whenever those counts change.

    A failed request (connection error, no answer within ``timeout`` seconds, 408/409/429/5xx, or a 200
    without a usable completion) is retried up to ``retries`` times with doubling waits; then RemoteError,
    one line. Replies already handed to ``on_result`` stay handed over (callers cache them, so a rerun
    resumes); a failed request hands nothing over, so nothing wrong is ever cached.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if timeout <= 0:
        raise RemoteError(f"the request timeout must be positive (got {timeout:g} s)")
    if conversations:
        asyncio.run(_complete_all(endpoint, served, conversations, options, concurrency, timeout, retries,
                                  on_result, on_status))


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
    on_status: Callable[[int, int, int], None] | None = None,
) -> Predictions:
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
                entry = {"key": keys[i], "index": i, "model": spec.label, "prediction": reply.strip(),
                         "finish_reason": getattr(reply, "finish_reason", None)}
                done[keys[i]] = entry
                handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
                handle.flush()
                if on_batch:
                    on_batch(1)

            complete(spec.endpoint, spec.model, todo, options, keep, concurrency, timeout, retries, on_status)
    return Predictions([done[key]["prediction"] for key in keys], [done[key].get("finish_reason") for key in keys])
