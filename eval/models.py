"""Which weights a model label means: a model directory, a LoRA adapter, or a medft run directory."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from medft.names import BadName, check_name


class ModelSpecError(ValueError):
    """A ``--model`` argument does not name loadable weights."""


@dataclass(frozen=True)
class ModelSpec:
    """A model to evaluate: ``label`` in reports, base weights, optional adapter on top."""

    label: str
    model: str
    adapter: str | None = None
    #: The chat template the weights were trained with, when a run directory records it.
    template: str | None = None
    #: An OpenAI-compatible server's base URL (``http://host:port/v1``); ``model`` is then its served name.
    #: Replicas of one model are several URLs joined by commas (see :func:`replicas`).
    endpoint: str | None = None
    #: The datasets a medft run trained on (its train.yaml ``dataset``): eval notes held-out overlap with them.
    trained_on: tuple[str, ...] = ()

    def fingerprint(self) -> str:
        """Short hash of the weights' identity (paths, sizes, mtimes): predictions of retrained weights
        get new keys instead of being mistaken for the old ones."""
        digest = hashlib.sha1()
        for location in (self.model, self.adapter):
            if not location:
                continue
            digest.update(location.encode())
            path = Path(location)
            if path.is_dir():
                for weight in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
                    stat = weight.stat()
                    digest.update(f"{weight.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        return digest.hexdigest()[:16]


def _adapter_base(adapter_dir: Path) -> str:
    config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    base = config.get("base_model_name_or_path")
    if not base:
        raise ModelSpecError(f"{adapter_dir}/adapter_config.json names no base_model_name_or_path")
    return base


def is_endpoint(location: str) -> bool:
    """Whether a ``--model`` location is a server URL rather than a path."""
    return location.startswith(("http://", "https://"))


def split_endpoint(location: str) -> tuple[str, str | None]:
    """``http://host:8000/v1#name`` → (``http://host:8000/v1``, ``name``); the name is optional.

    Several replicas of one model: ``http://a:8000/v1,http://b:8000/v1#name`` → their URLs, sorted and
    joined by commas (so the order given does not change the cache keys).
    """
    urls, _, served = location.partition("#")
    found = []
    for url in urls.split(","):
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ModelSpecError(f"{url.strip()!r} (in {location!r}) is not an http(s) URL with a host "
                                 "(e.g. http://127.0.0.1:8000/v1; replicas: URL,URL)")
        found.append(url.strip().rstrip("/"))
    return ",".join(sorted(set(found))), served or None


def replicas(endpoint: str) -> list[str]:
    """The base URLs of an endpoint: one server, or the replicas of one model."""
    return endpoint.split(",")


def resolve(label: str, location: str) -> ModelSpec:
    """Turn ``label=location`` into a ModelSpec.

    ``location`` may be a full model directory (``config.json``), a LoRA/QLoRA adapter directory
    (``adapter_config.json``; its base comes from the adapter config), a medft run directory (its
    ``merged/`` model if exported, else the adapter or model the run trained, found via the run's
    ``train.yaml`` ``output_dir``), a hub id that is already in the local cache, or the URL of an
    OpenAI-compatible server (``http://127.0.0.1:8000/v1``, optionally ``#served-name``).
    """
    try:
        check_name(label, "model label")  # it becomes OUT/predictions/<label>/: never a path of its own
    except BadName as exc:
        raise ModelSpecError(f"--model {label}={location}: {exc}") from None
    if is_endpoint(location):  # http://host:port/v1[#served-name]: predicted through the server (eval.remote)
        endpoint, served = split_endpoint(location)
        return ModelSpec(label, served or "", endpoint=endpoint)
    path = Path(location)
    if not path.exists():
        if "/" in location and not location.startswith((".", "/")) and location.count("/") == 1:
            return ModelSpec(label, location)  # hub id; loading says clearly if it is not cached
        raise ModelSpecError(f"--model {label}={location}: no such directory")
    config = run_config(path)
    template = config.get("template")
    names = config.get("dataset") or ""
    trained = tuple(n.strip() for n in (names if isinstance(names, list) else str(names).split(",")) if str(n).strip())
    if (path / "merged" / "config.json").exists():
        return ModelSpec(label, str(path / "merged"), template=template, trained_on=trained)
    output_dir = config.get("output_dir")
    for candidate in [path] + ([Path(output_dir)] if output_dir else []):
        if (candidate / "adapter_config.json").exists():
            return ModelSpec(label, _adapter_base(candidate), str(candidate), template=template, trained_on=trained)
        if (candidate / "config.json").exists():
            return ModelSpec(label, str(candidate), template=template, trained_on=trained)
    raise ModelSpecError(
        f"--model {label}={location}: expected a model directory (config.json), an adapter directory "
        "(adapter_config.json) or a medft run directory"
    )


def run_config(path: Path) -> dict:
    """The resolved ``train.yaml`` of a medft run directory, or ``{}`` for any other directory."""
    train_yaml = path / "train.yaml"
    if not train_yaml.exists():
        return {}
    import yaml

    return yaml.safe_load(train_yaml.read_text(encoding="utf-8")) or {}
