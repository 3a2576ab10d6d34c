"""Convert one raw source end to end: read, convert, apply the split rules, stage both splits, commit.

Nothing is written until the whole conversion has succeeded: an error or an interrupt part-way
leaves the earlier jsonl files, dataset_info.json and the manifest exactly as they were. The new
pair then replaces the old one together with its manifest entries in one commit (bridge/registry.py),
after the leak and size rules of bridge/splits.py.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bridge import pii, registry, splits
from bridge.common import BridgeError, Counts, jsonl_line, load_prompt
from bridge.sources import check_alias, dataset_names, get_source, output_files
from medft.io import sha256_file, staged_writer

#: Parameters every source validates the same way: record counts (None = all, where the default is None).
SIZE_PARAMS = ("train_size", "test_size")


@dataclass
class Result:
    """What convert_source did: "written", "unchanged" (no-op) or "dry-run", with counts and files."""

    source: str
    status: str
    counts: dict
    files: dict[str, str] = field(default_factory=dict)
    changes: dict[str, str] = field(default_factory=dict)


def source_fingerprint(paths: list[Path]) -> dict:
    """``{"path", "sha256"}`` of the input; several files (Toyhom CSVs) hash their sorted (name, sha) list."""
    if len(paths) == 1:
        return {"path": str(paths[0].resolve()), "sha256": sha256_file(paths[0])}
    files = [{"path": str(p.resolve()), "sha256": sha256_file(p)} for p in sorted(paths)]
    combined = hashlib.sha256(json.dumps([(Path(f["path"]).name, f["sha256"]) for f in files]).encode()).hexdigest()
    return {"path": str(Path(files[0]["path"]).parent), "sha256": combined, "files": files}


def resolve_params(module, overrides: dict | None) -> dict:
    """Defaults of the source updated with the user's non-None overrides; unknown keys and sizes that are
    not whole numbers of at least 1 (the CLI checks them too) are errors."""
    params = dict(module.DEFAULT_PARAMS)
    for key, value in (overrides or {}).items():
        if key not in params and key != "encoding":
            raise BridgeError(f"source {module.NAME} has no parameter {key!r}; known: {sorted(params)}")
        if value is not None:
            params[key] = value
    for key in SIZE_PARAMS:
        value = params.get(key)
        if key in params and not (value is None and module.DEFAULT_PARAMS[key] is None) and (
                type(value) is not int or value < 1):
            raise BridgeError(f"{module.NAME}: {key} must be a whole number of at least 1, got {value!r}")
    if "seed" in params and type(params["seed"]) is not int:
        raise BridgeError(f"{module.NAME}: seed must be a whole number, got {params['seed']!r}")
    return params


def _fingerprints(inputs: dict[str, list[Path]]) -> dict[str, dict]:
    # dialog and o1 read one file for both splits: hash it once.
    by_files: dict[tuple, dict] = {}
    result = {}
    for split in inputs:
        key = tuple(sorted(str(p) for p in inputs[split]))
        if key not in by_files:
            by_files[key] = source_fingerprint([Path(p) for p in inputs[split]])
        result[split] = by_files[key]
    return result


def _attach(wanted: dict[str, dict], names: dict[str, str], fingerprints: dict[str, dict]) -> None:
    for split, name in names.items():
        wanted[name]["source"] = fingerprints[split]


def _same_recipe(dataset_dir: Path, manifest: dict, info: dict, wanted: dict[str, dict]) -> bool:
    """Registered (keys a user added aside), present, and converted with the same converter version and
    parameters."""
    for name, want in wanted.items():
        have = manifest["datasets"].get(name)
        if not have or registry.merge_entry(info.get(name), registry.alpaca_entry(want["file_name"])) != info.get(
                name):
            return False
        if not (dataset_dir / want["file_name"]).exists():
            return False
        if any(have.get(k) != want[k] for k in ("file_name", "converter", "converter_version", "params")):
            return False
    return True


def _up_to_date(dataset_dir: Path, manifest: dict, wanted: dict[str, dict]) -> bool:
    """Same sources (sha256) and the converted files not edited since (sha256)."""
    for name, want in wanted.items():
        have = manifest["datasets"][name]
        if have.get("source", {}).get("sha256") != want["source"]["sha256"]:
            return False
        if sha256_file(dataset_dir / want["file_name"]) != have.get("sha256"):
            return False
    return True


def convert_source(name: str, dataset_dir: str | Path, raw_dir: str | Path | None = None,
                   inputs: dict[str, list[Path]] | None = None, params: dict | None = None,
                   prompt_file: str | Path | None = None, dedup: bool = False, force: bool = False,
                   dry_run: bool = False, progress=None, scrub_pii: bool | None = None,
                   alias: str | None = None) -> Result:
    """Convert source ``name`` from ``inputs`` (or the files found under ``raw_dir/name``) and register it.

    Re-running with identical inputs, parameters and prompt is a no-op (status "unchanged").
    ``progress(done_bytes, total_bytes)`` is called while large inputs (dialog, o1) are streamed.
    ``scrub_pii`` masks personal identifiers (bridge/pii.py) in every split; None means the source's
    default (on for the patient text of dialog and mrg: ``PATIENT_TEXT`` in the module). ``alias`` registers
    the splits under another name (``"cdn"`` → med_cdn / med_cdn_test in cdn_train.jsonl / cdn_test.jsonl), so
    several conversions of one source can live side by side.
    """
    module = get_source(name)
    dataset_dir = Path(dataset_dir)
    explicit_lang = (params or {}).get("lang") is not None
    params = resolve_params(module, params)
    if inputs is None:
        if raw_dir is None:
            raise BridgeError("give either the input files or a raw directory")
        raw = Path(raw_dir) / name
        # o1: the language given with --lang, else whichever file is there (its content decides the language).
        inputs = module.find_inputs(raw, params["lang"] if explicit_lang else None) if name == "o1" else \
            module.find_inputs(raw)
    for paths in inputs.values():
        for path in paths:
            if not Path(path).is_file():
                raise BridgeError(f"input file not found: {path}")
    if name == "o1" and not explicit_lang:
        params["lang"] = module.detect_lang(Path(inputs["train"][0]))  # the content decides, not the file name
    default_prompt = module.DEFAULT_PROMPT_EN if name == "o1" and params["lang"] == "en" else module.DEFAULT_PROMPT
    prompt = load_prompt(default_prompt, module.PROMPT_FIELDS, prompt_file)

    # Finish a conversion killed after its commit point and drop dead runs' temp files (a dry run writes
    # nothing, so it reads the directory as it is).
    if not dry_run:
        registry.recover(dataset_dir)
    # Fail before any work if dataset_info.json or the manifest is unusable or a name clashes.
    info, manifest = registry.load_dataset_info(dataset_dir), registry.load_manifest(dataset_dir)
    if alias is not None:
        check_alias(alias)
    files = output_files(name, alias)
    names = dataset_names(name, alias)
    entries = {names[s]: registry.alpaca_entry(files[s]) for s in files}
    registry.check_conflicts(info, manifest, entries, force)

    if scrub_pii is None:
        scrub_pii = getattr(module, "PATIENT_TEXT", False)
    recorded = {**{k: v for k, v in params.items() if k != "encoding"}, "dedup": dedup, "prompt_sha256": prompt.sha256,
                "scrub_pii": scrub_pii}
    # ``split`` tells readers (recipes' held-out guard) which entries are test sets and few-shot pools.
    wanted = {names[s]: {"file_name": files[s], "split": s, "converter": name, "converter_version": module.VERSION,
                         "params": recorded} for s in files}
    with ThreadPoolExecutor(max_workers=1) as pool:
        # Hashing a 634 MB source takes about a second: do it beside the conversion (hashlib releases the
        # GIL), unless the manifest says this could be a no-op, where the hashes decide before any work.
        hashing = pool.submit(_fingerprints, inputs)
        if not dry_run and _same_recipe(dataset_dir, manifest, info, wanted):
            _attach(wanted, names, hashing.result())
            if _up_to_date(dataset_dir, manifest, wanted):
                old = manifest["datasets"][names[next(iter(files))]].get("counts", {})
                return Result(name, "unchanged", old, {s: str(dataset_dir / files[s]) for s in files})
        counts = Counts()
        total = sum(Path(p).stat().st_size for p in inputs[next(iter(files))])
        on_bytes = None if progress is None else (lambda done: progress(done, total))
        try:
            built = module.build(inputs, params, prompt, counts, dedup=dedup, progress=on_bytes)
            if scrub_pii:
                # Before the split rules, so the leak rule compares the prompts as they will be written.
                counts.pii_masked = Counter()
                built = pii.scrub_splits(built, counts.pii_masked)
            result = splits.apply_rules(module, built, params, counts, names, inputs)
        except BaseException:
            hashing.cancel()
            raise
        _attach(wanted, names, hashing.result())
    counts.written = {split: len(records) for split, records in result.items()}
    if dry_run:
        return Result(name, "dry-run", counts.to_dict(), {s: str(dataset_dir / files[s]) for s in files})

    staged, digests = _stage(dataset_dir, files, result)
    for split in files:
        wanted[names[split]]["sha256"] = digests[split]
        wanted[names[split]]["counts"] = counts.to_dict()
    # The commit removes the staged files itself if it fails before its commit point.
    changes = registry.commit(dataset_dir, {files[s]: staged[s] for s in staged}, entries, wanted, force=force)
    return Result(name, "written", counts.to_dict(), {s: str(dataset_dir / files[s]) for s in files}, changes)


def _stage(dataset_dir: Path, files: dict[str, str], records: dict[str, list[dict]]) -> tuple[dict, dict]:
    """Write every split to a complete temporary file beside its target; return (temp paths, sha256s).

    The targets are untouched: :func:`registry.commit` renames the staged files into place together.
    """
    dataset_dir.mkdir(parents=True, exist_ok=True)
    staged: dict[str, Path] = {}
    digests: dict[str, str] = {}
    try:
        for split in files:
            digest = hashlib.sha256()
            with staged_writer(dataset_dir / files[split], "wb") as (handle, tmp):
                for record in records[split]:
                    line = jsonl_line(record).encode("utf-8")
                    digest.update(line)
                    handle.write(line)
            staged[split], digests[split] = tmp, digest.hexdigest()
    except BaseException:
        for path in staged.values():
            path.unlink(missing_ok=True)
        raise
    return staged, digests
