"""The shared optimization loop, driven by scripted models: stalls, best-so-far, checked constraints."""

import json

import pytest

import tg_core as tg
from tg_core import progress, prompts
from tg_core.engines.base import Completion
from tg_core.loop import Objective, Optimization
from tg_core.optimizer import TGD, Constraint


def _number(text):
    return {"value": float(text)}


def _objective(engine, done=None):
    """Score = the number itself (higher is better); a value that is not a number scores nothing."""
    simulator = tg.SimulatorFunction(_number, purpose="reads the number; higher is better")

    def score(report, judgement):
        return report.data.get("value")

    return Objective(forward=simulator, judge=tg.TextLoss("Judge the number.", engine=engine), score=score, done=done)


def _scripted(proposals, log=None):
    """Optimizer answers from ``proposals`` in order (a str, or a Completion); feedback otherwise."""
    queue = list(proposals)

    def reply(messages, **params):
        if messages[0]["content"] == prompts.OPTIMIZER_SYSTEM:
            if log is not None:
                log.append((messages, params))
            answer = queue.pop(0)
            if isinstance(answer, Completion):
                return answer
            return f"{prompts.IMPROVED_START} {answer} {prompts.IMPROVED_END}"
        return "make it bigger"

    return tg.FunctionEngine(reply)


def _loop(engine, start="1", steps=3, candidates=1, patience=2, constraints=(), run=None, done=None):
    variable = tg.Variable(start, role_description="a number")
    optimizer = TGD([variable], engine=engine, constraints=constraints)
    loop = Optimization({"x": variable}, _objective(engine, done), optimizer, steps=steps, candidates=candidates,
                        patience=patience, engine=engine, run=run)
    return variable, loop


def test_a_model_that_returns_the_input_is_reasked_with_new_seeds_then_stalls_and_stops(caplog):
    log = []
    variable, loop = _loop(_scripted(["1"] * 20, log), steps=5, patience=2)
    loop.run_all()
    track = loop.tracks[0]
    assert [r["stalled"] for r in track.history] == [True, True]  # stopped after 2 of 5 steps
    assert loop.stopped.startswith("stalled")
    assert len(log) == 6  # 3 attempts per step
    seeds = [params.get("seed") for _, params in log[:3]]
    assert len(set(seeds)) == 3 and all(params["temperature"] > 0 for _, params in log[1:3])
    reask = log[1][0][-1]["content"]
    assert "identical to a value already tried" in reask and "<TRIED> 1 </TRIED>" in reask
    assert variable.value == "1"
    assert "stalled" in caplog.text


def test_the_kept_value_never_gets_worse():
    # step 1: candidates 5 and 3 -> keep 5; step 2: candidates 2 and 4 (both worse) -> keep 5
    variable, loop = _loop(_scripted(["5", "3", "2", "4"]), steps=2, candidates=2)
    loop.run_all()
    track = loop.tracks[0]
    assert [r["best_score"] for r in track.history] == [[5.0], [5.0]]
    assert variable.value == "5" and track.best_step == 1
    assert track.history[1]["accepted"] is False and not track.history[1]["stalled"]
    assert sorted(track.tried) == ["2", "3", "4", "5"]


@pytest.mark.parametrize("ties_move", [True, False])
def test_a_candidate_that_only_ties_the_best_replaces_it_unless_the_objective_keeps_the_incumbent(ties_move):
    # the score is the number's whole part: 1.5 and 1.7 tie the start 1
    proposals, judged = ["1.5", "1.7"], []

    def reply(messages, **params):
        if messages[0]["content"] == prompts.OPTIMIZER_SYSTEM:
            return f"{prompts.IMPROVED_START} {proposals.pop(0)} {prompts.IMPROVED_END}"
        if messages[0]["content"] == "Judge the number.":
            judged.append(messages[-1]["content"])
        return "make it bigger"

    engine = tg.FunctionEngine(reply)
    variable = tg.Variable("1", role_description="a number")
    objective = Objective(forward=tg.SimulatorFunction(_number, purpose="reads the number"),
                          judge=tg.TextLoss("Judge the number.", engine=engine),
                          score=lambda report, judgement: int(report.data["value"]), ties_move=ties_move)
    loop = Optimization({"x": variable}, objective, TGD([variable], engine=engine), steps=2, engine=engine)
    loop.run_all()
    track = loop.tracks[0]
    assert [r["accepted"] for r in track.history] == [ties_move, ties_move]
    assert variable.value == ("1.7" if ties_move else "1")
    # the kept start's judgement serves both steps; a moved search pays for one on each new value
    assert judged == (["value: 1", "value: 1.5"] if ties_move else ["value: 1"])


def test_the_optimizer_sees_the_values_measured_so_far_with_their_scores_best_last():
    log = []
    _variable, loop = _loop(_scripted(["5", "3", "9", "7"], log), steps=2, candidates=2)
    loop.run_all()
    first, second = (messages[1]["content"] for messages, _ in log[::2])
    assert "<EVALUATED>" not in first  # only the start is measured: nothing to compare with
    listed = [line for line in second.splitlines() if line.startswith("<EVALUATED>")]
    assert listed == ["<EVALUATED> 1 </EVALUATED> measured: score=1",
                      "<EVALUATED> 3 </EVALUATED> measured: score=3",
                      "<EVALUATED> 5 </EVALUATED> measured: score=5"]
    assert second.index("<EVALUATED>") < second.index("<VARIABLE>")


def test_neighbours_the_objective_derives_are_evaluated_recorded_and_can_be_kept():
    engine = _scripted(["3"])
    variable = tg.Variable("1", role_description="a number")
    objective = _objective(engine)
    objective.neighbours = lambda best, proposal: [str(float(proposal) * 2), proposal, best]  # 6, and two known
    loop = Optimization({"x": variable}, objective, TGD([variable], engine=engine), steps=1, engine=engine)
    loop.run_all()
    (record,) = loop.tracks[0].history
    assert [(c["value"], c.get("derived", False), c["accepted"]) for c in record["candidates"]] == [
        ("3", False, False), ("6.0", True, True)]
    assert variable.value == "6.0" and "6.0" in loop.tracks[0].tried


def _drawing_loop(engine, draw, steps, resamples=1):
    """A loop over "1" whose objective also draws values with ``draw(seed, best, avoid)``, ``resamples`` a step."""
    variable = tg.Variable("1", role_description="a number")
    objective = _objective(engine)
    objective.resample = draw
    loop = Optimization({"x": variable}, objective, TGD([variable], engine=engine), steps=steps, engine=engine,
                        resamples=resamples)
    loop.run_all()
    return variable, loop


def test_resampled_values_are_evaluated_beside_the_proposals_with_distinct_seeds_and_can_be_kept():
    """A model that only returns its input still moves when the task's own generator draws a better value."""
    seeds = []

    def draw(seed, best, avoid):
        seeds.append(seed)
        return {1: "1", 3: "9"}.get(len(seeds), "1")  # step 1: the start again (dropped); step 2: 9

    variable, loop = _drawing_loop(_scripted(["2", "1"]), draw, steps=2)
    first, second = loop.tracks[0].history
    assert [(c["value"], c.get("resampled", False), c["accepted"]) for c in first["candidates"]] == [
        ("2", False, True)]
    assert [(c["value"], c.get("resampled", False), c["accepted"]) for c in second["candidates"]] == [
        ("9", True, True)]
    assert not second["stalled"] and variable.value == "9" and len(set(seeds)) == len(seeds) == 3
    assert progress.track_summary(loop.tracks[0])["counts"]["resampled"] == 1
    assert "9 (resampled) (kept)" in progress.markdown(loop).replace("score=", "")


def test_a_proposal_that_repeats_a_tried_value_is_replaced_by_a_draw_not_asked_again():
    """With draws to make, the call a re-ask would cost buys a fresh value instead: with the embedded model
    none of 10 re-asks after a repeat answered a new value."""
    seeds = []

    def draw(seed, best, avoid):
        seeds.append(seed)
        return ["1", "7"][len(seeds) - 1]  # the step's own draw repeats the start; the replacement is new

    log = []
    variable, loop = _drawing_loop(_scripted(["1"], log), draw, steps=1)
    (record,) = loop.tracks[0].history
    assert len(log) == 1  # the optimizer was asked once: its repeat was not asked again
    assert [r["kind"] for r in record["rejections"]] == ["tried"]
    assert [(c["value"], c.get("resampled", False), c["accepted"]) for c in record["candidates"]] == [
        ("7", True, True)]
    assert len(set(seeds)) == 2 and variable.value == "7"


def test_an_objective_that_draws_replaces_repeats_even_with_no_draws_of_its_own():
    """``resamples=0`` (a molecule: a draw costs a docking, not worth one every step): a repeated proposal
    still turns into a draw, made around the kept value and away from the values tried."""
    calls = []

    def draw(seed, best, avoid):
        calls.append((best, list(avoid)))
        return str(int(best) + 10)

    log = []
    variable, loop = _drawing_loop(_scripted(["3", "1"], log), draw, steps=2, resamples=0)
    first, second = loop.tracks[0].history
    assert len(log) == 2 and calls == [("3", ["3", "1"])]  # step 1 proposed 3; step 2 repeated the start
    assert [(c["value"], c.get("resampled", False), c["accepted"]) for c in second["candidates"]] == [
        ("13", True, True)]
    assert variable.value == "13" and not second["stalled"]


def test_a_budget_spent_before_the_replacing_draw_keeps_what_the_step_measured():
    """The draw is an LLM call as every draw of a real task is: the budget pays for the step's own draw
    (judge, two backward, the proposal, the draw: 5 calls) and refuses the one replacing the repeat."""
    scripted = _scripted(["1"])

    def reply(messages, **params):
        return "5" if messages[0]["content"] == "Draw a number." else scripted.generate(messages, **params)

    engine = tg.engines.BudgetedEngine(tg.FunctionEngine(reply), tg.Budget(max_calls=5))
    ask = tg.LLMCall(engine, system_prompt="Draw a number.")

    async def draw(seed, best, avoid):
        return (await ask.aforward(tg.Variable("a number", role_description="request"))).value

    variable, loop = _drawing_loop(engine, draw, steps=2)
    (record,) = loop.tracks[0].history
    assert engine.usage.calls == 5 and loop.out_of_budget and "budget of 5 LLM calls reached" in loop.stopped
    assert [(c["value"], c["accepted"]) for c in record["candidates"]] == [("5", True)]
    assert "budget" in record["out_of_budget"] and variable.value == "5"


def test_resamples_need_an_objective_that_can_draw():
    engine = _scripted([])
    variable = tg.Variable("1", role_description="a number")
    with pytest.raises(ValueError, match="resamples=1, but the objective of 'x' has no resample"):
        Optimization({"x": variable}, _objective(engine), TGD([variable], engine=engine), steps=1, resamples=1)
    with pytest.raises(ValueError, match="resamples must be a non-negative integer, got -1"):
        Optimization({"x": variable}, _objective(engine), TGD([variable], engine=engine), steps=1, resamples=-1)


def test_an_invalid_candidate_is_never_kept_and_the_next_step_starts_from_the_best():
    variable, loop = _loop(_scripted(["not a number", "7"]), steps=2)
    loop.run_all()
    first, second = loop.tracks[0].history
    assert first["candidates"][0]["score"] is None and not first["accepted"]
    assert second["value"] == "1" and second["best_value"] == "7"


def test_a_checked_constraint_rejects_a_candidate_with_its_reason():
    log = []

    def below_ten(value):
        """The number must be below 10."""
        return f"{value} is not below 10" if float(value) >= 10 else None

    variable, loop = _loop(_scripted(["12", "8"], log), steps=1, constraints=[below_ten])
    loop.run_all()
    assert variable.value == "8"
    assert "1. The number must be below 10." in log[0][0][1]["content"]
    assert "breaks the constraints: 12 is not below 10" in log[1][0][-1]["content"]
    assert loop.tracks[0].history[0]["rejections"][0]["kind"] == "constraint"


def test_an_answer_cut_at_max_tokens_is_reasked():
    cut = Completion(f"{prompts.IMPROVED_START} 9", finish_reason="length")
    log = []
    variable, loop = _loop(_scripted([cut, "9"], log), steps=1)
    loop.run_all()
    assert variable.value == "9"
    assert "cut at the limit of" in log[1][0][-1]["content"]
    assert log[0][1]["max_tokens"] >= 256


def test_an_answer_repeating_itself_is_reasked():
    loop_text = "9 " * 400
    variable, loop = _loop(_scripted([loop_text, "9"]), steps=1)
    loop.run_all()
    assert variable.value == "9"
    assert loop.tracks[0].history[0]["rejections"][0]["kind"] == "repeating"


def test_the_loop_stops_when_the_objective_is_done():
    variable, loop = _loop(_scripted(["50", "60"]), steps=5, done=lambda e: e.score[0] >= 50)
    loop.run_all()
    assert variable.value == "50" and loop.stopped.startswith("every parameter is done")
    assert [r.get("done", False) for r in loop.tracks[0].history] == [False, True]


def test_resume_in_the_middle_continues_with_the_best_and_the_tried_values(tmp_path):
    engine = _scripted(["3", "4"])
    run = tg.Run.create(tmp_path, "loop", engine=engine)
    with run:
        _, loop = _loop(engine, steps=2, run=run)
        loop.run_all()
    assert run.completed_steps == 2
    log = []
    engine = _scripted(["4", "6"], log)  # "4" was tried before the interruption: asked again
    resumed = tg.Run.resume(run.path, engine=engine)
    with resumed:
        variable, loop = _loop(engine, steps=3, run=resumed)
        loop.run_all()
    track = loop.tracks[0]
    assert [r["step"] for r in track.history] == [1, 2, 3]
    assert variable.value == "6" and track.best_step == 3
    assert "<TRIED> 4 </TRIED>" in log[1][0][-1]["content"]
    saved = json.loads((run.path / "checkpoints" / "step-0003.json").read_text())
    assert saved["variables"] == {"x": "6"}


def test_a_spent_budget_ends_the_run_with_the_best_value_so_far_and_resuming_redoes_the_unfinished_step(tmp_path):
    calls = []
    scripted = _scripted(["3", "4", "5"])

    def counted(messages, **params):
        calls.append(messages[0]["content"])
        return scripted.generate(messages, **params)

    engine = tg.engines.BudgetedEngine(tg.FunctionEngine(counted), tg.Budget(max_calls=4))
    run = tg.Run.create(tmp_path, "loop", engine=engine)
    with run:
        variable, loop = _loop(engine, steps=3, run=run)
        loop.run_all()  # step 1 takes the 4 calls (judge, two backward, proposal); step 2 runs out at once
    assert len(calls) == 4 and variable.value == "3"
    assert loop.out_of_budget and loop.stopped.startswith("out of budget in step 2")
    assert "budget of 4 LLM calls reached" in loop.stopped
    assert run.completed_steps == 1 and [r["step"] for r in loop.tracks[0].history] == [1]
    saved = json.loads((run.path / "checkpoints" / "step-0001.json").read_text())
    assert saved["state"]["loop"]["stopped"] == ""  # a budget stop is not saved: more budget goes on
    engine = _scripted(["4", "5"])
    resumed = tg.Run.resume(run.path, engine=engine)
    with resumed:
        variable, loop = _loop(engine, steps=3, run=resumed)
        loop.run_all()
    assert [r["step"] for r in loop.tracks[0].history] == [1, 2, 3] and variable.value == "5"


def test_candidates_measured_before_the_budget_ran_out_are_kept_and_their_step_is_checkpointed(tmp_path):
    engine = tg.engines.BudgetedEngine(_scripted(["3", "4", "6", *["1"] * 6]), tg.Budget(max_calls=14))
    run = tg.Run.create(tmp_path, "loop", engine=engine)
    with run:
        variable, loop = _loop(engine, steps=2, candidates=3, run=run)
        # step 1, paced to 2 candidates, costs 5 calls, so step 2 can afford all 3 at one call each; but two of
        # its answers hand back the start and are asked again, and the budget runs out among those
        loop.run_all()
    assert variable.value == "6" and engine.usage.calls == 14
    assert loop.stopped.startswith("out of budget in step 2 (budget of 14 LLM calls reached")
    assert loop.stopped.endswith("the step kept the best of the candidates measured before)")
    first, second = loop.tracks[0].history
    assert first["paced"] == {"candidates": 2, "wanted": 3} and "paced" not in second
    assert [c["value"] for c in second["candidates"]] == ["6"] and "budget" in second["out_of_budget"]
    assert run.completed_steps == 2 and not loop.step_dropped


def test_a_call_budget_is_spread_over_the_steps_so_each_asks_what_its_share_pays_for(tmp_path):
    engine = tg.engines.BudgetedEngine(_scripted(["3", "4", "5", "6", "7"]), tg.Budget(max_calls=12))
    run = tg.Run.create(tmp_path, "loop", engine=engine)
    with run:
        variable, loop = _loop(engine, steps=3, candidates=3, run=run)
        loop.run_all()  # at full width step 1 would take 6 calls, step 2 the other 6, step 3 none
    history = loop.tracks[0].history
    assert [r["step"] for r in history] == [1, 2, 3] and not loop.out_of_budget
    assert [r["paced"] for r in history] == [{"candidates": 1, "wanted": 3}] * 3
    assert engine.usage.calls == 12 and variable.value == "5"  # each step: judge, two backward, one proposal
    paced = [json.loads(line) for line in (run.path / "events.jsonl").read_text().splitlines()]
    assert [e["candidates"] for e in paced if e["kind"] == "pace"] == [1, 1, 1]
    assert "Candidates paced to the call budget: step 1 asked 1 of 3; step 2 asked 1 of 3; step 3 asked 1 of 3." \
        in progress.markdown(loop)


def test_loops_run_one_after_another_on_one_budget_each_leave_the_later_steps_their_share():
    engine = tg.engines.BudgetedEngine(_scripted([str(n) for n in range(2, 20)]), tg.Budget(max_calls=24))
    first_variable, first = _loop(engine, steps=3, candidates=3)
    first.steps_after = 3
    first.run_all()  # alone, its first step would have asked all three candidates (24 / 3 = 8 calls a step)
    assert [r["paced"]["candidates"] for r in first.tracks[0].history] == [1, 1, 1]
    second_variable, second = _loop(engine, start="1", steps=3, candidates=3)
    second.run_all()
    assert [r["step"] for r in second.tracks[0].history] == [1, 2, 3] and not second.out_of_budget
    assert engine.usage.calls <= 24


def test_a_budget_that_pays_for_every_candidate_leaves_the_width_alone():
    engine = tg.engines.BudgetedEngine(_scripted([str(n) for n in range(2, 20)]), tg.Budget(max_calls=100))
    variable, loop = _loop(engine, steps=3, candidates=3)
    loop.run_all()
    assert [len(r["candidates"]) for r in loop.tracks[0].history] == [3, 3, 3]
    assert not any("paced" in r for r in loop.tracks[0].history)


def _run_text(tmp_path, reply, *options):
    """``tg run text --steps 1 OPTIONS`` through the CLI, its model the function ``reply`` (a python: engine)."""
    import sys
    import types

    from tg_core.cli import main

    module = types.ModuleType("loop_text_engine")
    module.reply = reply
    sys.modules["loop_text_engine"] = module
    try:
        return main(["run", "text", "--steps", "1", *options, "--engine", "python:loop_text_engine:reply",
                     "--run-dir", str(tmp_path / "run")])
    finally:
        del sys.modules["loop_text_engine"]


def test_text_task_reports_score_per_step_and_enforces_its_length(tmp_path):
    answers = iter(["Drink water every day of the week because your whole body, from your brain and muscles to "
                    "your skin and kidneys, needs plenty of it to work well and stay healthy for many years.",
                    "Drink a glass of water with each meal to stay hydrated."])

    def reply(messages, **params):
        if messages[0]["content"] == prompts.OPTIMIZER_SYSTEM:
            return f"{prompts.IMPROVED_START} {next(answers)} {prompts.IMPROVED_END}"
        return "Clear habit and reason.\nSCORE: 8" if "each meal" in messages[-1]["content"] else "Vague.\nSCORE: 3"

    code = _run_text(tmp_path, reply, "--max-words", "30", "--max-sentences", "1")
    assert code == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["final"] == "Drink a glass of water with each meal to stay hydrated."
    assert summary["start_score"] == [1.0, 3.0] and summary["best_score"] == [2.0, 8.0]
    assert summary["improved"] is True and summary["counts"]["invalid"] == 1
    report = (tmp_path / "run" / "report.md").read_text()
    assert "improved from checks met=1, judge score=3 to checks met=2, judge score=8" in report
    assert (tmp_path / "run" / "score.svg").read_text().startswith("<svg")


def test_tg_run_text_with_max_calls_stops_at_the_budget_and_reports_the_best_text(tmp_path, capsys):
    calls = []

    def reply(messages, **params):
        calls.append(messages)
        if messages[0]["content"] == prompts.OPTIMIZER_SYSTEM:
            return f"{prompts.IMPROVED_START} Drink a glass of water with each meal. {prompts.IMPROVED_END}"
        return "Clear habit and reason.\nSCORE: 8" if "each meal" in messages[-1]["content"] else "Vague.\nSCORE: 3"

    code = _run_text(tmp_path, reply, "--max-words", "30", "--judge-samples", "1", "--steps", "3",
                     "--max-calls", "5")
    assert code == 0 and len(calls) == 5
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["final"] == "Drink a glass of water with each meal."
    assert summary["stopped"].startswith("out of budget in step 2 (budget of 5 LLM calls reached")
    assert summary["completed_steps"] == 1 and summary["usage"]["calls"] == 5
    assert "Stopped early: out of budget in step 2" in (tmp_path / "run" / "report.md").read_text()


def test_a_budget_spent_before_step_1_finishes_reports_no_improvement_over_the_measured_start(tmp_path):
    def reply(messages, **params):
        return "Vague.\nSCORE: 3"

    code = _run_text(tmp_path, reply, "--max-words", "30", "--judge-samples", "1", "--max-calls", "3")
    assert code == 0  # the start's judgement and the two backward calls; the proposal is refused
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["completed_steps"] == 0 and summary["stopped"].startswith("out of budget in step 1")
    assert summary["start_score"] == summary["best_score"] == [1.0, 3.0] and summary["improved"] is False
    assert "no improvement over the start (checks met=1, judge score=3)" in (tmp_path / "run" / "report.md").read_text()


def test_an_over_long_text_is_projected_to_its_leading_sentences_and_scored(tmp_path):
    log = []

    def reply(messages, **params):
        if messages[0]["content"] == prompts.OPTIMIZER_SYSTEM:
            log.append(messages)
            return (f"{prompts.IMPROVED_START} Drink a glass of water with each meal. It keeps you hydrated. "
                    f"Your kidneys will thank you. {prompts.IMPROVED_END}")
        return "Clear habit and reason.\nSCORE: 8" if "each meal" in messages[-1]["content"] else "Vague.\nSCORE: 3"

    code = _run_text(tmp_path, reply, "--max-words", "30", "--max-sentences", "2")
    assert code == 0 and len(log) == 1  # projected, not re-asked
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["final"] == "Drink a glass of water with each meal. It keeps you hydrated."
    assert summary["best_score"] == [2.0, 8.0]
    assert summary["counts"]["repaired"] == 1 and summary["counts"]["invalid"] == 0
    assert summary["counts"]["proposed"] == 1
    assert "1 repaired" in (tmp_path / "run" / "report.md").read_text()


def test_a_projection_drops_the_sentences_already_tried_before_the_new_one(tmp_path):
    """The start again plus a reason: cut to two sentences it was the start, so the repeated one goes."""
    log = []

    def reply(messages, **params):
        if messages[0]["content"] == prompts.OPTIMIZER_SYSTEM:
            log.append(messages)
            return f"{prompts.IMPROVED_START} Drink water. It is good. Water keeps you alert. {prompts.IMPROVED_END}"
        return "Habit and reason.\nSCORE: 8" if "alert" in messages[-1]["content"] else "No reason.\nSCORE: 2"

    code = _run_text(tmp_path, reply, "--max-words", "30", "--max-sentences", "2")
    assert code == 0 and len(log) == 1  # projected, not re-asked
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["final"] == "Drink water. Water keeps you alert."
    assert summary["best_score"] == [2.0, 8.0] and summary["counts"]["repaired"] == 1


def test_an_untried_projection_drops_repeated_sentences_last_first_and_none_is_left_when_all_were_tried():
    from tg_core.constraints import max_sentences

    v = tg.Variable("x", role_description="r")
    tgd = TGD([v], constraints=[max_sentences(2)])
    answer = "A b. C d. E f."
    assert tgd.untried_projection(answer, None) == tgd.untried_projection(answer, {}) == "A b. C d."
    tried = {"A b. C d.": "A b. C d."}
    assert tgd.untried_projection(answer, tried) == "A b. E f."  # the last repeated sentence goes first
    tried["A b. E f."] = "A b. E f."  # now every sentence was tried in some value
    assert tgd.untried_projection(answer, tried) == "A b."  # the last one cuts to a tried value, the last two not
    tried["A b."] = "A b."
    assert tgd.untried_projection(answer, tried) is None
    assert tgd.untried_projection("One. Two. Three.", tried) == "One. Two."  # nothing repeated: the leading ones


def test_projection_needs_a_repair_for_every_broken_constraint():
    from tg_core.constraints import leading_sentences, max_sentences, max_words

    v = tg.Variable("x", role_description="r")
    two = "One two three. Four five six seven. Eight."
    assert TGD([v], constraints=[max_sentences(2)]).projected(two) == "One two three. Four five six seven."
    assert TGD([v], constraints=[max_sentences(2), max_words(5)]).projected(two) == "One two three."
    assert TGD([v], constraints=[max_words(2)]).projected(two) is None  # not even the first sentence fits
    no_repair = TGD([v], constraints=[max_words(5), lambda value: "never" if "One" in value else None])
    assert no_repair.projected(two) is None
    assert leading_sentences("A b? C d! E", lambda t: True) == "A b? C d! E"


@pytest.mark.parametrize("option", ["--max-words", "--max-sentences", "--candidates", "--patience", "--judge-samples"])
def test_bad_text_options_are_named_before_a_run_folder_exists(tmp_path, capsys, option):
    from tg_core.cli import main

    assert main(["run", "text", option, "0", "--runs-dir", str(tmp_path / "runs")]) == 2
    assert f"{option} must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_tgd_refuses_textgrad_options_and_unknown_ones_where_they_are_given():
    v = tg.Variable("x", role_description="r")
    with pytest.raises(TypeError, match="'verbose' is TextGrad's"):
        TGD([v], verbose=1)
    with pytest.raises(TypeError, match="unknown option 'temprature'"):
        TGD([v], temprature=0.5)
    assert TGD([v], constraints=[Constraint("Be brief.")]).constraints[0].check is None



def _demo_argv() -> list[str]:
    """``make demo``'s tg command line, from the Makefile (so the README's first command stays tested)."""
    import shlex
    from pathlib import Path

    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    recipe = makefile.split("\ndemo:", 1)[1].splitlines()[1]
    argv = shlex.split(recipe.strip())
    assert argv[0].endswith("/bin/tg"), recipe
    return argv[1:]


@pytest.mark.slow
def test_make_demos_command_runs_a_step_of_the_shared_loop_with_the_light_model(real_cache, tmp_path, monkeypatch):
    from tg_core.cli import main
    from tg_core.constraints import count_sentences, count_words

    monkeypatch.setenv("TG_CACHE_DIR", real_cache)
    argv = _demo_argv()
    assert argv[:2] == ["run", "text"] and "--max-words" in argv and "--max-sentences" in argv
    options = dict(zip(argv[2::2], argv[3::2], strict=True))
    options.update({"--engine": "local:light", "--steps": "1"})  # the light model, one step (each costs a minute)
    del options["--runs-dir"]
    code = main(["run", "text", *[x for item in options.items() for x in item], "--no-cache",
                 "--run-dir", str(tmp_path / "run")])
    assert code == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert len(summary["score_per_step"]) == 1 and summary["usage"]["calls"] >= 4
    if summary["changed"]:  # whatever the small model wrote, a kept value meets the checked limits
        assert count_words(summary["final"]) <= int(options["--max-words"])
        assert count_sentences(summary["final"]) <= int(options["--max-sentences"])
    report = (tmp_path / "run" / "report.md").read_text()
    assert ("improved from" in report) or ("no improvement over the start" in report) or ("changed without" in report)


def test_a_judge_that_forgets_its_score_line_is_asked_for_it_alone(tmp_path):
    from tg_core.builtin import text_objective

    seen = []

    def reply(messages, **params):
        seen.append((messages, params))
        return "SCORE: 7" if messages[-1]["content"] == prompts.TEXT_SCORE_FOLLOWUP else "Fine tip."

    engine = tg.FunctionEngine(reply)
    objective = text_objective({"words": 30}, "Judge the tip.", engine)
    variable = tg.Variable("Drink water with meals.", role_description="tip")
    loop = Optimization({"t": variable}, objective, TGD([variable], engine=engine), steps=1, engine=engine)
    evaluation = tg.run_sync(loop.evaluate(loop.tracks[0], variable.value))
    assert evaluation.score == (1.0, 7.0)
    followups = [(m, p) for m, p in seen if m[-1]["content"] == prompts.TEXT_SCORE_FOLLOWUP]
    assert len(followups) == 3  # the greedy judgement and both sampled ones gave no score line
    assert all(m[2] == {"role": "assistant", "content": "Fine tip."} and p["max_tokens"] == 16 for m, p in followups)


def test_a_sampled_judgement_without_a_score_line_counts_once_asked_for_it():
    from tg_core.builtin import text_objective

    def reply(messages, **params):
        if messages[-1]["content"] == prompts.TEXT_SCORE_FOLLOWUP:
            return "SCORE: 1"
        if params.get("seed") == 2:
            return "The reason is missing."
        return "No issues.\nSCORE: 10"

    engine = tg.FunctionEngine(reply)
    objective = text_objective({"words": 30}, "Judge the tip.", engine, samples=3)
    variable = tg.Variable("Drink water. It is good.", role_description="tip")
    loop = Optimization({"t": variable}, objective, TGD([variable], engine=engine), steps=1, engine=engine)
    evaluation = tg.run_sync(loop.evaluate(loop.tracks[0], variable.value))
    assert evaluation.score == (1.0, 7.0) and not objective.done(evaluation)  # (10 + 10 + 1) / 3


def test_the_text_score_is_the_mean_of_the_greedy_judgement_and_sampled_ones():
    from tg_core.builtin import text_objective

    seen = []

    def reply(messages, **params):
        seen.append(params)
        return "Perfect.\nSCORE: 10" if not params.get("temperature") else "Vague: no reason.\nSCORE: 4"

    engine = tg.FunctionEngine(reply)
    objective = text_objective({"words": 30}, "Judge the tip.", engine, samples=3)
    variable = tg.Variable("Drink water. It is good.", role_description="tip")
    loop = Optimization({"t": variable}, objective, TGD([variable], engine=engine), steps=1, engine=engine)
    evaluation = tg.run_sync(loop.evaluate(loop.tracks[0], variable.value))
    assert evaluation.score == (1.0, 6.0) and not objective.done(evaluation)  # one greedy 10 is not "done"
    sampled = [p for p in seen if p.get("temperature")]
    assert len(sampled) == 2 and len({p["seed"] for p in sampled}) == 2


def test_a_start_that_is_already_done_is_reported_as_such():
    from tg_core import progress

    variable, loop = _loop(_scripted([]), start="80", steps=3, done=lambda e: e.score[0] >= 50)
    loop.run_all()
    assert progress.verdict(loop.tracks[0]).startswith("the start already meets the objective")


def test_tried_values_are_shown_as_they_were_written_and_a_canonical_form_is_compared():
    log = []
    engine = _scripted(["```\n5\n```", "5", "6"], log)
    variable = tg.Variable("1", role_description="a number")
    optimizer = TGD([variable], engine=engine, canonical=lambda v: v.strip("`\n "))
    loop = Optimization({"x": variable}, _objective(engine), optimizer, steps=2, engine=engine)
    loop.run_all()
    assert variable.value == "6"  # "5" in new wrapping was recognised as tried
    assert "<TRIED> 5 </TRIED>" in log[2][0][-1]["content"]


def _feedback_from(first: Completion):
    """The feedback a one-input simulator's input gets when the backward engine answers ``first``, then
    "Be brief."; and every call made."""
    seen = []

    def reply(messages, **params):
        seen.append((messages, params))
        return first if len(seen) == 1 else "Be brief."

    x = tg.Variable("text", role_description="input")
    out = tg.SimulatorFunction(lambda v: {"n": len(v)}, purpose="counts")(x)
    out.backward(engine=tg.FunctionEngine(reply))
    return [f.text for f in x.gradients], seen


def test_feedback_cut_at_its_token_limit_keeps_its_whole_paragraphs_each_once_without_asking_again():
    """The shape of a backward answer in an aspirin run: its points, then the same SMILES block again
    and again until the limit cut it mid-sentence."""
    block = "```\nCC(=O)Oc1ncccc1C(=O)O\n```"
    cut = Completion(f"1. Add a ring.\n2. Add an amine.\n\n{block}\n\nFor the Vina score, add a ring:\n\n{block}"
                     f"\n\nFor QED, add an amine:\n\n{block}\n\nTo reduce the heavy atoms, we c", finish_reason="length")
    feedback, seen = _feedback_from(cut)
    assert len(seen) == 1
    assert feedback == [f"1. Add a ring.\n2. Add an amine.\n\n{block}\n\nFor the Vina score, add a ring:\n\n"
                        "For QED, add an amine:"]
    looping = Completion("Add a ring.\n\n" + "Add hydrogen atoms to the molecule.\n\n" * 40)
    feedback, seen = _feedback_from(looping)
    assert feedback == ["Add a ring.\n\nAdd hydrogen atoms to the molecule."] and len(seen) == 1


def test_feedback_cut_or_looping_with_nothing_whole_is_asked_again_shorter():
    for first in (Completion("it goes on and on", finish_reason="length"), Completion("9 " * 400)):
        feedback, seen = _feedback_from(first)
        assert feedback == ["Be brief."] and len(seen) == 2
        assert seen[0][1]["max_tokens"] == 512 and "cut at 512 tokens" in seen[1][0][-1]["content"]
