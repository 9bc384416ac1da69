"""Registration of tg_radiotherapy with tg-core: hook implementations only (imports nothing heavy)."""

from __future__ import annotations

import argparse
from typing import Any

from tg_core import Task, hookimpl


@hookimpl
def tg_plugin_info() -> dict[str, Any]:
    return {
        "name": "radiotherapy",
        "description": "phantom, pencil-beam dose engine, DVH and clinical goals for prostate IMRT",
        "requires": ["numpy", "scipy", "matplotlib", "threadpoolctl"],
        "extra": "radiotherapy",
    }


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    from .task import add_arguments

    add_arguments(parser)


def _validate(args: argparse.Namespace) -> None:
    from .task import validate

    validate(args)


def _run(args: argparse.Namespace, run: Any) -> dict[str, Any]:
    from .task import run as run_task

    return run_task(args, run)


def _plan_simulator(**options: Any) -> Any:
    from .functions import plan_simulator

    return plan_simulator(**options)


def _protocol_loss(**options: Any) -> Any:
    from .functions import protocol_loss

    return protocol_loss(**options)


@hookimpl
def tg_tasks() -> list[Task]:
    return [
        Task(
            "radiotherapy",
            "tune the objective weights of a prostate IMRT plan against clinical goals (TextGrad paper)",
            _add_arguments,
            _run,
            validate=_validate,
            default_steps=10,
        )
    ]


@hookimpl
def tg_simulators() -> dict[str, Any]:
    return {"radiotherapy.prostate_plan": _plan_simulator}


@hookimpl
def tg_losses() -> dict[str, Any]:
    return {"radiotherapy.protocol_review": _protocol_loss}
