"""``tg run code --problem ID``: optimize one problem's code against its visible tests with the shared loop,
then score the start and the best code on the hidden tests."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tg_core import Run, progress
from tg_core.loop import add_loop_arguments, check_loop_arguments

from .isolation import LEVELS, SandboxError, resolve
from .limits import LIMIT_WHEN, DeferredLimitTest, LimitTest, alimit_test, limit_test
from .problem_files import ProblemFileError
from .problems import Problem, UnknownProblemError, get_problem
from .refinement import CodeRefinement, initial_solution
from .report import render_report, run_summary
from .sandbox import COMMON_MODULES, MIN_MEMORY_MB, Sandbox

INITIAL_CODE_FILE = "initial.py"
LIMIT_TEST_FILE = "limit_test.json"
FINAL_CODE_FILE = "final.py"
SCORE_PLOT_FILE = "score.svg"
# Each candidate costs one optimizer call and one sandbox run (milliseconds); a step's fixed cost is
# the judge and three backward calls. Three candidates add two calls (about 40% more per step) for
# three test-ranked samples instead of one, which a small deterministic model needs to move at all.
DEFAULT_CANDIDATES = 3
DEFAULT_RESAMPLES = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--problem", required=True,
                        help="HumanEval/N, a hard/... id (see plugins/code/problems) or a problem file (.json)")
    parser.add_argument("--code", type=Path, help="file with the initial code (default: the engine writes it)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per test (default 5)")
    parser.add_argument("--memory-mb", type=int, default=512, help="memory limit of the code in MB (default 512)")
    parser.add_argument("--isolation", choices=("auto", *LEVELS), default="auto",
                        help="sandbox isolation (default: the strongest available)")
    parser.add_argument("--strict", action="store_true", help="refuse to run without namespace isolation")
    parser.add_argument("--momentum", type=int, default=0, help="past versions shown to the optimizer (default 0)")
    parser.add_argument("--resamples", type=int, default=DEFAULT_RESAMPLES,
                        help="fresh solutions drawn from the problem statement per step, evaluated beside the "
                             "proposals, plus one for each proposal repeating code already tried "
                             f"(default {DEFAULT_RESAMPLES}; 0: only the optimizer's proposals)")
    parser.add_argument("--limit-test", choices=LIMIT_WHEN, default="passing",
                        help="when the model writes one call at the largest inputs the problem allows, which "
                             "joins the visible tests and passes when the code returns in time and memory (one "
                             "LLM call): passing (default: once code first passes every visible test, so code too "
                             "slow for those inputs is not called done), start (before the loop) or off")
    add_loop_arguments(parser, candidates=DEFAULT_CANDIDATES)


def validate(args: argparse.Namespace) -> None:
    """Every option that can be checked before a run folder exists; ValueError naming the option."""
    try:
        get_problem(args.problem)
    except (UnknownProblemError, ProblemFileError) as exc:
        raise ValueError(f"--problem {args.problem!r}: {exc}") from None
    if not 0 < args.timeout <= 3600:
        raise ValueError(f"--timeout must be in (0, 3600] seconds, got {args.timeout:g}")
    if args.memory_mb < MIN_MEMORY_MB:
        raise ValueError(f"--memory-mb must be at least {MIN_MEMORY_MB}, got {args.memory_mb}")
    if args.momentum < 0:
        raise ValueError(f"--momentum must be >= 0, got {args.momentum}")
    if args.resamples < 0:
        raise ValueError(f"--resamples must be >= 0, got {args.resamples}")
    check_loop_arguments(args)
    if args.code is not None and not args.code.is_file():
        raise ValueError(f"--code {args.code}: no such file")
    try:
        resolve(args.isolation, args.strict, None)
    except SandboxError as exc:
        option = "--strict" if args.strict and args.isolation in ("auto", "rlimits") else "--isolation"
        raise ValueError(f"{option}: {exc}") from None


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def starting_code(args: argparse.Namespace, run: Run, problem: Problem) -> str:
    """The code to start from: saved in the run folder once, so a resumed run starts from the same."""
    saved = run.path / INITIAL_CODE_FILE
    if saved.is_file():
        return saved.read_text(encoding="utf-8")
    if args.code is not None:
        code = args.code.read_text(encoding="utf-8")
    else:
        code = initial_solution(problem, run.engine)
    _write_atomic(saved, code)
    run.log("initial_code", code=code, source=str(args.code) if args.code else "engine")
    return code


def _saved_limit(run: Run) -> LimitTest | None:
    saved = run.path / LIMIT_TEST_FILE
    if not saved.is_file():
        return None
    try:
        found = LimitTest(**json.loads(saved.read_text(encoding="utf-8")))
        if not isinstance(found.call, str | None) or not isinstance(found.why, str):
            raise TypeError("call must be text or null, why text")
    except (ValueError, TypeError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ValueError(f"{saved} is not a limit test ({exc}); delete it to have the model write one "
                         "again") from None
    return found


def _keep_limit(run: Run, limit: LimitTest) -> LimitTest:
    _write_atomic(run.path / LIMIT_TEST_FILE, json.dumps(asdict(limit)))
    run.log("limit_test", call=limit.call, why=limit.why)
    return limit


def limits_of(args: argparse.Namespace, run: Run, problem: Problem, sandbox: Sandbox) -> DeferredLimitTest | None:
    """The run's limit test (``None``: off): asked for once, when ``--limit-test`` says, and saved in the run
    folder, so a resumed run tests the same."""
    found = _saved_limit(run)
    if found is None and args.limit_test == "off":
        return None
    if found is None and args.limit_test == "start":
        found = _keep_limit(run, limit_test(problem, run.engine, sandbox, args.timeout, args.memory_mb))

    async def write() -> LimitTest:
        return _keep_limit(run, await alimit_test(problem, run.engine, sandbox, args.timeout, args.memory_mb))

    return DeferredLimitTest(write, found)


def limit_of(deferred: DeferredLimitTest | None) -> LimitTest:
    """The limit test for the report, or why there is none."""
    if deferred is None:
        return LimitTest(None, "off (--limit-test passing or start turns it on)")
    if deferred.found is None:
        return LimitTest(None, "none was written before the run ended (it is asked for once code passes every "
                               "visible test)")
    return deferred.found


def run_code(args: argparse.Namespace, run: Run) -> dict[str, Any]:
    """The run itself, on options ``validate`` has checked."""
    problem = get_problem(args.problem)
    with Sandbox(isolation=args.isolation, strict=args.strict, preload=COMMON_MODULES) as sandbox:
        sandbox.resolved()  # a sandbox that cannot run fails before any LLM call
        start = starting_code(args, run, problem)
        deferred = limits_of(args, run, problem, sandbox)
        refinement = CodeRefinement(
            problem, run.engine, start, sandbox, steps=args.steps, candidates=args.candidates,
            resamples=args.resamples, patience=args.patience, timeout_s=args.timeout, memory_mb=args.memory_mb,
            momentum=args.momentum, limit_later=deferred, run=run,
        )
        loop = refinement.run()
        limit = limit_of(deferred)
        best = refinement.track.best_value
        results = {name: {which: refinement.test(code, which) for which in ("visible", "hidden")}
                   for name, code in (("start", start), ("best", best))}
        limit_statuses = {name: refinement.limit_statuses(code) for name, code in (("start", start), ("best", best))}
    run.log("hidden_tests", **{name: f"{sum(t.passed for t in found['hidden'].tests)}/{len(found['hidden'].tests)}"
                               for name, found in results.items()})
    _write_atomic(run.path / FINAL_CODE_FILE, best)
    plot = progress.score_plot_svg(loop, run.path / SCORE_PLOT_FILE)
    summary = run_summary(problem, loop, start, results, limit, limit_statuses)
    run.finish(summary, render_report(problem, loop, start, results, plot.name, limit, limit_statuses))
    return summary
