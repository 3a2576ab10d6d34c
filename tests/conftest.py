"""Shared fixtures: the offline tiny models (built once per cache, shared by xdist workers), and the
settings of the property-based tests.

Property-based tests (``hypothesis``) are marked ``@pytest.mark.property`` and use ``@given`` without
their own example counts, so one profile decides how hard all of them try, chosen by the environment
variable ``HYPOTHESIS_PROFILE``:

- ``medft`` (the default, ``make test``): 25 examples per test, derandomized, so the suite stays fast
  and every run tries the same inputs;
- ``fuzz`` (``make fuzz``, which runs only ``-m property``): ``MEDFT_FUZZ_EXAMPLES`` examples per test
  (default 1000), random each run, failures saved in ``.hypothesis/`` and replayed first next time.

A test that must stay cheaper than that may scale it down with ``@settings(max_examples=...)``, but
should then use :func:`examples` so ``make fuzz`` still multiplies it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Tests never reach a hub; set before transformers is imported anywhere.
for _key, _value in {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "DISABLE_VERSION_CHECK": "1",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ.setdefault(_key, _value)

FUZZ_EXAMPLES = int(os.environ.get("MEDFT_FUZZ_EXAMPLES", "1000"))
settings.register_profile("medft", max_examples=25, deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=FUZZ_EXAMPLES, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "medft"))


def examples(default_count: int) -> int:
    """``default_count`` under ``make test``, scaled up by the same factor as the profile under ``make fuzz``."""
    return max(1, default_count * settings().max_examples // 25)


def pytest_configure(config) -> None:
    """Register the markers medft's tests use (pyproject registers ``slow``)."""
    config.addinivalue_line("markers", "property: a hypothesis property-based test (`make fuzz` runs only these, "
                                       "with many more examples)")


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
