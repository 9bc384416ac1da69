"""What the shared loop optimizes in ``tg run radiotherapy``: a plan's score, when it is done, the checked weights.

The score is ``(goals met, -sum of relative shortfalls)``, computed by the
program from the plan (``GoalResult.shortfall``): the protocol's goals come
first, and among plans meeting as many goals the one nearer to meeting the
missed ones is better. The tie-breaker is not ``-objective``: the objective is
the weighted sum that the weights themselves define, so plans made with
different weights have objectives on different scales and cannot be ranked
by them. Weights that do not parse score ``None``; they never get that far,
since the parser is a checked constraint (its reason is re-asked).

The clinician plans shown to the optimizer are examples, not answers: a copy
of one is planned and ranked like any other candidate, so it is kept only if
it scores best. Because the shortfall is continuous, two different plans
that miss goals do not tie; the one tie left is the same plan, which weights
proportional to a set already planned give (only ratios matter), and those
are refused by a checked constraint. A copy is therefore kept only if it is
strictly better than everything planned before.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from tg_core.loop import Evaluation, Objective
from tg_core.optimizer import Constraint

from . import prompts
from .plan_text import missed_goals
from .planning import Plan
from .report import plan_numbers
from .weights import MAX_WEIGHT, MIN_WEIGHT, WeightsError, format_weights, parse_weights

SCORE_NAMES = ("goals met", "-shortfall")


def plan_score(plan: Any) -> tuple[float, float] | None:
    """``(goals met, -sum of relative shortfalls)``; ``None`` for anything but a plan (an error report)."""
    if not isinstance(plan, Plan):
        return None
    shortfall = sum(g.shortfall for g in plan.goals)
    return float(plan.goals_met), -shortfall if shortfall else 0.0  # not -0.0, which prints as "-0"


def all_goals_met(evaluation: Evaluation) -> bool:
    plan = evaluation.report.data
    return isinstance(plan, Plan) and plan.all_goals_met


def plan_outcome(evaluation: Evaluation) -> str:
    """Goals met and the ones missed, by how much: what tells two near-miss weight sets apart."""
    plan = evaluation.report.data
    if not isinstance(plan, Plan):
        return prompts.OUTCOME_NO_PLAN
    return prompts.OUTCOME.format(met=plan.goals_met, total=len(plan.goals), missed=missed_goals(plan.goals))


# Fractions of a proposal's step tried besides the proposal itself (t = 1), in
# log-weight space. On the 5 mm phantom only a band of PTV-to-organ ratios
# (about 250 to 400) meets all 14 goals; the model's first proposal from equal
# weights was a ratio of 100 (12 goals), and t = 1.25 of that step is 316 (14
# goals). A plan takes about 2 s, a model call 20 s or more.
LINE_STEPS = (0.5, 0.75, 1.25, 1.5, 2.0)


def line_search(best: str, proposal: str, steps: Iterable[float] = LINE_STEPS) -> list[str]:
    """Weights along the line from ``best`` through ``proposal`` in log space, at ``steps`` of the way.

    Only the ratios matter, so each is normalised to the proposal's largest
    weight; nothing is derived when either side does not parse or has a zero
    weight (no logarithm), or when the proposal only rescales ``best``.
    """
    try:
        start, end = parse_weights(best), parse_weights(proposal)
    except WeightsError:
        return []
    if any(w <= 0 for w in (*start.values(), *end.values())) or proportional(end, start) is not None:
        return []
    derived = []
    for t in steps:
        point = {s: math.exp(math.log(start[s]) + t * (math.log(end[s]) - math.log(start[s]))) for s in start}
        scale = max(end.values()) / max(point.values())
        rounded = {s: float(f"{w * scale:.3g}") for s, w in point.items()}
        if max(rounded.values()) <= MAX_WEIGHT and min(rounded.values()) >= MIN_WEIGHT:
            derived.append(format_weights(rounded))
    return derived


def plan_objective(simulator: Callable[..., Any], judge: Callable[..., Any],
                   line_steps: Sequence[float] = LINE_STEPS) -> Objective:
    """The loop's objective: the simulator plans, the judge explains, the program scores and stops.

    ``line_steps`` (empty: none) are the fractions of each proposal's step also planned.
    """
    return Objective(
        forward=simulator,
        judge=judge,
        score=lambda report, _judgement: plan_score(report.data),
        done=all_goals_met,
        metrics=lambda report: plan_numbers(report.data) if isinstance(report.data, Plan) else {},
        score_names=SCORE_NAMES,
        describe=plan_outcome,
        neighbours=functools.partial(line_search, steps=tuple(line_steps)) if line_steps else None,
    )


def _weights_error(value: str) -> str | None:
    try:
        parse_weights(value)
    except WeightsError as exc:
        return str(exc)
    return None


def proportional(a: Mapping[str, float], b: Mapping[str, float]) -> float | None:
    """The factor ``f`` with ``a = f * b`` (the same plan), or ``None`` when the ratios differ."""
    total_a, total_b = sum(a.values()), sum(b.values())
    factor = total_a / total_b
    same = all(math.isclose(a[s] / total_a, b[s] / total_b, rel_tol=1e-6, abs_tol=1e-12) for s in b)
    return factor if same else None


def canonical_weights(value: str) -> str:
    """Weights in the one form the loop compares (``format_weights``), so the same weights written
    differently (markdown, ``100.0``, prose around them) are recognised as already tried; text that
    does not parse is left for the format check to explain."""
    try:
        return format_weights(parse_weights(value))
    except WeightsError:
        return value


def same_ratios_check(planned: Callable[[], Iterable[str]]) -> Callable[[str], str | None]:
    """A check refusing weights proportional to any of ``planned()`` (the values planned so far).

    Equal weights are left to the loop, which refuses them as already tried.
    """

    def check(value: str) -> str | None:
        try:
            weights = parse_weights(value)
        except WeightsError:
            return None  # the format check says why
        for earlier in planned():
            try:
                before = parse_weights(earlier)
            except WeightsError:
                continue
            factor = proportional(weights, before)
            if factor is not None and not math.isclose(factor, 1.0):
                return prompts.SAME_RATIOS_REASON.format(factor=factor, planned=format_weights(before))
        return None

    return check


def weights_constraints(planned: Callable[[], Iterable[str]]) -> list[Constraint]:
    """The constraints on proposed weights, every one checked by the program.

    The format and the range are checked by the parser (its message is the
    reason re-asked), so weights that do not parse are never planned;
    weights proportional to ``planned()`` (the start and every value tried)
    are refused as the same plan.
    """
    text_format, text_range = prompts.CONSTRAINTS
    return [
        Constraint(text_format, _weights_error),
        Constraint(text_range),  # the parser above checks it too; one reason per answer is enough
        Constraint(prompts.SAME_RATIOS_CONSTRAINT, same_ratios_check(planned)),
    ]
