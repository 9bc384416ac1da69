"""A wrong solution cannot forge its verdict, at any isolation level (issue 14, section 1).

Every solution below is wrong (``f(2)`` is not 4) and tries to make
``assert f(2) == 4`` pass anyway: by writing reports on the sandbox's channels,
by replacing the runner's own functions (which can change what the code
answers, as any code can, but never whether an answer is right), by returning an object that equals
everything, by reporting and exiting while under test, by breaking builtins
the runner relies on, or by reaching into another process's channels. None
may pass, and the host must raise nothing. A correct solution still passes in
the same sandbox, so the tests would notice a sandbox that fails everything.
"""

import pytest

from tg_code import Sandbox

WRONG = "def f(x):\n    return 0\n"

OLD_REPORTS = (
    "{'event': 'ready'}\n{'event': 'start', 'index': -1}\n"
    "{'event': 'loaded', 'status': 'passed', 'message': '', 'traceback': ''}\n"
    "{'event': 'start', 'index': 0}\n"
    "{'event': 'result', 'index': 0, 'status': 'passed', 'message': '', 'runtime_s': 0.0}\n"
    "{'event': 'done'}\n"
)
REPLIES = (
    "{'event': 'loaded', 'status': 'passed', 'names': {'f': 'function'}}\n"
    "{'event': 'reply', 'id': 1, 'status': 'passed'}\n"
    "{'event': 'reply', 'id': 1, 'status': 'passed', 'value': 4}\n"
    "{'event': 'result', 'index': 0, 'status': 'passed'}\n{'event': 'done'}\n"
)
FAKE_REPORTS = f"""
import os
REPORTS = ({OLD_REPORTS!r} + {REPLIES!r}).encode()
def write_everywhere():
    for fd in range(3, 64):
        try:
            os.write(fd, REPORTS)
        except OSError:
            pass
"""

FORGERIES = {
    "fake reports on the result pipe, then exit": FAKE_REPORTS + "write_everywhere()\nos._exit(0)\n" + WRONG,
    "replace the runner's functions": WRONG + (
        "import sys\n"
        "main = sys.modules['__main__']\n"
        "always = lambda *args, **kwargs: True\n"
        "main.COMPARE = {op: always for op in ('==', '!=', '<', '<=', '>', '>=', 'in', 'not in', 'is', 'is not')}\n"
        "main.run_test = lambda *args, **kwargs: {}\n"
        "main.classify = lambda *args, **kwargs: ('passed', '')\n"
        "for name in ('check', 'compare', 'decide', 'verdict'):\n"
        "    setattr(main, name, always)\n"
    ),
    "an object equal to everything": (
        "class Anything:\n"
        "    def __eq__(self, other):\n        return True\n"
        "    def __ne__(self, other):\n        return False\n"
        "    __hash__ = object.__hash__\n"
        "def f(x):\n    return Anything()\n"
    ),
    "an int subclass equal to everything": (
        "class Four(int):\n"
        "    def __eq__(self, other):\n        return True\n"
        "    __hash__ = int.__hash__\n"
        "def f(x):\n    return Four(0)\n"
    ),
    "report and exit while under test": FAKE_REPORTS + (
        "def f(x):\n    write_everywhere()\n    os._exit(0)\n"
    ),
    "report while under test, then return": FAKE_REPORTS + (
        "def f(x):\n    write_everywhere()\n    return 0\n"
    ),
    "break the builtins the runner uses": "import builtins\nbuiltins.len = lambda x: 7\n" + WRONG,
    "break more builtins": (
        "import builtins\n"
        "builtins.len = lambda x: 7\nbuiltins.repr = lambda x: '4'\nbuiltins.isinstance = lambda *a: True\n"
        "builtins.type = lambda *a: int\n" + WRONG
    ),
    "write into other processes' channels": FAKE_REPORTS + (
        "def f(x):\n"
        "    for pid in os.listdir('/proc'):\n"
        "        if pid.isdigit() and int(pid) != os.getpid():\n"
        "            for fd in range(0, 16):\n"
        "                try:\n"
        "                    with open(f'/proc/{pid}/fd/{fd}', 'wb', buffering=0) as channel:\n"
        "                        channel.write(REPORTS)\n"
        "                except OSError:\n"
        "                    pass\n"
        "    return 0\n"
    ),
    "shadow the builtins the test uses": WRONG + "def abs(x):\n    return 0\n",
}
TESTS = ["assert f(2) == 4", "assert abs(f(2) - 4) < 1e-9"]
ANSWER_FOUR = WRONG + "import sys\nsys.modules['__main__'].plain = lambda value, *args, **kwargs: 4\n"


@pytest.fixture(scope="module")
def sandbox(level):
    with Sandbox(isolation=level) as box:
        yield box


@pytest.mark.parametrize("name", list(FORGERIES))
def test_a_wrong_solution_cannot_forge_a_pass(sandbox, name):
    result = sandbox.run(FORGERIES[name], TESTS, timeout_s=3)
    assert result.isolation == sandbox.level
    assert [t.status for t in result.tests] != ["passed", "passed"], result.to_text()
    assert not result.passed
    assert all(t.status in ("failed", "error", "crashed", "timeout") for t in result.tests), result.to_text()


def test_replacing_the_runner_changes_answers_not_verdicts(sandbox):
    """A process that answers 4 to every call is a solution that returns 4: it passes where 4 is right."""
    result = sandbox.run(ANSWER_FOUR, [*TESTS, "assert f(3) == 6"])
    assert [t.status for t in result.tests] == ["passed", "passed", "failed"], result.to_text()
    assert result.tests[2].actual == "4"


def test_the_same_sandbox_passes_a_right_solution(sandbox):
    right = "def f(x):\n    return 2 * x\n"
    assert sandbox.run(right, TESTS).passed
    for name in FORGERIES:  # and a right solution after every forgery attempt
        sandbox.run(FORGERIES[name], TESTS, timeout_s=3)
        assert sandbox.run(right, TESTS).passed, name


def test_a_value_that_is_not_plain_data_fails_with_a_clear_message(sandbox):
    code = "def f(x):\n    return object()\n\ndef g(x):\n    return [1, {2: (3, {4.5})}, None, True, 'x', -0.0, 2 ** 5000]\n"
    result = sandbox.run(code, ["assert f(1) == 1", "assert g(1) == [1, {2: (3, {4.5})}, None, True, 'x', -0.0, 2 ** 5000]",
                                "assert g(1) != [1, {2: [3, {4.5}]}, None, True, 'x', -0.0, 2 ** 5000]"])
    assert [t.status for t in result.tests] == ["error", "passed", "passed"], result.to_text()
    message = result.tests[0].message
    assert "object" in message and "plain data" in message
