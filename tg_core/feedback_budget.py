"""Bounded feedback: the feedback in an optimizer prompt stays under a token budget.

A batch of 30 examples gives a prompt variable 30 pieces of feedback, each
with the conversation it was written in; shown in full they overflow a small
context (TextGrad's users met this as context-length errors). Under the
budget the feedback is shown as it is. Above it, one LLM call condenses it:
the pieces are grouped by context (a context shared by many pieces is shown
once), and the model is asked to keep every distinct point and say how often
it came up. The full feedback is kept in the run's events
(``feedback_condensed``), so nothing is lost from the record.

The default budget is sized to the engine's context: half of it, less what
the variable and the answer need. The context is the engine's
``context_tokens`` if it says, the local model's ``n_ctx``, a known model
family's window, or a conservative 8,192 tokens.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from . import prompts
from .calls import ask_completion
from .echoes import feedback_without_echoes
from .engines.base import estimate_tokens, layers
from .events import emit

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .engines.base import Engine
    from .variable import Feedback, Variable

log = logging.getLogger(__name__)

DEFAULT_CONTEXT_TOKENS = 8192
MIN_BUDGET = 256
# Context windows of model families reached by name (tokens), longest prefix first.
CONTEXT_BY_PREFIX = (
    ("gpt-4.1", 1_047_576),
    ("gpt-4o", 128_000),
    ("gpt-4-turbo", 128_000),
    ("gpt-3.5-turbo", 16_385),
    ("o1", 200_000),
    ("o3", 200_000),
    ("o4", 200_000),
    ("claude", 200_000),
    ("gemini", 1_048_576),
)


def context_tokens(engine: Engine) -> int:
    """The engine's context window in tokens (through any layers around it)."""
    for layer in layers(engine):
        for name in ("context_tokens", "n_ctx"):
            value = getattr(layer, name, None)
            if isinstance(value, int) and value > 0:
                return value
    model = engine.model.rpartition(":")[2].rpartition("/")[2]
    for prefix, tokens in CONTEXT_BY_PREFIX:
        if model.startswith(prefix):
            return tokens
    return DEFAULT_CONTEXT_TOKENS


def default_budget(engine: Engine, value: str, answer_tokens: int) -> int:
    """Half the context, less the variable's value and room for the answer."""
    return max(MIN_BUDGET, context_tokens(engine) // 2 - estimate_tokens(value) - answer_tokens)


def check_budget(budget: int | None) -> int | None:
    if budget is not None and (not isinstance(budget, int) or isinstance(budget, bool) or budget < MIN_BUDGET):
        raise ValueError(f"TGD: feedback_budget must be None (sized to the engine) or an integer >= {MIN_BUDGET} "
                         f"tokens, got {budget!r}")
    return budget


def render(feedback: list[Feedback]) -> str:
    """Every piece of feedback with its context, as the optimizer prompt shows it."""
    return "\n\n".join(
        prompts.OPTIMIZER_FEEDBACK_ITEM.format(context=f.context, text=f.text)
        if f.context
        else prompts.OPTIMIZER_FEEDBACK_NO_CONTEXT.format(text=f.text)
        for f in feedback
    )


def grouped(feedback: list[Feedback]) -> list[tuple[str, list[str]]]:
    """Pieces grouped by the context they were written in, in first-seen order."""
    groups: dict[str, list[str]] = {}
    for f in feedback:
        groups.setdefault(f.context or "", []).append(f.text)
    return list(groups.items())


def _shorten(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    half = max(0, max_chars // 2 - 10)
    return text[:half] + " (...) " + text[-half:] if half else "(...)"


def condense_request(feedback: list[Feedback], max_chars: int) -> str:
    """The groups as one text; contexts (the long part) are cut in the middle to fit ``max_chars``."""
    groups = grouped(feedback)
    pieces_chars = sum(len(text) for _, texts in groups for text in texts)
    room = max(200, (max_chars - pieces_chars) // max(1, len(groups)))
    return "\n\n".join(
        prompts.CONDENSE_GROUP.format(
            index=i + 1,
            count=len(texts),
            context=_shorten(context, room) if context else "(none given)",
            items="\n".join(prompts.OPTIMIZER_FEEDBACK_NO_CONTEXT.format(text=t) for t in texts),
        )
        for i, (context, texts) in enumerate(groups)
    )


async def bounded_feedback(variable: Variable, engine: Engine, budget: int,
                           evaluated: Sequence[tuple[str, str]] = ()) -> str:
    """The feedback section of ``variable``'s optimizer prompt, condensed if over ``budget`` tokens.

    Copies of the value and of the ``evaluated`` (value, outcome) pairs' values are shown as markers
    (:mod:`tg_core.echoes`), in the section and in the condensing request alike."""
    pieces = feedback_without_echoes(variable.gradients, variable.value, evaluated)
    full = render(pieces)
    tokens = estimate_tokens(full)
    if tokens <= budget:
        return full
    room_chars = 4 * (context_tokens(engine) - budget) - 4 * estimate_tokens(variable.value) - 2000
    request = condense_request(pieces, max(room_chars, 4 * budget))
    messages = [
        {"role": "system", "content": prompts.CONDENSE_SYSTEM.format(max_words=budget * 3 // 4)},
        {"role": "user", "content": request + "\n\n" + prompts.CONDENSE_REQUEST.format(
            role=variable.role_description, value=variable.value)},
    ]
    completion = await ask_completion(
        engine, messages, role=f"optimizer:condense:{variable.role_description}", max_tokens=budget
    )
    condensed = completion.text.strip()
    emit(
        "feedback_condensed",
        variable=variable.role_description,
        pieces=len(variable.gradients),
        tokens_before=tokens,
        budget=budget,
        tokens_after=estimate_tokens(condensed),
        feedback=[{"text": f.text, "context": f.context, "source": f.source} for f in variable.gradients],
        condensed=condensed,
    )
    log.info("TGD: feedback for '%s' condensed from about %d to %d tokens (budget %d)",
             variable.role_description, tokens, estimate_tokens(condensed), budget)
    if not condensed:
        raise ValueError(f"condensing the feedback for '{variable.role_description}' gave an empty answer")
    return prompts.OPTIMIZER_FEEDBACK_CONDENSED.format(pieces=len(variable.gradients), tokens=tokens, text=condensed)
