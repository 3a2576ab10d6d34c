"""Shared fixtures: the offline tiny models (built once per cache, shared by xdist workers)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests stay quick in the default run; HYPOTHESIS_PROFILE=thorough searches harder.
settings.register_profile("medft", max_examples=60, deadline=None)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "medft"))

# Tests never reach a hub; set before transformers is imported anywhere.
for _key, _value in {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "DISABLE_VERSION_CHECK": "1",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ.setdefault(_key, _value)


@pytest.fixture(scope="session")
def tiny_qwen_path() -> Path:
    """Directory of the tiny Qwen2 causal LM (seed 0)."""
    from medft.tiny_models import tiny_qwen

    return tiny_qwen()


@pytest.fixture(scope="session")
def tiny_bert_path() -> Path:
    """Directory of the tiny character BERT (seed 0)."""
    from medft.tiny_models import tiny_bert

    return tiny_bert()
