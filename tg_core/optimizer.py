"""Textual Gradient Descent: an LLM rewrites each variable from its feedback."""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import prompts
from .aio import run_sync
from .calls import ask_completion, calls_limited_to
from .config import as_engine, resolve_engine
from .echoes import feedback_without_echoes
from .errors import BudgetExceededError, OptimizerError
from .feedback_budget import bounded_feedback, check_budget, default_budget, render
from .images import for_engine, labelled_images, text_part, unique
from .sentences import sentences
from .variable import Variable

if TYPE_CHECKING:
    from .engines.base import Engine

log = logging.getLogger(__name__)


class UnusableAnswerError(ValueError):
    """Every answer for one variable was malformed."""


@dataclass
class PastIteration:
    value: str
    feedback: str


@dataclass(frozen=True)
class Constraint:
    """A rule every new value must follow: shown to the model, and checked by the program.

    ``check(value)`` returns why the value breaks the rule, or ``None``. A text
    constraint (no check) is only shown; a checked one is enforced: a value that
    fails is asked again with the reason and never accepted. ``repair(value)``,
    where given, is a projection onto what the rule allows (the leading
    sentences that fit a length limit) or ``None`` when there is none: a small
    model told "at most 30 words" still writes 60 most of the time, so the
    optimizer projects a failing answer, as projected gradient descent does,
    before paying for a re-ask.
    """

    description: str
    check: Callable[[str], str | None] | None = None
    repair: Callable[[str], str | None] | None = None

    def violation(self, value: str) -> str | None:
        return self.check(value) if self.check is not None else None


def as_constraint(item: str | Constraint | Callable[[str], str | None]) -> Constraint:
    """A constraint from text, a ``Constraint``, or a bare check (described by its docstring)."""
    if isinstance(item, Constraint):
        return item
    if isinstance(item, str):
        return Constraint(item)
    if callable(item):
        doc = (getattr(item, "__doc__", None) or "").strip().splitlines()
        description = doc[0] if doc else getattr(item, "__name__", "a rule checked by the program")
        return Constraint(description, item)
    raise TypeError(f"a constraint must be text, a Constraint or a callable, got {type(item).__name__}")


@dataclass
class Rejection:
    """A proposed value the optimizer did not accept, and why (for counts in the report)."""

    kind: str  # malformed | cut | repeating | constraint | repaired | tried
    reason: str
    value: str | None = None


@dataclass
class Proposals:
    """What one call of ``apropose`` produced: new distinct values, and what was rejected."""

    values: list[str] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    out_of_budget: str = ""  # why the budget refused an answer: the values are those asked before it ran out


# Engine parameters TGD forwards; anything else is a mistake caught where it is given.
ENGINE_PARAMS = frozenset({"temperature", "top_p", "seed", "max_tokens", "stop"})
TEXTGRAD_ONLY = {
    "verbose": "tg-core logs through the logging module (tg -v, or logging.getLogger('tg_core'))",
    "new_variable_tags": f"tg-core's tags are fixed: {prompts.IMPROVED_START} ... {prompts.IMPROVED_END}",
    "optimizer_system_prompt": "edit tg_core.prompts.OPTIMIZER_SYSTEM, or pass constraints=",
}
TRIED_SHOWN = 5  # values listed when an answer repeats one: enough to steer, bounded for long values
SAMPLING_TEMPERATURE = 0.7  # for k > 1 candidates and for re-asks, so a seed changes the answer


def is_repeating(text: str) -> bool:
    """A long answer that compresses to almost nothing is a model stuck in a loop."""
    data = text.encode()
    return len(data) >= 600 and len(zlib.compress(data)) < 0.12 * len(data)


def answer_budget(value: str, floor: int = 256) -> int:
    """Max tokens of an optimizer answer: room for a rewrite a good deal longer than the value."""
    return max(floor, 3 * (len(value) // 4) + 192)


def normalized(value: str) -> str:
    return " ".join(value.split())


def _fresh_first(value: str, taken: dict[str, str]) -> Iterable[str]:
    """``value``, then ``value`` without its sentences found in ``taken`` values: the last one, the last two, ..."""
    yield value
    seen = {normalized(s) for old in taken.values() for s in sentences(old)}
    parts = sentences(value)
    repeated = [i for i, part in enumerate(parts) if normalized(part) in seen]
    for n in range(1, len(repeated) + 1):
        dropped = set(repeated[-n:])
        if rest := [part for i, part in enumerate(parts) if i not in dropped]:
            yield " ".join(rest)


def parse_improved(answer: str) -> str:
    """The text between the tags, or ValueError saying what is wrong with the answer."""
    starts = answer.count(prompts.IMPROVED_START)
    ends = answer.count(prompts.IMPROVED_END)
    if starts == 0:
        raise ValueError(f"the answer has no {prompts.IMPROVED_START} tag")
    if ends == 0:
        raise ValueError(f"the answer has no {prompts.IMPROVED_END} tag (was it cut short?)")
    if starts > 1 or ends > 1:
        raise ValueError("the answer has the tags more than once")
    head, _, rest = answer.partition(prompts.IMPROVED_START)
    if prompts.IMPROVED_END in head:
        raise ValueError("the closing tag comes before the opening tag")
    value = rest.partition(prompts.IMPROVED_END)[0].strip()
    if not value:
        raise ValueError("the improved variable between the tags is empty")
    return value


class TGD:
    """Update every parameter that received feedback, all at once.

    Unlike TextGrad's optimizer, the prompt holds the full value of the
    variable, momentum shows past values with the feedback each got, gradient
    memory shows past feedback, and an unusable answer is asked again with the
    reason: malformed, cut at its token limit, repeating itself, breaking a
    checked constraint, or (in ``apropose``) a value already tried. A parameter
    that still fails keeps its old value while the others are updated.
    ``constraints`` are text, ``Constraint`` objects or callables
    ``check(value) -> reason | None``; checked ones are enforced.
    ``canonical(value) -> value`` turns a parsed answer into the variable's
    form before any check (code out of fences and prose), so the same value in
    new wrapping is recognised as already tried.
    ``feedback_budget`` bounds the feedback shown per variable (tokens; by
    default sized to the engine's context): above it the feedback is
    condensed by one LLM call (see ``tg_core.feedback_budget``). Images the
    feedback's contexts refer to are attached for engines that read images.
    """

    def __init__(
        self,
        parameters: Iterable[Variable],
        engine: Engine | str | None = None,
        constraints: Sequence[str | Constraint | Callable[[str], str | None]] = (),
        momentum: int = 0,
        gradient_memory: int = 0,
        in_context_examples: Sequence[str] = (),
        max_retries: int = 2,
        max_concurrency: int | None = None,
        feedback_budget: int | None = None,
        canonical: Callable[[str], str] | None = None,
        **params: Any,
    ) -> None:
        self.parameters = list(parameters)
        if not self.parameters:
            raise ValueError("TGD: parameters is empty; pass the variables to optimize")
        for i, p in enumerate(self.parameters):
            if not isinstance(p, Variable):
                raise TypeError(f"TGD: parameters[{i}] is a {type(p).__name__}, not a Variable")
            if not p.requires_grad:
                raise ValueError(f"TGD: parameter '{p.role_description}' has requires_grad=False")
            if p.image is not None:
                raise ValueError(f"TGD: parameter '{p.role_description}' holds an image; TGD rewrites text only")
        for name, value in (("momentum", momentum), ("gradient_memory", gradient_memory), ("max_retries", max_retries)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"TGD: {name} must be an integer >= 0, got {value!r}")
        if isinstance(constraints, str):
            raise TypeError("TGD: constraints must be a list (of strings, Constraints or callables)")
        if isinstance(in_context_examples, str) or not all(isinstance(c, str) for c in in_context_examples):
            raise TypeError("TGD: in_context_examples must be a list of strings")
        for name in params:
            if name in TEXTGRAD_ONLY:
                raise TypeError(f"TGD: option {name!r} is TextGrad's and is not used here: {TEXTGRAD_ONLY[name]}")
            if name not in ENGINE_PARAMS:
                raise TypeError(
                    f"TGD: unknown option {name!r}; engine parameters it forwards are {sorted(ENGINE_PARAMS)}"
                )
        self.engine = as_engine(engine, "TGD(engine)")
        self.feedback_budget = check_budget(feedback_budget)
        self.canonical = canonical
        self.constraints = [as_constraint(c) for c in constraints]
        self.momentum = momentum
        self.gradient_memory = gradient_memory
        self.in_context_examples = list(in_context_examples)
        self.max_retries = max_retries
        self.max_concurrency = max_concurrency
        self.params = params
        self.history: dict[int, list[PastIteration]] = {id(p): [] for p in self.parameters}

    def state(self) -> dict:
        """Momentum and memory history, JSON-able, for checkpoints."""
        return {
            "history": [
                [{"value": it.value, "feedback": it.feedback} for it in self.history[id(p)]]
                for p in self.parameters
            ]
        }

    def load_state(self, state: dict) -> None:
        saved = state.get("history", [])
        if len(saved) != len(self.parameters):
            raise ValueError(
                f"TGD.load_state: the state holds {len(saved)} parameters, this optimizer has "
                f"{len(self.parameters)}"
            )
        for p, items in zip(self.parameters, saved, strict=True):
            self.history[id(p)] = [PastIteration(it["value"], it["feedback"]) for it in items]

    def zero_grad(self) -> None:
        for p in self.parameters:
            p.zero_grad()

    def violation(self, value: str) -> str | None:
        """Why ``value`` breaks checked constraints (every one it breaks), or ``None``."""
        reasons = [reason for c in self.constraints if (reason := c.violation(value))]
        return "; ".join(reasons) or None

    def projected(self, value: str) -> str | None:
        """``value`` moved by the broken constraints' repairs until every check passes, or ``None``."""
        for _ in range(len(self.constraints) + 1):
            broken = [c for c in self.constraints if c.violation(value)]
            if not broken:
                return value
            if any(c.repair is None for c in broken):
                return None
            for c in broken:
                value = c.repair(value) or ""
                if not value.strip():
                    return None
        return None

    def untried_projection(self, value: str, taken: dict[str, str] | None) -> str | None:
        """A projection of ``value`` (see ``projected``) that is not among ``taken``, or ``None``.

        Cutting to the leading sentences can cut away all that is new: asked to
        give "Drink water. It is good." a reason, the embedded model wrote it
        again with a third sentence, whose projection onto two sentences was the
        start itself, tried already, at every candidate of every step. So the
        sentences that repeat a tried value go first, the last of them first:
        "Drink water. Drinking water is important for staying hydrated ...".
        """
        for variant in _fresh_first(value, taken or {}):
            fixed = self.projected(variant)
            if fixed and self._untried(fixed, taken) is None:
                return fixed
        return None

    def remember(self, variable: Variable, *, if_new: bool = False) -> None:
        """Record the current value and its feedback as a past iteration (momentum, memory).

        ``if_new``: not when it is already the last one recorded (a step that starts
        again from the value the previous step started from).
        """
        past = self.history[id(variable)]
        if if_new and past and past[-1].value == variable.value:
            return
        past.append(PastIteration(variable.value, variable.get_gradient_text()))

    def step(self) -> None:
        run_sync(self.astep())

    async def astep(self) -> None:
        engine = resolve_engine(self.engine, "TGD")
        todo = [p for p in self.parameters if p.gradients]
        for p in self.parameters:
            if not p.gradients:
                log.info("TGD: '%s' received no feedback; left unchanged", p.role_description)
        with calls_limited_to(self.max_concurrency):
            outcomes = await asyncio.gather(*(self._update(p, engine) for p in todo), return_exceptions=True)
        failures = {}
        engine_error: BaseException | None = None
        for p, outcome in zip(todo, outcomes, strict=True):
            if isinstance(outcome, UnusableAnswerError):
                failures[p.role_description] = str(outcome)
            elif isinstance(outcome, BaseException):
                engine_error = engine_error or outcome
            else:
                self.remember(p)
                p.set_value(outcome)
        if engine_error is not None:
            # The engine failed (budget, network): not a bad answer. Updates that
            # succeeded are kept; the caller sees the real error and can retry the step.
            raise engine_error
        if failures:
            names = ", ".join(repr(n) for n in failures)
            raise OptimizerError(
                f"TGD could not update {names}; they keep their old values: "
                + "; ".join(failures.values()),
                failures,
            )

    async def apropose(
        self, variable: Variable, k: int = 1, avoid: Iterable[str] = (), seed: int = 0, explore: bool = False,
        scored: Sequence[tuple[str, str]] = (), reask_tried: bool = True,
    ) -> Proposals:
        """Up to ``k`` new values for ``variable``, each valid and different from ``avoid``.

        The k answers are asked concurrently with distinct seeds (and a sampling
        temperature when k > 1); each unusable answer is asked again with the
        reason, with another seed, so a deterministic model and the response
        cache cannot pin the search to one answer. ``explore=True`` samples from
        the first answer on (the loop sets it after a step that changed nothing,
        since the same prompt would otherwise give the same answers). Fewer
        than k values (even none) come back when the retries run out: the
        caller records a stall. ``scored`` are values already measured with a
        line saying how each did, worst first: shown to the model (OPRO's
        solution-score pairs). A budget that runs out while the k answers are
        asked ends the asking: the values answered before come back, and
        ``out_of_budget`` says why (so a caller can still measure them).
        ``reask_tried=False``: an answer that repeats a tried value is not
        asked again (its "tried" rejection is the count of such answers), for
        a caller that has a better use for the call (the loop draws a fresh
        value instead).
        """
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"TGD.apropose: k must be a positive integer, got {k!r}")
        engine = resolve_engine(self.engine, "TGD")
        taken = {normalized(v): v for v in avoid}
        proposals = Proposals()
        with calls_limited_to(self.max_concurrency):
            try:
                messages = await self.messages_for(variable, engine, scored)
            except UnusableAnswerError as exc:
                proposals.rejections.append(Rejection("malformed", str(exc)))
                return proposals
            answers = await asyncio.gather(
                *(self._ask_valid(variable, engine, messages, seed + i, k, taken, proposals.rejections, explore,
                                  reask_tried)
                  for i in range(k)),
                return_exceptions=True,
            )
        for answer in answers:
            if isinstance(answer, BudgetExceededError):
                proposals.out_of_budget = str(answer)
            elif isinstance(answer, BaseException):
                raise answer
        proposals.values = [a for a in answers if isinstance(a, str)]
        return proposals

    async def messages_for(
        self, variable: Variable, engine: Engine, scored: Sequence[tuple[str, str]] = ()
    ) -> list[dict[str, Any]]:
        """The messages sent to ``engine`` to update ``variable``, feedback bounded to the budget."""
        budget = self.feedback_budget or default_budget(
            engine, variable.value, self._params(variable, 0, 1, 0, False)["max_tokens"]
        )
        try:
            feedback = await bounded_feedback(variable, engine, budget, scored)
        except ValueError as exc:
            raise UnusableAnswerError(str(exc)) from None
        return for_engine(engine, self.prompt_for(variable, feedback, scored), "TGD")

    def prompt_for(
        self, variable: Variable, feedback: str | None = None, scored: Sequence[tuple[str, str]] = ()
    ) -> list[dict[str, Any]]:
        """The messages sent to update ``variable``: public so users can inspect them.

        ``feedback`` is the feedback section as shown (condensed when over the
        budget); by default every piece in full. Laid out shared-first (see
        ``tg_core.prompts``): constraints and examples, fixed for a run, open
        the message; past iterations follow; the value, its feedback and the
        request come last, then any images the feedback's contexts refer to.
        ``scored`` (value, outcome) pairs, as ``apropose`` takes them, come
        before the value.
        """
        parts = []
        if self.constraints:
            parts.append(
                prompts.OPTIMIZER_CONSTRAINTS.format(
                    constraints="\n".join(f"{i + 1}. {c.description}" for i, c in enumerate(self.constraints))
                )
            )
        if self.in_context_examples:
            parts.append(
                prompts.OPTIMIZER_EXAMPLES.format(
                    examples="\n".join(prompts.EXAMPLE_ITEM.format(example=e) for e in self.in_context_examples)
                )
            )
        past = self.history.get(id(variable), [])
        if self.momentum and past:
            items = past[-self.momentum :]
            parts.append(
                prompts.OPTIMIZER_MOMENTUM.format(
                    history="\n".join(
                        prompts.OPTIMIZER_MOMENTUM_ITEM.format(index=i + 1, value=it.value, feedback=it.feedback)
                        for i, it in enumerate(items)
                    )
                )
            )
        if self.gradient_memory and past:
            items = past[-self.gradient_memory :]
            parts.append(
                prompts.OPTIMIZER_GRADIENT_MEMORY.format(
                    memory="\n".join(
                        prompts.OPTIMIZER_GRADIENT_MEMORY_ITEM.format(index=i + 1, text=it.feedback)
                        for i, it in enumerate(items)
                    )
                )
            )
        if scored:
            parts.append(prompts.OPTIMIZER_SCORED.format(
                items="\n".join(prompts.SCORED_ITEM.format(value=v, outcome=o) for v, o in scored)))
        if feedback is None:
            feedback = render(feedback_without_echoes(variable.gradients, variable.value, scored))
        parts.append(
            prompts.OPTIMIZER_VARIABLE.format(role=variable.role_description, value=variable.value, feedback=feedback)
        )
        request = prompts.OPTIMIZER_REQUEST.format(role=variable.role_description)
        if self.constraints:
            request += prompts.OPTIMIZER_REQUEST_CONSTRAINTS.format(
                constraints=" ".join(c.description for c in self.constraints)
            )
        parts.append(request)
        text = "\n\n".join(parts)
        images = unique([image for f in variable.gradients for image in f.images])
        content = [text_part(text), text_part(prompts.OPTIMIZER_IMAGES), *labelled_images(images)] if images else text
        return [
            {"role": "system", "content": prompts.OPTIMIZER_SYSTEM},
            {"role": "user", "content": content},
        ]

    async def _update(self, variable: Variable, engine: Engine) -> str:
        rejections: list[Rejection] = []
        messages = await self.messages_for(variable, engine)
        value = await self._ask_valid(variable, engine, messages, 0, 1, None, rejections)
        if value is None:
            raise UnusableAnswerError(
                f"no usable answer for '{variable.role_description}' after "
                f"{self.max_retries + 1} attempts: {rejections[-1].reason}"
            )
        return value

    def _params(self, variable: Variable, seed: int, k: int, attempt: int, explore: bool) -> dict[str, Any]:
        params = dict(self.params)
        params.setdefault("max_tokens", answer_budget(variable.value))
        if seed or attempt or "seed" in params:
            params["seed"] = params.get("seed", 0) + seed + 1009 * attempt
        if (k > 1 or attempt or explore) and params.get("temperature", 0) == 0:
            params["temperature"] = SAMPLING_TEMPERATURE
        return params

    def _problem(
        self, answer: str, finish_reason: str, max_tokens: int, taken: dict[str, str] | None
    ) -> tuple[Rejection | None, str]:
        """The parsed value, or why the answer cannot be used."""
        if finish_reason == "length":
            return Rejection("cut", prompts.PROBLEM_CUT.format(max_tokens=max_tokens)), ""
        if is_repeating(answer):
            return Rejection("repeating", prompts.PROBLEM_REPEATING), ""
        try:
            value = parse_improved(answer)
        except ValueError as exc:
            return Rejection("malformed", str(exc)), ""
        if self.canonical is not None:
            value = self.canonical(value)
        reason = self.violation(value)
        if reason:
            return Rejection("constraint", prompts.PROBLEM_CONSTRAINT.format(reason=reason), value), value
        return self._untried(value, taken), value

    def _untried(self, value: str, taken: dict[str, str] | None) -> Rejection | None:
        if taken is not None and normalized(value) in taken:
            # the originals (a model copies what it is shown), the most recent few
            tried = "\n".join(prompts.TRIED_ITEM.format(value=v) for v in list(taken.values())[-TRIED_SHOWN:])
            return Rejection("tried", prompts.PROBLEM_TRIED.format(tried=tried), value)
        return None

    async def _ask_valid(
        self, variable: Variable, engine: Engine, messages: list[dict[str, Any]], seed: int, k: int,
        taken: dict[str, str] | None, rejections: list[Rejection], explore: bool = False, reask_tried: bool = True,
    ) -> str | None:
        """One answer that passes every check, asking again with the reason; ``None`` if none did.

        With ``reask_tried=False`` an answer repeating a tried value ends the asking.
        """
        role = f"optimizer:{variable.role_description}"
        for attempt in range(self.max_retries + 1):
            params = self._params(variable, seed, k, attempt, explore)
            completion = await ask_completion(
                engine, messages, role=role, output_tags=(prompts.IMPROVED_START, prompts.IMPROVED_END), **params
            )
            rejection, value = self._problem(completion.text, completion.finish_reason, params["max_tokens"], taken)
            if rejection is not None and rejection.kind == "constraint" and (
                    fixed := self.untried_projection(value, taken) or self.projected(value)):
                rejections.append(Rejection("repaired", prompts.PROBLEM_REPAIRED.format(
                    reason=self.violation(value), repaired=fixed), value))
                rejection, value = self._untried(fixed, taken), fixed
            if rejection is None:
                if taken is not None:
                    taken[normalized(value)] = value
                return value
            rejections.append(rejection)
            log.info("TGD: answer %d for '%s' unusable (%s): %s", attempt + 1, variable.role_description,
                     rejection.kind, rejection.reason)
            if rejection.kind == "tried" and not reask_tried:
                return None
            messages = [
                *messages,
                {"role": "assistant", "content": completion.text},
                {"role": "user", "content": prompts.OPTIMIZER_REASK.format(problem=rejection.reason)},
            ]
        return None


# ---------------------------------------------------------------- TextGrad's names

TEXTGRAD_TAGS = [prompts.IMPROVED_START, prompts.IMPROVED_END]


def _textgrad_options(
    who: str, verbose: int, new_variable_tags: Sequence[str] | None, optimizer_system_prompt: str | None,
    constraints: Sequence[Any] | None, in_context_examples: Sequence[str] | None,
) -> dict[str, Any]:
    """TextGrad's optimizer options, honoured where they mean what ours do, refused otherwise.

    ``verbose=0`` and TextGrad's own default tags (which are ours) change
    nothing; ``None`` for a list means empty. Anything else would silently
    differ from what the user asked, so it is refused with the reason.
    """
    if verbose:
        raise TypeError(f"{who}: verbose={verbose!r}: {TEXTGRAD_ONLY['verbose']}")
    if new_variable_tags is not None and list(new_variable_tags) != TEXTGRAD_TAGS:
        raise TypeError(f"{who}: new_variable_tags={new_variable_tags!r}: {TEXTGRAD_ONLY['new_variable_tags']}")
    if optimizer_system_prompt is not None:
        raise TypeError(f"{who}: optimizer_system_prompt: {TEXTGRAD_ONLY['optimizer_system_prompt']}")
    return {"constraints": list(constraints or ()), "in_context_examples": list(in_context_examples or ())}


class TextualGradientDescent(TGD):
    """TGD under TextGrad's name and keyword arguments."""

    def __init__(
        self,
        parameters: Iterable[Variable],
        verbose: int = 0,
        engine: Engine | str | None = None,
        constraints: Sequence[str | Constraint | Callable[[str], str | None]] | None = None,
        new_variable_tags: Sequence[str] | None = None,
        optimizer_system_prompt: str | None = None,
        in_context_examples: Sequence[str] | None = None,
        gradient_memory: int = 0,
        **options: Any,
    ) -> None:
        textgrad = _textgrad_options(type(self).__name__, verbose, new_variable_tags, optimizer_system_prompt,
                                     constraints, in_context_examples)
        super().__init__(parameters, engine=engine, gradient_memory=gradient_memory, **textgrad, **options)


class TextualGradientDescentwithMomentum(TGD):
    """TGD with momentum under TextGrad's name: ``momentum_window`` past iterations are shown."""

    def __init__(
        self,
        engine: Engine | str | None,
        parameters: Iterable[Variable],
        momentum_window: int = 0,
        constraints: Sequence[str | Constraint | Callable[[str], str | None]] | None = None,
        new_variable_tags: Sequence[str] | None = None,
        in_context_examples: Sequence[str] | None = None,
        optimizer_system_prompt: str | None = None,
        **options: Any,
    ) -> None:
        textgrad = _textgrad_options(type(self).__name__, 0, new_variable_tags, optimizer_system_prompt,
                                     constraints, in_context_examples)
        super().__init__(parameters, engine=engine, momentum=momentum_window, **textgrad, **options)
