"""Combining variables without an LLM call: ``sum`` and ``aggregate``.

Backward passes the combined feedback to every input (TextGrad's ``sum`` also
added empty feedback and its ``aggregate`` fed only the last input). When the
combination itself is the objective, its inputs become objectives in turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import prompts
from .function import Function
from .variable import Feedback, Variable

if TYPE_CHECKING:
    from .engines.base import Engine


def _check_inputs(variables: Sequence[Variable], who: str) -> list[Variable]:
    variables = list(variables)
    if not variables:
        raise ValueError(f"{who}: needs at least one Variable")
    for i, v in enumerate(variables):
        if not isinstance(v, Variable):
            raise TypeError(f"{who}: item {i} is a {type(v).__name__}, not a Variable")
    return variables


class Sum(Function):
    def forward(self, variables: Sequence[Variable], role_description: str | None = None) -> Variable:
        variables = _check_inputs(variables, "tg_core.sum")
        role = role_description or "a combination of: " + ", ".join(
            dict.fromkeys(v.role_description for v in variables)
        )
        value = "\n".join(v.value for v in variables)
        return self._output(value, role, variables, {})

    async def abackward(self, output: Variable, engine: Engine) -> None:
        context = prompts.SUM_CONTEXT.format(count=len(output.predecessors), sum_role=output.role_description)
        _pass_down(output, lambda _i, _v: context)


class Aggregate(Function):
    def forward(self, variables: Sequence[Variable], role_description: str | None = None) -> Variable:
        variables = _check_inputs(variables, "tg_core.aggregate")
        role = role_description or "aggregate of " + ", ".join(
            dict.fromkeys(v.role_description for v in variables)
        )
        sections = [
            prompts.AGGREGATE_SECTION.format(tag="PART", index=i + 1, role=v.role_description, value=v.value)
            for i, v in enumerate(variables)
        ]
        return self._output("\n".join(sections), role, variables, {})

    async def abackward(self, output: Variable, engine: Engine) -> None:
        count = len(output.predecessors)

        def context(i: int, v: Variable) -> str:
            return prompts.AGGREGATE_CONTEXT.format(
                index=i + 1, count=count, role=v.role_description, aggregate_role=output.role_description
            )

        _pass_down(output, context)


def _pass_down(output: Variable, context_of) -> None:
    for i, variable in enumerate(output.predecessors):
        if not variable.requires_grad:
            continue
        if output._is_objective:
            variable._is_objective = True
        for feedback in output.gradients:
            variable.add_feedback(
                Feedback(feedback.text, context=context_of(i, variable), source=output.role_description,
                         images=feedback.images)
            )


def sum(variables: Sequence[Variable], role_description: str | None = None) -> Variable:  # noqa: A001
    """Concatenate variables (a batch of losses, say) into one; feedback goes to each."""
    return Sum().forward(variables, role_description)


def aggregate(variables: Sequence[Variable], role_description: str | None = None) -> Variable:
    """Join variables into labelled parts; each part gets the feedback with its place named."""
    return Aggregate().forward(variables, role_description)
