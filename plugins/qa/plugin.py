"""Hooks only: what tg_qa contributes to tg-core (imports nothing heavy)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tg_core import Task, hookimpl

if TYPE_CHECKING:
    from collections.abc import Callable


@hookimpl
def tg_plugin_info() -> dict[str, Any]:
    return {
        "name": "qa",
        "description": "seeded BBH-style datasets, evaluators, prompt optimization, test-time answer optimization",
        "requires": ["matplotlib"],
        "extra": "qa",
    }


@hookimpl
def tg_task_loader() -> Callable[..., Any]:
    from .textgrad_tasks import load_task

    return load_task


@hookimpl
def tg_tasks() -> list[Task]:
    from .task import (
        add_qa_arguments,
        add_solution_arguments,
        run_qa,
        run_solution,
        validate_qa,
        validate_solution,
    )

    return [
        # --steps: TGD steps on the prompt (default: every minibatch of every epoch)
        Task("qa", "prompt optimization on a QA dataset (validation-gated TGD steps, test accuracy, plot)",
             add_qa_arguments, run_qa, validate=validate_qa, default_steps=None),
        # --steps: test-time updates of each answer (0: the zero-shot answers only)
        Task("qa-solution", "test-time optimization of multiple-choice answers with majority vote",
             add_solution_arguments, run_solution, validate=validate_solution, default_steps=3, min_steps=0),
    ]


@hookimpl
def tg_losses() -> dict[str, Callable[..., Any]]:
    from .functions import LOSSES

    return {f"qa.{name}": factory for name, factory in LOSSES.items()}
