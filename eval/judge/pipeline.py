"""One judging run: read an eval report's predictions, plan the calls, ask the judge, aggregate, report.

Split in two so the command line can print the cost (and, with ``--limit`` / ``--dry-run``, the first
rendered prompt) between planning and judging: ``prepare`` contacts nothing, ``run`` does the work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from eval.bootstrap import DEFAULT_LEVEL, DEFAULT_RESAMPLES
from eval.judge import aggregate, report
from eval.judge.backend import make_judge
from eval.judge.rubric import Rubric, load
from eval.judge.run import Call, Costs, costs, judge_calls, load_answers, plan_calls
from eval.predict import GenerationSettings

#: Room for a one-sentence reason and the JSON; a judge that needs more is rambling.
DEFAULT_JUDGE_TOKENS = 512


@dataclass
class JudgeRequest:
    """Everything ``python -m eval judge`` takes (Make variables map onto these)."""

    out_dir: Path
    judge: str
    mode: str = "pointwise"
    rubric: str = "medical_zh"
    models: list[str] | None = None
    datasets: list[str] | None = None
    dataset_dir: Path | None = None
    limit: int | None = None
    template: str | None = None
    max_new_tokens: int = DEFAULT_JUDGE_TOKENS
    concurrency: int = 8
    batch_size: int = 8
    resamples: int = DEFAULT_RESAMPLES
    level: float = DEFAULT_LEVEL
    seed: int = 0
    #: Seconds per request to a judge server (None: eval.remote.DEFAULT_TIMEOUT).
    request_timeout: float | None = None
    #: Judge only the records every model answered when some models have fewer predictions (else an error).
    allow_partial: bool = False


@dataclass
class Prepared:
    """A planned judging run: what will be asked of whom, and where it goes."""

    request: JudgeRequest
    rubric: Rubric
    models: list[str]
    calls: list[Call]
    judge: object
    cache_path: Path
    report_dir: Path

    def costs(self) -> Costs:
        """Calls in all and how many the cache already answers (first attempts)."""
        return costs(self.calls, self.judge, self.cache_path)


def prepare(request: JudgeRequest, warn: Callable[[str], None] | None = None) -> Prepared:
    """Load the rubric and the predictions, plan every call; contacts no judge and loads no model."""
    rubric = load(request.rubric)
    models, answers = load_answers(request.out_dir, request.models, request.datasets, request.dataset_dir,
                                   request.limit, request.allow_partial, warn)
    calls = plan_calls(rubric, request.mode, models, answers)
    settings = GenerationSettings(max_new_tokens=request.max_new_tokens, seed=request.seed)
    judge = make_judge(request.judge, settings, request.template, request.concurrency, request.batch_size,
                       request.request_timeout)
    judge_dir = request.out_dir / "judge"
    return Prepared(request, rubric, models, calls, judge, judge_dir / "cache.jsonl",
                    judge_dir / rubric.name / request.mode)


def run(prepared: Prepared, on_reply: Callable[[int], None] | None = None) -> dict:
    """Judge every planned call (cached ones are free), aggregate, write the reports; return the report."""
    request, rubric = prepared.request, prepared.rubric
    outcomes = judge_calls(prepared.calls, prepared.judge, rubric, request.mode, prepared.cache_path, on_reply)
    stats = {"resamples": request.resamples, "level": request.level, "seed": request.seed}
    if request.mode == "pointwise":
        results = aggregate.pointwise(outcomes, prepared.models, [d.key for d in rubric.dimensions],
                                      request.resamples, request.seed, request.level)
    else:
        results = aggregate.pairwise(outcomes, prepared.models, request.resamples, request.seed, request.level)
    data = {
        "mode": request.mode, "rubric": {"name": rubric.name, "title": rubric.title, "source": request.rubric},
        "judge": prepared.judge.describe(), "judge_id": prepared.judge.identity, "models": prepared.models,
        "dimensions": [{"key": d.key, "name": d.name} for d in rubric.dimensions],
        "calls": {"judged": len(outcomes), "retried": sum(o.attempts > 1 for o in outcomes),
                  "unparsed": sum(o.parsed is None for o in outcomes)},
        "limit": request.limit, "bootstrap": stats, "results": results,
    }
    judgements = [report.judgement_line(o) for o in outcomes]
    report.write(data, prepared.report_dir, judgements)
    if (request.out_dir / "report.json").exists():
        from eval import report_html  # the evaluation's page gains this judge's section and verdicts

        report_html.write(request.out_dir)
    return data
