"""The limit test: the call the model writes is parsed strictly, built against a stand-in, and run for time and
memory in the real sandbox beside the visible tests."""

import pytest

import tg_core
from tg_code import CodeRefinement, CodeTests, Sandbox, get_problem, prompts
from tg_code.limits import (
    DeferredLimitTest,
    LimitTest,
    alimit_test,
    check_limit_call,
    limit_call,
    limit_test,
)
from tg_core import prompts as core

PROBLEM = get_problem("hard/count-digit-one")  # 0 <= n <= 10**12
SLOW = "def count_digit_one(n):\n    return sum(str(i).count('1') for i in range(n + 1))\n"  # right, O(n)
FAST = (
    "def count_digit_one(n):\n    count, place = 0, 1\n    while place <= n:\n"
    "        high, low = divmod(n, place * 10)\n        digit, rest = divmod(low, place)\n"
    "        count += high * place + (place if digit > 1 else rest + 1 if digit == 1 else 0)\n"
    "        place *= 10\n    return count\n"
)
AT_LIMIT = "count_digit_one(10**12)"
# Code that does not return in time: its call times out, or on a loaded machine the judge waiting on it is
# killed first (crashed); either way the limit test fails.
NOT_RETURNED = ("timeout", "crashed")


@pytest.mark.parametrize(
    ("answer", "call"),
    [
        (f"The largest n is 10**12.\n```python\n{AT_LIMIT}\n```", AT_LIMIT),
        (f"```python\n>>> {AT_LIMIT}\n```", AT_LIMIT),
        (f"Call `{AT_LIMIT}` to stress it.", AT_LIMIT),
        ("```python\ncount_digit_one(n=int('9' * 12))\n```", "count_digit_one(n=int('9' * 12))"),
        ("```python\ncount_digit_one(sum([i % 7 for i in range(10**5)]))\n```",
         "count_digit_one(sum([i % 7 for i in range(10**5)]))"),
        ("```python\ncount_digit_one(len([i for i in range(10**6) if i % 3 == 0 or i > 5]))\n```",
         "count_digit_one(len([i for i in range(10**6) if i % 3 == 0 or i > 5]))"),
        ("```python\nn = 10**12\ncount_digit_one(n)\n```", None),  # a name bound outside the call
        ("```python\nsolve(10**12)\n```", None),  # another function
        ("```python\ncount_digit_one(__import__('os').getpid())\n```", None),
        ("```python\ncount_digit_one((1).__class__)\n```", None),  # attribute access
        ("```python\ncount_digit_one(count_digit_one(5))\n```", None),  # the code itself builds no argument
        ("```python\ncount_digit_one(lambda: 1)\n```", None),
        ("The answer is n = 10**12.", None),
    ],
    ids=["fenced", "prompt", "inline", "keyword-builder", "comprehension", "filtered", "outside-name", "other-function",
         "import", "attribute", "nested-call", "lambda", "prose"],
)
def test_only_a_call_of_the_function_on_plain_data_is_taken(answer, call):
    assert limit_call(answer, PROBLEM.entry_point) == call


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox() as box:
        yield box


def test_arguments_that_cannot_be_built_in_time_or_memory_make_no_limit_test(sandbox):
    assert check_limit_call(AT_LIMIT, PROBLEM, sandbox, timeout_s=2) is None
    too_big = check_limit_call("count_digit_one(len([0] * 10**11))", PROBLEM, sandbox, timeout_s=2, memory_mb=128)
    assert too_big.startswith("building its arguments ended in memory")
    too_slow = check_limit_call("count_digit_one(sum(range(10**10)))", PROBLEM, sandbox, timeout_s=1)
    assert too_slow.startswith("building its arguments ended in timeout")


@pytest.mark.parametrize(
    ("problem", "call", "why"),
    [
        ("hard/count-digit-one", "count_digit_one(10**12, 5)", "2 arguments given, the signature takes 1"),
        ("hard/count-digit-one", "count_digit_one(str(10**12))", "argument 1 is not int"),
        ("hard/largest-rectangle-in-histogram", "largest_rectangle([10**9, [1] * 10**3, list(range(10**3))])",
         "argument 1 is not list[int]"),
        ("hard/largest-rectangle-in-histogram", "largest_rectangle([10**4] * 10**4)", None),
        ("hard/kth-smallest-in-multiplication-table", "kth_in_table(3 * 10**4, 3 * 10**4, 9 * 10**8)", None),
    ],
    ids=["arity", "type", "nested", "list", "three-ints"],
)
def test_arguments_of_another_shape_than_the_signature_make_no_limit_test(sandbox, problem, call, why):
    expected = None if why is None else f"building its arguments ended in error: TypeError: {why}"
    assert check_limit_call(call, get_problem(problem), sandbox) == expected


def test_code_too_slow_for_the_largest_input_fails_the_limit_test_and_the_report_says_why(sandbox):
    tests = CodeTests(PROBLEM, "visible", sandbox, timeout_s=1, limits=[AT_LIMIT])
    slow = tests(SLOW)
    *visible, limit = slow.tests
    assert [t.status for t in visible] == ["passed"] * 3 and limit.status in NOT_RETURNED and not slow.passed
    report = slow.to_text()
    assert f"- Test 4: {limit.status.upper()}: {AT_LIMIT}" in report
    assert prompts.LIMIT_NOTE.format(number=4, timeout=1, memory=512) in report
    fast = tests(FAST)
    assert fast.passed and len(fast.tests) == 4
    assert CodeTests(PROBLEM, "visible", sandbox, timeout_s=1)(SLOW).passed  # without it, nothing tells


class Scripted:
    def __init__(self, limit_answer, rewrite=FAST, rewrites=()):
        self.limit_answer = limit_answer
        self.rewrite = rewrite
        self.rewrites = list(rewrites)  # one a step, then ``rewrite``
        self.systems = []

    def __call__(self, messages, **params):
        system = messages[0]["content"]
        self.systems.append(system)
        if system == prompts.LIMIT_SYSTEM:
            self.request = messages[-1]["content"]
            return self.limit_answer
        if system == core.OPTIMIZER_SYSTEM:
            code = self.rewrites.pop(0) if self.rewrites else self.rewrite
            return f"{core.IMPROVED_START}\n```python\n{code}```\n{core.IMPROVED_END}"
        if system == core.BACKWARD_SYSTEM:
            return "Count the ones digit by digit instead of over every number."
        return "Test 4 times out: the code visits every number up to n."


def test_the_model_reads_the_constraints_and_its_call_is_checked_before_use(sandbox):
    script = Scripted(f"```python\n{AT_LIMIT}\n```")
    found = limit_test(PROBLEM, tg_core.FunctionEngine(script), sandbox, timeout_s=2)
    assert found == LimitTest(AT_LIMIT) and found.tests == (AT_LIMIT,)
    assert "0 <= n <= 10**12" in script.request and "count_digit_one" in script.request
    unbuildable = limit_test(PROBLEM, tg_core.FunctionEngine(Scripted("```python\ncount_digit_one(len([0] * 10**11))\n```")),
                             sandbox, timeout_s=2, memory_mb=128)
    assert unbuildable.call is None and unbuildable.tests == () and "ended in memory" in unbuildable.why
    prose = limit_test(PROBLEM, tg_core.FunctionEngine(Scripted("Use n = 10**12.")), sandbox)
    assert prose.call is None and "holds no call of count_digit_one" in prose.why


def test_code_that_passes_the_visible_tests_is_not_done_while_it_fails_the_limit_test(sandbox):
    script = Scripted("")
    refinement = CodeRefinement(PROBLEM, tg_core.FunctionEngine(script), SLOW, sandbox=sandbox, steps=3,
                                timeout_s=1, limits=[AT_LIMIT])
    refinement.run()
    first, second = refinement.track.history
    assert first["score"] == [3.0, 0.0, 3.0] and first["metrics"]["statuses"][-1] in NOT_RETURNED and not first.get("done")
    assert first["accepted"] and refinement.code.value == FAST.rstrip("\n") and second.get("done")
    assert refinement.limit_statuses(SLOW)[0] in NOT_RETURNED and refinement.limit_statuses(FAST) == ["passed"]

    plain = CodeRefinement(PROBLEM, tg_core.FunctionEngine(Scripted("")), SLOW, sandbox=sandbox, steps=3, timeout_s=1)
    plain.run()
    assert plain.track.history[0].get("done") and plain.code.value == SLOW and plain.limit_statuses(SLOW) == []


def test_fast_code_that_answers_wrong_never_replaces_slow_code_that_answers_right(sandbox):
    """A limit call beyond what any code can meet would otherwise trade right answers for speed."""
    wrong = "def count_digit_one(n):\n    return 6 if n == 13 else 0\n"  # 2 of 3 visible tests, instant
    refinement = CodeRefinement(PROBLEM, tg_core.FunctionEngine(Scripted("", rewrite=wrong)), SLOW, sandbox=sandbox,
                                steps=2, timeout_s=1, limits=[AT_LIMIT])
    refinement.run()
    scores = [c["score"] for r in refinement.track.history for c in r["candidates"]]
    assert [2.0, 1.0, 3.0] in scores and refinement.code.value == SLOW  # (visible, limit, ran): 3, 0, 3 stays


WRONG = "def count_digit_one(n):\n    return n\n"  # fails the visible tests


def _deferred(script, sandbox):
    engine = tg_core.FunctionEngine(script)
    return engine, DeferredLimitTest(lambda: alimit_test(PROBLEM, engine, sandbox, timeout_s=1))


def test_a_deferred_limit_test_is_asked_for_once_when_code_first_passes_the_visible_tests(sandbox):
    script = Scripted(f"```python\n{AT_LIMIT}\n```", rewrites=[SLOW, FAST])
    engine, deferred = _deferred(script, sandbox)
    refinement = CodeRefinement(PROBLEM, engine, WRONG, sandbox=sandbox, steps=3, timeout_s=1, limit_later=deferred)
    assert refinement.limits == ()
    refinement.run()
    wrong, slow, fast = refinement.track.history
    assert wrong["score"][0] < 3 and wrong["score"][1] == 0.0 and wrong["metrics"]["visible_total"] == 3
    assert slow["value"] == SLOW.rstrip("\n") and slow["score"] == [3.0, 0.0, 3.0] and not slow.get("done")
    assert slow["metrics"]["statuses"][-1] in NOT_RETURNED and slow["metrics"]["visible_passed"] == 3
    assert fast["value"] == FAST.rstrip("\n") and fast["score"] == [3.0, 1.0, 3.0] and fast.get("done")
    # asked after the first proposal passed the visible tests, and only then, once
    assert script.systems.count(prompts.LIMIT_SYSTEM) == 1
    assert script.systems.index(core.OPTIMIZER_SYSTEM) < script.systems.index(prompts.LIMIT_SYSTEM)
    assert deferred.found == LimitTest(AT_LIMIT) and refinement.limits == (AT_LIMIT,)
    assert refinement.limit_statuses(FAST) == ["passed"]


def test_code_that_never_passes_the_visible_tests_never_pays_for_a_deferred_limit_test(sandbox):
    script = Scripted(f"```python\n{AT_LIMIT}\n```", rewrite="def count_digit_one(n):\n    return 2 * n\n")
    engine, deferred = _deferred(script, sandbox)
    refinement = CodeRefinement(PROBLEM, engine, WRONG, sandbox=sandbox, steps=2, timeout_s=1, limit_later=deferred)
    refinement.run()
    assert prompts.LIMIT_SYSTEM not in script.systems and deferred.found is None and refinement.limits == ()
    assert all(len(r["score"]) == 3 and r["score"][1] == 0.0 for r in refinement.track.history)


def test_a_budget_spent_at_the_limit_request_keeps_the_code_that_passed(sandbox):
    unbudgeted = Scripted(f"```python\n{AT_LIMIT}\n```", rewrites=[SLOW])
    engine, deferred = _deferred(unbudgeted, sandbox)
    CodeRefinement(PROBLEM, engine, WRONG, sandbox=sandbox, steps=1, timeout_s=1, limit_later=deferred).run()
    calls_before = unbudgeted.systems.index(prompts.LIMIT_SYSTEM)

    script = Scripted(f"```python\n{AT_LIMIT}\n```", rewrites=[SLOW])
    engine = tg_core.engines.BudgetedEngine(tg_core.FunctionEngine(script), tg_core.Budget(max_calls=calls_before))
    deferred = DeferredLimitTest(lambda: alimit_test(PROBLEM, engine, sandbox, timeout_s=1))
    refinement = CodeRefinement(PROBLEM, engine, WRONG, sandbox=sandbox, steps=3, timeout_s=1, limit_later=deferred)
    refinement.run()
    assert prompts.LIMIT_SYSTEM not in script.systems and deferred.found is None
    assert refinement.code.value == SLOW.rstrip("\n")  # measured before the budget ran out: kept
