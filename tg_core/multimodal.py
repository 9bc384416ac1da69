"""LLM calls over text and images, and the image QA loss.

The request sends each input in order as OpenAI-style content parts: text as
text parts, an image variable as an image part (followed by its text, if it
has any). Backward shows the call with a placeholder where each image was and
attaches the images, so a backward engine that reads images sees them; the
feedback keeps them for TGD. An engine that reads only text is refused here,
naming it: without the image the call has no point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import prompts
from .calls import ask
from .config import resolve_engine
from .function import feedback_for_inputs
from .images import Image, image_part, require_images, text_part, unique
from .llm_functions import DEFAULT_RESPONSE_ROLE, LLMCall, _check_variable, answer_output
from .variable import Variable

if TYPE_CHECKING:
    from .engines.base import Engine


def _merge_text(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merged: list[dict[str, Any]] = []
    for part in parts:
        if part["type"] == "text" and merged and merged[-1]["type"] == "text":
            merged[-1] = text_part(merged[-1]["text"] + part["text"])
        else:
            merged.append(part)
    return merged


class MultimodalLLMCall(LLMCall):
    """One chat call whose user message is a list of variables, text and images, in order."""

    async def aforward(  # type: ignore[override]
        self, inputs: Sequence[Variable], response_role_description: str = DEFAULT_RESPONSE_ROLE
    ) -> Variable:
        if isinstance(inputs, Variable) or not isinstance(inputs, Sequence) or not inputs:
            raise TypeError(f"{self.label}: inputs must be a non-empty list of Variables (text and images)")
        for i, v in enumerate(inputs):
            _check_variable(v, f"{self.label} input {i}")
        return await self._call_fields([(None, v) for v in inputs], response_role_description)

    async def _call_fields(self, fields: list[tuple[str | None, Variable]], response_role: str) -> Variable:
        engine = resolve_engine(self.engine, self.label)
        for _, v in fields:
            if v.image is not None:
                require_images(engine, self.label, f"input '{v.role_description}'")
        parts: list[dict[str, Any]] = []
        shown: list[str] = []
        images: list[Image] = []
        for name, v in fields:
            if parts and parts[-1]["type"] == "text":  # an image part already stands apart
                parts.append(text_part("\n"))
                shown.append("\n")
            if name is not None:
                parts.append(text_part(prompts.MULTIMODAL_FIELD.format(name=name)))
                shown.append(prompts.MULTIMODAL_FIELD.format(name=name))
            if v.image is not None:
                parts.append(image_part(v.image))
                images.append(v.image)
                shown.append(prompts.IMAGE_PLACEHOLDER.format(index=len(images), role=v.role_description))
            if v.value or v.image is None:
                parts.append(text_part(v.value))
                shown.append(v.value)
        messages = []
        if self.system_prompt is not None:
            messages.append({"role": "system", "content": self.system_prompt.value})
        messages.append({"role": "user", "content": _merge_text(parts)})
        response = await ask(engine, messages, role=f"forward:{self.label}", **self.params)
        inputs = [v for _, v in fields]
        if self.system_prompt is not None:
            inputs.append(self.system_prompt)
        conversation = prompts.MULTIMODAL_CONVERSATION.format(
            system_prompt=self.system_prompt.value if self.system_prompt else "",
            prompt="".join(shown),
            response=response,
        )
        context = {"conversation": conversation, "images": images}
        return answer_output(self._output(response, response_role, inputs, context))

    async def abackward(self, output: Variable, engine: Engine) -> None:
        context = prompts.LLM_CALL_CONTEXT.format(
            conversation=output.grad_context["conversation"], response_role=output.role_description
        )
        downstream = [image for f in output.gradients for image in f.images]
        await feedback_for_inputs(output, engine, context, unique([*output.grad_context["images"], *downstream]))


class OrderedFieldsMultimodalLLMCall(MultimodalLLMCall):
    """A multimodal call whose inputs are named fields, sent in the order of ``fields``."""

    def __init__(
        self,
        engine: Engine | str | None = None,
        fields: Sequence[str] = (),
        system_prompt: str | Variable | None = None,
        **params: Any,
    ) -> None:
        super().__init__(engine=engine, system_prompt=system_prompt, **params)
        if isinstance(fields, str) or not fields or not all(isinstance(f, str) and f for f in fields):
            raise ValueError(f"{type(self).__name__}: fields must be a non-empty list of field names")
        self.fields = list(fields)

    async def aforward(  # type: ignore[override]
        self, inputs: Mapping[str, Variable], response_role_description: str = DEFAULT_RESPONSE_ROLE
    ) -> Variable:
        if not isinstance(inputs, Mapping):
            raise TypeError(f"{self.label}: inputs must be a mapping of field name to Variable")
        missing = [f for f in self.fields if f not in inputs]
        extra = sorted(set(inputs) - set(self.fields))
        if missing or extra:
            raise KeyError(f"{self.label}: fields are {self.fields}; missing {missing}, unexpected {extra}")
        for name in self.fields:
            _check_variable(inputs[name], f"{self.label} field {name!r}")
        return await self._call_fields([(name, inputs[name]) for name in self.fields], response_role_description)


class ImageQALoss(OrderedFieldsMultimodalLLMCall):
    """Judge an answer to a question about an image, with the image in the request."""

    FIELDS = ("Evaluation Instruction", "Question", "Image", "Answer")

    def __init__(
        self,
        evaluation_instruction: str | Variable,
        engine: Engine | str | None = None,
        system_prompt: str | Variable | None = None,
        **params: Any,
    ) -> None:
        from .losses import _instruction

        if system_prompt is None:
            system_prompt = Variable(prompts.IMAGE_QA_SYSTEM, role_description="system prompt for the evaluation",
                                     requires_grad=False)
        super().__init__(engine=engine, fields=self.FIELDS, system_prompt=system_prompt, **params)
        self.evaluation_instruction = _instruction(evaluation_instruction, "ImageQALoss")

    async def aforward(  # type: ignore[override]
        self, image: Variable, question: Variable, response: Variable
    ) -> Variable:
        _check_variable(image, "ImageQALoss image")
        if image.image is None:
            raise ValueError(f"ImageQALoss: image '{image.role_description}' holds no image")
        inputs = dict(zip(self.FIELDS, (self.evaluation_instruction, question, image, response), strict=True))
        return await super().aforward(inputs, f"evaluation of the {response.role_description}")
