"""The judge model: a local model directory (in-process, batched, greedy) or a server URL (eval.remote)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from eval.models import ModelSpec, resolve
from eval.predict import GenerationSettings

Messages = list[dict[str, str]]
Conversations = Sequence[tuple[int, Messages]]
OnReply = Callable[[int, str], None]


@dataclass
class LocalJudge:
    """A model directory, adapter or run judged in-process with LLaMA-Factory's template (greedy)."""

    spec: ModelSpec
    template: str
    settings: GenerationSettings
    batch_size: int = 8
    device: str | None = None

    @property
    def identity(self) -> str:
        return f"local:{self.spec.fingerprint()}:{self.template}"

    def describe(self) -> str:
        return f"{self.spec.model}" + (f" + {self.spec.adapter}" if self.spec.adapter else "") + \
            f" (in-process, template {self.template})"

    def cache_settings(self) -> dict:
        return asdict(self.settings)

    def prepare(self) -> None:
        """Nothing to ask beforehand: the weights' fingerprint is known locally."""

    def complete(self, conversations: Conversations, on_reply: OnReply) -> None:
        """Answer every conversation, calling ``on_reply`` after each batch's replies."""
        import torch

        from eval.predict import generate_batch, load_model, load_tokenizer
        from eval.prompting import stop_token_ids, template_for

        if not conversations:
            return
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        tokenizer = load_tokenizer(self.spec)
        template = template_for(tokenizer, self.template)
        prompts = {}
        for i, messages in conversations:
            system = next((m["content"] for m in messages if m["role"] == "system"), None)
            turns = [m for m in messages if m["role"] != "system"] + [{"role": "assistant", "content": ""}]
            prompts[i] = template.encode_oneturn(tokenizer, turns, system)[0]
        model = load_model(self.spec, device)
        stops = stop_token_ids(tokenizer, self.template)
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stops[0]
        torch.manual_seed(self.settings.seed)
        # Similar lengths batch together: less padding to compute.
        order = sorted(prompts, key=lambda i: len(prompts[i]))
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            texts = generate_batch(model, tokenizer, [prompts[i] for i in batch], pad_id, stops, self.settings)
            for i, text in zip(batch, texts, strict=True):
                on_reply(i, text)


@dataclass
class RemoteJudge:
    """A judge behind an OpenAI-compatible server; requests go to this endpoint and nowhere else."""

    endpoint: str
    served: str | None
    settings: GenerationSettings
    concurrency: int = 8
    #: Seconds per request; None: eval.remote.DEFAULT_TIMEOUT.
    timeout: float | None = None
    #: Told ``(in_flight, retried, done)`` as requests go out and come back (the command's progress bar).
    on_status: Callable[[int, int, int], None] | None = None

    @property
    def identity(self) -> str:
        return f"remote:{self.endpoint}#{self.served or ''}"

    def describe(self) -> str:
        return f"{self.endpoint} (model {self.served or 'the one the server lists'}, {self.concurrency} in flight)"

    def cache_settings(self) -> dict:
        from eval.remote import request_options

        return request_options(self.settings)

    def prepare(self) -> None:
        """Ask the server which model it serves (or check the named one): part of the cache key."""
        from eval import remote

        self.served = remote.served_model(self.endpoint, self.served)

    def complete(self, conversations: Conversations, on_reply: OnReply) -> None:
        """Send every conversation (``concurrency`` in flight), calling ``on_reply`` as answers arrive."""
        from eval import remote

        if not conversations:
            return
        remote.complete(self.endpoint, self.served, list(conversations), self.cache_settings(),
                        lambda i, text: on_reply(i, text.strip()), self.concurrency,
                        self.timeout or remote.DEFAULT_TIMEOUT, on_status=self.on_status)


def make_judge(location: str, settings: GenerationSettings, template: str | None = None, concurrency: int = 8,
               batch_size: int = 8, timeout: float | None = None):
    """A judge from ``--judge``: a server URL (``http://host:port/v1[#name]``), or a model/adapter/run directory."""
    spec = resolve("judge", location)
    if spec.endpoint:
        return RemoteJudge(spec.endpoint, spec.model or None, settings, concurrency, timeout)
    return LocalJudge(spec, template or spec.template or "qwen", settings, batch_size)
