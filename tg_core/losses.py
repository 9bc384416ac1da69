"""Losses: an LLM judges a variable, and its evaluation becomes the objective."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import prompts
from .llm_functions import FormattedLLMCall, LLMCall, _check_variable
from .variable import Variable

if TYPE_CHECKING:
    from .engines.base import Engine


def _instruction(value: str | Variable, who: str) -> Variable:
    if isinstance(value, Variable):
        return value
    if isinstance(value, str) and value.strip():
        return Variable(value, role_description="evaluation instruction", requires_grad=False)
    raise ValueError(f"{who}: the evaluation instruction must be non-empty text or a Variable")


class TextLoss(LLMCall):
    """Judge a variable with an evaluation instruction as the system prompt."""

    def __init__(self, eval_system_prompt: str | Variable, engine: Engine | str | None = None, **params: Any):
        super().__init__(engine=engine, system_prompt=_instruction(eval_system_prompt, "TextLoss"), **params)

    async def aforward(self, instance: Variable, response_role_description: str | None = None) -> Variable:
        _check_variable(instance, self.label)
        role = response_role_description or f"evaluation of the {instance.role_description}"
        return await self._call(instance.value, [instance], role)


class MultiFieldEvaluation(LLMCall):
    """Judge several variables together, each shown in its own tagged field.

    Used when the judgement needs context (a question and its answer, a problem
    and its code); every field that requires grad receives feedback.
    """

    def __init__(
        self,
        evaluation_instruction: str | Variable,
        role_descriptions: Sequence[str],
        engine: Engine | str | None = None,
        system_prompt: str | Variable | None = None,
        **params: Any,
    ) -> None:
        super().__init__(engine=engine, system_prompt=system_prompt, **params)
        self.instruction = _instruction(evaluation_instruction, "MultiFieldEvaluation")
        if not role_descriptions or not all(isinstance(r, str) and r for r in role_descriptions):
            raise ValueError("MultiFieldEvaluation: role_descriptions must be non-empty strings")
        self.role_descriptions = list(role_descriptions)

    async def aforward(  # type: ignore[override]
        self, inputs: Sequence[Variable], response_role_description: str = "evaluation"
    ) -> Variable:
        if len(inputs) != len(self.role_descriptions):
            raise ValueError(
                f"MultiFieldEvaluation: got {len(inputs)} inputs for "
                f"{len(self.role_descriptions)} role descriptions"
            )
        fields = []
        for role, var in zip(self.role_descriptions, inputs, strict=True):
            _check_variable(var, f"MultiFieldEvaluation field {role!r}")
            tag = role.upper().replace(" ", "_")
            fields.append(prompts.MULTI_FIELD_FIELD.format(tag=tag, value=var.value))
        user_text = prompts.MULTI_FIELD_INPUT.format(
            instruction=self.instruction.value, fields="\n\n".join(fields)
        )
        return await self._call(user_text, [*inputs, self.instruction], response_role_description)


class MultiFieldTokenParsedEvaluation(MultiFieldEvaluation):
    """A ``MultiFieldEvaluation`` whose verdict is read between two tags (``parse_output``)."""

    def __init__(
        self,
        evaluation_instruction: str | Variable,
        role_descriptions: Sequence[str],
        engine: Engine | str | None = None,
        system_prompt: str | Variable | None = None,
        parse_tags: Sequence[str] | None = None,
        **params: Any,
    ) -> None:
        super().__init__(evaluation_instruction, role_descriptions, engine, system_prompt, **params)
        if (
            isinstance(parse_tags, str) or parse_tags is None or len(parse_tags) != 2
            or not all(isinstance(t, str) and t for t in parse_tags)
        ):
            raise ValueError(
                "MultiFieldTokenParsedEvaluation: parse_tags must be two non-empty strings "
                f"(start and end tag, e.g. ['<ACCURACY>', '</ACCURACY>']), got {parse_tags!r}"
            )
        self.parse_tags = list(parse_tags)

    def parse_output(self, response: Variable) -> str:
        """The text between the tags; a ValueError naming the tags when they are missing."""
        start, end = self.parse_tags
        text = response.value
        if start not in text or end not in text.partition(start)[2]:
            raise ValueError(
                f"MultiFieldTokenParsedEvaluation: the evaluation has no {start} ... {end} span: {text[:200]!r}"
            )
        return text.partition(start)[2].partition(end)[0].strip()


class MultiChoiceTestTime(FormattedLLMCall):
    """The test-time loss of a multiple-choice answer: a critic reviews the reasoning and choice."""

    def __init__(
        self,
        evaluation_instruction: str,
        engine: Engine | str | None = None,
        system_prompt: str | Variable | None = None,
        **params: Any,
    ) -> None:
        if not isinstance(evaluation_instruction, str) or not evaluation_instruction.strip():
            raise ValueError("MultiChoiceTestTime: evaluation_instruction must be non-empty text")
        escaped = evaluation_instruction.replace("{", "{{").replace("}", "}}")
        if system_prompt is None:
            system_prompt = Variable(
                prompts.TEST_TIME_SYSTEM, role_description="system prompt for the test-time evaluation",
                requires_grad=False,
            )
        super().__init__(
            prompts.TEST_TIME_INPUT.format(instruction=escaped), {"question": None, "prediction": None},
            engine=engine, system_prompt=system_prompt, **params,
        )

    async def aforward(  # type: ignore[override]
        self, question: str | Variable, prediction: Variable
    ) -> Variable:
        if not isinstance(question, Variable):
            if not isinstance(question, str):
                raise TypeError(f"MultiChoiceTestTime: question must be text, got {type(question).__name__}")
            question = Variable(question, role_description="the multiple choice question", requires_grad=False)
        _check_variable(prediction, "MultiChoiceTestTime prediction")
        return await super().aforward(
            {"question": question, "prediction": prediction},
            response_role_description=f"evaluation of the {prediction.role_description}",
        )
