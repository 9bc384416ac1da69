"""Pacing a call budget over the steps left: the width each step can pay for, and the text task's judgements."""

import json
import sys
import types

import pytest

import tg_core as tg
from tg_core import prompts
from tg_core.builtin import JUDGE_SAMPLES, judge_samples
from tg_core.cli import main
from tg_core.pacing import Pace, call_budget


def test_the_first_step_prices_a_candidate_by_the_start_and_later_steps_by_what_they_spent():
    pace = Pace(max_calls=20)
    # share 20 / 5 = 4 calls: three for the feedback, not enough for a candidate's two (one, all the same)
    assert pace.width(wanted=4, used=0, steps_left=5, tracks=1, evaluation_calls=0) == 1
    assert pace.width(wanted=4, used=0, steps_left=2, tracks=1, evaluation_calls=0) == 3  # (10 - 3) / 2
    assert pace.width(wanted=4, used=0, steps_left=2, tracks=1, evaluation_calls=1.5) == 2  # (10 - 3) / 3.5
    pace.record(feedback_calls=2, candidate_calls=6, tracks=1, asked=3)  # 2 calls per candidate measured
    assert pace.width(wanted=4, used=8, steps_left=2, tracks=1, evaluation_calls=0) == 2  # (6 - 2) / 2
    assert pace.width(wanted=4, used=19, steps_left=3, tracks=1, evaluation_calls=0) == 1  # never below one
    assert pace.width(wanted=4, used=0, steps_left=1, tracks=2, evaluation_calls=0) == 4  # (20 - 4) / 4


def test_the_call_budget_is_found_under_the_cache_and_absent_without_one(tmp_path):
    inner = tg.FunctionEngine(lambda messages, **params: "ok")
    budgeted = tg.engines.BudgetedEngine(inner, tg.Budget(max_calls=7))
    assert call_budget(tg.engines.CachedEngine(budgeted, tmp_path / "cache.sqlite")) == 7
    assert call_budget(inner) is None
    assert call_budget(tg.engines.BudgetedEngine(inner, tg.Budget(max_tokens=1000))) is None


@pytest.mark.parametrize(("chosen", "max_calls", "steps", "expected"), [
    (None, None, 3, JUDGE_SAMPLES),  # no budget: the default
    (None, 60, 3, JUDGE_SAMPLES),  # 15 calls a step pay for three judgements
    (None, 28, 3, 2),  # 7 a step: 3 + 2 x 2
    (None, 12, 3, 1),  # textgrad's 12 calls on the demo: one judgement
    (2, 12, 3, 2),  # asked for explicitly: kept
])
def test_the_text_task_judges_fewer_times_when_the_budget_could_not_pay_every_step(chosen, max_calls, steps, expected):
    assert judge_samples(chosen, max_calls, steps) == expected


def test_tg_run_text_with_a_tight_budget_judges_once_and_does_every_step(tmp_path):
    calls = []
    answers = iter(["Drink water with breakfast.", "Drink water with each meal.", "Drink a glass of water at noon."])

    def reply(messages, **params):
        calls.append(params)
        if messages[0]["content"] == prompts.OPTIMIZER_SYSTEM:
            return f"{prompts.IMPROVED_START} {next(answers)} {prompts.IMPROVED_END}"
        return f"Fine.\nSCORE: {len(messages[-1]['content']) % 10}"

    module = types.ModuleType("pacing_text_engine")
    module.reply = reply
    sys.modules["pacing_text_engine"] = module
    try:
        # start: one judgement; each step: two backward calls, a proposal, its judgement.
        # With the default three judgements the budget would end inside step 2.
        code = main(["run", "text", "--steps", "3", "--max-words", "30", "--max-calls", "13",
                     "--engine", "python:pacing_text_engine:reply", "--run-dir", str(tmp_path / "run")])
    finally:
        del sys.modules["pacing_text_engine"]
    assert code == 0 and len(calls) == 13
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["completed_steps"] == 3 and summary["stopped"] == "ran every step"
    assert "Judgements averaged per value: 1" in (tmp_path / "run" / "report.md").read_text()
