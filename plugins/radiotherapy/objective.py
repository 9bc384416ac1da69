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


# The line search along a proposal (in log-weight space; t = 1 is the proposal):
# a coarse grid, then a ternary search between the best point's neighbours.
# On the 5 mm phantom only PTV-to-organ ratios of about 250 to 400 meet all 14
# goals: equal weights x (PTV 10) is a ratio of 100 (12 goals), while a timid
# proposal (PTV 150, organs 50) needs t of about 5. A plan takes about 2 s, a
# model call 20 s or more.
COARSE_STEPS = (0.5, 2.0, 4.0, 8.0)
REFINEMENTS = 3


def line_point(start: Mapping[str, float], end: Mapping[str, float], t: float) -> str | None:
    """The weights ``t`` of the way from ``start`` to ``end`` in log space, rescaled to ``end``'s largest weight."""
    point = {s: math.exp(math.log(start[s]) + t * (math.log(end[s]) - math.log(start[s]))) for s in start}
    scale = max(end.values()) / max(point.values())
    rounded = {s: float(f"{w * scale:.3g}") for s, w in point.items()}
    if max(rounded.values()) > MAX_WEIGHT or min(rounded.values()) < MIN_WEIGHT:
        return None
    return format_weights(rounded)


def line_search(plan: Callable[[str], Any], best: str, proposal: str, coarse: Sequence[float] = COARSE_STEPS,
                refinements: int = REFINEMENTS) -> list[str]:
    """The best-scoring weights on the line from ``best`` through ``proposal``, if not the proposal itself.

    ``plan(weights) -> Plan`` is the planner. Nothing is searched when either
    side does not parse or has a zero weight (no logarithm), or when the
    proposal only rescales ``best`` (the same plan).
    """
    try:
        start, end = parse_weights(best), parse_weights(proposal)
    except WeightsError:
        return []
    if any(w <= 0 for w in (*start.values(), *end.values())) or proportional(end, start) is not None:
        return []
    worst = (-math.inf, -math.inf)
    found: dict[float, tuple[tuple[float, float], str | None]] = {}

    def visit(t: float) -> tuple[float, float]:
        if t not in found:
            text = line_point(start, end, t)
            found[t] = ((plan_score(plan(text)) or worst) if text else worst, text)
        return found[t][0]

    for t in (1.0, *coarse):
        visit(t)
    grid = sorted(found)
    top = grid.index(max(grid, key=visit))
    low, high = math.log(grid[max(top - 1, 0)]), math.log(grid[min(top + 1, len(grid) - 1)])
    for _ in range(refinements):
        a, b = low + (high - low) / 3, low + 2 * (high - low) / 3
        if visit(math.exp(a)) >= visit(math.exp(b)):
            high = b
        else:
            low = a
    t_best = max(found, key=visit)
    text = found[t_best][1]
    return [text] if t_best != 1.0 and text is not None and text != proposal else []


def plan_objective(simulator: Callable[..., Any], judge: Callable[..., Any],
                   plan: Callable[[str], Any] | None = None) -> Objective:
    """The loop's objective: the simulator plans, the judge explains, the program scores and stops.

    With ``plan`` (the planner's), each proposal is followed by a line search
    (``line_search``) whose best point is a derived candidate.
    """
    return Objective(
        forward=simulator,
        judge=judge,
        score=lambda report, _judgement: plan_score(report.data),
        done=all_goals_met,
        metrics=lambda report: plan_numbers(report.data) if isinstance(report.data, Plan) else {},
        score_names=SCORE_NAMES,
        describe=plan_outcome,
        neighbours=functools.partial(line_search, plan) if plan is not None else None,
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
