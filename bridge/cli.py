"""Command line for bridge (``python -m bridge``, ``medft bridge``): thin wrappers over the modules."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bridge.common import BridgeError
from medft.console import console
from medft.paths import dataset_dir as default_dataset_dir
from medft.paths import raw_dir as default_raw_dir

DATASET_DIR = click.option("--dataset-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                           help="LLaMA-Factory dataset_dir [default: dataset_info/, or $MEDFT_DATASET_DIR]")
RAW_DIR = click.option("--raw-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                       help="where raw sources live [default: raw/, or $MEDFT_RAW_DIR]")
DRY_RUN = click.option("--dry-run", is_flag=True, help="Show what would happen; write nothing.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def bridge() -> None:
    """Convert raw medical datasets to alpaca jsonl and register them in dataset_info.json."""


def _progress():
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    return Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                    TimeRemainingColumn(), console=console, transient=True)


def _print_result(result) -> None:
    c = result.counts
    skipped = ", ".join(f"{k} {v}" for k, v in c.get("skipped", {}).items()) or "none"
    verb = {"written": "converted", "unchanged": "up to date (inputs unchanged, nothing written)",
            "dry-run": "dry run (nothing written)"}[result.status]
    console.print(f"[bold]{result.source}[/]: {verb}")
    console.print(f"  read {c.get('read', 0)}, written {c.get('written', {})}, skipped: {skipped}, "
                  f"duplicates {c.get('duplicates', 0)} (dropped {c.get('duplicates_dropped', 0)}), "
                  f"leaks removed: {c.get('leaks_removed', 0)}")
    if "pii_masked" in c:
        masked = ", ".join(f"{k} {v}" for k, v in c["pii_masked"].items()) or "none found"
        console.print(f"  identifiers masked: {masked}")
    for warning in c.get("warnings", []):
        console.print(f"  [yellow]warning[/] {warning}")
    for split, path in result.files.items():
        console.print(f"  {split}: {path}")
    if result.changes:
        console.print("  dataset_info.json: " + ", ".join(f"{k} {v}" for k, v in result.changes.items()))


def _print_outcomes(outcomes: dict[str, tuple[str, str]]) -> None:
    """One table of every source's outcome, so a failure among many is not scrolled away."""
    from rich.table import Table

    table = Table(title="make data: every source", title_justify="left")
    table.add_column("source")
    table.add_column("outcome")
    table.add_column("records written / error")
    for name, (status, detail) in outcomes.items():
        table.add_row(name, f"[red]{status}[/]" if status == "failed" else status, detail)
    console.print(table)


@bridge.command("convert")
@click.argument("sources", nargs=-1)
@RAW_DIR
@DATASET_DIR
@click.option("--input", "inputs", multiple=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Raw file(s) for the train split (default: found under raw/<source>/). One source only.")
@click.option("--test-input", "test_inputs", multiple=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Held-out split file(s): norm val.xlsx, mrg IMCS-V2_dev.json (required with --input for those), "
                   "cmb test questions + CMB-test-choice-answer.json, cmexam test_with_annotations.csv, "
                   "cmmlu test/*.csv.")
@click.option("--dev-input", "dev_inputs", multiple=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Exams: few-shot pool file(s): CMB-val-merge.json, CMExam val.csv, CMMLU dev/*.csv.")
@click.option("--train-size", type=click.IntRange(min=1), default=None,
              help="Training records to keep (dialog/norm default 5000, mrg/o1 all).")
@click.option("--test-size", type=click.IntRange(min=1), default=None,
              help="Held-out records (default 100, exams: the whole test set; fewer than asked is a warning, "
                   "none an error).")
@click.option("--seed", type=int, default=None, help="Sampling seed (default 42).")
@click.option("--prompt-file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="UTF-8 text file replacing the default prompt template ({placeholders} as in the default).")
@click.option("--form", type=click.Choice(["sections", "think"]), default=None,
              help="o1 output: the tutorial's sections or <think>…</think> (default sections).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default=None, help="o1 file language (default zh).")
@click.option("--all-reports", is_flag=True, default=None, help="mrg: one training sample per reference report.")
@click.option("--encoding", default=None, help="dialog CSV encoding (default: detect UTF-8 / BOM / GB18030).")
@click.option("--subjects", default=None,
              help="cmmlu: comma-separated subjects, 'medical' (default: the nine medical ones) or 'all'.")
@click.option("--dedup", is_flag=True, help="Drop exact duplicate records (they are always counted).")
@click.option("--force", is_flag=True, help="Replace dataset_info.json entries of the same name that point elsewhere.")
@click.option("--name", "alias", default=None,
              help="Register under another name (one SOURCE): --name cdn writes med_cdn / med_cdn_test.")
@click.option("--keep-pii/--scrub-pii", "keep_pii", default=None,
              help="Keep or mask phone / ID / card numbers, e-mails, URLs (default: masked for dialog and mrg).")
@DRY_RUN
def convert_command(sources, raw_dir, dataset_dir, inputs, test_inputs, dev_inputs, train_size, test_size, seed,
                    prompt_file, form, lang, all_reports, encoding, subjects, dedup, force, dry_run, alias=None,
                    keep_pii=None) -> None:
    """Convert SOURCES (dialog, norm, mrg, o1, cmb, cmexam, cmmlu; default: every source present under raw/)
    and register them."""
    from bridge.pipeline import convert_source
    from bridge.sources import SOURCES, get_source, splits

    raw_dir = raw_dir or default_raw_dir()
    dataset_dir = dataset_dir or default_dataset_dir()
    for name in sources:
        get_source(name)
    if (inputs or test_inputs or dev_inputs) and len(sources) != 1:
        raise BridgeError("--input / --test-input / --dev-input need exactly one SOURCE")
    if alias is not None and len(sources) != 1:
        raise BridgeError("--name needs exactly one SOURCE")
    if inputs and not test_inputs and sources[0] in ("norm", "mrg"):
        held_out = {"norm": "val.xlsx (or CHIP-CDN_dev.json)", "mrg": "IMCS-V2_dev.json"}[sources[0]]
        raise BridgeError(f"{sources[0]} takes its held-out split from a separate file: add --test-input {held_out}")
    explicit = bool(sources)
    names = list(sources) or [name for name in SOURCES if (raw_dir / name).is_dir()]
    if not names:
        raise BridgeError(f"no raw sources under {raw_dir} (expected {', '.join(f'{n}/' for n in SOURCES)}); "
                          "run `bridge download`, `bridge samples --out raw`, or put the files there by hand")
    overrides = {"train_size": train_size, "test_size": test_size, "seed": seed}
    file_inputs = {"train": list(inputs), "test": list(test_inputs or inputs)} if inputs else None
    if sources and "dev" in splits(sources[0]) and (inputs or test_inputs or dev_inputs):
        # The exams read three files (cmmlu two): every split the source writes must be given.
        file_inputs = {"train": list(inputs), "test": list(test_inputs), "dev": list(dev_inputs)}
        file_inputs = {split: file_inputs[split] for split in splits(sources[0])}
        flags = {"train": "--input", "test": "--test-input", "dev": "--dev-input"}
        missing = [flags[split] for split, paths in file_inputs.items() if not paths]
        if missing:
            raise BridgeError(f"{sources[0]} reads one file set per split: add {' and '.join(missing)}")
    outcomes: dict[str, tuple[str, str]] = {}
    for name in names:
        # Unset options apply only where the source has them (cmmlu has no training split to size).
        params = {k: v for k, v in overrides.items() if v is not None or k in get_source(name).DEFAULT_PARAMS}
        if name == "o1":
            params.update(form=form, lang=lang)
        if name == "mrg":
            params["all_reports"] = all_reports
        if name == "dialog":
            params["encoding"] = encoding
        if name == "cmmlu" and subjects is not None:
            params["subjects"] = get_source("cmmlu").resolve_subjects(subjects)
        try:
            with _progress() as progress:
                task = progress.add_task(f"converting {name}", total=None)
                result = convert_source(
                    name, dataset_dir, raw_dir=raw_dir, inputs=file_inputs, params=params, prompt_file=prompt_file,
                    dedup=dedup, force=force, dry_run=dry_run,
                    progress=lambda n, total, t=task, p=progress: p.update(t, completed=n, total=total),
                    scrub_pii=None if keep_pii is None else not keep_pii, alias=alias,
                )
        except BridgeError as exc:
            if len(names) == 1:
                raise
            # One failing source does not stop the others (each conversion commits on its own).
            console.print(f"[bold]{name}[/]: [red]failed[/] {exc.message}")
            outcomes[name] = ("failed", exc.message)
            continue
        _print_result(result)
        outcomes[name] = (result.status, ", ".join(f"{k} {v}" for k, v in result.counts.get("written", {}).items()))
        if dry_run:
            click.echo(json.dumps({"source": name, "counts": result.counts, "files": result.files},
                                  ensure_ascii=False))
    if not explicit:
        missing = [n for n in SOURCES if n not in names]
        if missing:
            console.print(f"[dim]not present under {raw_dir}: {', '.join(missing)}[/]")
    if len(names) > 1:
        _print_outcomes(outcomes)
        failed = [name for name, (status, _) in outcomes.items() if status == "failed"]
        if failed:
            raise BridgeError(f"{len(failed)} of {len(names)} sources failed: {', '.join(failed)} (see above); "
                              "the others were converted")


@bridge.command("register")
@click.argument("name")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@DATASET_DIR
@click.option("--formatting", type=click.Choice(["alpaca", "sharegpt"]), default=None,
              help="Default: detected from the first record.")
@click.option("--test-file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="A held-out file in the same format: a leak-free copy is registered as NAME_test.")
@click.option("--force", is_flag=True, help="Replace an entry of this name that points elsewhere.")
@click.option("--scrub-pii", is_flag=True, help="Mask phone / ID / card numbers, e-mails, URLs: registers a scrubbed "
                                               "copy NAME.jsonl (FILE is never changed).")
@DRY_RUN
def register_command(name, file, dataset_dir, formatting, test_file, force, dry_run, scrub_pii=False) -> None:
    """Validate FILE (alpaca or sharegpt .json/.jsonl) and register it as NAME in dataset_info.json."""
    from bridge.userdata import register_file

    result = register_file(name, file, dataset_dir or default_dataset_dir(), formatting, force, dry_run,
                           test_path=test_file, scrub_pii=scrub_pii)
    console.print(f"[bold]{name}[/]: {result['status']} ({result['rows']} records, {result['entry']['formatting']})")
    if "pii_masked" in result:
        console.print("  identifiers masked: " + (", ".join(f"{k} {v}" for k, v in result["pii_masked"].items())
                                                  or "none found"))
    entries = {name: result["entry"]}
    if test_file is not None:
        test_status = result.get("changes", {}).get(f"{name}_test", result["status"])
        console.print(f"[bold]{name}_test[/]: {test_status} ({result['test_rows']} records, "
                      f"leaks removed: {result['leaks_removed']})")
        entries[f"{name}_test"] = result["test_entry"]
    click.echo(json.dumps(entries, ensure_ascii=False))


@bridge.command("stats")
@DATASET_DIR
@click.option("--model", required=True, help="Model directory (or name) whose tokenizer to count with.")
@click.option("--template", default="qwen", show_default=True, help="LLaMA-Factory template name.")
@click.option("--cutoff-len", type=int, default=2048, show_default=True, help="cutoff_len to check against.")
@click.option("--dataset", "names", multiple=True, help="Datasets to measure (default: all with a file).")
@DRY_RUN
def stats_command(dataset_dir, model, template, cutoff_len, names, dry_run) -> None:
    """Token-length statistics per registered dataset; saved to <dataset_dir>/stats.json."""
    from bridge.registry import recover
    from bridge.stats import compute_stats, save_stats, stats_table

    dataset_dir = dataset_dir or default_dataset_dir()
    if not dry_run:
        recover(dataset_dir)
    with console.status("tokenizing..."):
        stats = compute_stats(dataset_dir, model, template, cutoff_len, list(names) or None,
                              notes=lambda msg: console.print(f"[dim]{msg}[/]"))
    if not stats["datasets"]:
        raise BridgeError(f"no dataset files to measure in {dataset_dir}; run `bridge convert` first")
    # Never squeeze the numbers: a pipe or make reports 80 columns, the table needs about 90.
    from rich.console import Console

    Console(stderr=True, width=max(console.width, 100), highlight=False).print(stats_table(stats))
    if not dry_run:
        console.print(f"saved {save_stats(dataset_dir, stats)}")
    click.echo(json.dumps({"recommended_cutoff_len": stats["recommended_cutoff_len"]}))


@bridge.command("audit")
@DATASET_DIR
@click.option("--near-dedup", type=click.FloatRange(0, 1, min_open=True), is_flag=False, flag_value=0.7,
              default=None, help="Also find near-duplicate training records (MinHash LSH); optional Jaccard "
                                 "threshold [flag alone: 0.7].")
@click.option("--fix", is_flag=True, help="Remove the flagged records from the TRAINING sets (held-out sets are "
                                          "never changed); recorded in the manifest.")
def audit_command(dataset_dir, near_dedup, fix) -> None:
    """Every registered training set against every held-out / few-shot set: exact and 13-gram overlap.

    Prints the matrix and writes audit.json and audit.md into the dataset dir.
    """
    from bridge import audit
    from bridge.registry import recover

    dataset_dir = dataset_dir or default_dataset_dir()
    recover(dataset_dir)
    report = audit.audit(dataset_dir, near_dedup)
    if not report["training"] and not report["heldout"]:
        raise BridgeError(f"nothing to audit in {dataset_dir}: no registered dataset with a local file")
    from rich.console import Console

    from bridge.audit_table import audit_table

    Console(stderr=True, width=max(console.width, 100), highlight=False).print(audit_table(report))
    for note in report["notes"]:
        console.print(f"[dim]{note}[/]")
    json_path, md_path = audit.save(dataset_dir, report)
    console.print(f"saved {json_path} and {md_path} ({report['seconds']} s)")
    if fix:
        removed = audit.fix(dataset_dir, report)
        console.print("fixed: " + (", ".join(f"{n} -{k} records" for n, k in removed.items()) or "nothing to remove"))
        if removed:
            audit.save(dataset_dir, audit.audit(dataset_dir, near_dedup))
    flagged = audit.overlapping(report)
    click.echo(json.dumps({"overlapping_pairs": len(flagged),
                           "contaminated_records": {n: i["contaminated_records"] for n, i in report["training"].items()
                                                    if i["contaminated_records"]},
                           "fixed": bool(fix)}, ensure_ascii=False))


@bridge.command("recover")
@DATASET_DIR
def recover_command(dataset_dir) -> None:
    """Finish a conversion that was killed while replacing its files; remove dead runs' temp files.

    A 'pending' record bridge cannot have written is dropped instead (nothing it names is moved); every
    line printed says what was done. Every other writing bridge command does this first; training
    pre-flight asks for it when needed.
    """
    from bridge.registry import recover

    dataset_dir = dataset_dir or default_dataset_dir()
    done = recover(dataset_dir)
    for line in done or ["nothing to recover"]:
        console.print(f"{dataset_dir}: {line}")


@bridge.command("download")
@click.argument("sources", nargs=-1)
@RAW_DIR
@click.option("--from", "location", default=None,
              help="Other URL (norm: the zip; cmb/cmexam/cmmlu: base URL of a repository mirror, file:// works) "
                   "or ModelScope dataset id (one SOURCE).")
@click.option("--timeout", type=float, default=15, show_default=True, help="Network timeout in seconds.")
@DRY_RUN
def download_command(sources, raw_dir, location, timeout, dry_run) -> None:
    """Fetch raw SOURCES (default: all) into raw/; fails fast offline, naming the manual alternative."""
    from bridge.download import REMOTES, download

    raw_dir = raw_dir or default_raw_dir()
    names = list(sources) or list(REMOTES)
    if location and len(names) != 1:
        raise BridgeError("--from needs exactly one SOURCE")
    errors = []
    for name in names:
        remote = REMOTES.get(name)
        if dry_run and remote is not None:
            console.print(f"{name}: would fetch {location or remote.location} ({remote.kind}) into {raw_dir / name}")
            continue
        try:
            console.print(f"{name}: ready in {download(name, raw_dir, location, timeout)}")
        except BridgeError as exc:
            errors.append(f"{name}: {exc.message}")
    if errors:
        raise BridgeError("\n".join(errors))


@bridge.command("samples")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory to write the raw sample files into (use raw/ for `make data`).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--size", "sizes", multiple=True, metavar="FILE=N",
              help="Records in one sample file, e.g. norm_train=2000 (repeatable; names: see bridge.samples).")
@DRY_RUN
def samples_command(out, seed, sizes, dry_run) -> None:
    """Write small, realistic raw files for every source in its exact published format."""
    from bridge.samples import DEFAULT_SIZES, sample_paths, write_samples

    counts = {}
    for item in sizes:
        name, _, value = item.partition("=")
        if name not in DEFAULT_SIZES or not value.isdigit() or int(value) < 1:
            raise click.BadParameter(f"{item!r}: expected FILE=N with N >= 1 and FILE one of "
                                     f"{', '.join(DEFAULT_SIZES)}", param_hint="--size")
        counts[name] = int(value)
    files = sample_paths(out) if dry_run else write_samples(out, seed, counts)
    for label, path in files.items():
        console.print(f"{label:11s} {path}{' (dry run: not written)' if dry_run else ''}")
    click.echo(str(out))
