"""Prompt optimization over a dataset, the TextGrad paper's procedure made concurrent.

One step: the model answers a minibatch (all examples at once), each answer is
scored by the evaluator, the losses are summed with ``tg.sum``, feedback flows
back to the system prompt, and TGD proposes a new one: never a prompt already
kept or tried (an unchanged answer is asked again with another seed, unless
the demonstrations below stand ready), and with every prompt validated so far
shown next to its validation accuracy (OPRO's solution-score pairs). Beside it
stands a second candidate that needs no model: the current prompt followed by
a few training examples with their correct answers, worked out in the model's
own words where it answered one right in a minibatch (DSPy's bootstrapped
few-shot: the minibatch answers are paid for anyway). Every candidate first
answers a few validation questions (as many as the minibatch has, drawn anew
each step), where the kept prompt's answers are already known; the best one
(among equals the demonstrations, which add only verified answers where a
rewrite may drop an instruction), if it did no worse there than the kept
prompt, answers the rest of the validation split and is kept only if
validation accuracy did not drop; otherwise the step is reverted. Ranking on
held-out questions rather than on the minibatch does not favour the rewrite
written for the minibatch, and the winner's ranking answers count towards its
validation, so a step costs TextGrad's calls (minibatch, feedback, one
proposal, validation) plus one ranking per extra candidate, and validates one
prompt at most, as TextGrad's does. Test accuracy of every kept prompt is
measured in the background while training goes on, since nothing waits for it.

The state (prompt versions with their accuracies, step records, optimizer
history) is JSON-able, so a run can checkpoint after every step and resume.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import tg_core as tg
from tg_core import TGD, BlackboxLLM, Variable, calls_limited_to, run_sync
from tg_core.loop import scored_pairs
from tg_core.optimizer import normalized

from . import prompts
from .answers import reasoning_of
from .examples import Example, Splits
from .functions import Evaluation, Evaluator

if TYPE_CHECKING:
    from tg_core import Engine

log = logging.getLogger(__name__)

MAX_SOLUTION_CHARS = 1500  # a longer right answer is not kept as a worked example: the prompt would swell


@dataclass
class PromptVersion:
    """A prompt the trainer kept, with its accuracies (test is filled in when measured)."""

    prompt: str
    validation: float
    test: float | None = None
    scores: list[float] | None = None  # per validation question, in split order (None in states before them)


FEEDBACK = "feedback"  # a candidate TGD wrote from the textual gradient
DEMONSTRATIONS = "demonstrations"  # the current prompt with labeled training examples appended


@dataclass
class Candidate:
    """A prompt a step considered, where it came from, and its accuracy on the step's ranking questions."""

    source: str
    prompt: str
    batch_accuracy: float | None = None  # on the step's ranking questions (validation questions)


@dataclass
class StepRecord:
    step: int
    epoch: int
    batch: list[str]  # ids of the minibatch's examples
    batch_accuracy: float  # of the answers given with the prompt before the step
    candidate: str | None  # the prompt validated; None when no candidate was new or did well enough on the batch
    candidate_validation: float | None
    accepted: bool
    version: int  # index of the prompt version in use after the step
    feedback: str  # the feedback the prompt received
    note: str = ""
    candidates: list[Candidate] = field(default_factory=list)  # every candidate of the step
    ranked_on: list[str] = field(default_factory=list)  # ids of the validation questions the candidates answered first

    def __post_init__(self) -> None:
        self.candidates = [c if isinstance(c, Candidate) else Candidate(**c) for c in self.candidates]

    @property
    def source(self) -> str | None:
        """Where the validated candidate came from."""
        return next((c.source for c in self.candidates if c.prompt == self.candidate), None)


def mean_score(evaluations: Sequence[Evaluation]) -> float:
    return sum(e.score for e in evaluations) / len(evaluations) if evaluations else 0.0


def _positive_int(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"PromptTrainer: {name} must be a positive integer, got {value!r}")
    return value


class PromptTrainer:
    """Train a system prompt on ``splits.train`` with validation-gated TGD steps.

    ``engine`` gives feedback and rewrites the prompt; ``model_engine`` (default:
    the same) answers the questions, as the paper used a strong model to teach a
    weaker one. ``max_concurrency`` bounds the calls of each batch operation.
    ``demonstrations`` training examples with their answers make the second
    candidate of each step (0: TGD's proposal only).
    """

    def __init__(
        self,
        splits: Splits,
        evaluator: Evaluator,
        engine: Engine,
        system_prompt: str,
        *,
        model_engine: Engine | None = None,
        batch_size: int = 3,
        seed: int = 0,
        max_concurrency: int | None = None,
        constraints: Sequence[str] = (),
        momentum: int = 0,
        demonstrations: int = 3,
        role: str = prompts.PROMPT_ROLE,
    ) -> None:
        if not isinstance(splits, Splits) or not splits.train or not splits.validation:
            raise ValueError("PromptTrainer: splits must be a tg_qa Splits with train and validation examples")
        if not isinstance(evaluator, Evaluator):
            raise TypeError(f"PromptTrainer: evaluator must be a tg_qa Evaluator, got {type(evaluator).__name__}")
        if not isinstance(system_prompt, str) or not system_prompt.strip():
            raise ValueError("PromptTrainer: the starting system prompt must be non-empty text")
        self.splits = splits
        self.evaluator = evaluator
        self.engine = engine
        self.model_engine = model_engine or engine
        self.batch_size = _positive_int(batch_size, "batch_size")
        self.seed = seed
        self.max_concurrency = None if max_concurrency is None else _positive_int(max_concurrency, "max_concurrency")
        if not isinstance(demonstrations, int) or isinstance(demonstrations, bool) or demonstrations < 0:
            raise ValueError(f"PromptTrainer: demonstrations must be an integer >= 0, got {demonstrations!r}")
        self.demonstrations = demonstrations
        self.prompt = Variable(system_prompt, role_description=role)
        self.model = BlackboxLLM(self.model_engine, self.prompt)
        self.optimizer = TGD(
            [self.prompt], engine=engine, constraints=list(constraints), momentum=momentum,
            max_concurrency=self.max_concurrency,
        )
        self.versions: list[PromptVersion] = []
        self.current = 0
        self.history: list[StepRecord] = []
        self.solutions: dict[str, str] = {}  # training example id -> the model's reasoning to its right answer
        self._tests: dict[int, asyncio.Future] = {}
        self.stopped = ""  # why training ended before its steps (a spent budget)

    # ---------------------------------------------------------------- data

    @property
    def batches_per_epoch(self) -> int:
        return math.ceil(len(self.splits.train) / self.batch_size)

    def batch_for(self, step: int) -> tuple[int, list[Example]]:
        """The epoch and minibatch of ``step`` (1-based): a fixed function of the seed, so resume
        continues with the same batches."""
        _positive_int(step, "step")
        epoch, index = divmod(step - 1, self.batches_per_epoch)
        order = list(range(len(self.splits.train)))
        random.Random(f"{self.seed}:{epoch + 1}").shuffle(order)
        chosen = order[index * self.batch_size : (index + 1) * self.batch_size]
        return epoch + 1, [self.splits.train[i] for i in chosen]

    def with_demonstrations(self, prompt: str, step: int) -> str | None:
        """``prompt`` followed by ``demonstrations`` training examples with their correct answers, or
        ``None`` when none is left to add. Never ones the prompt already shows; a fixed choice of the
        seed and the step. Training examples only: the candidate is ranked and validated on others.

        Examples the model has answered right come first, worked out, and alone while there are
        any: a bare answer beside them shows a reply that skips the reasoning. Bare answers fill in
        once none is left."""
        if not self.demonstrations:
            return None
        unused = [e for e in self.splits.train if e.render() not in prompt]
        random.Random(f"{self.seed}:demonstrations:{step}").shuffle(unused)
        worked = [e for e in unused if e.id in self.solutions]
        chosen = (worked or unused)[: self.demonstrations]
        if not chosen:
            return None
        added = "\n\n".join(self._demonstration(e) for e in chosen)
        if prompts.DEMONSTRATIONS_HEADER in prompt:
            return f"{prompt}\n\n{added}"
        return f"{prompt}\n\n{prompts.DEMONSTRATIONS_HEADER}\n\n{added}"

    def _demonstration(self, example: Example) -> str:
        if example.id in self.solutions:
            return prompts.WORKED_DEMONSTRATION.format(question=example.render(), reasoning=self.solutions[example.id],
                                                       answer=example.answer)
        return prompts.DEMONSTRATION.format(question=example.render(), answer=example.answer)

    def _keep_solutions(self, batch: Sequence[Example], responses: Sequence[Variable],
                        evaluations: Sequence[Evaluation]) -> None:
        """Remember the model's reasoning on the minibatch questions it answered right (the first right
        answer to each): the worked examples of later demonstrations."""
        for example, response, evaluation in zip(batch, responses, evaluations, strict=True):
            if not evaluation.correct or example.id in self.solutions:
                continue
            reasoning = reasoning_of(response.value)
            if reasoning and len(reasoning) <= MAX_SOLUTION_CHARS:
                self.solutions[example.id] = reasoning

    def ranking_for(self, step: int) -> list[int]:
        """Indices of the validation questions the candidates of ``step`` answer first: as many as the
        minibatch has, a fixed draw of the seed and the step, so resume ranks on the same ones and no
        step's candidates are fitted to one fixed handful."""
        _positive_int(step, "step")
        count = min(self.batch_size, len(self.splits.validation))
        return sorted(random.Random(f"{self.seed}:ranking:{step}").sample(range(len(self.splits.validation)), count))

    # ---------------------------------------------------------------- scoring

    def _question(self, example: Example) -> Variable:
        return Variable(example.render(), role_description=prompts.QUERY_ROLE, requires_grad=False)

    async def ascore(self, prompt: str, examples: Sequence[Example]) -> list[Evaluation]:
        """Answer every example with ``prompt`` (concurrently) and evaluate each answer."""
        return await self._ascore_pairs([(prompt, e) for e in examples])

    async def _ascore_pairs(self, pairs: Sequence[tuple[str, Example]]) -> list[Evaluation]:
        """Answer each (prompt, example) pair and evaluate it: one batch operation, however many
        prompts, so ``max_concurrency`` bounds it as a whole."""
        if not pairs:
            return []
        role = self.prompt.role_description
        models = {prompt: BlackboxLLM(self.model_engine, Variable(prompt, role_description=role, requires_grad=False))
                  for prompt in dict.fromkeys(prompt for prompt, _ in pairs)}

        async def answer(pair: tuple[str, Example]) -> Variable:
            prompt, example = pair
            return await models[prompt].aforward(self._question(example))

        responses = await tg.amap(answer, pairs, max_concurrency=self.max_concurrency)
        with calls_limited_to(self.max_concurrency):
            return list(await asyncio.gather(*(
                self.evaluator.aevaluate(r.value, e.answer, e.render()) for r, (_, e) in zip(responses, pairs, strict=True)
            )))

    async def ainitialize(self) -> PromptVersion:
        """Score the starting prompt on validation and test (both at once)."""
        if self.versions:
            return self.versions[0]
        validation, test = await asyncio.gather(
            self.ascore(self.prompt.value, self.splits.validation), self.ascore(self.prompt.value, self.splits.test)
        )
        version = PromptVersion(self.prompt.value, mean_score(validation), mean_score(test) if test else None,
                                [e.score for e in validation])
        self.versions.append(version)
        return version

    def _measure_test(self, index: int) -> None:
        if not self.splits.test or index in self._tests or self.versions[index].test is not None:
            return

        async def measure() -> None:
            try:
                scores = await self.ascore(self.versions[index].prompt, self.splits.test)
            except tg.BudgetExceededError as exc:  # the prompt stays kept; its test accuracy is unknown
                log.warning("test accuracy of prompt version %d not measured: %s", index, exc)
                return
            self.versions[index].test = mean_score(scores)

        self._tests[index] = asyncio.ensure_future(measure())

    def _raise_failed_tests(self) -> None:
        for future in self._tests.values():
            if future.done() and not future.cancelled() and future.exception() is not None:
                raise future.exception()

    # ---------------------------------------------------------------- training

    async def astep(self, step: int) -> StepRecord:
        """One minibatch update: TGD's proposal and the demonstrations candidate are ranked on a few
        validation questions, the best is validated and kept only if validation accuracy does not drop.

        The test accuracy of a kept prompt is measured in the background; ``atrain`` waits for it.
        """
        if not self.versions:
            await self.ainitialize()
        epoch, batch = self.batch_for(step)
        self.optimizer.zero_grad()
        questions = [self._question(e) for e in batch]
        responses = await tg.amap(self.model, questions, max_concurrency=self.max_concurrency)
        with calls_limited_to(self.max_concurrency):
            losses = list(await asyncio.gather(*(
                self.evaluator.aforward(r, e.answer, q) for r, e, q in zip(responses, batch, questions, strict=True)
            )))
        total = tg.sum(losses, role_description=prompts.SUM_ROLE)
        await total.abackward(engine=self.engine, max_concurrency=self.max_concurrency)
        feedback = self.prompt.get_gradient_text()
        before = self.prompt.value
        evaluations = [loss.data for loss in losses]
        batch_accuracy = mean_score(evaluations)
        self._keep_solutions(batch, responses, evaluations)
        explore = bool(self.history) and not self.history[-1].accepted  # the same request would give the same
        tried = self.tried()
        demonstrated = self.with_demonstrations(before, step)
        if demonstrated is not None and normalized(demonstrated) in {normalized(p) for p in tried}:
            demonstrated = None
        # with the demonstrations to rank, an answer that copies a tried prompt is not asked again: the
        # shared loop's rule where a fresh draw can take its place, and a step then costs TextGrad's calls
        proposals = await self.optimizer.apropose(self.prompt, 1, avoid=tried, seed=step, explore=explore,
                                                  scored=self.scored(), reask_tried=demonstrated is None)
        if proposals.out_of_budget and not proposals.values:
            raise tg.BudgetExceededError(proposals.out_of_budget)  # the engine failed: not a step without a proposal
        self.optimizer.remember(self.prompt, if_new=True)
        self.optimizer.zero_grad()
        candidates = [Candidate(FEEDBACK, value) for value in proposals.values]
        notes = []
        if not candidates:
            kinds = ", ".join(sorted({r.kind for r in proposals.rejections})) or "none"
            notes.append(f"the optimizer gave no new usable prompt (rejected answers: {kinds})")
        if demonstrated is not None and normalized(demonstrated) not in {normalized(c.prompt) for c in candidates}:
            candidates.append(Candidate(DEMONSTRATIONS, demonstrated))
        ranking = self.ranking_for(step)
        best = await self._best_ranked(candidates, ranking, notes)
        note = "; ".join(notes)
        if note:
            log.warning("step %d: %s", step, note)
        candidate = candidate_validation = None
        accepted = False
        if best is not None:
            candidate, ranked_scores = best
            self.prompt.set_value(candidate)
            scores = await self._validate(candidate, dict(zip(ranking, ranked_scores, strict=True)))
            candidate_validation = sum(scores) / len(scores)
            accepted = candidate_validation >= self.versions[self.current].validation
            if accepted:
                self.versions.append(PromptVersion(candidate, candidate_validation, scores=scores))
                self.current = len(self.versions) - 1
                self._measure_test(self.current)
            else:
                self.prompt.set_value(before)
        record = StepRecord(
            step, epoch, [e.id for e in batch], batch_accuracy, candidate, candidate_validation, accepted,
            self.current, feedback, note, candidates, [self.splits.validation[i].id for i in ranking],
        )
        self.history.append(record)
        return record

    async def _best_ranked(
        self, candidates: list[Candidate], ranking: Sequence[int], notes: list[str]
    ) -> tuple[str, list[float]] | None:
        """The candidate to validate, with its scores on the ranking questions: the best there, if it did
        no worse than the kept prompt did on the same questions (its answers to the whole split are
        kept; a state from before them has none, and then only validation decides). The others cost
        one ranking each, not a validation. Among equals (a few questions rarely tell two prompts
        apart) the demonstrations, then the first: they keep the prompt whole and add only answers
        known to be right."""
        if not candidates:
            return None
        questions = [self.splits.validation[i] for i in ranking]
        answered = await self._ascore_pairs([(c.prompt, e) for c in candidates for e in questions])
        evaluations = [answered[i * len(questions) : (i + 1) * len(questions)] for i in range(len(candidates))]
        for c, scored in zip(candidates, evaluations, strict=True):
            c.batch_accuracy = mean_score(scored)
        index = max(range(len(candidates)),
                    key=lambda i: (candidates[i].batch_accuracy, candidates[i].source == DEMONSTRATIONS))
        best = candidates[index]
        kept = self.versions[self.current].scores
        if kept is not None:
            current = sum(kept[i] for i in ranking) / len(ranking)
            if best.batch_accuracy < current:
                notes.append(f"no candidate did as well as the kept prompt on {len(ranking)} validation questions "
                             f"({best.batch_accuracy:.2f} against {current:.2f}); none was validated further")
                return None
        return best.prompt, [e.score for e in evaluations[index]]

    async def _validate(self, prompt: str, known: dict[int, float]) -> list[float]:
        """``prompt``'s score on every validation question, asking only those not in ``known``."""
        rest = [i for i in range(len(self.splits.validation)) if i not in known]
        answered = await self.ascore(prompt, [self.splits.validation[i] for i in rest])
        scores = dict(known)
        scores.update((i, e.score) for i, e in zip(rest, answered, strict=True))
        return [scores[i] for i in range(len(self.splits.validation))]

    def tried(self) -> list[str]:
        """Every prompt kept, validated or ranked so far: the optimizer must propose
        something else."""
        return list(dict.fromkeys([*(v.prompt for v in self.versions),
                                   *(r.candidate for r in self.history if r.candidate),
                                   *(c.prompt for r in self.history for c in r.candidates)]))

    def scored(self) -> list[tuple[str, str]]:
        """The prompts validated so far with their validation accuracy, worst first (none until two)."""
        total = len(self.splits.validation)
        accuracies = {v.prompt: v.validation for v in self.versions}
        for record in self.history:
            if record.candidate is not None and record.candidate_validation is not None:
                accuracies.setdefault(record.candidate, record.candidate_validation)
        return scored_pairs({prompt: (accuracy, prompts.VALIDATION_OUTCOME.format(
            accuracy=accuracy, correct=round(accuracy * total), total=total)) for prompt, accuracy in accuracies.items()})

    async def atrain(self, steps: Iterable[int], on_step: Callable[[StepRecord], None] | None = None) -> None:
        """Run ``steps`` (e.g. ``run.steps(n)``), calling ``on_step`` after each (to checkpoint);
        returns once the test accuracy of every kept prompt is known."""
        await self.ainitialize()
        for index in range(len(self.versions)):
            self._measure_test(index)
        try:
            for step in steps:
                before = self.optimizer.state()
                try:
                    record = await self.astep(step)
                except tg.BudgetExceededError as exc:
                    self._drop_step(step, before, str(exc))
                    break
                self._raise_failed_tests()
                if on_step is not None:
                    on_step(record)
            await asyncio.gather(*self._tests.values())
        finally:
            for future in self._tests.values():
                future.cancel()
            self._tests = {}

    def _drop_step(self, step: int, optimizer_state: dict[str, Any], why: str) -> None:
        """A budget spent inside ``step`` ends training as the shared loop does: the step is not recorded,
        the kept prompt and the optimizer are as before it, and ``stopped`` says why."""
        self.optimizer.load_state(optimizer_state)
        self.optimizer.zero_grad()
        self.prompt.set_value(self.versions[self.current].prompt)
        self.stopped = f"out of budget in step {step} ({why}); the step was dropped, the prompt kept before it stays"
        log.warning("%s", self.stopped)

    def train(self, steps: int | Iterable[int], on_step: Callable[[StepRecord], None] | None = None) -> None:
        """Synchronous ``atrain``; an int means steps 1..n."""
        run_sync(self.atrain(range(1, steps + 1) if isinstance(steps, int) else steps, on_step))

    # ---------------------------------------------------------------- state

    def state(self) -> dict[str, Any]:
        return {
            "versions": [asdict(v) for v in self.versions],
            "current": self.current,
            "history": [asdict(r) for r in self.history],
            "optimizer": self.optimizer.state(),
            "solutions": dict(self.solutions),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from ``state()``: the kept prompt, its accuracies, the steps done."""
        try:
            versions = [PromptVersion(**v) for v in state["versions"]]
            history = [StepRecord(**r) for r in state["history"]]
            current = state["current"]
            optimizer_state = state["optimizer"]
            solutions = dict(state.get("solutions", {}))  # states written before worked examples have none
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"PromptTrainer.load_state: not a trainer state ({exc})") from None
        if not versions or not 0 <= current < len(versions):
            raise ValueError("PromptTrainer.load_state: the state holds no usable prompt version")
        self.optimizer.load_state(optimizer_state)
        self.versions, self.history, self.current = versions, history, current
        self.solutions = solutions
        self.prompt.set_value(versions[current].prompt)
