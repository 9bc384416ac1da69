"""The host's side of one run: the judge runs the tests, the solution answers calls, the host relays.

Two sandboxed interpreters take part, and neither can reach the other:

- the **solution**'s interpreter loads the judged code and answers calls
  ("call ``f`` with these arguments") with plain data or an exception. It
  never sees a test and never says whether anything passed;
- the **judge**'s interpreter runs the tests (trusted code) against stand-ins
  that ask the host to call the solution, and compares what comes back.

The host starts both, times every call and every test, and believes nothing
it reads: each report is parsed as a literal, checked against the protocol
(the right event, index and call id, in the right order) and each value
decoded as plain data (``plain_data``). A solution that writes anything else
on its channel, exits while called or does not give way to its alarm is
killed, the call gets a clear ``crashed`` or ``timeout`` outcome, and the next
call goes to a fresh interpreter that loads the code again. A judge that dies
or stalls gets the same treatment for the test it was running. Whatever
happens, every test ends with its own result and the host raises nothing
about what the sandboxes did.
"""

from __future__ import annotations

import ast
import builtins
import marshal
import operator
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .assert_plans import DirectCheck, direct_check
from .interpreter import Heard, SandboxedInterpreter, end_later, ending
from .isolation import Isolation, SandboxError
from .plain_data import MalformedReport, decode
from .results import SandboxResult, TestResult, shorten

if TYPE_CHECKING:
    from .sandbox import Sandbox

STATUSES = ("passed", "failed", "error", "timeout", "memory", "crashed")
CALL_STATUSES = ("passed", "failed", "error", "timeout", "memory")
SEND_TIMEOUT_S = 5.0  # for a message to an interpreter that is waiting for it
MIN_CALL_S = 0.05  # a call made at the very end of a test still gets this long
MAX_NAMES = 500
MAX_CALLS = 100_000
BUILTIN_NAMES = frozenset(dir(builtins))
PIPE_WINDOW = 32 * 1024  # call bytes in flight: half a pipe, so sending never waits on the solution
COMPARE = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
    ">=": operator.ge, "in": lambda a, b: a in b, "not in": lambda a, b: a not in b,
}


def setup_names(setup: str) -> frozenset[str]:
    """Names the setup binds (they stand for the setup's own in the tests, not for the code's).

    Any name bound anywhere in it counts: a superset only sends more tests to the judge.
    """
    try:
        tree = ast.parse(setup)
    except (SyntaxError, ValueError):  # the code then does not load either: no test runs
        return frozenset()
    names = set()
    for node in tree.body:
        for child in ast.walk(node):
            if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                names.add(child.id)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(child.name)
            elif isinstance(child, ast.alias):
                names.add((child.asname or child.name).split(".")[0])
    return frozenset(names)


def _show(value: Any, limit: int) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int beyond Python's printing limit
        text = f"<a {type(value).__name__} too large to print>"
    return shorten(text, limit)


@dataclass
class Loaded:
    """How loading the code went in one solution interpreter."""

    status: str
    message: str = ""
    traceback: str = ""
    stdout: str = ""
    stderr: str = ""
    names: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "passed"


def _text(raw: dict[str, Any], name: str, limit: int) -> str:
    value = raw.get(name)
    return shorten(value if isinstance(value, str) else "", limit)


def _number(raw: dict[str, Any], name: str) -> float:
    value = raw.get(name)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


class Referee:
    """One run of ``code`` against ``tests``; ``judge()`` returns the SandboxResult."""

    def __init__(self, sandbox: Sandbox, isolation: Isolation, job: dict[str, Any], plans: list[dict[str, Any]],
                 tests: list[str], memory_mb: int, budget_end: float, total_timeout_s: float | None) -> None:
        self.sandbox = sandbox
        self.isolation = isolation
        self.job = job
        self.plans = plans
        self.tests = tests
        self.memory_mb = memory_mb
        self.timeout_s = job["timeout_s"]
        self.budget_end = budget_end
        self.total_timeout_s = total_timeout_s
        self.solution: SandboxedInterpreter | None = None
        self.loaded: Loaded | None = None
        self.results: dict[int, TestResult] = {}
        self.outputs: dict[int, list[tuple[str, str]]] = {}
        self.calls = 0
        self.result = SandboxResult(tests=[], isolation=isolation.level, python=isolation.python, interpreters=0)

    # -------------------------------------------------------------- the run

    def judge(self) -> SandboxResult:
        try:
            first = self._load_first()
            if first is not None:
                self.loaded = first
                functions = frozenset(n for n, e in first.names.items() if e == "function") - setup_names(
                    self.job["setup"])
                checks = {}
                for index, plan in enumerate(self.plans):
                    check = direct_check(plan, functions)
                    if check is not None:
                        checks[index] = check
                self._run_direct(checks)
                self._run_tests([i for i in range(len(self.tests)) if i not in checks])
        finally:
            self._drop_solution(patient=False, later=True)
        for index, test in enumerate(self.tests):
            if index not in self.results:
                self.results[index] = self._not_run(index, test)
        self.result.tests = [self.results[i] for i in range(len(self.tests))]
        return self.result

    def _load_first(self) -> Loaded | None:
        loaded = self._start_solution()
        result = self.result
        result.load_stdout, result.load_stderr = loaded.stdout, loaded.stderr
        if not loaded.ok:
            result.load_status, result.load_message, result.load_traceback = (
                loaded.status, loaded.message, loaded.traceback)
            return None
        return loaded

    def _run_tests(self, indices: list[int]) -> None:
        """The tests the judge runs (in order); a judge that ends is replaced for the rest."""
        failures = 0
        while indices and time.monotonic() < self.budget_end:
            judge = self.sandbox.take_judge(self.isolation)
            rest, clean = self._follow_judge(judge, indices)
            if clean:
                self.sandbox.return_judge(judge)
            else:
                judge.end()
            failures = failures + 1 if rest == indices else 0
            if failures >= 2:  # two fresh judges in a row ended before their first test
                for index in indices:
                    self.results[index] = TestResult(index, self.tests[index], "crashed",
                                                     "not run: the interpreter running the tests kept ending")
                return
            indices = rest

    # -------------------------------------------------------------- the judge

    def _follow_judge(self, judge: SandboxedInterpreter, indices: list[int]) -> tuple[list[int], bool]:
        """Follow one judge through ``indices``; (the tests a fresh judge should still run; reusable)."""
        run = {
            "names": self.loaded.names if self.loaded else {}, "setup": self.job["setup"], "plans": self.plans,
            "indices": indices, "timeout_s": self.timeout_s, "memory_mb": self.memory_mb,
            "output_limit": self.sandbox.output_limit, "repr_limit": self.sandbox.repr_limit,
            "text_limit": self.sandbox.text_limit,
        }
        if not judge.send(run, time.monotonic() + SEND_TIMEOUT_S):
            return indices, False
        state, position, started = "prepare", 0, time.monotonic()
        while True:
            limit = self.timeout_s + 2 * self.sandbox.grace_s
            heard = judge.hear(min(self.budget_end, started + limit))
            message = heard.message
            event = message.get("event")
            index = indices[position]
            if heard.kind == "message" and event == "call":
                judge.send(self._relay(message, index if state == "test" else -1, started),
                           time.monotonic() + SEND_TIMEOUT_S)
                continue
            if heard.kind == "message" and event == "prepared" and state == "prepare":
                if message.get("status") != "passed":
                    self._setup_failed(indices, message)
                    return [], self._finish(judge)
                state, started = "test", time.monotonic()  # each test starts as soon as the last is reported
                continue
            if heard.kind == "message" and event == "result" and state == "test" and message.get("index") == index:
                self.results[index] = self._test_result(index, message)
                position, started = position + 1, time.monotonic()
                if position == len(indices):
                    return [], self._finish(judge)
                continue
            return self._judge_ended(judge, heard, state, indices, position)

    def _finish(self, judge: SandboxedInterpreter) -> bool:
        """The judge's last word must be ``done``: only then is it reused for another run."""
        heard = judge.hear(time.monotonic() + SEND_TIMEOUT_S)
        return heard.kind == "message" and heard.message.get("event") == "done"

    def _judge_ended(self, judge: SandboxedInterpreter, heard: Heard, state: str, indices: list[int],
                     position: int) -> tuple[list[int], bool]:
        """The judge stopped following the protocol: the test it was in gets why, the rest go on."""
        index = indices[position]
        if time.monotonic() >= self.budget_end:
            if state == "test":
                self.results[index] = self._budget_result(index)
            return [], False
        if heard.kind == "late":
            status, message = "timeout", (f"did not finish within the time limit of {self.timeout_s:g} s "
                                          "(the interpreter running the test was killed)")
        elif heard.kind == "ended":
            status, message = ending(judge.end(patient=True))
            message += " while running the test"
        else:
            status, message = "crashed", ("the interpreter running the test sent a malformed report "
                                          f"({heard.detail or 'out of order'})")
        if state == "prepare":
            self._setup_failed(indices, {"status": status, "message": message})
            return [], False
        self.results[index] = TestResult(index, self.tests[index], status, shorten(message, self.sandbox.text_limit),
                                         stdout=self._solution_output(index, 0), stderr=self._solution_output(index, 1))
        return indices[position + 1:], False

    def _setup_failed(self, indices: list[int], report: dict[str, Any]) -> None:
        status = report.get("status") if report.get("status") in STATUSES else "error"
        message = shorten(f"not run: the tests' setup failed ({status}): {_text(report, 'message', 2000)}",
                          self.sandbox.text_limit)
        for index in indices:
            self.results[index] = TestResult(index, self.tests[index], status, message,
                                             traceback=_text(report, "traceback", self.sandbox.text_limit))

    def _test_result(self, index: int, raw: dict[str, Any]) -> TestResult:
        """The judge's report on one test, bounded again, with what the solution printed during it."""
        box = self.sandbox
        status = raw.get("status")

        def optional(name: str) -> str | None:
            value = raw.get(name)
            return shorten(value, box.repr_limit) if isinstance(value, str) else None

        return TestResult(
            index=index,
            test=self.tests[index],
            status=status if status in STATUSES else "error",
            message=_text(raw, "message", box.text_limit),
            input=optional("input"),
            expected=optional("expected"),
            actual=optional("actual"),
            stdout=shorten(self._solution_output(index, 0) + _text(raw, "stdout", box.output_limit), box.output_limit),
            stderr=shorten(self._solution_output(index, 1) + _text(raw, "stderr", box.output_limit), box.output_limit),
            traceback=_text(raw, "traceback", box.text_limit),
            runtime_s=_number(raw, "runtime_s"),
        )

    def _solution_output(self, index: int, which: int) -> str:
        return "".join(pair[which] for pair in self.outputs.get(index, []))

    # -------------------------------------------------------------- tests the host checks itself

    def _run_direct(self, checks: dict[int, DirectCheck]) -> None:
        """Make every direct check's call, several in flight at once, and compare on the host.

        Calls go out while the bytes in flight fit in the pipe (so no write
        ever waits on the solution), and each call's deadline runs from when
        the solution could start it: the answer to the one before.
        """
        pending = deque(sorted(checks))
        in_flight: deque[tuple[int, int, int]] = deque()  # (test index, call id, bytes)
        flying, head_started = 0, time.monotonic()
        while pending or in_flight:
            if time.monotonic() >= self.budget_end:
                for index in [*(i for i, _, _ in in_flight), *pending]:
                    self.results[index] = self._budget_result(index)
                return
            if self.solution is None:
                loaded = self._start_solution()
                if not loaded.ok:
                    outcome = self._outcome("timeout" if loaded.status == "timeout" else "crashed",
                                            f"a fresh interpreter for the solution could not load the code: "
                                            f"{loaded.message}")
                    for index in pending:
                        self.results[index] = self._direct_result(index, checks[index], outcome)
                    return
            solution = self.solution
            while pending and (not in_flight or flying < PIPE_WINDOW):
                index = pending[0]
                check = checks[index]
                self.calls += 1
                data = marshal.dumps({"id": self.calls, "name": check.name, "args": check.args,
                                      "kwargs": check.kwargs, "timeout_s": self.timeout_s})
                if in_flight and flying + len(data) > PIPE_WINDOW:
                    break
                if not in_flight:
                    head_started = time.monotonic()
                if not solution.send_bytes(data, head_started + self.timeout_s + self.sandbox.grace_s):
                    break
                pending.popleft()
                in_flight.append((index, self.calls, len(data)))
                flying += len(data)
            if not in_flight:  # the solution would not even take the call
                index = pending.popleft()
                outcome = self._solution_lost(Heard("late" if solution.alive() else "ended"))
                self.results[index] = self._direct_result(index, checks[index], outcome)
                continue
            index, call_id, size = in_flight[0]
            heard = solution.hear(min(head_started + self.timeout_s + self.sandbox.grace_s, self.budget_end))
            reply = heard.message
            in_flight.popleft()
            flying -= size
            head_started = time.monotonic()
            if heard.kind == "message" and reply.get("event") == "reply" and reply.get("id") == call_id \
                    and reply.get("status") in CALL_STATUSES:
                outcome = self._reply_outcome(reply)
            else:
                outcome = self._solution_lost(heard)
                pending.extendleft(reversed([i for i, _, _ in in_flight]))  # sent to a process now gone
                in_flight.clear()
                flying = 0
            self.results[index] = self._direct_result(index, checks[index], outcome)

    def _direct_result(self, index: int, check: DirectCheck, outcome: dict[str, Any]) -> TestResult:
        """The verdict on a direct check, decided here on plain data (fields as the judge fills them)."""
        box, plan = self.sandbox, self.plans[index]
        piece = plan["left"] if plan["kind"] == "compare" else plan["value"]
        result = TestResult(index, self.tests[index], "passed", stdout=outcome.get("stdout", ""),
                            stderr=outcome.get("stderr", ""))
        if outcome["status"] != "passed":
            line = self.tests[index].splitlines()[piece["line"] - 1].strip()
            frame = f'  File "<test>", line {piece["line"]}, in <module>\n    {line}\n'
            result.status, result.message = outcome["status"], shorten(outcome["message"], box.text_limit)
            result.traceback = shorten(frame + outcome["traceback"], box.text_limit) if outcome["traceback"] else ""
            return result
        value = outcome["value"]
        if check.op is None:
            expected = "a false value" if check.falsy else "a true value"
            ok = not value if check.falsy else bool(value)
        else:
            shown = _show(check.expected, box.repr_limit)
            expected = shown if check.op == "==" else f"a value {check.op} {shown}"
            try:
                ok = bool(COMPARE[check.op](value, check.expected))
            except Exception as exc:  # noqa: BLE001 - e.g. '<' between a dict and an int: the code's error
                result.status, result.message = "error", f"{type(exc).__name__}: {exc}"
                return result
        result.input, result.expected = shorten(piece["text"], box.repr_limit), expected
        result.actual = _show(value, box.repr_limit)
        if not ok:
            result.status = "failed"
            result.message = shorten("assertion failed: " + plan["assertion"]
                                     + (f" -- {check.message}" if check.message is not None else ""), box.text_limit)
        return result

    # -------------------------------------------------------------- the solution

    def _relay(self, request: dict[str, Any], index: int, started: float) -> dict[str, Any]:
        """The judge asks for a call: check it, make it in the solution's process, give back the outcome."""
        name = request.get("name")
        try:
            args, kwargs = decode(request.get("args")), decode(request.get("kwargs"))
        except MalformedReport as exc:
            return self._outcome("error", f"the test's call could not be sent to the solution: {exc}")
        if not (isinstance(name, str) and self.loaded and self.loaded.names.get(name) == "function"
                and isinstance(args, tuple) and isinstance(kwargs, dict)
                and all(isinstance(key, str) for key in kwargs)):
            return self._outcome("error", f"the test made a malformed call ({name!r})")
        self.calls += 1
        if self.calls > MAX_CALLS:
            return self._outcome("error", f"the tests called the solution more than {MAX_CALLS} times")
        remaining = max(MIN_CALL_S, started + self.timeout_s - time.monotonic())
        outcome = self._call(name, args, kwargs, remaining)
        if "stdout" in outcome:
            self.outputs.setdefault(index, []).append((outcome.pop("stdout"), outcome.pop("stderr")))
        return outcome

    def _call(self, name: str, args: tuple, kwargs: dict[str, Any], alarm_s: float) -> dict[str, Any]:
        if self.solution is None:  # the first one could not go on: a fresh one
            loaded = self._start_solution()
            if not loaded.ok:  # never an "error" a test could catch: the code loaded the first time
                return self._outcome("timeout" if loaded.status == "timeout" else "crashed",
                                     "a fresh interpreter for the solution could not load the code: "
                                     f"{loaded.message}")
        solution = self.solution
        deadline = time.monotonic() + alarm_s + self.sandbox.grace_s
        if not solution.send({"id": self.calls, "name": name, "args": args, "kwargs": kwargs, "timeout_s": alarm_s},
                             min(deadline, self.budget_end)):
            return self._solution_lost(Heard("late" if solution.alive() else "ended"))
        heard = solution.hear(min(deadline, self.budget_end))
        reply = heard.message
        if not (heard.kind == "message" and reply.get("event") == "reply" and reply.get("id") == self.calls
                and reply.get("status") in CALL_STATUSES):
            return self._solution_lost(heard)
        return self._reply_outcome(reply)

    def _reply_outcome(self, reply: dict[str, Any]) -> dict[str, Any]:
        """A well-formed reply as the call's outcome: the decoded value, or what went wrong."""
        limit = self.sandbox.output_limit
        outputs = {"stdout": _text(reply, "stdout", limit), "stderr": _text(reply, "stderr", limit)}
        status = reply["status"]
        if status == "passed":
            try:
                return {**self._outcome("passed"), "value": decode(reply.get("value")), **outputs}
            except MalformedReport as exc:
                self._drop_solution(patient=False, later=False)
                return {**self._outcome("crashed", f"the solution's process sent a malformed value ({exc})"),
                        **outputs}
        return {**self._outcome("error" if status == "failed" else status, _text(reply, "message", 2000),
                                _text(reply, "traceback", self.sandbox.text_limit)), **outputs}

    def _solution_lost(self, heard: Heard, during: str = "during this test") -> dict[str, Any]:
        """The solution did not answer as the protocol says: it is killed, and the call says why."""
        returncode = self._drop_solution(patient=heard.kind == "ended", later=False)
        if time.monotonic() >= self.budget_end:
            return self._outcome("timeout", f"the run's total time budget of {self.total_timeout_s:g} s "
                                            f"was used up {during}")
        if heard.kind == "late":
            return self._outcome("timeout", f"did not finish within the time limit of {self.timeout_s:g} s "
                                            "(the interpreter was killed: the code did not give way to the alarm)")
        if heard.kind == "ended":
            status, message = ending(returncode)
            return self._outcome(status, f"{message} {during}")
        what = heard.detail or f"an unexpected {heard.message.get('event', 'message')!r} report"
        return self._outcome("crashed", f"the solution's process sent a malformed report ({what}): "
                                        "the code wrote on the sandbox's result channel")

    @staticmethod
    def _outcome(status: str, message: str = "", traceback: str = "") -> dict[str, Any]:
        return {"status": status, "message": message, "traceback": traceback}

    def _start_solution(self) -> Loaded:
        """A fresh solution interpreter with the code loaded (kept as ``self.solution`` when it loaded)."""
        sandbox, job = self.sandbox, self.job
        n_phases = len(self.tests) + 1
        limits = {"cpu_s": int(self.timeout_s * n_phases) + 2, "memory_mb": self.memory_mb,
                  "file_mb": sandbox.file_mb, "open_files": sandbox.open_files, "processes": sandbox.processes}
        interpreter = sandbox.take_solution(self.isolation, {**job, "limits": limits})
        self.result.interpreters += 1
        start_deadline = time.monotonic() + sandbox.start_timeout_s
        heard = interpreter.hear(min(start_deadline, self.budget_end))
        if not (heard.kind == "message" and heard.message.get("event") == "ready"):
            returncode = interpreter.end()
            if time.monotonic() >= self.budget_end:
                return Loaded("timeout", f"the run's total time budget of {self.total_timeout_s:g} s was used up")
            raise SandboxError(
                f"the sandboxed interpreter did not start ({self.isolation.level}, {self.isolation.python}); "
                f"exit code {returncode}: {interpreter.stderr.strip()[-500:] or 'no message'}"
            )
        heard = interpreter.hear(min(time.monotonic() + self.timeout_s + sandbox.grace_s, self.budget_end))
        raw = heard.message
        if heard.kind == "message" and raw.get("event") == "loaded" and raw.get("status") in CALL_STATUSES:
            loaded = self._loaded(raw)
            if loaded is not None:
                if loaded.ok:
                    self.solution = interpreter
                else:
                    interpreter.end(patient=True)
                return loaded
            heard = Heard("malformed", detail="a malformed list of names")
        self.solution = interpreter
        outcome = self._solution_lost(heard, during="while loading the code")
        return Loaded(outcome["status"], outcome["message"])

    def _loaded(self, raw: dict[str, Any]) -> Loaded | None:
        """The load report, its names checked: the solution's functions and plain values the tests may use."""
        box = self.sandbox
        loaded = Loaded(
            status="error" if raw["status"] == "failed" else raw["status"],
            message=_text(raw, "message", box.text_limit),
            traceback=_text(raw, "traceback", box.text_limit),
            stdout=_text(raw, "stdout", box.output_limit),
            stderr=_text(raw, "stderr", box.output_limit),
        )
        if not loaded.ok:
            return loaded
        names = raw.get("names")
        if not isinstance(names, dict) or len(names) > MAX_NAMES:
            return None
        entry_point = self.job["entry_point"]
        for name, entry in names.items():
            if not (isinstance(name, str) and name.isidentifier()) or (
                name in BUILTIN_NAMES and name != entry_point
            ):
                return None
            if entry == "function":
                loaded.names[name] = entry
            elif isinstance(entry, tuple) and len(entry) == 2 and entry[0] == "value":
                try:
                    loaded.names[name] = ("value", decode(entry[1]))
                except MalformedReport:
                    return None
            else:
                return None
        return loaded

    def _drop_solution(self, patient: bool, later: bool) -> int | None:
        solution, self.solution = self.solution, None
        if solution is None:
            return None
        if later:
            end_later(solution)
            return None
        return solution.end(patient=patient)

    # -------------------------------------------------------------- tests that did not run

    def _budget_result(self, index: int) -> TestResult:
        return TestResult(index, self.tests[index], "timeout",
                          f"the run's total time budget of {self.total_timeout_s:g} s was used up during this test")

    def _not_run(self, index: int, test: str) -> TestResult:
        result, limit = self.result, self.sandbox.text_limit
        if not result.loaded:
            message = f"not run: the code could not be loaded ({result.load_status}: {result.load_message})"
            return TestResult(index, test, result.load_status, shorten(message, limit))
        if self.total_timeout_s is not None and time.monotonic() >= self.budget_end:
            return TestResult(index, test, "timeout",
                              f"not run: the run's total time budget of {self.total_timeout_s:g} s was used up")
        return TestResult(index, test, "crashed", "not run: the interpreter ended between tests")
