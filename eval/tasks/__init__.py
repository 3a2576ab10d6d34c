"""The held-out tasks eval scores: a plain dict from task name to its ``Task``.

A new task is one module exposing a ``Task`` plus one entry here (docs/extending.md). The task of a
dataset comes from its name (``med_norm_test`` → ``norm``, ``med_cmb_test`` → the ``TASK`` its bridge
converter names) or an explicit ``NAME:TASK``.
"""

from __future__ import annotations

from bridge.sources import SOURCES
from eval.tasks import free_text, mcq, mrg, norm
from eval.tasks.base import Task

TASKS: dict[str, Task] = {
    "norm": norm.TASK,
    "mrg": mrg.TASK,
    "dialog": free_text.DIALOG,
    "o1": free_text.O1,
    "mcq": mcq.TASK,
}
#: Words in a dataset name that stand for a task of another name: each bridge source whose converter names
#: the task that scores it (``TASK = "mcq"`` in the exam converters), so a new exam needs no line here.
ALIASES: dict[str, str] = {name: module.TASK for name, module in SOURCES.items() if getattr(module, "TASK", None)}


def get_task(name: str) -> Task:
    """The task called ``name``, with an error listing the known ones."""
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; tasks: {sorted(TASKS)}")
    return TASKS[name]
