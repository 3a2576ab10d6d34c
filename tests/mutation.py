"""Per-module mutation scores and surviving mutants from mutmut's results (``make mutation``; TESTING.md).

mutmut keeps its results in ``mutants/<module>.py.meta``; this reads them for every module the
``[tool.mutmut] only_mutate`` list of pyproject.toml names and writes ``reports/mutation/report.md`` (a
score table, then every survivor with its diff) and ``reports/mutation/scores.json``.

Score = killed / (killed + survived + no tests), where a timeout counts as killed (the mutant made the
tests hang) and a mutant listed in :data:`EQUIVALENT` counts as neither: it behaves exactly like the
original, so no test can tell them apart (the reason is written next to it). An entry that no longer
names a surviving mutant is reported as stale: the code changed, so look at it again.

Run from the repository root: ``python -m tests.mutation`` (after ``mutmut run``); ``make mutation`` does
both, and first runs again the survivors that new tests may now kill.
"""

from __future__ import annotations

import fnmatch
import json
import sys
import tomllib
from datetime import date
from pathlib import Path

KILLED = {1: "killed", 3: "killed", 36: "timeout", -24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout",
          37: "killed", -9: "killed", -11: "killed"}
SURVIVED = {0}
NO_TESTS = {5, 33}

#: Mutants that behave exactly like the original (mutmut's name → why). Keep the reason precise: a
#: reader must be able to check it against ``mutmut show NAME``.
EQUIVALENT: dict[str, str] = {}


def modules(root: Path) -> list[Path]:
    """The source files the mutmut config mutates, in a stable order."""
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mutmut"]
    found = set()
    for source in config["source_paths"]:
        for path in (root / source).rglob("*.py"):
            rel = path.relative_to(root).as_posix()
            if any(fnmatch.fnmatch(rel, pattern) for pattern in config["only_mutate"]):
                found.add(rel)
    return [Path(p) for p in sorted(found)]


def classify(exit_code: int | None) -> str:
    """killed / survived / no tests / not checked / other, from mutmut's exit code of the mutant's test run."""
    if exit_code is None:
        return "not checked"
    if exit_code in KILLED:
        return "killed"
    if exit_code in SURVIVED:
        return "survived"
    if exit_code in NO_TESTS:
        return "no tests"
    return "other"


def collect(root: Path) -> dict[str, dict]:
    """Per module: counts by outcome, the score, and the names of the survivors and untested mutants."""
    result = {}
    for module in modules(root):
        meta = root / "mutants" / f"{module}.meta"
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"] if meta.exists() else {}
        counts = {"killed": 0, "survived": 0, "no tests": 0, "equivalent": 0, "not checked": 0, "other": 0}
        survivors = []
        for name, code in sorted(codes.items()):
            outcome = classify(code)
            if outcome in {"survived", "no tests"} and name in EQUIVALENT:
                outcome = "equivalent"
            counts[outcome] += 1
            if outcome in {"survived", "no tests", "other"}:
                survivors.append(name)
        judged = counts["killed"] + counts["survived"] + counts["no tests"] + counts["other"]
        result[str(module)] = {**counts, "total": len(codes), "score": round(counts["killed"] / judged, 4)
                               if judged else None, "survivors": survivors}
    return result


def _diff(name: str) -> str:
    try:
        from mutmut.mutation.diff_apply import get_diff_for_mutant

        return get_diff_for_mutant(name)
    except Exception as exc:  # a report without one diff beats no report
        return f"(no diff: {type(exc).__name__}: {exc})"


def write_report(root: Path, out_dir: Path) -> dict[str, dict]:
    """Write report.md and scores.json under ``out_dir``; return the per-module results."""
    results = collect(root)
    known = {name for data in results.values() for name in data["survivors"]}
    stale = sorted(name for name in EQUIVALENT if name not in known and not _is_equivalent_survivor(root, name))
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"# Mutation testing ({date.today().isoformat()})", "",
             "| module | score | killed | survived | no tests | equivalent | not checked | total |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for module, data in results.items():
        score = "n/a" if data["score"] is None else f"{100 * data['score']:.1f} %"
        lines.append(f"| {module} | {score} | {data['killed']} | {data['survived']} | {data['no tests']} | "
                     f"{data['equivalent']} | {data['not checked']} | {data['total']} |")
    if stale:
        lines += ["", "## Stale equivalence notes (no such surviving mutant any more)", ""]
        lines += [f"- `{name}`" for name in stale]
    lines += ["", "## Equivalent mutants", ""]
    lines += [f"- `{name}`: {why}" for name, why in sorted(EQUIVALENT.items())] or ["(none)"]
    lines += ["", "## Surviving mutants", ""]
    for data in results.values():
        for name in data["survivors"]:
            lines += [f"### {name}", "", "```diff", _diff(name), "```", ""]
    if not known:
        lines.append("(none)")
    (out_dir / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out_dir / "scores.json").write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return results


def _is_equivalent_survivor(root: Path, name: str) -> bool:
    module = name.split(".x_")[0].replace(".", "/") + ".py"
    meta = root / "mutants" / f"{module}.meta"
    if not meta.exists():
        return False
    code = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"].get(name, "missing")
    return code != "missing" and classify(code) in {"survived", "no tests"}


def to_rerun(root: Path) -> list[str]:
    """Survivors (and untested mutants) whose function the tests now reach: mutmut keeps a verdict until
    the function's code changes, so after new tests these must be run again by name."""
    stats_path = root / "mutants" / "mutmut-stats.json"
    if not stats_path.exists():
        return []
    covered = json.loads(stats_path.read_text(encoding="utf-8")).get("tests_by_mangled_function_name", {})
    return [name for data in collect(root).values() for name in data["survivors"]
            if covered.get(name.rsplit("__mutmut_", 1)[0])]


def main(argv: list[str]) -> int:
    """Print the score table and write the report; exit 1 when a module is under 90 %.

    ``--survivors``: print only the names of the mutants to run again (see :func:`to_rerun`).
    """
    root = Path.cwd()
    if argv == ["--survivors"]:
        print(" ".join(to_rerun(root)))
        return 0
    results = write_report(root, root / "reports" / "mutation")
    low = []
    for module, data in results.items():
        score = data["score"]
        print(f"{module:32} {'n/a' if score is None else f'{100 * score:5.1f} %'}  "
              f"({data['killed']} killed, {len(data['survivors'])} left, {data['equivalent']} equivalent)")
        if score is not None and score < 0.9:
            low.append(module)
    print(f"report: {root / 'reports' / 'mutation' / 'report.md'}")
    if low:
        print(f"under 90 %: {', '.join(low)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
