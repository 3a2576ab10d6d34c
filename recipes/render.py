"""Recipes are data: base.yaml + <method>.yaml + user overrides → one resolved LLaMA-Factory config."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

#: Fine-tuning methods (which weights train).
TUNING_METHODS = ("full", "lora", "qlora", "freeze")
#: Preference methods: a stage recipe stacked on the fine-tuning method it trains with (LoRA: the policy and
#: its reference share one base, so a 0.5 B model's preference run fits beside its SFT run's memory).
PREFERENCE_METHODS = {"dpo": "lora", "orpo": "lora", "simpo": "lora", "kto": "lora"}
METHODS = (*TUNING_METHODS, *PREFERENCE_METHODS)
#: Numbers YAML 1.1 leaves as strings because they lack a dot: 2e-4, 1E5.
SCIENTIFIC = re.compile(r"[-+]?\d+(\.\d*)?[eE][-+]?\d+")


class RecipeError(ValueError):
    """A recipe or an override cannot be read."""


def recipe_text(name: str) -> str:
    """The shipped YAML text of ``base`` or a method."""
    return resources.files("recipes").joinpath(f"{name}.yaml").read_text(encoding="utf-8")


def load_layer(name: str) -> dict[str, Any]:
    """One shipped recipe file as a dict."""
    if name != "base" and name not in METHODS:
        raise RecipeError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")
    return yaml.safe_load(recipe_text(name)) or {}


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``["learning_rate=2e-4", "bf16=false"]`` → typed values (YAML rules: 2e-4 is a float, false a bool).

    YAML 1.1 reads ``2e-4`` (no dot) as a string; numbers like that are converted here so that
    ``learning_rate=2e-4`` means what every user expects.
    """
    result: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise RecipeError(f"override {item!r} is not key=value")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as exc:
            # A tag like !!python/object is refused (safe_load never executes it), as is broken YAML.
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise RecipeError(f"ARGS: the value of {key.strip()!r} is not valid YAML: {raw!r} ({problem}); write a "
                              "number, true/false or a word, or put the value in YAML quotes") from None
        if isinstance(value, str) and SCIENTIFIC.fullmatch(value):
            value = float(value)
        result[key.strip()] = value
    return result


def tuning_method(method: str) -> str:
    """The fine-tuning method under a recipe: itself, or the one a preference recipe is stacked on."""
    return PREFERENCE_METHODS.get(method, method)


def merge(method: str, user: dict[str, Any]) -> dict[str, Any]:
    """base, then the fine-tuning method, then a preference recipe's own layer, then ``user`` (later layers
    win; key order follows first appearance)."""
    config = load_layer("base")
    config.update(load_layer(tuning_method(method)))
    if method in PREFERENCE_METHODS:
        config.update(load_layer(method))
    config.update(user)
    return config


def to_yaml(config: dict[str, Any], header: str = "") -> str:
    """Render a resolved config as YAML with an optional ``#`` comment header."""
    body = yaml.safe_dump(config, sort_keys=False, allow_unicode=True, default_flow_style=False)
    comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return comment + body


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping, with the file named in any error."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RecipeError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise RecipeError(f"{path} does not hold a mapping of keys to values")
    return data
