"""The optimization loop every task uses: forward, judge, backward, propose, verify, record.

A task supplies its trainable variables and an :class:`Objective` (how a value
is simulated, judged and, where the domain knows it, scored); the loop does
the rest the same way for every task:

- each step starts from the best value so far; its judgement flows back to it
  and the optimizer proposes ``candidates`` new values (checked constraints
  enforced, values already tried refused);
- every candidate is evaluated; where there is a score the best one is kept
  only if it scores at least as well as the best so far, so a step never makes
  the kept value worse; where there is none the first valid proposal is taken;
- a step that yields no new value is a stall, logged and reported; the run
  stops early after ``patience`` stalls in a row, or when the objective says
  the value is good enough;
- every step is checkpointed, so ``tg run --resume`` continues after the last
  completed step with the same best values, tried values and history.

Acceptance by measurement follows GEPA; ask-evaluate-record with storage
follows optuna's studies.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .aio import run_sync
from .config import resolve_engine
from .errors import BudgetExceededError
from .optimizer import TGD, Proposals
from .pacing import Pace, call_budget
from .variable import Variable

if TYPE_CHECKING:
    from .engines.base import Engine
    from .runs import Run

log = logging.getLogger(__name__)

SCORED_SHOWN = 6  # measured values shown to the optimizer: the best few, so the prompt stays bounded

Score = tuple[float, ...]


def as_score(value: Any) -> Score | None:
    """A score as a tuple compared lexicographically (higher is better); ``None`` for no score."""
    if value is None:
        return None
    items = value if isinstance(value, (tuple, list)) else (value,)
    score = tuple(float(x) for x in items)
    if not score or any(math.isnan(x) for x in score):
        return None
    return score


@dataclass
class Objective:
    """What a task optimizes, in the terms the loop needs.

    ``forward(variable) -> report``: the simulator or model run on a value (a
    ``Function`` or any callable, sync or async); its output keeps the graph
    back to the variable. ``None``: the value is judged as it is (an answer). ``judge(report) -> judgement``: the loss whose text
    feedback flows backwards. ``score(report, judgement)``: a number or tuple
    (higher is better) computed by the program, or ``None`` for an invalid
    value (it may be async, to ask a model what the program cannot compute); leave ``score`` unset where the domain has none. Set
    ``judge_scores=True`` when the score reads the judgement (every candidate is
    then judged). ``done(evaluation)`` says the value needs no more work (every
    goal met). ``metrics(report)`` gives numbers to record for each evaluated
    value. ``score_names`` label the score's components in reports.
    ``ties_move``: a candidate that only ties the best replaces it, so the
    next step's feedback is about a new value; set it ``False`` where a tie
    is no evidence the new value is as good (code ranked by three visible
    tests says nothing of the hidden ones; keeping the incumbent also keeps
    its feedback, so the next step pays for no new judgement).
    ``describe(evaluation)`` says in a line how a value did (default: its
    score); the optimizer sees that line next to every value measured so far.
    ``neighbours(best, proposal)`` gives values the program derives from a
    proposal, evaluated with it: for numeric variables, a line search along
    the direction the textual gradient chose (the model picks which numbers
    move and which way; the simulator, cheap next to a model call, picks how
    far). They are recorded as derived candidates. ``resample(seed, best,
    avoid)`` draws a value anew from the task's own generator, ignoring the
    feedback: for code its zero-shot prompt sampled with ``seed``, for a
    molecule a seeded pick among the checked edits of ``best`` (the value
    the step started from) not in ``avoid`` (the values tried). The loop
    evaluates ``resamples`` such draws beside each step's proposals, and one
    for each proposal that repeats a tried value (instead of asking the
    model again), and records them as resampled candidates. A
    small model that cannot repair a value from criticism can
    still replace it: for code, drawing more samples beats self-repair at
    equal budget for small models (Olausson et al., "Is Self-Repair a Silver
    Bullet for Code Generation?", ICLR 2024).
    """

    forward: Callable[[Variable], Any] | None
    judge: Callable[[Variable], Any]
    score: Callable[[Variable, Variable | None], Any] | None = None
    judge_scores: bool = False
    done: Callable[[Evaluation], bool] | None = None
    metrics: Callable[[Variable], dict[str, Any]] | None = None
    score_names: Sequence[str] = ("score",)
    describe: Callable[[Evaluation], str] | None = None
    neighbours: Callable[[str, str], Sequence[str]] | None = None
    resample: Callable[[int, str, Sequence[str]], Any] | None = None
    ties_move: bool = True

    def outcome(self, evaluation: Evaluation) -> str:
        if self.describe is not None:
            return self.describe(evaluation)
        return fmt_score(list(evaluation.score) if evaluation.score else None, self.score_names)


@dataclass
class Evaluation:
    """One value, its report (graph back to ``variable``), its judgement and score."""

    value: str
    variable: Variable
    report: Variable
    score: Score | None
    judgement: Variable | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    feedback: list | None = None  # the judgement's feedback on the value, once back-propagated


@dataclass
class Track:
    """One trainable variable's search: best value so far, values tried, history."""

    name: str
    parameter: Variable
    objective: Objective
    best_value: str
    best_score: Score | None = None
    best_step: int = 0
    tried: list[str] = field(default_factory=list)
    stalls: int = 0
    done: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    best: Evaluation | None = None

    def state(self) -> dict[str, Any]:
        return {
            "best_value": self.best_value, "best_score": list(self.best_score) if self.best_score else None,
            "best_step": self.best_step, "tried": self.tried, "stalls": self.stalls, "done": self.done,
            "history": self.history,
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        self.best_value = state["best_value"]
        self.best_score = as_score(state.get("best_score"))
        self.best_step = state.get("best_step", 0)
        self.tried = list(state.get("tried", []))
        self.stalls = state.get("stalls", 0)
        self.done = state.get("done", False)
        self.history = list(state.get("history", []))
        self.best = None
        self.parameter.set_value(self.best_value)


async def _acall(fn: Callable[..., Any], *args: Any) -> Any:
    if hasattr(fn, "aforward"):
        return await fn.aforward(*args)
    result = fn(*args)
    return await result if inspect.isawaitable(result) else result


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def fmt_score(score: Sequence[float] | None, names: Any = ("score",)) -> str:
    """A score as its named components: ``goals met=13, -shortfall=-0.0099``."""
    if score is None:
        return "none"
    names = list(names)
    return ", ".join(f"{names[i] if i < len(names) else i}={x:.4g}" for i, x in enumerate(score))


def scored_pairs(measured: Mapping[str, tuple[Any, str]]) -> list[tuple[str, str]]:
    """``value -> (score, outcome line)`` as the optimizer's ``scored``: the best ``SCORED_SHOWN``, worst
    first; none while only one value is measured (nothing to compare it with)."""
    if len(measured) < 2:
        return []
    ranked = sorted(measured.items(), key=lambda kv: kv[1][0])[-SCORED_SHOWN:]
    return [(value, outcome) for value, (_score, outcome) in ranked]


def better(candidate: Score | None, incumbent: Score | None, ties_move: bool = True) -> bool:
    """At least as good (strictly better with ``ties_move=False``); anything scored beats nothing scored."""
    if candidate is None:
        return False
    return incumbent is None or candidate > incumbent or (ties_move and candidate == incumbent)


def add_loop_arguments(parser: Any, candidates: int = 1, patience: int = 2) -> None:
    """The loop's options, the same for every task that uses it."""
    group = parser.add_argument_group("search")
    group.add_argument("--candidates", type=int, default=candidates,
                       help=f"values proposed and evaluated per step; the best is kept (default {candidates})")
    group.add_argument("--patience", type=int, default=patience,
                       help=f"stop after this many steps in a row with no new value (default {patience})")


def check_loop_arguments(args: Any) -> None:
    for option in ("candidates", "patience"):
        value = getattr(args, option)
        if value < 1:
            raise ValueError(f"--{option} must be at least 1, got {value}")


class Optimization:
    """Run ``steps`` steps of the shared loop over ``parameters`` (name -> Variable).

    ``objective`` is one :class:`Objective` for every parameter or a mapping
    by name. ``optimizer`` is a ``TGD`` over the same variables (its
    constraints, momentum and examples apply). With ``run`` the loop resumes
    from the run's last checkpoint, logs events and checkpoints each step
    (``extra_state()`` adds the task's own state to each checkpoint).
    ``seed`` 0 asks greedily (reproducible); any other seed samples proposals.
    ``resamples`` values per step come from each objective's ``resample``;
    with them, a proposal that repeats a tried value is not asked again, a
    further draw takes its place (``TGD.apropose(reask_tried=False)``): with
    the embedded model, none of 10 re-asks after a repeat in four budgeted
    code runs answered a new value.
    With a budget of calls on the engine (``--max-calls``) each step asks as
    many of the ``candidates`` as its share of the calls left pays for
    (:mod:`tg_core.pacing`), so the run does its steps. A task that runs
    several loops one after another on one budget sets ``steps_after`` to the
    steps of the loops still to come, so this one leaves them their share.
    """

    def __init__(
        self,
        parameters: Mapping[str, Variable],
        objective: Objective | Mapping[str, Objective],
        optimizer: TGD,
        *,
        steps: int,
        candidates: int = 1,
        patience: int = 2,
        engine: Engine | None = None,
        run: Run | None = None,
        seed: int = 0,
        extra_state: Callable[[], dict[str, Any]] | None = None,
        resamples: int = 0,
    ) -> None:
        if not parameters:
            raise ValueError("Optimization: parameters is empty")
        for name, value in (("steps", steps), ("candidates", candidates), ("patience", patience)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Optimization: {name} must be a positive integer, got {value!r}")
        if not isinstance(resamples, int) or isinstance(resamples, bool) or resamples < 0:
            raise ValueError(f"Optimization: resamples must be a non-negative integer, got {resamples!r}")
        known = {id(p) for p in optimizer.parameters}
        self.tracks = []
        for name, variable in parameters.items():
            if id(variable) not in known:
                raise ValueError(f"Optimization: parameter {name!r} is not among the optimizer's parameters")
            chosen = objective[name] if isinstance(objective, Mapping) else objective
            if resamples and chosen.resample is None:
                raise ValueError(f"Optimization: resamples={resamples}, but the objective of {name!r} has no resample")
            self.tracks.append(Track(name, variable, chosen, variable.value))
        self.optimizer = optimizer
        self.steps = steps
        self.candidates = candidates
        self.resamples = resamples
        self.patience = patience
        self.engine = engine if engine is not None else (run.engine if run is not None else None)
        self.run = run
        self.seed = seed
        self.extra_state = extra_state
        self.stopped = ""
        self.out_of_budget = False  # the engine's budget ran out: no step follows
        self.step_dropped = False  # ... before the step measured any candidate, so it is not checkpointed
        self.steps_after = 0  # steps of later loops on the same budget
        self._pace: Pace | None = None
        self._evaluation_calls = 0.0  # what evaluating the start cost, the first price of a candidate

    # -------------------------------------------------------------- state

    def state(self) -> dict[str, Any]:
        # a budget stop is not saved: resumed with more budget, the run goes on
        stopped = "" if self.out_of_budget else self.stopped
        return {"tracks": {t.name: t.state() for t in self.tracks}, "stopped": stopped}

    def load_state(self, state: Mapping[str, Any]) -> None:
        saved = state["tracks"]
        for track in self.tracks:
            if track.name not in saved:
                raise ValueError(f"checkpoint has no state for parameter {track.name!r}")
            track.load_state(saved[track.name])
        self.stopped = state.get("stopped", "")

    def restore(self) -> int:
        """Continue from the run's last checkpoint; the number of steps already done."""
        if self.run is None:
            return 0
        last = self.run.latest_checkpoint()
        if not last or "loop" not in last.get("state", {}):
            return 0
        self.load_state(last["state"]["loop"])
        self.optimizer.load_state(last["state"]["optimizer"])
        return last["step"]

    # -------------------------------------------------------------- running

    def run_all(self) -> Optimization:
        return run_sync(self.arun())

    async def arun(self) -> Optimization:
        done = self.restore()
        steps = self.run.steps(self.steps) if self.run is not None else range(done + 1, self.steps + 1)
        for step in steps:
            if self.stopped:
                break
            await self.astep(step)
            if self.step_dropped:
                break  # the unfinished step is not checkpointed: resuming redoes it
            if self.run is not None:
                extra = self.extra_state() if self.extra_state else {}
                self.run.checkpoint(
                    step, {t.name: t.best_value for t in self.tracks},
                    {**extra, "loop": self.state(), "optimizer": self.optimizer.state()},
                )
        for track in self.tracks:
            track.parameter.set_value(track.best_value)
        return self

    async def astep(self, step: int) -> None:
        """One step of every active track; a spent budget ends the run with the best values so far.

        A budget (``--max-calls``, tokens, dollars) is how a user says what a
        run may cost, so reaching it is an ending, not a failure. Candidates
        measured before it ran out are completed work: the step keeps the best
        of them and is checkpointed. If it ran out before any was measured
        (judging the best, its feedback, the proposals), the step is dropped
        (``step_dropped``). Either way ``out_of_budget`` is set and
        ``stopped`` says why.
        """
        active = [t for t in self.tracks if not t.done]
        try:
            width = await self._width(step, active)
            begun = self._calls() if self._pace is not None else 0
            outcomes = await asyncio.gather(*(self._step_track(t, step, width) for t in active))
            short = [why for why, _ in outcomes if why]
            if self._pace is not None:
                feedback = sum(calls for _, calls in outcomes)
                self._pace.record(feedback, self._calls() - begun - feedback, len(active),
                                  (width + self.resamples) * len(active))
        except BudgetExceededError as exc:
            self._stop_for_budget(step, f"{exc}; the step was dropped, the best value of the steps before is kept")
            self.step_dropped = True
            return
        if short:
            self._stop_for_budget(step, f"{short[0]}; the step kept the best of the candidates measured before")
            return
        if all(t.done for t in self.tracks):
            self.stopped = "every parameter is done (its objective says so)"
        elif all(t.done or t.stalls >= self.patience for t in self.tracks):
            self.stopped = f"stalled: no new value for {self.patience} step(s) in a row"
        if self.stopped:
            self._log("stop", step=step, reason=self.stopped)

    def _calls(self) -> int:
        return resolve_engine(self.engine, "Optimization").usage.calls

    async def _width(self, step: int, active: list[Track]) -> int:
        """Candidates per track this step: ``candidates``, or fewer where a call budget must last every step."""
        if self.engine is None or not active:
            return self.candidates
        if self._pace is None:
            limit = call_budget(self.engine)
            if limit is None:
                return self.candidates
            self._pace = Pace(limit)
        before = self._calls()
        await asyncio.gather(*(self._best_of(t) for t in active))
        if self._calls() > before and not self._evaluation_calls:
            self._evaluation_calls = (self._calls() - before) / len(active)
        width = self._pace.width(self.candidates, self._calls(), self.steps - step + 1 + self.steps_after,
                                 len(active), self._evaluation_calls)
        if width < self.candidates:
            log.info("step %d: %d of %d candidates per track, so the call budget lasts the steps left",
                     step, width, self.candidates)
            self._log("pace", step=step, candidates=width, wanted=self.candidates, calls_used=self._calls(),
                      max_calls=self._pace.max_calls)
        return width

    def _stop_for_budget(self, step: int, why: str) -> None:
        self.out_of_budget = True
        self.stopped = f"out of budget in step {step} ({why})"
        log.warning("step %d: %s", step, self.stopped)
        self._log("stop", step=step, reason=self.stopped)

    async def evaluate(self, track: Track, value: str) -> Evaluation:
        """Forward (and judge, when the score reads the judgement) one value of ``track``."""
        objective = track.objective
        variable = Variable(value, role_description=track.parameter.role_description)
        report = variable if objective.forward is None else await _acall(objective.forward, variable)
        judgement = await _acall(objective.judge, report) if objective.judge_scores else None
        score = as_score(await _maybe_await(objective.score(report, judgement))) if objective.score else None
        metrics = objective.metrics(report) if objective.metrics is not None else {}
        return Evaluation(value, variable, report, score, judgement, metrics)

    async def _best_of(self, track: Track) -> Evaluation:
        if track.best is None or track.best.value != track.best_value:
            track.best = await self.evaluate(track, track.best_value)
            if track.best_score is None:
                track.best_score = track.best.score
        return track.best

    async def _feedback_on(self, track: Track, best: Evaluation) -> list:
        """The judgement's feedback on the best value, computed once per value."""
        if best.feedback is None:
            engine = resolve_engine(self.engine, "Optimization")
            if best.judgement is None:
                best.judgement = await _acall(track.objective.judge, best.report)
            await best.judgement.abackward(engine=engine)
            best.feedback = list(best.variable.gradients)
        return best.feedback

    async def _step_track(self, track: Track, step: int, width: int) -> tuple[str, int]:
        """One step of ``track`` asking ``width`` candidates: why a spent budget cut them short ("" if it did
        not), and the calls its feedback made (counted only when a call budget is paced)."""
        best = await self._best_of(track)
        record: dict[str, Any] = {"step": step, "track": track.name, "value": best.value,
                                  "score": list(best.score) if best.score else None, "metrics": best.metrics}
        if best.score is not None:
            record["outcome"] = track.objective.outcome(best)
        if track.objective.done is not None and track.objective.done(best):
            track.done = True
            record.update(done=True, candidates=[], rejections=[], accepted=False, stalled=False,
                          best_value=track.best_value, best_score=record["score"])
            track.history.append(record)
            self._log("loop_step", **record)
            return "", 0
        # every value a step started from counts as tried, the start included
        avoid = list(dict.fromkeys([*track.tried, *(r["value"] for r in track.history), best.value]))

        feedback_calls = 0

        async def propose() -> Proposals:
            nonlocal feedback_calls
            before = self._calls() if self._pace is not None else 0
            feedback = await self._feedback_on(track, best)
            if self._pace is not None:
                feedback_calls = self._calls() - before
            parameter = track.parameter
            parameter.zero_grad()
            parameter.set_value(best.value)
            parameter.gradients.extend(feedback)
            record["judgement"] = best.judgement.value if best.judgement is not None else ""
            # seed 0 is greedy and reproducible; another seed samples, so runs differ by seed
            explore = self.seed != 0 or (bool(track.history) and not track.history[-1].get("accepted"))
            proposed: Proposals = await self.optimizer.apropose(
                parameter, width, avoid=avoid, seed=self.seed + step * self.candidates, explore=explore,
                scored=self._scored(track, record), reask_tried=track.objective.resample is None,
            )
            self.optimizer.remember(parameter, if_new=True)
            return proposed

        # the draws ignore the feedback, so they run while it is computed
        proposals, drawn = await asyncio.gather(propose(), self._resampled(track, step, self.resamples, avoid),
                                                return_exceptions=True)
        if isinstance(proposals, BaseException):
            raise proposals
        spent = [proposals.out_of_budget] if proposals.out_of_budget else []
        if isinstance(drawn, BudgetExceededError):
            spent.append(str(drawn))
            drawn = []
        elif isinstance(drawn, BaseException):
            raise drawn
        # an objective that can draw ended the asking of each answer that repeated a tried value: a draw replaces it
        repeats = sum(r.kind == "tried" for r in proposals.rejections) if track.objective.resample else 0
        if repeats and not spent:
            try:
                drawn = [*drawn, *await self._resampled(track, step, repeats, [*avoid, *proposals.values, *drawn],
                                                        first=self.resamples)]
            except BudgetExceededError as exc:
                spent.append(str(exc))
        derived = self._derived(track, best.value, proposals.values, avoid)
        seen = {*avoid, *proposals.values, *derived}
        drawn = [v for i, v in enumerate(drawn) if v not in seen and v not in drawn[:i]]
        values = [*proposals.values, *derived, *drawn]
        kinds = [{}] * len(proposals.values) + [{"derived": True}] * len(derived) + [{"resampled": True}] * len(drawn)
        measured = await asyncio.gather(*(self.evaluate(track, v) for v in values), return_exceptions=True)
        evaluations, kept_kinds = [], []
        for outcome, kind in zip(measured, kinds, strict=True):
            if isinstance(outcome, BudgetExceededError):
                spent.append(str(outcome))
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                evaluations.append(outcome)
                kept_kinds.append(kind)
        if spent and not evaluations:
            raise BudgetExceededError(spent[0])  # nothing measured: the step is dropped
        track.tried.extend(e.value for e in evaluations)
        chosen = self._choose(track, best, evaluations)
        record["candidates"] = [
            {"value": e.value, "score": list(e.score) if e.score else None, "metrics": e.metrics,
             "accepted": e is chosen, **({"outcome": track.objective.outcome(e)} if e.score is not None else {}),
             **kind}
            for e, kind in zip(evaluations, kept_kinds, strict=True)
        ]
        if spent:
            record["out_of_budget"] = spent[0]
        if width < self.candidates:
            record["paced"] = {"candidates": width, "wanted": self.candidates}
        record["rejections"] = [{"kind": r.kind, "reason": r.reason, "value": r.value} for r in proposals.rejections]
        record["stalled"] = not proposals.values and not drawn
        record["accepted"] = chosen is not None
        if chosen is not None:
            track.best, track.best_value, track.best_score, track.best_step = chosen, chosen.value, chosen.score, step
        track.stalls = track.stalls + 1 if record["stalled"] else 0
        if record["stalled"]:
            log.warning("step %d, %s: stalled: every proposal was unusable or already tried", step, track.name)
            self._log("stall", step=step, track=track.name, rejections=record["rejections"])
        record.update(best_value=track.best_value, best_score=list(track.best_score) if track.best_score else None)
        track.history.append(record)
        self._log("loop_step", **record)
        return (spent[0] if spent else ""), feedback_calls

    async def _resampled(self, track: Track, step: int, count: int, avoid: Sequence[str],
                         first: int = 0) -> list[str]:
        """Draws ``first`` to ``first + count - 1`` of this step from the objective's generator,
        around the value the step started from and away from ``avoid``.

        Distinct seeds per run seed, step and draw: a step draws at most
        ``resamples`` values plus one for each of its ``candidates`` that
        repeated a tried value.
        """
        if not count:
            return []
        per_step = self.resamples + self.candidates
        seeds = [1_000_003 * self.seed + per_step * step + first + i for i in range(count)]
        avoid = list(avoid)
        drawn = await asyncio.gather(*(_acall(track.objective.resample, seed, track.best_value, avoid)
                                       for seed in seeds))
        return [v for v in drawn if isinstance(v, str) and v.strip()]

    @staticmethod
    def _derived(track: Track, best: str, proposals: Sequence[str], avoid: Sequence[str]) -> list[str]:
        """The objective's neighbours of each proposal, new values only, in order."""
        if track.objective.neighbours is None:
            return []
        seen = {*avoid, *proposals}
        derived = []
        for proposal in proposals:
            for value in track.objective.neighbours(best, proposal):
                if value not in seen:
                    seen.add(value)
                    derived.append(value)
        return derived

    @staticmethod
    def _scored(track: Track, current: dict[str, Any]) -> list[tuple[str, str]]:
        """The best values measured so far, worst first, each with its outcome line (none without a score)."""
        if track.objective.score is None:
            return []
        measured: dict[str, tuple[list[float], str]] = {}
        for record in [*track.history, current]:
            for item in [record, *record.get("candidates", [])]:
                if item.get("score") is not None and "outcome" in item:
                    measured.setdefault(item["value"], (item["score"], item["outcome"]))
        return scored_pairs(measured)

    @staticmethod
    def _choose(track: Track, best: Evaluation, evaluations: list[Evaluation]) -> Evaluation | None:
        if not evaluations:
            return None
        if track.objective.score is None:  # nothing to measure: the first valid proposal moves on
            return evaluations[0]
        top = max((e for e in evaluations if e.score is not None), key=lambda e: e.score, default=None)
        return top if top is not None and better(top.score, track.best_score, track.objective.ties_move) else None

    def _log(self, kind: str, **fields: Any) -> None:
        if self.run is not None:
            self.run.log(kind, **fields)
