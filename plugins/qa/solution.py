"""Solution optimization at test time: improve one answer, then take a majority vote.

As in the TextGrad paper (MMLU, GPQA): a zero-shot answer becomes a trainable
variable; for a few iterations an LLM critic reviews it against the question
(no ground truth), the feedback flows back to the answer, and TGD rewrites it
under the constraint that its last line reads "Answer: $LETTER". The final
prediction is the majority vote over the zero-shot answer and every iteration.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tg_core import TGD, LLMCall, MultiFieldEvaluation, Variable, run_sync
from tg_core.loop import Objective, Optimization
from tg_core.optimizer import Constraint

from . import prompts
from .answers import read_choice
from .examples import Example
from .voting import majority_vote

if TYPE_CHECKING:
    from tg_core import Engine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SolutionResult:
    """Every answer one question went through, the letters read from them, and the vote."""

    example: Example
    predictions: tuple[str, ...]  # the zero-shot answer, then one per successful iteration
    letters: tuple[str | None, ...]
    vote: str | None
    optimizer_failures: int = 0

    @property
    def zero_shot_correct(self) -> bool:
        return self.letters[0] == self.example.answer

    @property
    def final_correct(self) -> bool:
        return self.letters[-1] == self.example.answer

    @property
    def vote_correct(self) -> bool:
        return self.vote == self.example.answer

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.example.id,
            "answer": self.example.answer,
            "predictions": list(self.predictions),
            "letters": list(self.letters),
            "vote": self.vote,
            "optimizer_failures": self.optimizer_failures,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], example: Example) -> SolutionResult:
        return cls(example, tuple(data["predictions"]), tuple(data["letters"]), data["vote"], data["optimizer_failures"])


def _check(example: Example, iterations: int) -> None:
    if not isinstance(example, Example):
        raise TypeError(f"optimize_solution: expected a tg_qa Example, got {type(example).__name__}")
    if not example.choices:
        raise ValueError(
            f"optimize_solution: example {example.id or example.question[:40]!r} has no choices; "
            "test-time optimization needs a multiple-choice question"
        )
    if not isinstance(iterations, int) or isinstance(iterations, bool) or iterations < 0:
        raise ValueError(f"optimize_solution: iterations must be an integer >= 0, got {iterations!r}")


def answer_constraint(example: Example) -> Constraint:
    """The format every rewritten answer keeps: a last line 'Answer: $LETTER' with one of its letters.

    Checked by the program: an answer whose line names no letter, or several,
    is asked again with what was read, never kept.
    """

    def check(answer: str) -> str | None:
        reading = read_choice(answer, example.letters)
        return None if reading.letter and not reading.problem else answer_line(answer, example.letters)

    return Constraint(prompts.ANSWER_FORMAT_CONSTRAINT.format(letters=example.letters), check)


async def azero_shot(example: Example, engine: Engine) -> str:
    """The first answer, the one test-time optimization starts from."""
    question = Variable(example.render(), role_description=prompts.SOLUTION_QUESTION_ROLE, requires_grad=False)
    return (await LLMCall(engine, system_prompt=prompts.SOLUTION_SYSTEM).aforward(question)).value


def answer_line(answer: str, letters: str) -> str:
    """What the program reads on the answer's 'Answer:' line, in words (no answer key involved)."""
    reading = read_choice(answer, letters)
    if reading.problem == "no_answer_line":
        return prompts.ANSWER_LINE_MISSING.format(letters=letters)
    if reading.problem == "several_letters":
        text = prompts.ANSWER_LINE_SEVERAL.format(line=reading.line, named=", ".join(reading.named), letters=letters)
    elif reading.problem == "no_letter":
        text = prompts.ANSWER_LINE_NO_LETTER.format(line=reading.line, letters=letters)
    else:
        text = prompts.ANSWER_LINE_CHOSEN.format(line=reading.line, letter=reading.letter)
    return text + (prompts.ANSWER_LINE_TRAILING if reading.trailing else "")


class AnswerReview:
    """The objective of one question at test time: ``evaluate(answer) -> (score, feedback)``.

    This is what an optimization loop calls for each candidate answer. The
    score is always None: at test time nothing may know the correct letter, so
    no answer can be graded (the loop cannot rank candidates; the final
    prediction is a majority vote). The feedback states what the program reads
    on the answer line, then an LLM critic's review of the reasoning.
    ``areview`` is the same critic as a graph node, for backward.
    """

    def __init__(self, example: Example, engine: Engine) -> None:
        _check(example, 0)
        self.example = example
        self.engine = engine
        self.question = Variable(example.render(), role_description=prompts.SOLUTION_QUESTION_ROLE, requires_grad=False)
        self.critic = MultiFieldEvaluation(
            prompts.TEST_TIME_INSTRUCTION, list(prompts.TEST_TIME_ROLES), engine=engine,
            system_prompt=prompts.TEST_TIME_SYSTEM,
        )

    async def areview(self, solution: Variable) -> Variable:
        """The critic's review of ``solution``; backward from it gives the solution feedback."""
        return await self.critic.aforward([self.question, solution])

    async def aevaluate(self, answer: str) -> tuple[float | None, str]:
        if not isinstance(answer, str):
            raise TypeError(f"AnswerReview.evaluate: answer must be text, got {type(answer).__name__}")
        review = await self.areview(Variable(answer, role_description=prompts.SOLUTION_ROLE, requires_grad=False))
        return None, prompts.ANSWER_REVIEW.format(answer_line=answer_line(answer, self.example.letters), review=review.value)

    def evaluate(self, answer: str) -> tuple[float | None, str]:
        return run_sync(self.aevaluate(answer))


async def aoptimize_solution(example: Example, engine: Engine, iterations: int = 3) -> SolutionResult:
    """Answer ``example`` zero-shot, improve the answer ``iterations`` times with the shared loop, vote.

    The answer is judged as it is (no simulator) and has no score (no answer
    key at test time), so each step keeps the first new answer whose answer
    line names one letter; an answer already given is asked again.
    """
    _check(example, iterations)
    review = AnswerReview(example, engine)
    solution = Variable(await azero_shot(example, engine), role_description=prompts.SOLUTION_ROLE)
    predictions = [solution.value]
    if iterations:
        optimizer = TGD([solution], engine=engine, constraints=[answer_constraint(example)])
        loop = Optimization({"answer": solution}, Objective(forward=None, judge=review.areview), optimizer,
                            steps=iterations, patience=iterations, engine=engine)
        await loop.arun()
        history = loop.tracks[0].history
        predictions += [c["value"] for r in history for c in r["candidates"] if c["accepted"]]
        failures = sum(not r["accepted"] for r in history)
        if failures:
            log.warning("solution for %s: %d iteration(s) gave no usable new answer", example.id, failures)
    else:
        failures = 0
    read = tuple(read_choice(p, example.letters).letter for p in predictions)
    return SolutionResult(example, tuple(predictions), read, majority_vote(read), failures)


def optimize_solution(example: Example, engine: Engine, iterations: int = 3) -> SolutionResult:
    return run_sync(aoptimize_solution(example, engine, iterations))


async def asolve(
    examples: Sequence[Example], engine: Engine, iterations: int = 3, max_concurrency: int = 8
) -> list[SolutionResult]:
    """Optimize the answers of many questions, ``max_concurrency`` questions at a time."""
    if not isinstance(max_concurrency, int) or max_concurrency < 1:
        raise ValueError(f"max_concurrency must be a positive integer, got {max_concurrency!r}")
    for example in examples:
        _check(example, iterations)
    slots = asyncio.Semaphore(max_concurrency)

    async def one(example: Example) -> SolutionResult:
        async with slots:
            return await aoptimize_solution(example, engine, iterations)

    return list(await asyncio.gather(*(one(e) for e in examples)))


def accuracy(results: Sequence[SolutionResult]) -> dict[str, float]:
    """Accuracy of the zero-shot answers, the last iteration and the majority vote."""
    count = len(results) or 1
    return {
        "zero_shot": sum(r.zero_shot_correct for r in results) / count,
        "final_iteration": sum(r.final_correct for r in results) / count,
        "majority_vote": sum(r.vote_correct for r in results) / count,
    }
