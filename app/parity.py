"""Parity: every way medft runs a trained model gives the same greedy answers.

LoRA users' most frequent complaint is a model that answers differently depending on how it is run: an
adapter that "has no effect" under another inference script, a merged model served by vLLM that drifts
from LLaMA-Factory's own chat. ``parity`` runs one LoRA run's held-out prompts through each path medft
offers and compares the greedy outputs string for string:

- ``adapter``: eval in-process, base + adapter (PEFT), the reference;
- ``merged``: eval in-process of the merged export (``make export``; made here if missing);
- ``served-adapter`` / ``served-merged``: ``llamafactory-cli api`` (huggingface backend) on the run's base +
  adapter and on the merged model, through eval's OpenAI-compatible client;
- any ``--server LABEL=URL`` the user adds (e.g. a vLLM server on a GPU).

It also checks the prompt itself: the chat template saved with the export, applied with transformers'
``apply_chat_template``, must give the same token ids as LLaMA-Factory's template (what training saw).
A mismatch names the first differing prompt and the first differing token.

Every path generates one prompt at a time (batch 1): padding in a batch is a legitimate source of tiny
numeric differences, and parity is about the paths, not batching.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from eval.heldout import load_records
from eval.models import ModelSpec, is_endpoint, split_endpoint
from eval.predict import GenerationSettings, load_tokenizer
from eval.predict import generate as generate_in_process
from eval.prompting import prompt_ids
from eval.remote import generate as generate_remote
from medft.console import get_logger
from medft.names import BadName, check_name
from recipes import run as runs
from recipes.export import export_run
from recipes.serve import ServeError, free_loopback_port, plan, running

log = get_logger("app.parity")

#: Enough prompts that a path which drifts on some inputs is caught; few enough to stay quick on a CPU.
DEFAULT_PROMPTS = 20
DEFAULT_MAX_NEW_TOKENS = 64
REFERENCE = "adapter"


class ParityError(RuntimeError):
    """The parity check could not run (not a LoRA run, a server that did not start, ...)."""


@dataclass
class Mismatch:
    """The first prompt on which a path differs from the reference, and where."""

    path: str
    dataset: str
    index: int
    expected: str
    got: str
    detail: str


@dataclass
class ParityReport:
    """Outputs of every path on every prompt, and the first mismatch of each path that differs."""

    run_dir: Path
    prompts: int
    paths: list[str]
    mismatches: list[Mismatch] = field(default_factory=list)
    template_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.mismatches


def first_difference(expected: Sequence, got: Sequence) -> int:
    """Index of the first differing item of two strings or token lists (the shorter length if one is a prefix)."""
    for i, (a, b) in enumerate(zip(expected, got, strict=False)):
        if a != b:
            return i
    return min(len(expected), len(got))


def _describe_text(expected: str, got: str) -> str:
    at = first_difference(expected, got)
    return (f"first difference at character {at}: expected {expected[at:at + 20]!r}, got {got[at:at + 20]!r}")


def _lora_specs(run_dir: Path) -> tuple[ModelSpec, ModelSpec, dict]:
    manifest = runs.read_manifest(run_dir)
    if manifest.get("status") != "success":
        raise ParityError(f"{run_dir} did not finish training (status {manifest.get('status')!r})")
    if manifest.get("method") == "qlora":
        # A QLoRA adapter runs on a 4-bit base while its merge is 16-bit: greedy outputs legitimately differ.
        raise ParityError(f"{run_dir} is a QLoRA run: its adapter runs on the 4-bit base and its merge on the "
                          "16-bit one, so their outputs are not expected to be equal; use a LoRA run")
    if manifest.get("method") != "lora":
        raise ParityError(f"{run_dir} is a {manifest.get('method')!r} run: parity compares an adapter with its "
                          "merged export, so it needs a LoRA run")
    template = manifest.get("template") or "qwen"
    adapter = ModelSpec(REFERENCE, manifest["base_model"], adapter=str(run_dir), template=template)
    merged_dir = run_dir / "merged"
    if not (merged_dir / "config.json").exists():
        log.info("no merged export in %s: running `make export` first", run_dir)
        merged_dir = export_run(run_dir)
    merged = ModelSpec("merged", str(merged_dir), template=template)
    return adapter, merged, manifest


def _check_template(merged: ModelSpec, template: str, records: list[dict]) -> Mismatch | None:
    """The export's chat_template (transformers) against LLaMA-Factory's template, prompt by prompt."""
    from eval.remote import messages_for

    # Two tokenizer objects: LLaMA-Factory's template code rewrites the chat_template of the tokenizer it is
    # given, so comparing on one object would compare LLaMA-Factory with itself.
    tokenizer, saved = load_tokenizer(merged), load_tokenizer(merged)
    if not getattr(saved, "chat_template", None):
        return Mismatch("chat_template", "", -1, "", "", f"{merged.model} has no chat template saved")
    for index, record in enumerate(records):
        expected = prompt_ids(tokenizer, template, record)
        got = saved.apply_chat_template(messages_for(record), add_generation_prompt=True, tokenize=True,
                                            return_dict=False)
        got = list(got["input_ids"] if isinstance(got, dict) else got)
        if got != expected:
            at = first_difference(expected, got)
            detail = (f"prompt token ids differ at position {at}: LLaMA-Factory {expected[at:at + 5]} "
                      f"({tokenizer.decode(expected[at:at + 5])!r}), chat_template {got[at:at + 5]} "
                      f"({tokenizer.decode(got[at:at + 5])!r})")
            return Mismatch("chat_template", record.get("_dataset", ""), index, "", "", detail)
    return None


def check(run_dir: Path, dataset_dir: Path, datasets: list[str], out_dir: Path, prompts: int = DEFAULT_PROMPTS,
          max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, serve: bool = True,
          servers: dict[str, str] | None = None) -> ParityReport:
    """Run ``prompts`` held-out prompts (spread over ``datasets``) through every path; compare with the adapter.

    Outputs are cached under ``out_dir/<path>/`` like eval's predictions, so a rerun costs only what changed.
    """
    _check_servers(servers or {})
    run_dir = runs.locate(run_dir)
    adapter, merged, manifest = _lora_specs(run_dir)
    template = adapter.template or "qwen"
    per_set = max(1, -(-prompts // len(datasets)))
    records_by_set = {name: load_records(dataset_dir, name, limit=per_set) for name in datasets}
    settings = GenerationSettings(max_new_tokens=max_new_tokens)
    outputs: dict[str, dict[str, list[str]]] = {}

    def in_process(spec: ModelSpec) -> None:
        outputs[spec.label] = {
            name: generate_in_process(spec, records, out_dir / spec.label / f"{name}.jsonl", template, settings,
                                      batch_size=1)
            for name, records in records_by_set.items()}

    def remote(label: str, url: str) -> None:
        endpoint, served = split_endpoint(url)
        spec = ModelSpec(label, served or "", template=template, endpoint=endpoint)
        outputs[label] = {
            name: generate_remote(spec, records, out_dir / label / f"{name}.jsonl", settings, concurrency=1)
            for name, records in records_by_set.items()}

    in_process(adapter)
    in_process(merged)
    if serve:
        for label, target, adapter_only in (("served-adapter", run_dir, True), ("served-merged", merged.model, False)):
            serve_plan = _serve_plan(target, template, adapter_only, manifest)
            log_path = out_dir / f"{label}.server.log"
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with log_path.open("wb") as handle, _serving(serve_plan, handle, log_path) as url:
                remote(label, f"{url}#{serve_plan.name}")
    for label, url in (servers or {}).items():
        remote(label, url)

    report = ParityReport(run_dir, sum(len(r) for r in records_by_set.values()), list(outputs))
    for label, by_set in outputs.items():
        if label == REFERENCE:
            continue
        mismatch = _first_mismatch(label, outputs[REFERENCE], by_set)
        if mismatch:
            report.mismatches.append(mismatch)
    all_records = [{**r, "_dataset": name} for name, records in records_by_set.items() for r in records]
    template_mismatch = _check_template(merged, template, all_records)
    report.template_checked = len(all_records)
    if template_mismatch:
        report.mismatches.append(template_mismatch)
    return report


def _check_servers(servers: dict[str, str]) -> None:
    """A user's ``--server`` labels name folders under the output dir: validated before any work is done."""
    for label, url in servers.items():
        try:
            check_name(label, "--server label")
        except BadName as exc:
            raise ParityError(str(exc)) from exc
        if label in (REFERENCE, "merged", "served-adapter", "served-merged"):
            raise ParityError(f"--server {label}=...: {label!r} is one of medft's own paths; choose another label")
        if not is_endpoint(url):
            raise ParityError(f"--server {label}={url}: expected an http(s) URL such as http://127.0.0.1:8000/v1")


def _first_mismatch(label: str, reference: dict[str, list[str]], got: dict[str, list[str]]) -> Mismatch | None:
    for name, expected_list in reference.items():
        for index, (expected, text) in enumerate(zip(expected_list, got[name], strict=True)):
            if expected != text:
                return Mismatch(label, name, index, expected, text, _describe_text(expected, text))
    return None


def _serve_plan(target, template: str, adapter_only: bool, manifest: dict):
    if adapter_only:
        # A run directory is served as its merged model once exported: serve the base with the adapter instead.
        overrides = {"adapter_name_or_path": str(Path(target).resolve()), "finetuning_type": "lora"}
        return plan(manifest["base_model"], port=free_loopback_port(), template=template, name="parity-adapter",
                    overrides=overrides)
    return plan(str(target), port=free_loopback_port(), template=template, name="parity-merged")


@contextlib.contextmanager
def _serving(serve_plan, handle, log_path: Path):
    try:
        with running(serve_plan, ready_timeout=600, stdout=handle) as url:
            yield url
    except ServeError as exc:
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-5:]
        raise ParityError(f"{exc}; last lines of {log_path}:\n" + "\n".join(tail)) from exc


def print_report(report: ParityReport) -> None:
    """One line per path (same / first mismatch), and the chat-template check."""
    from medft.console import console

    console.print(f"parity of {report.run_dir}: {report.prompts} prompts, greedy, reference = {REFERENCE}")
    failed = {m.path: m for m in report.mismatches}
    for path in report.paths:
        if path == REFERENCE:
            continue
        if path in failed:
            m = failed[path]
            console.print(f"  [red]DIFFERS[/] {path}: {m.dataset} record {m.index}: {m.detail}")
        else:
            console.print(f"  [green]same[/]    {path}: {report.prompts}/{report.prompts} outputs equal")
    if "chat_template" in failed:
        console.print(f"  [red]DIFFERS[/] chat_template: {failed['chat_template'].detail}")
    else:
        console.print(f"  [green]same[/]    chat_template: the export's template gives LLaMA-Factory's prompt ids "
                      f"on {report.template_checked}/{report.template_checked} prompts")
