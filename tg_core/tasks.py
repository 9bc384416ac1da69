"""A runnable task, as plugins contribute them to ``tg run``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .compat import DataLoader, load_task

if TYPE_CHECKING:
    from .runs import Run


__all__ = ["DataLoader", "Task", "load_task"]  # TextGrad's tg.tasks names come from compat


def _no_validation(args: argparse.Namespace) -> None:
    """Tasks without options to check up front."""


@dataclass(frozen=True)
class Task:
    """``tg run NAME``: options declared on an argparse parser, work done in ``run``.

    The CLI adds ``--steps`` (default ``default_steps``; ``None`` lets the task
    decide, at least ``min_steps``) to every task, so the option has one name
    everywhere, and calls ``validate(args)`` before it
    creates a run folder: ``validate`` raises ``ValueError`` naming the option
    for every input that can be checked up front (an unknown target, a file
    that does not parse), so a bad command line leaves nothing on disk.

    ``run(args, run)`` does the work inside an open run folder: it resumes from
    ``run.latest_checkpoint()`` when there is one, calls ``run.checkpoint`` after
    each step, writes its artifacts under ``run.path`` and returns the summary
    (a JSON-able dict; a text under ``"table"`` is printed by the CLI).
    ``run.engine`` is the engine the user chose. ``overrides=True`` lets a
    plugin replace a task of the same name from the core, explicitly.
    """

    name: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Run], dict[str, Any]]
    validate: Callable[[argparse.Namespace], None] = _no_validation
    default_steps: int | None = 3
    min_steps: int = 1
    overrides: bool = False
