"""``tg run code --problem ID``: optimize one problem's code by text, then score it on hidden tests."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from tg_core import Run

from .isolation import LEVELS, SandboxError, resolve
from .problem_files import ProblemFileError
from .problems import Problem, UnknownProblemError, get_problem
from .refinement import CodeRefinement, Iteration, initial_solution
from .report import render_report, run_summary
from .sandbox import COMMON_MODULES, MIN_MEMORY_MB, Sandbox

INITIAL_CODE_FILE = "initial.py"
FINAL_CODE_FILE = "final.py"


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


def run_code(args: argparse.Namespace, run: Run) -> dict[str, Any]:
    """The run itself, on options ``validate`` has checked."""
    problem = get_problem(args.problem)
    with Sandbox(isolation=args.isolation, strict=args.strict, preload=COMMON_MODULES) as sandbox:
        sandbox.resolved()  # a sandbox that cannot run fails before any LLM call
        refinement = CodeRefinement(
            problem, run.engine, starting_code(args, run, problem), sandbox=sandbox,
            timeout_s=args.timeout, memory_mb=args.memory_mb, momentum=args.momentum,
        )
        history: list[dict[str, Any]] = []
        last = run.latest_checkpoint()
        if last:
            refinement.code.set_value(last["variables"]["code"])
            history = last["state"]["history"]
            refinement.optimizer.load_state(last["state"]["optimizer"])
        stopped = bool(history and history[-1]["stopped"])
        for step in run.steps(args.steps, description=f"code {problem.id}"):
            if stopped:
                break
            record: Iteration = refinement.iterate(step)
            history.append(record.as_dict())
            stopped = record.stopped
            run.log("iteration", step=step, visible=f"{record.visible_passed}/{record.visible_total}",
                    hidden=f"{record.hidden_passed}/{record.hidden_total}", stopped=record.stopped,
                    error=record.error)
            run.checkpoint(step, {"code": refinement.code.value},
                           {"history": history, "optimizer": refinement.optimizer.state()})
        visible, hidden = refinement.score()
    _write_atomic(run.path / FINAL_CODE_FILE, refinement.code.value)
    summary = run_summary(problem, history, stopped, refinement.code.value, visible, hidden)
    run.finish(summary, render_report(problem, history, refinement.code.value, visible, hidden))
    return summary
