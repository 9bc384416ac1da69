"""TextGrad's ``StringBasedFunction``: a Python function over named Variables as a graph node.

It is a ``SimulatorFunction`` whose inputs are named: ``fn(**inputs)`` gets
the Variables themselves (TextGrad's evaluation functions read ``.value``),
and backward is the simulator's, which shows the function's purpose, its
named inputs and its output to the backward engine.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from . import prompts
from .events import emit
from .simulator import SimulatorFunction, _jsonable
from .variable import Variable

log = logging.getLogger(__name__)


class StringBasedFunction(SimulatorFunction):
    """``StringBasedFunction(fn, function_purpose)(inputs={...}, response_role_description=...)``."""

    def __init__(self, fn: Callable[..., Any], function_purpose: str, **options: Any) -> None:
        super().__init__(fn, function_purpose, **options)

    @property
    def function_purpose(self) -> str:
        return self.purpose

    def _check_named(self, inputs: Any) -> dict[str, Variable]:
        if not isinstance(inputs, Mapping) or not inputs:
            raise TypeError(f"{self.label}: inputs must be a non-empty mapping of argument name to Variable")
        for name, v in inputs.items():
            if not isinstance(v, Variable):
                raise TypeError(f"{self.label}: input {name!r} is a {type(v).__name__}, not a Variable")
        return dict(inputs)

    def _run_named(self, inputs: dict[str, Variable]) -> tuple[str, Any]:
        try:
            result = self.fn(**inputs)
        except self.catch as exc:
            log.warning("%s failed: %s: %s", self.name, type(exc).__name__, exc)
            return f"ERROR in {self.name}: {type(exc).__name__}: {exc}", {"error": f"{type(exc).__name__}: {exc}"}
        return self.renderer(result), result

    def _finish_named(
        self, inputs: dict[str, Variable], text: str, result: Any, response_role_description: str | None
    ) -> Variable:
        emit("simulator", name=self.name, inputs=[v.value for v in inputs.values()], output=text,
             data=_jsonable(result))
        listing = "\n".join(
            prompts.STRING_FUNCTION_INPUT.format(name=name, role=v.role_description, value=v.value)
            for name, v in inputs.items()
        )
        role = response_role_description or f"output of the function with purpose: {self.purpose}"
        return self._output(text, role, list(inputs.values()), {"inputs": listing}, data=result)

    def forward(  # type: ignore[override]
        self, inputs: Mapping[str, Variable], response_role_description: str | None = None
    ) -> Variable:
        named = self._check_named(inputs)
        return self._finish_named(named, *self._run_named(named), response_role_description)

    async def aforward(  # type: ignore[override]
        self, inputs: Mapping[str, Variable], response_role_description: str | None = None
    ) -> Variable:
        named = self._check_named(inputs)
        text, result = await asyncio.to_thread(self._run_named, named)
        return self._finish_named(named, text, result, response_role_description)
