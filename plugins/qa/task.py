"""The tasks ``tg run qa`` (prompt optimization) and ``tg run qa-solution`` (test-time answers).

Each has ``add_*_arguments``, ``validate_*`` (every option and the data file, checked
before the CLI creates a run folder) and ``run_*``; ``plugin.py`` makes them Tasks.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any

from tg_core import Run, run_sync

from . import prompts
from .datasets import GENERATED, load_examples, load_splits, multiple_choice_demo
from .examples import Example, Splits, check_sizes
from .functions import LOSSES
from .report import (
    plot_accuracy,
    results_table,
    solution_report,
    solution_summary,
    solution_table,
    training_report,
    training_summary,
)
from .solution import SolutionResult, asolve
from .trainer import PromptTrainer

PLOT_FILE = "accuracy.png"
STARTING_PROMPTS = {"object_counting": prompts.OBJECT_COUNTING_SYSTEM, "word_sorting": prompts.WORD_SORTING_SYSTEM}
TRAINING_EVALUATORS = ("exact_match", "multiple_choice", "llm_judge")


def _at_least(value: int, minimum: int, option: str) -> int:
    if value < minimum:
        raise ValueError(f"{option} must be at least {minimum}, got {value}")
    return value


def _sizes(text: str) -> tuple[int, int, int]:
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"--sizes must be three integers such as 50,100,100, got {text!r}") from None
    return check_sizes(sizes, "--sizes")


# ---------------------------------------------------------------- tg run qa


def add_qa_arguments(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data")
    data.add_argument("--task", dest="dataset", choices=sorted(GENERATED), default="object_counting",
                      help="generated BBH-style task (default object_counting)")
    data.add_argument("--data", help="your own JSONL or CSV file instead (fields: question, answer, "
                      "optional choices and split; see tg_qa.files)")
    data.add_argument("--sizes", default="50,100,100",
                      help="train,validation,test sizes (default 50,100,100; a file's split field wins)")
    data.add_argument("--seed", type=int, default=0, help="seed of the data and the batch order (default 0)")
    training = parser.add_argument_group("training")
    training.add_argument("--epochs", type=int, default=1, help="passes over the training split (default 1)")
    training.add_argument("--batch-size", type=int, default=3, help="training examples per step, and validation questions its candidates are ranked on (default 3)")
    training.add_argument("--evaluator", choices=TRAINING_EVALUATORS,
                          help="how answers are scored (default: multiple_choice for data with choices, else exact_match)")
    training.add_argument("--system-prompt", help="starting system prompt (default: the task's instruction)")
    training.add_argument("--momentum", type=int, default=0, help="past prompts shown to the optimizer (default 0)")
    training.add_argument("--demonstrations", type=int, default=3,
                          help="training examples with their answers that make each step's second candidate, "
                          "worked out in the model's words once it answered them right "
                          "(default 3; 0: only the optimizer's proposal)")
    training.add_argument("--concurrency", type=int, default=32, help="LLM calls in flight per batch operation (default 32)")


def _loaded(option: str, path: str, load: Callable[[str], Any]) -> Any:
    """``load(path)``, with a loader's error (which names the file and line) prefixed by the option."""
    try:
        return load(path)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{option}: {exc}") from None


def _qa_data(args: argparse.Namespace) -> tuple[str, Splits]:
    sizes = _sizes(args.sizes)
    if args.data:
        return args.data, _loaded("--data", args.data, lambda path: load_splits(path, sizes, args.seed))
    return args.dataset, GENERATED[args.dataset](seed=args.seed, sizes=sizes)


def _evaluator_name(args: argparse.Namespace, splits: Splits) -> str:
    name = args.evaluator or ("multiple_choice" if any(e.choices for e in splits.train) else "exact_match")
    if name == "multiple_choice" and not all(e.choices for e in (*splits.train, *splits.validation, *splits.test)):
        raise ValueError("--evaluator multiple_choice needs choices on every example of the data")
    return name


def _starting_prompt(args: argparse.Namespace, splits: Splits) -> str:
    if args.system_prompt is not None:
        return args.system_prompt
    if not args.data:
        return STARTING_PROMPTS[args.dataset]
    return prompts.MULTIPLE_CHOICE_SYSTEM if any(e.choices for e in splits.train) else prompts.FREE_ANSWER_SYSTEM


def validate_qa(args: argparse.Namespace) -> None:
    """Every option of ``tg run qa`` checked, and the data loaded, before any run folder exists.

    ``run_qa`` loads the data again rather than receiving it: the CLI calls
    ``validate`` on a resume too, and loading a QA file takes milliseconds.
    """
    for option, value, minimum in (("--epochs", args.epochs, 1), ("--batch-size", args.batch_size, 1),
                                   ("--concurrency", args.concurrency, 1), ("--momentum", args.momentum, 0),
                                   ("--demonstrations", args.demonstrations, 0)):
        _at_least(value, minimum, option)
    if args.system_prompt is not None and not args.system_prompt.strip():
        raise ValueError("--system-prompt must not be empty")
    _evaluator_name(args, _qa_data(args)[1])


def run_qa(args: argparse.Namespace, run: Run) -> dict[str, Any]:
    source, splits = _qa_data(args)
    name = _evaluator_name(args, splits)
    evaluator = LOSSES[name](engine=run.engine)
    trainer = PromptTrainer(
        splits, evaluator, run.engine, _starting_prompt(args, splits),
        batch_size=args.batch_size, seed=args.seed, max_concurrency=args.concurrency, momentum=args.momentum,
        demonstrations=args.demonstrations,
    )
    total = args.steps or args.epochs * trainer.batches_per_epoch
    run_sync(_train(trainer, run, total))
    history, versions = trainer.history, trainer.versions
    plot_accuracy(history, versions, run.path / PLOT_FILE)
    summary = training_summary(source, trainer, PLOT_FILE)
    run.finish(summary, training_report(f"tg run qa: {source}", history, versions, PLOT_FILE, trainer.stopped))
    return {**summary, "table": results_table(history, versions)}


async def _train(trainer: PromptTrainer, run: Run, total: int) -> None:
    saved: dict[str, Any] = {}

    def checkpoint(step: int) -> None:
        saved.update(step=step, state=trainer.state())
        run.checkpoint(step, {"system_prompt": trainer.prompt.value}, saved["state"])

    last = run.latest_checkpoint()
    if last is not None:
        trainer.load_state(last["state"])
        saved.update(step=last["step"], state=last["state"])
    else:
        await trainer.ainitialize()
        checkpoint(0)
    await trainer.atrain(run.steps(total), lambda record: checkpoint(record.step))
    if trainer.state() != saved["state"]:  # test accuracies measured after the last checkpoint
        checkpoint(saved["step"])


# ---------------------------------------------------------------- tg run qa-solution


def add_solution_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", help="JSONL or CSV file of multiple-choice questions (default: the built-in demo set)")
    parser.add_argument("--limit", type=int, help="only the first N questions")
    parser.add_argument("--batch-size", type=int, default=4, help="questions solved together per checkpointed step (default 4)")


def _solution_examples(args: argparse.Namespace) -> list[Example]:
    examples = list(_loaded("--data", args.data, load_examples) if args.data else multiple_choice_demo())
    without = [e.id for e in examples if not e.choices]
    if without:
        raise ValueError(f"--data {args.data}: every question needs choices; these have none: {', '.join(without[:5])}")
    if args.limit is not None:
        examples = examples[: args.limit]
    ids = [e.id for e in examples]
    if len(set(ids)) != len(ids):
        raise ValueError(f"--data {args.data}: question ids must be unique (they key the checkpoints)")
    return examples


def validate_solution(args: argparse.Namespace) -> None:
    """Every option of ``tg run qa-solution`` checked, and the questions loaded, before any run folder exists."""
    _at_least(args.batch_size, 1, "--batch-size")
    if args.limit is not None:
        _at_least(args.limit, 1, "--limit")
    _solution_examples(args)


def run_solution(args: argparse.Namespace, run: Run) -> dict[str, Any]:
    examples = _solution_examples(args)
    results = run_sync(_solve(examples, run, args.steps, args.batch_size))
    summary = solution_summary(args.data or "built-in demo set", results, args.steps)
    run.finish(summary, solution_report(results))
    return {**summary, "table": solution_table(results)}


async def _solve(examples: list[Example], run: Run, iterations: int, batch_size: int) -> list[SolutionResult]:
    by_id = {e.id: e for e in examples}
    last = run.latest_checkpoint()
    done = [SolutionResult.from_dict(d, by_id[d["id"]]) for d in last["state"]["results"]] if last else []
    for step in run.steps(math.ceil(len(examples) / batch_size), description="question batches"):
        chunk = examples[(step - 1) * batch_size : step * batch_size]
        done += await asolve(chunk, run.engine, iterations, max_concurrency=batch_size)
        run.checkpoint(step, {}, {"results": [r.as_dict() for r in done]})
    return done
