"""Helpers for tests that talk to a server on loopback: a real ``llamafactory-cli api``, or a small stand-in
speaking the OpenAI API where a test needs an answer the tiny models cannot give (a fixed letter, a failure)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from medft.paths import cache_dir


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    from recipes.serve import free_loopback_port

    return free_loopback_port()


def models_list(name: str = "m") -> dict:
    """The body of an OpenAI-compatible ``GET /v1/models`` that serves one model, ``name``."""
    return {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": "x"}]}


def chat_completion(content: str, model: str = "m", finish_reason: str = "stop") -> dict:
    """The body of an OpenAI-compatible chat completion whose one choice answers ``content``."""
    return {"id": "x", "object": "chat.completion", "created": 0, "model": model, "choices": [
        {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish_reason}]}


class StubHandler(BaseHTTPRequestHandler):
    """Base of the tests' stand-in servers: quiet, and :meth:`send_body` writes one whole response."""

    def log_message(self, *args):
        pass  # the test's output, not an access log

    def send_body(self, body: dict | list | str | bytes, status: int = 200,
                  content_type: str = "application/json") -> None:
        """Answer ``status`` with ``body`` (JSON-encoded unless already text or bytes)."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body, ensure_ascii=False)
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def talking_qwen(seed: int = 0) -> Path:
    """The tiny Qwen2 with an untied, seeded random ``lm_head``: it greedily writes varied text.

    The tied tiny model echoes the prompt's last token (``\\n`` after the qwen template) forever, so
    its predictions are all empty and could not show that two backends produce the same text.
    """
    from medft.tiny_models import build_atomically, tiny_qwen

    def build(out: Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        source = tiny_qwen(seed=seed)
        model = AutoModelForCausalLM.from_pretrained(source)
        model.config.tie_word_embeddings = False
        head = torch.nn.Linear(model.config.hidden_size, model.config.vocab_size, bias=False)
        head.weight.data = torch.randn(head.weight.shape, generator=torch.Generator().manual_seed(seed))
        model.lm_head = head
        model.save_pretrained(out)
        AutoTokenizer.from_pretrained(source).save_pretrained(out)

    return build_atomically(cache_dir() / "tiny" / f"qwen2-talking-s{seed}", build)


@contextlib.contextmanager
def served(target: str | Path, log: Path, name: str = "tiny", **options) -> Iterator[str]:
    """``llamafactory-cli api`` on ``target`` (run or model dir) on a free loopback port; yields the URL.

    The server's output goes to ``log``; a start-up failure raises with its last lines.
    """
    from recipes.serve import ServeError, plan, running

    serve_plan = plan(str(target), port=free_port(), name=name, **options)
    with log.open("wb") as handle:
        try:
            with running(serve_plan, ready_timeout=300, stdout=handle) as url:
                yield url
        except ServeError as exc:
            raise AssertionError(f"{exc}\n{log.read_text(errors='replace')[-3000:]}") from exc
