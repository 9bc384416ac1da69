"""Functions that call a language model in forward."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import prompts
from .calls import ask
from .config import as_engine, resolve_engine
from .function import Function, feedback_for_inputs
from .variable import Variable

if TYPE_CHECKING:
    from .engines.base import Engine

DEFAULT_RESPONSE_ROLE = "response from the language model"


def _as_system_prompt(system_prompt: str | Variable | None, who: str) -> Variable | None:
    if system_prompt is None or isinstance(system_prompt, Variable):
        return system_prompt
    if isinstance(system_prompt, str):
        return Variable(system_prompt, role_description="system prompt", requires_grad=False)
    raise TypeError(f"{who}: system_prompt must be a str or Variable, got {type(system_prompt).__name__}")


def _check_variable(value: Any, who: str) -> Variable:
    if not isinstance(value, Variable):
        raise TypeError(f"{who}: expected a tg_core.Variable, got {type(value).__name__}")
    return value


def answer_output(output: Variable) -> Variable:
    """A model's answer can itself be optimized (test-time optimization), as in TextGrad.

    So it requires grad even when no input does: ``TGD([answer])`` and
    ``loss(answer).backward()`` work on the answer of a fixed question. Backward
    stops there, as no input above it asks for feedback.
    """
    output.requires_grad = True
    return output


class LLMCall(Function):
    """One chat call: an optional system prompt plus the input as the user message."""

    def __init__(
        self,
        engine: Engine | str | None = None,
        system_prompt: str | Variable | None = None,
        **params: Any,
    ) -> None:
        self.engine = as_engine(engine, f"{type(self).__name__}(engine)")
        self.system_prompt = _as_system_prompt(system_prompt, "LLMCall")
        self.params = params

    def _messages(self, user_text: str) -> list[dict[str, str]]:
        messages = []
        if self.system_prompt is not None:
            messages.append({"role": "system", "content": self.system_prompt.value})
        messages.append({"role": "user", "content": user_text})
        return messages

    async def aforward(
        self, input_variable: Variable, response_role_description: str = DEFAULT_RESPONSE_ROLE
    ) -> Variable:
        _check_variable(input_variable, self.label)
        return await self._call(input_variable.value, [input_variable], response_role_description)

    async def _call(self, user_text: str, inputs: list[Variable], response_role: str) -> Variable:
        for v in inputs:
            if v.image is not None:
                raise TypeError(
                    f"{self.label} sends text only, and '{v.role_description}' holds an image: "
                    "use tg_core.MultimodalLLMCall (or ImageQALoss) for images"
                )
        engine = resolve_engine(self.engine, self.label)
        messages = self._messages(user_text)
        response = await ask(engine, messages, role=f"forward:{self.label}", **self.params)
        if self.system_prompt is not None:
            inputs = [*inputs, self.system_prompt]
        conversation = prompts.LLM_CALL_CONVERSATION.format(
            system_prompt=self.system_prompt.value if self.system_prompt else "",
            prompt=user_text,
            response=response,
        )
        return answer_output(self._output(response, response_role, inputs, {"conversation": conversation}))

    async def abackward(self, output: Variable, engine: Engine) -> None:
        context = prompts.LLM_CALL_CONTEXT.format(
            conversation=output.grad_context["conversation"], response_role=output.role_description
        )
        await feedback_for_inputs(output, engine, context)


class LLMCall_with_in_context_examples(LLMCall):  # noqa: N801  (TextGrad's name)
    """An LLM call whose backward judges the output against examples of good outputs.

    The examples are given per call and shown to the backward engine only (as
    in TextGrad); the forward call is an ordinary ``LLMCall``. TextGrad also
    cut the response at ``<FINAL>`` tags; here the response is kept whole.
    """

    async def aforward(  # type: ignore[override]
        self,
        input_variable: Variable,
        response_role_description: str = DEFAULT_RESPONSE_ROLE,
        in_context_examples: list[str] | None = None,
    ) -> Variable:
        examples = list(in_context_examples or [])
        if not all(isinstance(e, str) for e in examples):
            raise TypeError(f"{self.label}: in_context_examples must be a list of strings")
        output = await super().aforward(input_variable, response_role_description)
        output.grad_context["in_context_examples"] = examples
        return output

    async def abackward(self, output: Variable, engine: Engine) -> None:
        context = prompts.LLM_CALL_CONTEXT.format(
            conversation=output.grad_context["conversation"], response_role=output.role_description
        )
        examples = output.grad_context.get("in_context_examples")
        if examples:
            context = prompts.IN_CONTEXT_EXAMPLES_CONTEXT.format(
                context=context, examples="\n".join(prompts.EXAMPLE_ITEM.format(example=e) for e in examples)
            )
        await feedback_for_inputs(output, engine, context)


class FormattedLLMCall(LLMCall):
    """An LLM call whose user message is a template filled from several variables."""

    def __init__(
        self,
        format_string: str,
        fields: Mapping[str, str | None] | None = None,
        engine: Engine | str | None = None,
        system_prompt: str | Variable | None = None,
        **params: Any,
    ) -> None:
        super().__init__(engine=engine, system_prompt=system_prompt, **params)
        if not isinstance(format_string, str):
            raise TypeError("FormattedLLMCall: format_string must be a str")
        self.format_string = format_string
        self.fields = dict(fields or {})

    async def aforward(  # type: ignore[override]
        self, inputs: Mapping[str, Variable], response_role_description: str = DEFAULT_RESPONSE_ROLE
    ) -> Variable:
        if not isinstance(inputs, Mapping):
            raise TypeError("FormattedLLMCall: inputs must be a mapping of field name to Variable")
        expected = set(self.fields) if self.fields else set(inputs)
        missing = expected - set(inputs)
        if missing:
            raise KeyError(f"FormattedLLMCall: missing input fields {sorted(missing)}")
        for name, var in inputs.items():
            _check_variable(var, f"FormattedLLMCall field {name!r}")
        try:
            user_text = self.format_string.format(**{k: v.value for k, v in inputs.items()})
        except KeyError as exc:
            raise KeyError(f"FormattedLLMCall: format_string uses field {exc} not given in inputs") from None
        return await self._call(user_text, list(inputs.values()), response_role_description)


class BlackboxLLM(Function):
    """A model as a module: a (trainable) system prompt in front of an engine."""

    def __init__(
        self, engine: Engine | str | None = None, system_prompt: str | Variable | None = None, **params: Any
    ) -> None:
        self.system_prompt = _as_system_prompt(system_prompt, "BlackboxLLM")
        self.llm_call = LLMCall(engine, self.system_prompt, **params)

    @property
    def engine(self) -> Engine | None:
        return self.llm_call.engine

    def parameters(self) -> list[Variable]:
        return [self.system_prompt] if self.system_prompt and self.system_prompt.requires_grad else []

    async def aforward(
        self, x: Variable, response_role_description: str = DEFAULT_RESPONSE_ROLE
    ) -> Variable:
        return await self.llm_call.aforward(x, response_role_description)

