"""The loop's view of a plan: shortfall of missed goals, the score, and the checked weights."""

import pytest

from tg_radiotherapy.goals import Goal, GoalResult
from tg_radiotherapy.objective import (
    canonical_weights,
    plan_score,
    proportional,
    same_ratios_check,
    weights_constraints,
)

PAPER = (
    "weight for PTV: 100, weight for bladder: 100, weight for rectum: 100, "
    "weight for femoral heads: 100, weight for body: 100"
)


def result(op, value, limit):
    goal = Goal("rectum", "Dmax", op, limit, "Gy")
    met = value <= limit if op == "<=" else value >= limit
    return GoalResult(goal, value, limit, met)


def test_the_shortfall_is_how_far_a_missed_goal_is_missed_relative_to_its_limit():
    assert result("<=", 80.0, 64.0).shortfall == pytest.approx(0.25)
    assert result(">=", 60.0, 66.0).shortfall == pytest.approx(6 / 66)
    assert result("<=", 50.0, 64.0).shortfall == 0.0 and result(">=", 70.0, 66.0).shortfall == 0.0
    assert result("<=", 3.0, 0.0).shortfall == 3.0  # a limit of 0 is floored at 1, not divided by
    assert result("<=", 80.0, 64.0).as_dict()["shortfall"] == pytest.approx(0.25)


def test_anything_but_a_plan_has_no_score():
    assert plan_score({"error": "WeightsError: no weights found"}) is None


def test_proportional_weights_give_the_factor():
    a = {"PTV": 100.0, "bladder": 50.0, "rectum": 0.0}
    assert proportional({k: 3 * v for k, v in a.items()}, a) == pytest.approx(3.0)
    assert proportional({**a, "rectum": 1.0}, a) is None


def test_the_weights_constraints_say_what_is_wrong():
    planned = [PAPER]
    text_format, text_range, same = weights_constraints(lambda: planned)
    assert text_format.violation("weight for PTV: lots") == "the weight for PTV is not a number: 'lots'"
    assert "below the minimum" in text_format.violation(PAPER.replace("body: 100", "body: 1e-9"))
    assert text_format.violation(PAPER) is None and text_range.check is None
    doubled = PAPER.replace("100", "200")
    assert same.violation(doubled).startswith("these weights are 2 times 'weight for PTV: 100, weight for bladder: 100")
    assert same.violation(PAPER.replace("100", "100.0")) is None  # equal weights: the loop refuses them as tried
    assert same.violation(PAPER.replace("PTV: 100", "PTV: 1000")) is None
    assert same.violation("garbage") is None  # the format check reports it
    planned.append(doubled)  # the check reads the values planned so far each time
    assert "4 times 'weight for PTV: 100" in same_ratios_check(lambda: planned)(PAPER.replace("100", "400"))


def test_weights_are_compared_in_one_form():
    assert canonical_weights("**weight for PTV**: 100.0, weight for bladder: 1e2, weight for rectum: 100, "
                             "weight for femoral heads: 100, weight for body: 100\nDone.") == PAPER
    assert canonical_weights("no weights here") == "no weights here"
