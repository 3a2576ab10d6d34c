"""Helpers for tests that talk to a real ``llamafactory-cli api`` server on loopback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from medft.paths import cache_dir


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    from recipes.serve import free_loopback_port

    return free_loopback_port()


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
