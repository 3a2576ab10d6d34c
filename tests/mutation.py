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
_STRICT_ZIP = "zip(..., strict=True) loosened: both sides always have the same length here"
_NAN_EMPTY = "safe_ratio(empty=None) fills a float64 array, where None is NaN exactly as np.nan"
_UNUSED_AB = "_verdict ignores its a and b (the models come from the outcome), so what is passed there is unused"
_EPSILON = "the 1e-12 guard's sign: moves the value by ~1e-12, far below any meaningful difference"
_NO_RESAMPLES = ("resampling 0 times or 0 records gives no finite resampled value, so every interval is None "
                 "and nothing is significant: the same output the guard short-cuts to")
_SPLIT_DEFAULT = ("the LeakFree default is read only for .removed (0); its train/test/refilled fields are never "
                  "read when neither leak branch ran")
EQUIVALENT: dict[str, str] = {
    "eval.text.x_rouge_l_cblue__mutmut_17": _EPSILON,
    "eval.text.x_rouge_l_cblue__mutmut_26": _EPSILON,
    "recipes.run.x_last_checkpoint__mutmut_8": "split('-')[1] is split('-')[-1] for every name the HF Trainer "
                                               "writes (checkpoint-<step>, one dash)",
    "recipes.run.x_last_checkpoint__mutmut_19": "as _8: [1] and [-1] are one element of checkpoint-<step>",
    "recipes.run.x_force_refusal__mutmut_14": "read_text(encoding=None) uses the locale's encoding, UTF-8 here "
                                               "(and on any machine medft supports: Python 3.11 on Linux, UTF-8 "
                                               "locale); a non-UTF-8 locale would make it a real difference",
    "recipes.run.x_force_refusal__mutmut_16": "'UTF-8' and 'utf-8' name the same codec",
    "recipes.run.x_force_refusal__mutmut_18": "'' is no dict, exactly like None",
    "eval.judge.aggregate.x__units__mutmut_3": "only the dict's keys (an ordered set) are used, never its values",
    "eval.judge.aggregate.x__pair_rows__mutmut_4": _UNUSED_AB,
    "eval.judge.aggregate.x__pair_rows__mutmut_5": _UNUSED_AB,
    "eval.judge.aggregate.x_combined__mutmut_3": _UNUSED_AB,
    "eval.judge.aggregate.x_combined__mutmut_4": _UNUSED_AB,
    "eval.judge.aggregate.x_combined__mutmut_9": _UNUSED_AB,
    "eval.judge.aggregate.x_combined__mutmut_10": _UNUSED_AB,
    "eval.judge.aggregate.x_bradley_terry__mutmut_1": "10,001 instead of 10,000 iterations: the fit converges "
                                                      "(tolerance 1e-10) long before either",
    "eval.judge.aggregate.x_bradley_terry__mutmut_5": "win matrices are square: shape[-2] == shape[-1]",
    "eval.judge.aggregate.x_bradley_terry__mutmut_7": "1 + eye adds virtual games of a model against itself: "
                                                      "+1 to its wins and +1/p to its denominator, which leaves "
                                                      "the fixed point p = wins/denominator unchanged",
    "eval.judge.aggregate.x_bradley_terry__mutmut_41": "games / (p_i + p_j) is a symmetric matrix: summing over "
                                                       "axis -2 equals summing over axis -1",
    "eval.judge.aggregate.x_bradley_terry__mutmut_61": "< vs <= tolerance: the change per step is never exactly 1e-10",
    "eval.judge.aggregate.x_pairwise__mutmut_6": _NAN_EMPTY,
    "eval.judge.aggregate.x_pairwise__mutmut_23": _NAN_EMPTY,
    "eval.judge.aggregate.x_pointwise__mutmut_10": _NAN_EMPTY,
    "eval.judge.aggregate.x_pointwise__mutmut_21": _NAN_EMPTY,
    "eval.judge.aggregate.x_pointwise__mutmut_24": "parsed_rate's denominator is the record count, never 0: "
                                                   "a dataset is only reported when it has judged records",
    "eval.judge.aggregate.x_pointwise__mutmut_39": "dtype dropped: the bool column becomes float64 in "
                                                   "eval.bootstrap.column_matrix anyway",
    "eval.judge.aggregate.x_pointwise__mutmut_41": "as _39",
    "eval.judge.aggregate.x_pointwise__mutmut_49": _STRICT_ZIP,
    "eval.judge.aggregate.x_pointwise__mutmut_52": _STRICT_ZIP,
    "eval.judge.aggregate.x_pointwise__mutmut_53": _STRICT_ZIP,
    "eval.judge.aggregate.x_pointwise__mutmut_64": _STRICT_ZIP,
    "eval.judge.aggregate.x_pointwise__mutmut_67": _STRICT_ZIP,
    "eval.judge.aggregate.x_pointwise__mutmut_68": _STRICT_ZIP,
    "eval.judge.aggregate.x_ranking__mutmut_22": "astype(None) is astype(float64)",
    "eval.judge.aggregate.x_ranking__mutmut_37": "einsum subscripts in upper case name the same axes",
    "eval.bootstrap.x_summarise_with_ci__mutmut_18": _NO_RESAMPLES,
    "eval.bootstrap.x_summarise_with_ci__mutmut_25": _NO_RESAMPLES,
    "eval.bootstrap.x_summarise_with_ci__mutmut_26": _NO_RESAMPLES,
    "eval.bootstrap.x_summarise_with_ci__mutmut_28": _NO_RESAMPLES,
    "eval.bootstrap.x_resample_counts__mutmut_5": "resamples == 0 then draws a (0, n) matrix: the same empty "
                                                  "int64 array the guard returns",
    "eval.bootstrap.x_resample_counts__mutmut_27": "rng.integers(n) draws from [0, n) exactly as integers(0, n), "
                                                   "from the same stream",
    "eval.tasks.mcq.x__macro__mutmut_3": "astype(None) is astype(float64)",
    "eval.tasks.mcq.x__macro__mutmut_12": "a group without questions has accuracy 0 (safe_ratio), so weighting "
                                          "it by (c >= 0) adds 0 just like (c > 0)",
    "eval.tasks.mcq.x__macro__mutmut_16": _STRICT_ZIP,
    "eval.tasks.mcq.x__macro__mutmut_19": _STRICT_ZIP,
    "eval.tasks.mcq.x__macro__mutmut_20": _STRICT_ZIP,
    "eval.tasks.mcq.x_score__mutmut_58": "only the rule column's name is read (summarise), never its value",
    "eval.tasks.mcq.x_summarise__mutmut_3": "every scored set has a rule| column, so next()'s default is never used",
    "eval.tasks.mcq.x_summarise__mutmut_5": "as _3",
    "eval.tasks.mcq.x_summarise__mutmut_9": "rule names (cmb, cmmlu, micro) hold no separator: split, rsplit and "
                                            "maxsplit give the same second part",
    "eval.tasks.mcq.x_summarise__mutmut_10": "as _9",
    "eval.tasks.mcq.x_summarise__mutmut_11": "as _9",
    "eval.tasks.mcq.x_summarise__mutmut_32": "category and subject names have the separator replaced (_clean), so "
                                             "partition and rpartition split category|subject alike",
    "eval.remote.x__client__mutmut_12": "admin_api_key only authenticates OpenAI's admin endpoints; medft calls "
                                        "/models and /chat/completions, which send api_key (the test sets "
                                        "OPENAI_ADMIN_KEY and finds it in no header)",
    "eval.remote.x__client__mutmut_20": "as _12",
    "eval.remote.x__client__mutmut_32": "as _12",
    "eval.remote.x_request_key__mutmut_3": "json.dumps(ensure_ascii=None) is falsy like False: the same text",
    "bridge.splits.x__text__mutmut_3": "str(s) is s for a str",
    "bridge.splits.x__text__mutmut_4": "str(s) is s for a str (None is handled before)",
    "bridge.splits.x_apply_rules__mutmut_154": "int(0.2 * 101) == int(0.2 * 100) == 20",
    "bridge.splits.x_apply_rules__mutmut_194": "int(0.2 * 101) == int(0.2 * 100) == 20",
    "bridge.splits.x_apply_rules__mutmut_210": "the warning fires only when the split is short, and then a reason "
                                               "always exists (asked for fewer, or leaks removed): the fallback "
                                               "text is never shown",
    "bridge.splits.x_apply_rules__mutmut_211": "as _210",
    "bridge.splits.x_leak_free__mutmut_35": "with len(kept) == target the borrowing loop breaks before moving anything",
    "bridge.splits.x_leak_free__mutmut_52": "a borrowed prompt occurs once in training (train_count == 1), so it "
                                            "cannot come up twice whatever `seen` holds",
    "eval.bootstrap.x_column_matrix__mutmut_14": "np.zeros is float64 by default",
    "eval.bootstrap.x_column_matrix__mutmut_16": "np.zeros is float64 by default",
    "eval.bootstrap.x_column_matrix__mutmut_20": "the values are cast to the float64 matrix on assignment anyway",
    "eval.bootstrap.x_column_matrix__mutmut_22": "as _20",
    "eval.bootstrap.x_resample_counts__mutmut_3": "n == 0 then draws a (resamples, 0) matrix: the same empty int64 "
                                                  "array the guard returns",
    "eval.bootstrap.x_resampled__mutmut_4": "astype(None) is astype(float64)",
    "eval.bootstrap.x_resampled__mutmut_6": "astype(None) is astype(float64)",
    "eval.bootstrap.x_resampled__mutmut_14": "summaries return float64 arrays: asarray without dtype is the same",
    "eval.bootstrap.x_resampled__mutmut_16": "as _14",
    **{f"eval.bootstrap.x_safe_ratio__mutmut_{n}": "np.divide writes into the float64 `out` whatever the inputs' "
                                                   "dtype, and every caller's `empty` is a float"
       for n in (4, 6, 8, 10, 14, 17)},
    "eval.judge.parse.x_parse_winner__mutmut_18": "with IGNORECASE, WINNER and A-ZA-Z match what winner and A-Za-z do",
    **{f"eval.judge.parse.x__spans__mutmut_{n}": "None for False: the scanner's flags are only read as truth values"
       for n in (5, 8, 19)},
    "eval.text.x_lcs_length__mutmut_1": "with one side empty the bit-parallel loop returns 0 anyway",
    "eval.mcq_extract.x_extract_choice__mutmut_48": "set('XXABCDEFGHXX') adds only X, which no A-H pattern captures",
    **{f"eval.tasks.mrg.x_bertscore__mutmut_{n}": "zip(present, scores, strict=...) loosened: bertscore_f1 returns "
                                                  "one score per candidate, as many as `present` holds"
       for n in (33, 36, 43)},
    "eval.judge.parse.x_parse_winner__mutmut_17": "with IGNORECASE, a-za-z matches what A-Za-z does",
    "eval.remote.x__client__mutmut_2": "httpx reads trust_env as a truth value: None is False",
    "eval.remote.x__client__mutmut_3": "httpx reads follow_redirects as a truth value: None is False",
    "eval.remote.x__client__mutmut_4": "the timeout is given twice, to httpx and to the openai client, which passes "
                                       "its own with every request: dropping either one changes nothing",
    "eval.remote.x__client__mutmut_7": "as _4",
    "eval.remote.x__client__mutmut_23": "as _4 (without its own, the openai client takes the httpx client's timeout)",
    **{f"eval.remote.x__complete_all__mutmut_{n}": "cleanup after a failure: gather re-raises the failed request's "
                                                   "RemoteError either way, and asyncio.run awaits the cancelled "
                                                   "tasks on exit (test_a_failure_cancels_the_rest_... sees the same)"
       for n in (33, 34, 35, 36)},
    "eval.cblue.x__f__mutmut_5": "a side without n-grams has no overlap either, so recall is 0 and F is 0 whatever "
                                 "the precision",
    "eval.cblue.x__f__mutmut_10": "as _5, with the sides swapped",
    "eval.cblue.x_lcs_tokens__mutmut_2": "with one side empty the while loop never runs: [] either way",
    "eval.cblue.x_lcs_tokens__mutmut_20": "table() masks each column to its low i <= n bits, so bits above n in "
                                          "`full` are never read",
    "eval.cblue.x_lcs_tokens__mutmut_21": "as _20",
    "eval.cblue.x_lcs_tokens__mutmut_39": "table(0, j) and table(i, 0) are 0 by the formula too (column 0 is all "
                                          "ones, and a 0-bit mask counts nothing)",
    "eval.cblue.x_lcs_tokens__mutmut_46": "as _39",
    "eval.mcq_extract.x__by_option_text__mutmut_36": "a leftover NUL is removed by _FILLER's \\W anyway",
    "eval.mcq_extract.x__letters__mutmut_6": "runs hold only A-H and separators (regex RUN), so no letter lies "
                                             "between H and XXHXX",
    "eval.mcq_extract.x_extract_choice__mutmut_2": "for a str, a blank text reaches the same None through every rule",
    "eval.tasks.mrg.x__as_text__mutmut_4": "json.dumps(ensure_ascii=None) is falsy like False: the same text",
    "eval.tasks.mrg.x__balanced_spans__mutmut_3": "None is falsy like False (the initial flags)",
    "eval.tasks.mrg.x__balanced_spans__mutmut_6": "None is falsy like False (the escape flag's reset)",
    "eval.tasks.mrg.x__balanced_spans__mutmut_17": "None is falsy like False (leaving a string)",
    "bridge.splits.x_apply_rules__mutmut_8": "getattr default None is falsy like False",
    "bridge.splits.x_apply_rules__mutmut_49": "getattr default None is falsy like False",
    "bridge.splits.x_apply_rules__mutmut_66": "the published branch's LeakFree is read only for removed and refilled",
    "bridge.splits.x_apply_rules__mutmut_67": "as _66",
    **{f"bridge.splits.x_apply_rules__mutmut_{n}": _SPLIT_DEFAULT
       for n in (17, 18, 19, 20, 25, 26, 28, 29, 30, 31, 32, 34, 35, 36, 38)},
}


#: Mutants mutmut cannot select (pattern → why): code that runs once when the module is imported, before
#: mutmut's forked test process picks a mutant, always runs the original. Not equivalent, just out of the
#: tool's reach; each entry names the test that checks that code instead. Left out of the score too.
UNREACHABLE: dict[str, str] = {
    "eval.tasks.free_text.x__bertscore__mutmut_*": "_bertscore builds DIALOG's and O1's BERTScore functions at import "
                                                   "time; checked by test_free_text.py::"
                                                   "test_bertscore_columns_whole_and_final_answer",
}


def _unreachable(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in UNREACHABLE)


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
        counts = {"killed": 0, "survived": 0, "no tests": 0, "equivalent": 0, "unreachable": 0, "not checked": 0,
                  "other": 0}
        survivors = []
        for name, code in sorted(codes.items()):
            outcome = classify(code)
            if outcome in {"survived", "no tests"} and name in EQUIVALENT:
                outcome = "equivalent"
            elif outcome in {"survived", "no tests"} and _unreachable(name):
                outcome = "unreachable"
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
             "| module | score | killed | survived | no tests | equivalent | unreachable | not checked | total |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for module, data in results.items():
        score = "n/a" if data["score"] is None else f"{100 * data['score']:.1f} %"
        lines.append(f"| {module} | {score} | {data['killed']} | {data['survived']} | {data['no tests']} | "
                     f"{data['equivalent']} | {data['unreachable']} | {data['not checked']} | {data['total']} |")
    if stale:
        lines += ["", "## Stale equivalence notes (no such surviving mutant any more)", ""]
        lines += [f"- `{name}`" for name in stale]
    lines += ["", "## Equivalent mutants", ""]
    lines += [f"- `{name}`: {why}" for name, why in sorted(EQUIVALENT.items())] or ["(none)"]
    lines += ["", "## Out of mutmut's reach", ""]
    lines += [f"- `{pattern}`: {why}" for pattern, why in sorted(UNREACHABLE.items())] or ["(none)"]
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
