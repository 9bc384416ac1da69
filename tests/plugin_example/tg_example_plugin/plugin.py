"""Hooks only: what the example plugin contributes to tg-core."""

from typing import Any

import tg_core
from tg_core import hookimpl


def _echo_engine(model: str, **options: Any) -> tg_core.Engine:
    return tg_core.FunctionEngine(lambda messages, **params: messages[-1]["content"].upper(), model=f"echo:{model}")


@hookimpl
def tg_plugin_info() -> dict[str, Any]:
    return {"name": "example", "description": "an example third-party plugin", "requires": []}


@hookimpl
def tg_engines() -> dict[str, Any]:
    return {"echo": _echo_engine}


@hookimpl
def tg_simulators() -> dict[str, Any]:
    from .functions import word_count_simulator

    return {"example.word_count": word_count_simulator}


@hookimpl
def tg_losses() -> dict[str, Any]:
    from .functions import length_loss

    return {"example.length": length_loss}


@hookimpl
def tg_tasks() -> list[tg_core.Task]:
    from .task import add_arguments, run, validate

    return [tg_core.Task("example-hello", "say hello", add_arguments, run, validate=validate, default_steps=1)]
