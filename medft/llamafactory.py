"""How medft calls LLaMA-Factory's command line: one place for the executable and its environment."""

from __future__ import annotations

import os

from medft.paths import find_executable

#: Environment every llamafactory-cli child gets unless the user set the variable already.
#: DISABLE_VERSION_CHECK: medft pins the stack itself. Offline variables: medft never relies on a hub
#: at run time; a user who wants downloads sets HF_HUB_OFFLINE=0 explicitly.
CHILD_ENV_DEFAULTS = {
    "DISABLE_VERSION_CHECK": "1",
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def cli_path() -> str:
    """Return the ``llamafactory-cli`` executable of the running environment (see ``find_executable``)."""
    found = find_executable("llamafactory-cli")
    if not found:
        raise FileNotFoundError(
            "llamafactory-cli not found next to this Python or on PATH; run `make install` first"
        )
    return found


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Return ``os.environ`` plus medft's defaults for a llamafactory-cli child (user values win)."""
    env = dict(os.environ)
    for key, value in CHILD_ENV_DEFAULTS.items():
        env.setdefault(key, value)
    env.update(extra or {})
    return env
