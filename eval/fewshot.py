"""k-shot exam prompts: examples from the benchmark's dev pool, as earlier chat turns, chosen deterministically.

Each question gets the first ``k`` dev questions of its own subject, in file order (CMMLU's authors
take the first k of the subject's dev file; CMB's own script samples k of the same exam_class at
random — medft takes the first k so every run sees the same prompt), topped up from its category and
then from the whole pool when the subject has fewer. The examples become an alpaca ``history`` —
(question prompt, answer letters) turns before the question — so the chat template wraps every shot
exactly as it wraps a training dialogue turn.
"""

from __future__ import annotations

from collections.abc import Sequence


class FewShotError(ValueError):
    """The few-shot pool is missing or too small."""


def pool_name(dataset: str) -> str:
    """The dev pool registered beside a held-out exam set: ``med_cmb_test`` → ``med_cmb_dev``."""
    name = dataset.partition(":")[0]
    return f"{name[: -len('_test')]}_dev" if name.endswith("_test") else f"{name}_dev"


def _query(record: dict) -> str:
    return "\n".join(part for part in (record.get("instruction"), record.get("input")) if part)


def choose_shots(record: dict, pool: Sequence[dict], shots: int) -> list[dict]:
    """The ``shots`` pool questions for ``record``: same subject, then same category, then any, in pool order."""
    chosen: list[dict] = []
    tiers = [lambda p: record.get("subject") and p.get("subject") == record.get("subject"),
             lambda p: record.get("category") and p.get("category") == record.get("category"),
             lambda p: True]
    for tier in tiers:
        for candidate in pool:
            if len(chosen) == shots:
                return chosen
            if tier(candidate) and candidate not in chosen and _query(candidate) != _query(record):
                chosen.append(candidate)
    return chosen


def with_shots(records: Sequence[dict], pool: Sequence[dict], shots: int,
               pool_label: str = "the dev pool") -> list[dict]:
    """Copies of ``records`` with ``shots`` examples each in ``history`` (``shots`` 0: the records unchanged)."""
    if shots <= 0:
        return list(records)
    if len(pool) < shots:
        raise FewShotError(f"--shots {shots} needs at least {shots} questions in {pool_label}; it has {len(pool)}")
    return [{**record, "history": [[_query(example), str(example["output"])]
                                   for example in choose_shots(record, pool, shots)]}
            for record in records]


def add_shots(dataset_dir, dataset: str, records: Sequence[dict], shots: int) -> list[dict]:
    """``records`` of the exam set ``dataset`` with ``shots`` examples each from its registered dev pool."""
    if shots <= 0:
        return list(records)
    from eval.heldout import HeldoutError, load_records

    pool = pool_name(dataset)
    try:
        examples = load_records(dataset_dir, pool)
    except HeldoutError as exc:
        raise FewShotError(f"--shots {shots} takes its examples from {pool!r} (written by `bridge convert` beside "
                           f"{dataset.partition(':')[0]!r}): {exc}") from exc
    return with_shots(records, examples, shots, pool_label=repr(pool))
