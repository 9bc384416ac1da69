"""The operation node: forward builds an output Variable, backward feeds its inputs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import prompts
from .aio import run_sync
from .calls import ask_completion
from .variable import Feedback, Variable

if TYPE_CHECKING:
    from .engines.base import Engine
    from .images import Image

log = logging.getLogger(__name__)


class Function:
    """Base of every differentiable operation.

    Subclasses implement ``aforward`` (or ``forward`` when they make no LLM call)
    and ``abackward``. Outputs remember the function that made them in
    ``grad_fn`` and what backward needs in ``grad_context``, so one Function
    instance can serve many calls (a model applied to a whole batch).
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Variable:
        return self.forward(*args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Variable:
        self._check_defined()
        return run_sync(self.aforward(*args, **kwargs))

    async def aforward(self, *args: Any, **kwargs: Any) -> Variable:
        self._check_defined()
        return self.forward(*args, **kwargs)

    def _check_defined(self) -> None:
        # Each default calls the other: a subclass that defines neither would
        # recurse through nested event loops until the process runs out of files.
        cls = type(self)
        if cls.forward is Function.forward and cls.aforward is Function.aforward:
            raise NotImplementedError(f"{cls.__name__} must define forward or aforward")

    async def abackward(self, output: Variable, engine: Engine) -> None:
        raise NotImplementedError

    @property
    def label(self) -> str:
        return type(self).__name__

    def _output(
        self,
        value: str,
        role_description: str,
        inputs: list[Variable],
        context: dict[str, Any],
        data: Any = None,
    ) -> Variable:
        output = Variable(
            value,
            role_description=role_description,
            requires_grad=any(v.requires_grad for v in inputs),
            predecessors=tuple(inputs),
            data=data,
        )
        output.grad_fn = self
        output.grad_context = context
        return output


def downstream_text(output: Variable) -> tuple[str, str]:
    """What the backward prompt says about the output: its feedback, or that it is the objective."""
    if output.gradients:
        return (
            prompts.FEEDBACK_ON_OUTPUT.format(
                response_role=output.role_description, feedback=output.get_gradient_text()
            ),
            f"{output.role_description} (using the feedback above)",
        )
    return prompts.OUTPUT_IS_OBJECTIVE, "objective (the evaluation above)"


FEEDBACK_MAX_TOKENS = 512  # feedback is criticism, not a rewrite: a cut answer keeps its whole paragraphs


def leading_paragraphs(text: str, cut: bool) -> str:
    """The paragraphs of ``text`` in order, each once, without the last when the answer was ``cut``
    (it stops mid-way); "" when nothing whole is left or what is left still loops.

    A small model's feedback that runs to its token limit has usually said
    its points before it starts repeating them (an aspirin run: five numbered
    points, then the same SMILES block four times); asking again costs a call
    as long as the first to get those points back.
    """
    from .optimizer import is_repeating

    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    if cut:
        paragraphs = paragraphs[:-1]
    kept = "\n\n".join(dict.fromkeys(paragraphs))
    return "" if is_repeating(kept) else kept


async def bounded_answer(engine: Engine, messages: list[dict[str, Any]], role: str, max_tokens: int) -> str:
    """An answer within ``max_tokens``: one cut at the limit (or looping) keeps its whole paragraphs,
    each once; asked again to be brief only when none is left."""
    from .optimizer import is_repeating

    completion = await ask_completion(engine, messages, role=role, max_tokens=max_tokens)
    cut = completion.finish_reason == "length"
    if not cut and not is_repeating(completion.text):
        return completion.text
    kept = leading_paragraphs(completion.text, cut)
    if kept:
        log.info("%s: the answer %s; kept its %d leading characters", role,
                 "was cut at its token limit" if cut else "repeated itself", len(kept))
        return kept
    retry = [*messages, {"role": "assistant", "content": completion.text},
             {"role": "user", "content": prompts.ANSWER_TOO_LONG.format(max_tokens=max_tokens)}]
    return (await ask_completion(engine, retry, role=role, max_tokens=max_tokens)).text


async def feedback_for_inputs(
    output: Variable, engine: Engine, context: str, images: Sequence[Image] = ()
) -> None:
    """Ask the backward engine, once per input that requires grad, how it should change.

    The calls for all inputs run concurrently; each input keeps the context in
    which its feedback was written, with the ``images`` that context refers to
    (sent to engines that read images, described to those that do not).
    """
    from .images import for_engine, labelled_images, text_part

    downstream, objective = downstream_text(output)

    async def one(variable: Variable) -> None:
        request = prompts.BACKWARD_REQUEST.format(
            context=context,
            downstream=downstream,
            variable_role=variable.role_description,
            variable_value=variable.value,
            objective=objective,
        )
        content = [text_part(request), *labelled_images(images)] if images else request
        messages = for_engine(engine, [
            {"role": "system", "content": prompts.BACKWARD_SYSTEM},
            {"role": "user", "content": content},
        ], "backward")
        role = f"backward:{output.grad_fn.label if output.grad_fn else '?'}->{variable.role_description}"
        text = await bounded_answer(engine, messages, role, FEEDBACK_MAX_TOKENS)
        variable.add_feedback(Feedback(text, context=context, source=output.role_description, images=tuple(images)))

    await asyncio.gather(*(one(v) for v in output.predecessors if v.requires_grad))
