"""The sandbox's per-test results: statuses, values, output, tracebacks, bad arguments."""

import json
import pickle
import threading

import pytest

from tg_code import LEVELS, Sandbox, SandboxError
from tg_code.isolation import is_root
from tg_code.sandbox_users import FIRST_UID, PAIR_COUNT

ADD = "def add(a, b):\n    print('adding', a, b)\n    return a + b\n"


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox() as box:
        yield box


def test_results_per_test_with_input_expected_actual(sandbox):
    result = sandbox.run(ADD, ["assert add(1, 2) == 3", "assert add(2, 2) == 5", "assert add('a', 1) == 'a1'"])
    assert [t.status for t in result.tests] == ["passed", "failed", "error"]
    assert not result.passed and result.pass_rate == pytest.approx(1 / 3)
    assert result.isolation in LEVELS and result.python
    failed = result.tests[1]
    assert (failed.input, failed.expected, failed.actual) == ("add(2, 2)", "5", "4")
    assert failed.stdout == "adding 2 2\n"
    assert "TypeError" in result.tests[2].message


def test_traceback_is_trimmed_to_the_solution_and_the_test(sandbox):
    code = "def outer(x):\n    return inner(x)\n\ndef inner(x):\n    return 1 / x\n"
    result = sandbox.run(code, ["assert outer(0) == 1"])
    trace = result.tests[0].traceback
    assert '"<test>", line 1' in trace and '"<solution>", line 5, in inner' in trace
    assert "return 1 / x" in trace and "ZeroDivisionError" in trace
    assert "sandbox_runner" not in trace and "<string>" not in trace and "marshal" not in trace


def test_each_test_keeps_its_own_output(sandbox):
    code = "import sys\ndef f(x):\n    print('out', x)\n    sys.stderr.write(f'err {x}\\n')\n    return x\n"
    result = sandbox.run(code, ["assert f(1) == 1", "assert f(2) == 2"])
    assert [(t.stdout, t.stderr) for t in result.tests] == [("out 1\n", "err 1\n"), ("out 2\n", "err 2\n")]
    assert result.stdout == "out 1\nout 2\n" and result.stderr == "err 1\nerr 2\n"


def test_comparisons_other_than_equality_and_plain_asserts(sandbox):
    code = "def f(x):\n    return x * 2\n"
    result = sandbox.run(code, ["assert f(2) < 3", "assert not f(1)", "assert f(0)", "assert f(1) in [1, 3], 'odd'"])
    assert [t.status for t in result.tests] == ["failed"] * 4
    assert result.tests[0].expected == "a value < 3" and result.tests[0].actual == "4"
    assert result.tests[1].expected == "a false value" and result.tests[2].expected == "a true value"
    assert result.tests[3].message.endswith("-- odd")


def test_setup_statements_before_the_assert(sandbox):
    code = "def total(xs):\n    return sum(xs)\n"
    result = sandbox.run(code, ["xs = list(range(5))\nassert total(xs) == 10", "for i in range(3):\n    assert total([i]) == i"])
    assert result.passed and result.tests[0].input == "total(xs)"


def test_tests_do_not_share_globals(sandbox):
    result = sandbox.run("x = 1\n", ["x = 5\nassert x == 5", "assert x == 1"])
    assert result.passed


def test_syntax_error_in_the_code_fails_every_test_with_the_line(sandbox):
    result = sandbox.run("def f(x):\n    return x +\n", ["assert f(1) == 1", "assert f(2) == 2"])
    assert not result.loaded and result.load_status == "error"
    assert "SyntaxError" in result.load_message and "line 2" in result.load_traceback
    assert all(t.status == "error" and "could not be loaded" in t.message for t in result.tests)
    assert "could not be loaded" in result.to_text()


def test_syntax_error_in_one_test_only_fails_that_test(sandbox):
    result = sandbox.run(ADD, ["assert add(1, 1) == 2", "assert add(1,, 1) == 2", "assert add(0, 0) == 0"])
    assert [t.status for t in result.tests] == ["passed", "error", "passed"]
    assert "SyntaxError" in result.tests[1].message


def test_missing_function_is_named(sandbox):
    result = sandbox.run("def other():\n    pass\n", ["assert add(1, 2) == 3"], entry_point="add")
    assert result.load_status == "error" and "no function named 'add'" in result.load_message
    assert result.tests[0].status == "error"


def test_wrong_signature_gives_a_type_error_per_test(sandbox):
    result = sandbox.run("def add(a):\n    return a\n", ["assert add(1, 2) == 3"], entry_point="add")
    assert result.tests[0].status == "error" and "TypeError" in result.tests[0].message


def test_infinite_loop_times_out_and_the_next_test_still_runs(sandbox):
    code = "def spin():\n    while True:\n        pass\n"
    result = sandbox.run(code, ["spin()", "assert 1 + 1 == 2"], timeout_s=0.5)
    assert [t.status for t in result.tests] == ["timeout", "passed"]
    assert result.interpreters == 1


def test_code_that_ignores_the_alarm_is_killed_and_the_rest_runs_in_a_fresh_interpreter(sandbox):
    code = (
        "def stubborn():\n    while True:\n        try:\n            while True:\n                pass\n"
        "        except BaseException:\n            pass\n\ndef get(x):\n    return x\n"
    )
    tests = ["assert get(1) == 1", "stubborn()", "x = get(1)\nassert x == 1", "assert get(2) == 2"]
    result = sandbox.run(code, tests, timeout_s=0.5)
    assert [t.status for t in result.tests] == ["passed", "timeout", "passed", "passed"]
    assert "killed" in result.tests[1].message and result.interpreters == 2


def test_calls_in_flight_when_the_code_dies_go_to_a_fresh_interpreter(sandbox):
    """Direct checks are sent several at a time: those sent to an interpreter that died are sent again."""
    code = "import os\n\ndef f(x):\n    if x == 3:\n        os._exit(5)\n    print('f', x)\n    return 2 * x\n"
    result = sandbox.run(code, [f"assert f({x}) == {2 * x}" for x in range(1, 8)])
    assert [t.status for t in result.tests] == ["passed"] * 2 + ["crashed"] + ["passed"] * 4
    assert "code 5" in result.tests[2].message and result.interpreters == 2
    assert [t.stdout for t in result.tests[3:]] == [f"f {x}\n" for x in range(4, 8)]


def test_the_host_and_the_judge_give_the_same_verdicts(sandbox):
    """``assert f(literal) == literal`` is checked by the host; the same test with a setup line by the judge."""
    code = "def f(x):\n    return {'a': [x, (x, None)], 'b': {x}}\n"
    asserts = ["assert f(1) == {'a': [1, (1, None)], 'b': {1}}", "assert f(1) == {'a': [1, [1, None]], 'b': {1}}",
               "assert f(1) != 2", "assert not f(2)", "assert f(2) < 3", "assert f(1) == 1, 'nope'"]
    direct = sandbox.run(code, asserts)
    judged = sandbox.run(code, ["_ = 0\n" + a for a in asserts])
    fields = [(t.status, t.message, t.input, t.expected, t.actual) for t in direct.tests]
    assert fields == [(t.status, t.message, t.input, t.expected, t.actual) for t in judged.tests]
    assert [t.status for t in direct.tests] == ["passed", "failed", "passed", "failed", "error", "failed"]


def test_a_test_that_ignores_the_alarm_is_killed_and_the_rest_run(sandbox):
    stubborn = "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass"
    result = sandbox.run("x = 1\n", ["assert x == 1", stubborn, "assert x == 1"], timeout_s=0.5)
    assert [t.status for t in result.tests] == ["passed", "timeout", "passed"]
    assert "running the test was killed" in result.tests[1].message


def test_code_that_kills_its_interpreter_is_crashed_and_the_rest_run(sandbox):
    code = (
        "import os, signal\n\ndef die(code):\n    os._exit(code)\n\n"
        "def segfault():\n    os.kill(os.getpid(), signal.SIGSEGV)\n\ndef get(x):\n    return x\n"
    )
    result = sandbox.run(code, ["assert get(1) == 1", "die(7)", "segfault()", "assert get(2) == 2"])
    assert [t.status for t in result.tests][::3] == ["passed", "passed"]
    assert result.tests[1].status == "crashed" and "code 7" in result.tests[1].message
    assert result.tests[2].status in ("crashed", "passed")  # pid 1 of a namespace ignores signals from inside
    assert result.interpreters >= 2


def test_a_test_that_kills_its_interpreter_is_crashed_and_the_rest_run(sandbox):
    tests = ["assert 1 == 1", "import os\nos._exit(7)", "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)",
             "assert get(2) == 2"]
    result = sandbox.run("def get(x):\n    return x\n", tests)
    assert [t.status for t in result.tests][::3] == ["passed", "passed"]
    assert result.tests[1].status == "crashed" and "code 7" in result.tests[1].message
    assert result.tests[2].status in ("crashed", "passed")


def test_a_crash_of_the_code_cannot_be_caught_by_a_test(sandbox):
    code = "import os\n\ndef die():\n    os._exit(0)\n\ndef fail():\n    raise ValueError('no')\n"
    catching = "try:\n    {}()\nexcept Exception:\n    pass"
    result = sandbox.run(code, [catching.format("die"), catching.format("fail")])
    assert [t.status for t in result.tests] == ["crashed", "passed"]


def test_code_that_exits_while_loading_fails_every_test(sandbox):
    result = sandbox.run("import os\nos._exit(3)\n", ["assert True", "assert 1"])
    assert result.load_status == "crashed" and "code 3" in result.load_message
    assert [t.status for t in result.tests] == ["crashed", "crashed"]


def test_sys_exit_is_an_error_not_a_crash(sandbox):
    code = "import sys\n\ndef leave(code):\n    sys.exit(code)\n"
    result = sandbox.run(code, ["leave(2)", "import sys\nsys.exit(3)", "assert 1"])
    assert [t.status for t in result.tests] == ["error", "error", "passed"]
    assert "exit(2)" in result.tests[0].message and "exit(3)" in result.tests[1].message


def test_total_time_budget_times_out_the_tests_not_run(sandbox):
    tests = ["import time\ntime.sleep(0.3)"] * 2 + ["import time\ntime.sleep(5)"] + ["assert True"] * 2
    result = sandbox.run("", tests, timeout_s=10, total_timeout_s=1.5)
    statuses = [t.status for t in result.tests]
    assert statuses[:2] == ["passed", "passed"] and statuses[2:] == ["timeout"] * 3
    assert "budget" in result.tests[2].message and "not run" in result.tests[4].message


def test_results_are_deterministic(sandbox):
    code = "def order():\n    return list({'pear', 'apple', 'fig', 'kiwi', 'plum'})\n"
    first, second = (sandbox.run(code, ["print(order())"]).tests[0].stdout for _ in range(2))
    assert first == second


@pytest.mark.skipif(not is_root(), reason="the uid is only changed when started as root")
def test_runs_as_the_unprivileged_user_when_root(sandbox):
    """The code as a sandbox user of its own, the tests as another user the code cannot signal, trace or read."""
    code = "import os\n\ndef ids():\n    return (os.getuid(), os.getgid(), os.getgroups())\n"
    result = sandbox.run(code, ["print(*ids())", "import os\nprint(os.getuid(), os.getgid(), os.getgroups())"])
    uid, judge = sandbox.running().uid, sandbox.running(judge=True).uid
    assert FIRST_UID <= uid < judge < FIRST_UID + 2 * PAIR_COUNT
    assert result.tests[0].stdout.strip() == f"{uid} {uid} []"
    assert result.tests[1].stdout.strip() == f"{judge} {judge} []"


def test_result_serializes_to_json_and_text(sandbox):
    result = sandbox.run(ADD, ["assert add(1, 2) == 4"])
    data = json.loads(json.dumps(result.as_dict()))
    assert data["tests"][0]["status"] == "failed" and data["pass_rate"] == 0.0 and data["isolation"]
    assert "expected: 4" in result.to_text() and "actual: 3" in result.to_text()


def test_concurrent_runs_from_two_threads_are_separate(sandbox):
    outcomes = {}

    def one(name, value):
        outcomes[name] = sandbox.run(f"X = {value}\n", [f"assert X == {value}", "print(X)"])

    threads = [threading.Thread(target=one, args=(n, v)) for n, v in (("a", 1), ("b", 2))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes["a"].passed and outcomes["b"].passed
    assert (outcomes["a"].tests[1].stdout, outcomes["b"].tests[1].stdout) == ("1\n", "2\n")


def test_a_pickled_sandbox_runs_on_its_own():
    with Sandbox() as original:
        copy = pickle.loads(pickle.dumps(original))
        with copy:
            assert copy.run("x = 3\n", ["assert x == 3"]).passed


def test_a_prestarted_interpreter_has_imported_the_preload_modules():
    code = "import sys\n\ndef loaded():\n    return 'json' in sys.modules\n"
    probe = ["print(loaded())"]
    with Sandbox(prestart=1, preload=("json",)) as box:
        on_demand, prestarted = (box.run(code, probe).tests[0].stdout for _ in range(2))
    assert (on_demand, prestarted) == ("False\n", "True\n")
    with Sandbox(prestart=1) as box:
        assert [box.run(code, probe).tests[0].stdout for _ in range(2)] == ["False\n", "False\n"]


def test_close_ends_the_prestarted_interpreter():
    box = Sandbox()
    box.run("", ["assert True"])
    spares = [future.result() for future in box._spares]
    assert spares and all(s.alive() for s in spares)
    box.close()
    assert not box._spares and not any(s.proc.poll() is None for s in spares)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"code": 1, "tests": []}, "code must be a str"),
        ({"code": "", "tests": "assert 1"}, "tests must be a list of str"),
        ({"code": "", "tests": [1]}, "tests must be a list of str"),
        ({"code": "", "tests": [], "timeout_s": 0}, "timeout_s must be"),
        ({"code": "", "tests": [], "memory_mb": 8}, "memory_mb must be an integer >= 64"),
        ({"code": "", "tests": [], "total_timeout_s": -1}, "total_timeout_s must be"),
        ({"code": "", "tests": [], "entry_point": "not a name"}, "entry_point must be a Python name"),
        ({"code": "", "tests": [], "setup": None}, "setup must be a str"),
    ],
    ids=["code", "tests-str", "tests-items", "timeout", "memory", "budget", "entry", "setup"],
)
def test_bad_arguments_are_named(sandbox, kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        sandbox.run(**kwargs)


def test_unknown_isolation_is_named():
    with pytest.raises(SandboxError, match="isolation='chroot'"):
        Sandbox(isolation="chroot").run("", [])


def test_strict_refuses_rlimits():
    with pytest.raises(SandboxError, match="strict=True"):
        Sandbox(isolation="rlimits", strict=True).run("", [])


def test_missing_interpreter_is_named():
    with pytest.raises(SandboxError, match="no-such-python"):
        Sandbox(python="/nowhere/no-such-python").run("", [])
