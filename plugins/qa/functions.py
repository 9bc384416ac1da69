"""The graph nodes of tg_qa: evaluators as losses, each scoring a response AND saying what is wrong.

Deterministic checks (exact match, multiple choice, any string function)
know precisely why a response fails ("read 5, expected 7"; "no answer
line"), so their backward hands that text to the response directly.
TextGrad instead asked an LLM to explain a bare 0/1 from its string
functions: one call per example that adds no information. The LLM judge is an
ordinary LLM call, and its backward asks the backward engine as usual.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tg_core import Feedback, Function, MultiFieldEvaluation, Variable, run_sync

from . import prompts
from .answers import check_answer_letter, choice_letters, match_answer, read_choice

if TYPE_CHECKING:
    from tg_core import Engine


@dataclass(frozen=True)
class Evaluation:
    """A score in [0, 1] with the feedback that explains it."""

    score: float
    feedback: str
    extracted: str | None = None  # the final answer as read from the response

    @property
    def correct(self) -> bool:
        return self.score >= 1.0

    def to_text(self) -> str:
        return self.feedback

    def as_dict(self) -> dict[str, Any]:
        return {"score": self.score, "correct": self.correct, "extracted": self.extracted, "feedback": self.feedback}


def _as_variable(value: Variable | str, role: str, name: str) -> Variable:
    if isinstance(value, Variable):
        return value
    if isinstance(value, str):
        return Variable(value, role_description=role, requires_grad=False)
    raise TypeError(f"{name} must be a tg_core.Variable or text, got {type(value).__name__}")


class Evaluator(Function):
    """Base of the QA losses: ``loss = evaluator(prediction, answer, question)``.

    The output Variable's value is the feedback text and its ``data`` the
    ``Evaluation``; ``evaluate``/``aevaluate`` score plain strings without
    building a graph (for validation and test accuracy).
    """

    name = "evaluator"
    output_role = prompts.EVALUATION_ROLE

    async def aevaluate(self, prediction: str, answer: str, question: str = "") -> Evaluation:
        raise NotImplementedError

    def evaluate(self, prediction: str, answer: str, question: str = "") -> Evaluation:
        return run_sync(self.aevaluate(prediction, answer, question))


class Check(Evaluator):
    """A deterministic evaluator: ``check(prediction, answer)`` gives the Evaluation.

    ``engine`` is accepted, and unused (a check writes its feedback itself), so
    that every loss builds the same way: ``factory(engine=None, **options)``.
    """


    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine

    def check(self, prediction: str, answer: str) -> Evaluation:
        raise NotImplementedError

    async def aevaluate(self, prediction: str, answer: str, question: str = "") -> Evaluation:
        return self.check(prediction, answer)

    def forward(self, prediction: Variable, answer: Variable | str, question: Variable | str = "") -> Variable:
        prediction = _as_variable(prediction, prompts.PREDICTION_ROLE, f"{self.label}: prediction")
        answer = _as_variable(answer, prompts.ANSWER_ROLE, f"{self.label}: answer")
        evaluation = self.check(prediction.value, answer.value)
        context = prompts.CHECK_CONTEXT.format(name=self.name, prediction=prediction.value, answer=answer.value)
        return self._output(evaluation.feedback, self.output_role, [prediction, answer], {"context": context}, data=evaluation)

    async def aforward(self, prediction: Variable, answer: Variable | str, question: Variable | str = "") -> Variable:
        return self.forward(prediction, answer, question)

    async def abackward(self, output: Variable, engine: Engine) -> None:
        text = output.value
        if output.gradients:
            text += "\n\n" + prompts.DOWNSTREAM_FEEDBACK.format(feedback=output.get_gradient_text())
        for variable in output.predecessors:
            if variable.requires_grad:
                variable.add_feedback(
                    Feedback(text, context=output.grad_context["context"], source=output.role_description)
                )


class ExactMatchLoss(Check):
    """Exact match of the final answer: numbers as numbers, other answers word by word."""

    name = "exact_match"

    def check(self, prediction: str, answer: str) -> Evaluation:
        match = match_answer(prediction, answer)
        what = "number" if match.numeric else "line"
        if match.extracted is None:
            return Evaluation(0.0, prompts.EXACT_MATCH_NOTHING.format(what=what, answer=answer.strip()))
        template = prompts.EXACT_MATCH_CORRECT if match.correct else prompts.EXACT_MATCH_WRONG
        feedback = template.format(extracted=match.extracted, answer=answer.strip())
        if not match.marked:
            feedback += prompts.EXACT_MATCH_NO_MARKER.format(what=what)
        return Evaluation(1.0 if match.correct else 0.0, feedback, match.extracted)


class MultipleChoiceLoss(Check):
    """The paper's multiple-choice format: the last line 'Answer: $LETTER' (see tg_qa.answers)."""

    name = "multiple_choice"

    def __init__(self, letters: str | None = None, engine: Engine | None = None) -> None:
        super().__init__(engine)
        self.letters = letters

    def check(self, prediction: str, answer: str) -> Evaluation:
        expected = check_answer_letter(answer)
        valid = choice_letters(expected, self.letters)
        reading = read_choice(prediction, valid)
        if reading.problem == "no_answer_line":
            return Evaluation(0.0, prompts.MULTIPLE_CHOICE_NO_LINE.format(answer=expected))
        if reading.problem == "several_letters":
            feedback = prompts.MULTIPLE_CHOICE_SEVERAL.format(
                line=reading.line, letters=", ".join(reading.named), answer=expected
            )
            return Evaluation(0.0, feedback)
        if reading.problem == "no_letter":
            feedback = prompts.MULTIPLE_CHOICE_NO_LETTER.format(line=reading.line, valid=valid, answer=expected)
            return Evaluation(0.0, feedback)
        correct = reading.letter == expected
        template = prompts.MULTIPLE_CHOICE_CORRECT if correct else prompts.MULTIPLE_CHOICE_WRONG
        feedback = template.format(letter=reading.letter, answer=expected)
        if reading.trailing:
            feedback += prompts.MULTIPLE_CHOICE_TRAILING
        return Evaluation(1.0 if correct else 0.0, feedback, reading.letter)


def same_text(prediction: str, answer: str) -> bool:
    """The whole response is the answer (surrounding white space aside): StringFunctionLoss's default."""
    return prediction.strip() == answer.strip()


class StringFunctionLoss(Check):
    """Any ``fn(prediction, answer)`` as a loss (by default ``same_text``).

    ``fn`` returns a bool, a score in [0, 1], a ``(score, feedback)`` pair or an
    ``Evaluation``; without feedback of its own, the feedback states the score,
    the check's name and ``purpose``.
    """

    def __init__(
        self,
        fn: Callable[[str, str], Any] = same_text,
        name: str | None = None,
        purpose: str = "",
        engine: Engine | None = None,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"StringFunctionLoss: fn must be callable, got {type(fn).__name__}")
        super().__init__(engine)
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "string_function")
        self.purpose = purpose or (prompts.SAME_TEXT_PURPOSE if fn is same_text else prompts.STRING_FUNCTION_PURPOSE)

    @property
    def label(self) -> str:
        return f"StringFunctionLoss[{self.name}]"

    def check(self, prediction: str, answer: str) -> Evaluation:
        result = self.fn(prediction, answer)
        if isinstance(result, Evaluation):
            return result
        feedback = None
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], str):
            result, feedback = result
        if isinstance(result, bool):
            score = 1.0 if result else 0.0
        elif isinstance(result, (int, float)) and 0 <= result <= 1:
            score = float(result)
        else:
            raise ValueError(
                f"{self.label}: fn returned {result!r}; expected a bool, a score in [0, 1], "
                "a (score, feedback) pair or an Evaluation"
            )
        if feedback is None:
            feedback = prompts.STRING_FUNCTION_FEEDBACK.format(
                name=self.name, purpose=self.purpose, score=score, answer=answer.strip()
            )
        return Evaluation(score, feedback)


_VERDICT = re.compile(re.escape(prompts.VERDICT_START) + r"\s*(.*?)\s*" + re.escape(prompts.VERDICT_END), re.S)


def parse_verdict(judgement: str) -> tuple[float, str | None]:
    """Score 1 for a last verdict of 'correct', 0 otherwise; the verdict text (None if absent)."""
    verdicts = _VERDICT.findall(judgement)
    if not verdicts:
        return 0.0, None
    verdict = verdicts[-1].strip().lower()
    return (1.0 if verdict == "correct" else 0.0), verdict


class JudgeLoss(Evaluator):
    """An LLM judges the response against the question and the correct answer."""

    name = "llm_judge"

    def __init__(self, engine: Engine | None = None, instruction: str = prompts.JUDGE_INSTRUCTION) -> None:
        self.engine = engine
        self.judge = MultiFieldEvaluation(instruction, list(prompts.JUDGE_ROLES), engine=engine)

    async def aforward(
        self, prediction: Variable, answer: Variable | str, question: Variable | str = ""
    ) -> Variable:
        prediction = _as_variable(prediction, prompts.PREDICTION_ROLE, "JudgeLoss: prediction")
        answer = _as_variable(answer, prompts.ANSWER_ROLE, "JudgeLoss: answer")
        question = _as_variable(question, prompts.QUERY_ROLE, "JudgeLoss: question")
        output = await self.judge.aforward([question, answer, prediction], response_role_description=self.output_role)
        score, verdict = parse_verdict(output.value)
        feedback = output.value if verdict is not None else output.value + prompts.JUDGE_NO_VERDICT
        output.data = Evaluation(score, feedback, verdict)
        return output

    async def aevaluate(self, prediction: str, answer: str, question: str = "") -> Evaluation:
        prediction_var = Variable(prediction, role_description=prompts.PREDICTION_ROLE, requires_grad=False)
        return (await self.aforward(prediction_var, answer, question)).data


# The loss factories, contributed as qa.NAME: each builds as factory(engine=None, **options).
LOSSES: dict[str, Callable[..., Evaluator]] = {
    "exact_match": ExactMatchLoss,
    "multiple_choice": MultipleChoiceLoss,
    "llm_judge": JudgeLoss,
    "string_function": StringFunctionLoss,
}
