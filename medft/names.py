"""The one rule for names that become file or folder names: dataset names and model labels.

A dataset name becomes ``<dataset_dir>/<name>_test.jsonl``; a model label becomes
``OUT/predictions/<label>/``. A name that holds a path separator or starts with ``.`` (``..``,
``../../x``, ``/abs``, ``.hidden``) would write outside its folder or hide there, so such names are
refused before anything is written. Allowed: letters (any script, so ``基座`` is fine), digits, ``_``,
``-`` and ``.``, not starting with ``.``, at most :data:`MAX_LENGTH` characters.
"""

from __future__ import annotations

import re

MAX_LENGTH = 100
#: ``\w`` is Unicode-aware: letters and digits of every script, plus ``_``. No separators, no ``:``.
_NAME = re.compile(r"[\w\-][\w.\-]*")
_ALLOWED = re.compile(r"[\w.\-]")


class BadName(ValueError):
    """A dataset name or model label that cannot safely become a file or folder name."""


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a dataset name or model label, or None if it can."""
    if not isinstance(name, str) or not name:
        return "it is empty"
    if len(name) > MAX_LENGTH:
        return f"it is longer than {MAX_LENGTH} characters"
    if name.startswith("."):
        return "it starts with '.'"
    if not _NAME.fullmatch(name):
        bad = sorted({ch for ch in name if not _ALLOWED.fullmatch(ch)})
        shown = " ".join(repr(ch) for ch in bad[:5])
        return f"it holds {shown}" + (" (path separators are not allowed)" if {"/", "\\"} & set(bad) else "")
    return None


def check_name(name: str, what: str) -> str:
    """``name`` unchanged if valid; else :class:`BadName` with one line naming ``what`` and the rule."""
    problem = name_problem(name)
    if problem:
        raise BadName(f"{what} {name!r} is not allowed: {problem}; use letters, digits, '_', '-' and '.' "
                      "(not starting with '.')")
    return name
