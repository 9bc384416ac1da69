"""Code refinement by text as a library: the graph, the prompts it sends, the loop's checks, what stays hidden."""

import os
import threading

import pytest

import tg_core
from tg_code import (
    CodeRefinement,
    CodeTests,
    Sandbox,
    code_refinement_loss,
    code_tests,
    get_problem,
    initial_solution,
    prompts,
)
from tg_code.refinement import code_optimizer, syntax_problem
from tg_code.results import SandboxResult
from tg_core import prompts as core

PROBLEM = get_problem("hard/trapping-rain-water")
BUGGY = "def trap(height):\n    return 0\n"
FIXED = (
    "def trap(height):\n    total = 0\n    for i, h in enumerate(height):\n"
    "        total += min(max(height[: i + 1]), max(height[i:])) - h\n    return total\n"
)


def _update(code):
    return f"{core.IMPROVED_START}\nHere is the fix.\n```python\n{code}```\nIt now works.\n{core.IMPROVED_END}"


class Scripted:
    """Answers by prompt type and keeps every message it was sent."""

    def __init__(self, update=None):
        self.update = update or _update(FIXED)
        self.messages = []
        self.lock = threading.Lock()

    def __call__(self, messages, **params):
        with self.lock:
            self.messages.append(messages)
        system = messages[0]["content"]
        if system == prompts.INITIAL_SOLUTION_SYSTEM:
            return f"Sure.\n```python\n{BUGGY}```"
        if system == core.OPTIMIZER_SYSTEM:
            return self.update
        if system == core.BACKWARD_SYSTEM:
            return "Compute the water level above each bar from the tallest bars on both sides."
        return "The code always returns 0; the first two tests fail."

    def sent(self, system):
        return [m for m in self.messages if m[0]["content"] == system]


def test_initial_solution_is_extracted_from_the_fenced_answer():
    script = Scripted()
    assert initial_solution(PROBLEM, tg_core.FunctionEngine(script)) == BUGGY.rstrip("\n")
    request = script.messages[0][-1]["content"]
    assert PROBLEM.signature in request and PROBLEM.visible_tests[0] in request


def test_one_step_tests_criticises_and_rewrites_the_code_then_the_loop_is_done():
    script = Scripted()
    with Sandbox() as sandbox:
        refinement = CodeRefinement(PROBLEM, tg_core.FunctionEngine(script), BUGGY, sandbox=sandbox, steps=3)
        refinement.run()
    first, second = refinement.track.history
    assert first["score"] == [1.0, 3.0] and first["metrics"]["statuses"] == ["failed", "failed", "passed"]
    assert first["accepted"] and refinement.code.value == FIXED.rstrip("\n")  # prose and fences taken off
    assert second.get("done") and refinement.loop.stopped.startswith("every parameter is done")

    loss_prompt = script.sent(prompts.CODE_LOSS_SYSTEM)[0][-1]["content"]
    assert prompts.CODE_LOSS_INSTRUCTION in loss_prompt and PROBLEM.statement in loss_prompt
    assert "<CODE>\n" + BUGGY in loss_prompt and "expected: 6" in loss_prompt and "actual: 0" in loss_prompt
    optimizer_prompt = script.sent(core.OPTIMIZER_SYSTEM)[0][-1]["content"]
    assert PROBLEM.signature in optimizer_prompt and "Do not add assert statements" in optimizer_prompt
    backward = script.sent(core.BACKWARD_SYSTEM)
    assert len(backward) == 1  # loss -> code; the report is a constant of the review, as in TextGrad
    assert "expected: 6" in backward[0][-1]["content"]  # the code's feedback call still sees the test results
    assert len(script.sent(core.OPTIMIZER_SYSTEM)) == 1


def test_a_fresh_solution_drawn_from_the_problem_replaces_code_the_optimizer_cannot_fix():
    """The optimizer only re-sends the buggy code; the step's resample (sampled, seeded) draws the fix."""

    class Draws(Scripted):
        def __call__(self, messages, **params):
            if messages[0]["content"] == prompts.INITIAL_SOLUTION_SYSTEM and "seed" in params:
                self.messages.append(messages)
                self.draws.append(params)
                return f"```python\n{FIXED}```"
            return super().__call__(messages, **params)

    script = Draws(update=_update(BUGGY))
    script.draws = []
    with Sandbox() as sandbox:
        refinement = CodeRefinement(PROBLEM, tg_core.FunctionEngine(script), BUGGY, sandbox=sandbox, steps=1,
                                    resamples=1)
        refinement.run()
    (record,) = refinement.track.history
    assert [(c.get("resampled", False), c["accepted"]) for c in record["candidates"]] == [(True, True)]
    assert refinement.code.value == FIXED.rstrip("\n") and record["rejections"][0]["kind"] == "tried"
    # step 1's own draw (seed 2 = step 1 x (1 draw + 1 candidate)), then the one replacing the repeated code
    assert script.draws == [{"temperature": 0.8, "seed": 2}, {"temperature": 0.8, "seed": 3}]


def test_hidden_tests_never_reach_the_llm():
    script = Scripted(update=_update(BUGGY))
    with Sandbox() as sandbox:
        refinement = CodeRefinement(PROBLEM, tg_core.FunctionEngine(script), BUGGY, sandbox=sandbox, steps=2)
        refinement.run()
        assert len(refinement.test(refinement.code.value, "hidden").tests) == len(PROBLEM.hidden_tests)
    hidden_only = [t for t in PROBLEM.hidden_tests if t not in PROBLEM.visible_tests]
    everything = "\n".join(m["content"] for messages in script.messages for m in messages)
    assert not any(test in everything for test in hidden_only)
    assert not any(test.removeprefix("assert ").split(" == ")[0] in everything for test in hidden_only[-3:])


def test_the_same_code_in_another_wrapping_is_refused_as_already_tried():
    """Fences and prose around unchanged code do not make a new value (no fixed point hides behind them)."""
    script = Scripted(update=_update(BUGGY))
    with Sandbox() as sandbox:
        refinement = CodeRefinement(PROBLEM, tg_core.FunctionEngine(script), BUGGY.rstrip("\n"), sandbox=sandbox,
                                    steps=1)
        refinement.run()
    record = refinement.track.history[0]
    assert record["stalled"] and [r["kind"] for r in record["rejections"]] == ["tried"] * 3
    assert record["candidates"] == []


def test_an_unusable_update_keeps_the_code_and_is_recorded():
    script = Scripted(update="I would rather not say.")
    with Sandbox() as sandbox:
        refinement = CodeRefinement(PROBLEM, tg_core.FunctionEngine(script), BUGGY, sandbox=sandbox, steps=1)
        refinement.run()
    record = refinement.track.history[0]
    assert record["stalled"] and {r["kind"] for r in record["rejections"]} == {"malformed"}
    assert refinement.code.value == BUGGY


def test_a_start_that_does_not_compile_has_no_score_and_any_valid_code_beats_it():
    script = Scripted()
    with Sandbox() as sandbox:
        refinement = CodeRefinement(PROBLEM, tg_core.FunctionEngine(script), "def trap(h:\n", sandbox=sandbox,
                                    steps=1)
        refinement.run()
    record = refinement.track.history[0]
    assert record["score"] is None and record["accepted"] and refinement.track.best_score == (3.0, 3.0)


def test_syntax_problem_names_the_error_and_the_line():
    assert syntax_problem(FIXED) is None
    assert syntax_problem("x = 1\ndef f(:\n") == (
        "the code does not compile: SyntaxError: invalid syntax (line 2): def f(:")
    assert syntax_problem("x = '\0'\0").endswith("source code string cannot contain null bytes")
    assert syntax_problem("def f():\nreturn 1").startswith("the code does not compile: IndentationError")


def test_code_tgd_is_a_tgd_keeping_its_checks():
    code = tg_core.Variable(BUGGY, role_description="code")
    optimizer = code_optimizer([code], entry_point="trap", constraints=["Be brief."], momentum=1)
    assert optimizer.momentum == 1 and optimizer.constraints[0].description == "Be brief."
    with pytest.raises(TypeError, match="unknown option 'temprature'"):
        code_optimizer([code], entry_point="trap", temprature=0.3)


def test_the_test_report_is_a_simulator_output_with_the_result_as_data():
    with Sandbox() as sandbox:
        run_tests = code_tests(PROBLEM, "visible", sandbox)
        code = tg_core.Variable("def trap(height, extra):\n    return 0\n", role_description="code")
        report = run_tests(code)
    assert isinstance(report.data, SandboxResult) and report.predecessors == (code,)
    assert report.value.startswith("0/3 tests passed")
    assert "Signature check: trap takes 2 parameters" in report.value


def test_the_loss_judges_a_report_with_the_code_it_came_from():
    script = Scripted()
    loss = code_refinement_loss(tg_core.FunctionEngine(script), problem=PROBLEM)
    with Sandbox() as sandbox:
        code = tg_core.Variable(BUGGY, role_description="code")
        judgement = loss(code_tests(PROBLEM, "visible", sandbox)(code))
    assert judgement.value == "The code always returns 0; the first two tests fail."
    sent = script.sent(prompts.CODE_LOSS_SYSTEM)[0][-1]["content"]
    assert "<CODE>\n" + BUGGY in sent and "- Test 3: passed: assert trap([3]) == 0" in sent
    with pytest.raises(TypeError, match="give it the test report Variable"):
        loss(code)


def test_the_test_runner_works_in_a_process_pool():
    """CodeTests pickles (a Sandbox travels as its settings); a forked worker starts its own launcher thread."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1) as pool, Sandbox() as sandbox:
        sandbox.run("", [])  # this process's launcher thread exists before the fork
        result = pool.submit(CodeTests(PROBLEM, "visible", sandbox), FIXED).result()
        worker_pid = pool.submit(os.getpid).result()
    assert result.passed and result.to_text().startswith("3/3 tests passed")
    assert worker_pid != os.getpid()
