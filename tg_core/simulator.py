"""Any Python callable made differentiable by text.

Forward runs the callable (a docking engine, a dose simulator, a test runner)
on the input values and renders its structured result as text; backward asks
the backward engine how each input should change given the function's
purpose, its inputs, its output and the downstream feedback.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

from . import prompts
from .events import emit
from .function import Function, feedback_for_inputs
from .variable import Variable

if TYPE_CHECKING:
    from .engines.base import Engine

log = logging.getLogger(__name__)


def render(result: Any) -> str:
    """Text for a structured result: objects may say it themselves with ``to_text()``."""
    if hasattr(result, "to_text"):
        return result.to_text()
    if isinstance(result, str):
        return result
    if isinstance(result, Mapping):
        return "\n".join(f"{key}: {_render_value(value)}" for key, value in result.items())
    return repr(result)


def _render_value(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_render_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "as_dict"):
        return _jsonable(value.as_dict())
    return repr(value)


class SimulatorFunction(Function):
    """Wrap ``fn(*values) -> result`` as a graph node.

    ``purpose`` tells the backward engine what the function computes and which
    direction is better; it is what makes the feedback physical rather than
    generic. Exceptions raised by ``fn`` become the output text (an error report
    the loss can criticise), so one bad candidate never ends a run; pass
    ``catch=()`` to let them propagate instead. ``examples`` are input values
    known to be valid (one tuple of strings per call), for documentation and
    for the conformance checks of ``tg_core.testing``.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        purpose: str,
        name: str | None = None,
        output_role: str | None = None,
        renderer: Callable[[Any], str] = render,
        executor: Executor | None = None,
        catch: tuple[type[BaseException], ...] = (Exception,),
        examples: Sequence[Sequence[str]] = (),
    ) -> None:
        if not callable(fn):
            raise TypeError(f"SimulatorFunction: fn must be callable, got {type(fn).__name__}")
        if not isinstance(purpose, str) or not purpose.strip():
            raise ValueError("SimulatorFunction: purpose must describe what fn computes")
        self.fn = fn
        self.purpose = purpose
        self.name = name or getattr(fn, "__name__", type(fn).__name__)
        self.output_role = output_role or f"output of {self.name}"
        self.renderer = renderer
        self.executor = executor
        self.catch = catch
        self.examples = [tuple(example) for example in examples]

    @property
    def label(self) -> str:
        return f"SimulatorFunction[{self.name}]"

    def __getstate__(self) -> dict[str, Any]:
        """A copy sent to a worker process leaves the executor (not picklable) behind."""
        return {k: v for k, v in self.__dict__.items() if k != "executor"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, executor=None)

    def _run(self, values: list[str]) -> tuple[str, Any]:
        try:
            result = self.fn(*values)
        except self.catch as exc:
            log.warning("%s failed: %s: %s", self.name, type(exc).__name__, exc)
            return f"ERROR in {self.name}: {type(exc).__name__}: {exc}", {"error": f"{type(exc).__name__}: {exc}"}
        return self.renderer(result), result

    def _finish(self, inputs: list[Variable], text: str, result: Any) -> Variable:
        emit("simulator", name=self.name, inputs=[v.value for v in inputs], output=text, data=_jsonable(result))
        listing = "\n".join(
            prompts.SIMULATOR_INPUT.format(role=v.role_description, value=v.value) for v in inputs
        )
        return self._output(text, self.output_role, inputs, {"inputs": listing}, data=result)

    def forward(self, *inputs: Variable) -> Variable:
        inputs = self._check(inputs)
        return self._finish(inputs, *self._run([v.value for v in inputs]))

    async def aforward(self, *inputs: Variable) -> Variable:
        inputs = self._check(inputs)
        values = [v.value for v in inputs]
        loop = asyncio.get_running_loop()
        if self.executor is None:
            call = functools.partial(contextvars.copy_context().run, self._run, values)
            text, result = await loop.run_in_executor(None, call)
        else:  # another process cannot share our context; the call must pickle
            text, result = await asyncio.wrap_future(self.executor.submit(self._run, values))
        return self._finish(inputs, text, result)

    def _check(self, inputs: tuple[Variable, ...]) -> list[Variable]:
        if not inputs:
            raise ValueError(f"{self.label}: needs at least one input Variable")
        for i, v in enumerate(inputs):
            if not isinstance(v, Variable):
                raise TypeError(f"{self.label}: input {i} is a {type(v).__name__}, not a Variable")
        return list(inputs)

    async def abackward(self, output: Variable, engine: Engine) -> None:
        context = prompts.SIMULATOR_CONTEXT.format(
            name=self.name,
            purpose=self.purpose,
            inputs=output.grad_context["inputs"],
            output_role=output.role_description,
            output=output.value,
        )
        await feedback_for_inputs(output, engine, context)
