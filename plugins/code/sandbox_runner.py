"""The program that runs inside a sandbox, in one of two roles.

``solution``: loads the judged code (and the problem's setup), then serves
calls: the host sends a function name and arguments, the runner calls the
function under an alarm with captured output and answers with the result
turned into plain data (numbers, strings, lists, dicts, sets, tuples, None,
bool) or with the exception it raised. It never sees a test, and nothing it
says is believed: the host validates every answer, and a value is only ever
compared by the judge.

``judge``: runs the tests, each in turn, in another sandboxed interpreter.
The solution's functions are stand-ins that ask the host to call them in the
solution's process and give back the plain data that came back; every
comparison and every assert is evaluated here, on that data. A judge serves
many runs (it runs only the tests, trusted code), each in a fresh namespace.

The host starts a fresh interpreter that reads this program from stdin
(marshalled, compiled when the interpreter's bytecode matches the host's) and
runs it (``isolation.BOOTSTRAP``); every message from the host follows on
stdin, marshalled. Reports go out as one line each (a Python literal) on
RESULT_FD. With namespaces the runner is PID 1 of its own PID namespace, so
when it exits every process of the sandbox ends with it.

Start-up time is the cost of a run, so this file imports only modules that
are already loaded when Python starts (``posix`` rather than ``os``,
``_signal`` rather than ``signal``), plus ``resource``. It is never imported
by the host.
"""

import _signal
import builtins
import io
import marshal
import posix
import resource
import sys
import time

RESULT_FD = 3
RUNNER_PID = posix.getpid()
COMMANDS = sys.stdin.buffer
SOLUTION_FILE = "<solution>"
SETUP_FILE = "<setup>"
TEST_FILE = "<test>"
OWN_FILES = (SOLUTION_FILE, SETUP_FILE, TEST_FILE)
SOURCES = {}
MAX_DEPTH = 100
MAX_VALUE_CHARS = 1 << 19
MAX_NAMES = 500
SMALL_INT = 1 << 256
END_TIMEOUT_S = 5.0
PR_SET_CHILD_SUBREAPER = 36
PLAIN_TYPES = "numbers, strings, lists, dicts, sets, tuples, None or bool"

COMPARE = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "in": lambda a, b: a in b,
    "not in": lambda a, b: a not in b,
    "is": lambda a, b: a is b,
    "is not": lambda a, b: a is not b,
}


class TestTimeout(BaseException):
    """Raised by the alarm; a BaseException so that ``except Exception`` in the code does not swallow it."""


class Failed(Exception):
    """The test's assertion was false; carries what was compared (input, expected, actual)."""

    def __init__(self, message, detail):
        super().__init__(message)
        self.message = message
        self.detail = detail


class NotPlainData(TypeError):
    """A value that cannot leave the solution's process: only plain data is compared, by the judge."""


class SolutionRaised(Exception):
    """The solution's function raised: a test may catch this like any exception of the code."""

    def __init__(self, outcome):
        super().__init__(outcome["message"])
        self.outcome = outcome


class SolutionStopped(BaseException):
    """The solution's process timed out, ran out of memory, crashed or sent a malformed answer.

    A BaseException, so that a test's ``except Exception`` cannot turn a
    crash of the solution into a pass.
    """

    def __init__(self, outcome):
        super().__init__(outcome["message"])
        self.outcome = outcome


def leave_if_forked():
    """A process forked by the code returns into this runner's loop: it must not act as the runner."""
    if posix.getpid() != RUNNER_PID:
        posix._exit(0)


def send(message):
    leave_if_forked()
    data = (repr(message) + "\n").encode("utf-8", "backslashreplace")
    while data:
        data = data[posix.write(RESULT_FD, data):]


def receive():
    """The host's next message, or None when the host has closed the channel."""
    try:
        return marshal.load(COMMANDS)
    except (EOFError, ValueError, OSError):
        return None


def clean(text):
    """Text that survives UTF-8 files: lone surrogates become escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def bounded(text, limit):
    text = clean(text)
    if len(text) <= limit:
        return text
    return text[:limit] + f"... [{len(text) - limit} more characters cut]"


def safe_repr(value, limit):
    try:
        text = repr(value)
    except BaseException as exc:  # noqa: BLE001 - a broken __repr__ is the code's problem, not ours
        text = f"<unprintable {type(value).__name__}: {type(exc).__name__}>"
    return bounded(text, limit)


# ---------------------------------------------------------------- plain data


def plain(value, depth=0):
    """``value`` as plain data the host can read without running anything of it.

    Exact built-in types only; subclasses (a str subclass, a namedtuple, a
    defaultdict) are copied into their base type through the base type's own
    methods, so an overridden ``__eq__``, ``__iter__`` or ``__repr__`` never
    takes part. Lists, str, small int, finite float, None and bool are
    themselves; every other kind is a tagged tuple (the host's
    ``plain_data.decode`` is the inverse).
    """
    if depth > MAX_DEPTH:
        raise NotPlainData(f"the value is nested more than {MAX_DEPTH} levels deep (or contains itself)")
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        return value if -SMALL_INT < value < SMALL_INT else ("int", int.__format__(value, "x"))
    if kind is float:
        return value if value - value == 0.0 else ("float", float.hex(value))
    if kind is list:
        return [plain(item, depth + 1) for item in list.__iter__(value)]
    if kind is tuple:
        return ("tuple", [plain(item, depth + 1) for item in tuple.__iter__(value)])
    if kind is dict:
        items = []
        for key, item in dict.items(value):
            items.append(plain(key, depth + 1))
            items.append(plain(item, depth + 1))
        return ("dict", items)
    if kind is set or kind is frozenset:
        return (kind.__name__, [plain(item, depth + 1) for item in kind.__iter__(value)])
    if kind is complex:
        return ("complex", float.hex(complex.real.__get__(value)), float.hex(complex.imag.__get__(value)))
    copy = None
    if issubclass(kind, str):
        copy = str.__str__(value)
    elif issubclass(kind, int):
        copy = int.__int__(value)
    elif issubclass(kind, float):
        copy = float.__float__(value)
    elif issubclass(kind, complex):
        copy = complex(complex.real.__get__(value), complex.imag.__get__(value))
    elif issubclass(kind, dict):
        copy = dict(dict.items(value))
    else:
        for base in (list, tuple, set, frozenset):
            if issubclass(kind, base):
                copy = base(base.__iter__(value))
                break
    if copy is not None:
        return plain(copy, depth)
    raise NotPlainData(
        f"a value of type {kind.__module__}.{kind.__qualname__} is not plain data: only {PLAIN_TYPES} "
        "can be compared by the tests"
    )


# ---------------------------------------------------------------- limits, output, processes


def apply_limits(limits):
    """Limits the code cannot raise again: soft and hard values are equal (CPU: hard one second later)."""
    mb = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if limits.get("cpu_s") is not None:
        resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_s"], limits["cpu_s"] + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_mb"] * mb, limits["file_mb"] * mb))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"], limits["open_files"]))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"], limits["processes"]))
    if limits.get("memory_mb") is not None:
        resource.setrlimit(resource.RLIMIT_AS, (limits["memory_mb"] * mb, limits["memory_mb"] * mb))


class Capture:
    """Per-phase stdout and stderr at the file-descriptor level, so that output
    written by ``os.write``, C code or child processes is attributed too.

    Each phase writes into memory files emptied after each phase (not in the
    work directory, which stays the code's own), bounded by RLIMIT_FSIZE. The text streams are
    unbuffered: output that cannot be written (beyond the size limit) is
    dropped, never carried into the next test's capture. The code's stdin is
    empty (the host's messages come on fd 0, read by the runner only).
    """

    def __init__(self, limit, own_pid_namespace):
        self.limit = limit
        self.own_pid_namespace = own_pid_namespace
        self.files = None
        self.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8",
                                       errors="backslashreplace", write_through=True)
        self.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                                       errors="backslashreplace", write_through=True)
        self.stdin = io.TextIOWrapper(io.FileIO("/dev/null", "r"), encoding="utf-8")

    def begin(self):
        if self.files is None:
            self.files = (posix.memfd_create("stdout"), posix.memfd_create("stderr"))
        posix.dup2(self.files[0], 1)
        posix.dup2(self.files[1], 2)
        sys.stdout, sys.stderr, sys.stdin = self.stdout, self.stderr, self.stdin

    def end(self):
        texts = []
        for fd in self.files:
            size = posix.lseek(fd, 0, 1)
            data = posix.pread(fd, self.limit * 4 + 4, 0) if size else b""
            if size:
                posix.ftruncate(fd, 0)
                posix.lseek(fd, 0, 0)
            texts.append(bounded(data.decode("utf-8", "replace"), self.limit))
        return texts


def end_children(own_pid_namespace):
    """Kill every process the phase left behind, and reap it, so the next phase starts clean.

    A killed process counts against the process limit until it is reaped. With
    namespaces the runner is PID 1 of its own PID namespace: ``kill(-1)``
    reaches exactly the sandbox's other processes (detached ones included),
    and every orphan is re-parented to the runner, which reaps them all.
    Without one, ``kill(-1)`` would reach every process of the sandbox user on
    the host, so the runner is a child subreaper (``become_subreaper``): the
    orphans of a fork bomb or a detached daemon come back to it rather than to
    the host's init, which reaps when it gets to it. It kills its descendants
    until none is left (a fork bomb forks between two listings) and reaps each.
    """
    if own_pid_namespace:
        kill(-1)
        while True:
            try:
                posix.waitpid(-1, 0)
            except ChildProcessError:
                return
    deadline = time.monotonic() + END_TIMEOUT_S
    while has_children() and time.monotonic() < deadline:
        for pid in descendants(RUNNER_PID):
            kill(pid)
        reap_ended()
        if has_children():
            time.sleep(0.001)


def reap_ended():
    """Reap every child that has ended, without waiting for the others."""
    while True:
        try:
            pid, _ = posix.waitpid(-1, posix.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def become_subreaper():
    """Orphaned descendants are re-parented to this process (Linux ``PR_SET_CHILD_SUBREAPER``).

    Imports ctypes, so only runners without a PID namespace of their own pay for it."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (ImportError, OSError, AttributeError):
        pass


def kill(pid):
    try:  # noqa: SIM105 - contextlib is not loaded at start-up
        posix.kill(pid, _signal.SIGKILL)
    except OSError:
        pass


def has_children():
    try:
        posix.waitid(posix.P_ALL, 0, posix.WEXITED | posix.WNOHANG | posix.WNOWAIT)
    except ChildProcessError:
        return False
    return True


def descendants(root):
    children = {}
    for entry in posix.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


# ---------------------------------------------------------------- phases


def own_traceback(exc, limit, skip_last_line=False):
    """The traceback restricted to frames of the solution and the test (imports only on errors)."""
    import linecache
    import traceback

    for name, source in SOURCES.items():
        linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename in OWN_FILES]
    text = "".join(traceback.StackSummary.from_list(frames).format() if frames else [])
    if not skip_last_line:
        text += "".join(traceback.format_exception_only(type(exc), exc))
    if len(text) > limit:
        text = "..." + text[-limit:]
    return clean(text)


def raised_in_solution(exc):
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb.tb_frame.f_code.co_filename
        tb = tb.tb_next
    return last == SOLUTION_FILE


def classify(exc, timeout_s):
    """(status, message) for an exception escaping a phase."""
    if isinstance(exc, TestTimeout):
        return "timeout", f"did not finish within the time limit of {timeout_s:g} s"
    if isinstance(exc, MemoryError):
        return "memory", "ran out of memory (MemoryError under the sandbox memory limit)"
    if isinstance(exc, Failed):
        return "failed", exc.message
    if isinstance(exc, AssertionError) and not raised_in_solution(exc):
        return "failed", "assertion failed" + (f": {exc}" if str(exc) else "")
    if isinstance(exc, SystemExit):
        return "error", f"the code called exit({exc.code!r})"
    return "error", f"{type(exc).__name__}: {exc}"


class Alarm:
    """The phase's wall-clock alarm. While the judge waits for the solution's answer the alarm is
    held back (the host times the call and answers with a timeout), so it never interrupts a
    half-read message."""

    holding = False
    rang = False


def ring(signum, frame):
    if Alarm.holding:
        Alarm.rang = True
        return
    raise TestTimeout()


def phase(work, capture, timeout_s, text_limit):
    """Run ``work()`` under a wall-clock alarm with captured output; a result dict whatever happens."""
    result = {"status": "passed", "message": "", "traceback": ""}
    capture.begin()
    started = time.perf_counter()
    Alarm.rang = False
    try:
        _signal.signal(_signal.SIGALRM, ring)
        _signal.setitimer(_signal.ITIMER_REAL, timeout_s)
        try:
            detail = work()
        finally:
            _signal.setitimer(_signal.ITIMER_REAL, 0)
        leave_if_forked()
        result.update(detail)
    except BaseException as exc:  # noqa: BLE001 - every outcome of untrusted code is a result
        leave_if_forked()
        _signal.setitimer(_signal.ITIMER_REAL, 0)
        if isinstance(exc, (SolutionRaised, SolutionStopped)):
            outcome = exc.outcome
            result.update(status=outcome["status"], message=bounded(outcome["message"], text_limit),
                          traceback=own_traceback(exc, text_limit, skip_last_line=True) + outcome["traceback"])
        else:
            status, message = classify(exc, timeout_s)
            result.update(status=status, message=bounded(message, text_limit))
            if isinstance(exc, Failed):
                result.update(exc.detail)
            elif status in ("error", "failed"):
                result["traceback"] = own_traceback(exc, text_limit)
    result["runtime_s"] = time.perf_counter() - started
    end_children(capture.own_pid_namespace)
    result["stdout"], result["stderr"] = capture.end()
    return result


def preload(names):
    """Import standard modules solutions often use while the job is awaited (start-up is off the clock)."""
    for name in filter(None, names.split(",")):
        try:  # noqa: SIM105 - contextlib is not loaded at start-up
            __import__(name)
        except ImportError:
            pass


# ---------------------------------------------------------------- the solution's process


def exported_names(namespace, entry_point):
    """What the tests may use of the solution: its functions and plain values, never a builtin's name
    (a solution defining ``abs`` must not answer for the test's own ``abs``)."""
    names = {}
    for name, value in list(namespace.items()):
        if len(names) >= MAX_NAMES:
            break
        if name.startswith("__") or (hasattr(builtins, name) and name != entry_point):
            continue
        if callable(value):
            names[name] = "function"
            continue
        try:
            data = plain(value)
        except NotPlainData:
            continue
        if len(repr(data)) <= MAX_VALUE_CHARS // 8:
            names[name] = ("value", data)
    return names


def serve_solution(job):
    apply_limits(job["limits"])
    _signal.signal(_signal.SIGXFSZ, _signal.SIG_IGN)
    capture = Capture(job["output_limit"], job["own_pid_namespace"])
    namespace = {"__name__": "solution", "__builtins__": __builtins__}
    code, setup, text_limit = job["code"], job["setup"], job["text_limit"]
    SOURCES[SOLUTION_FILE] = code
    SOURCES[SETUP_FILE] = setup

    def load():
        exec(compile(code, SOLUTION_FILE, "exec"), namespace)
        if setup:
            exec(compile(setup, SETUP_FILE, "exec"), namespace)
        name = job["entry_point"]
        if name and not callable(namespace.get(name)):
            raise NameError(f"the code defines no function named {name!r}")
        return {"names": exported_names(namespace, name)}

    loaded = phase(load, capture, job["timeout_s"], text_limit)
    send({"event": "loaded", **loaded})
    if loaded["status"] != "passed":
        return
    while True:
        call = receive()
        if call is None:
            return

        def work(call=call):
            function = namespace.get(call["name"])
            if not callable(function):
                raise NameError(f"the code defines no function named {call['name']!r}")
            value = function(*call["args"], **call["kwargs"])
            try:
                data = plain(value)
            except NotPlainData as exc:
                raise NotPlainData(f"{call['name']}(...) returned {exc}") from None
            if len(repr(data)) > MAX_VALUE_CHARS:
                raise ValueError(f"{call['name']}(...) returned a value too large to report "
                                 f"(more than {MAX_VALUE_CHARS} characters)")
            return {"value": data}

        reply = phase(work, capture, call["timeout_s"], text_limit)
        send({"event": "reply", "id": call["id"], **reply})


# ---------------------------------------------------------------- the judge's process


def call_solution(name, args, kwargs):
    """Ask the host to call ``name`` in the solution's process; the plain data it returned."""
    try:
        data = {"args": plain(args), "kwargs": plain(kwargs)}
    except NotPlainData as exc:
        raise TypeError(f"cannot pass this argument to the solution's {name}: {exc}") from None
    send({"event": "call", "name": name, **data})
    Alarm.holding = True
    try:
        outcome = receive()
    finally:
        Alarm.holding = False
    if outcome is None:
        posix._exit(0)  # the host is gone
    if Alarm.rang and outcome["status"] == "passed":
        raise TestTimeout()
    if outcome["status"] == "passed":
        return outcome["value"]
    if outcome["status"] == "error":
        raise SolutionRaised(outcome)
    raise SolutionStopped(outcome)


def stand_in(name):
    def function(*args, **kwargs):
        return call_solution(name, args, kwargs)

    function.__name__ = function.__qualname__ = name
    return function


def evaluate(piece, namespace):
    """Evaluate an expression of the test, compiled at its own line and column in the test."""
    text, line, col = piece["text"], piece["line"], piece["col"]
    placed = "\n" * (line - 1) + ("(" + " " * (col - 1) + text + ")" if col else text)
    return eval(compile(placed, TEST_FILE, "eval"), namespace)


def run_test(plan, namespace, repr_limit):
    SOURCES[TEST_FILE] = plan["source"]
    kind = plan["kind"]
    if kind == "exec":
        exec(compile(plan["source"], TEST_FILE, "exec"), namespace)
        return {"input": plan["source"]}
    if plan["before"]:
        exec(compile(plan["before"], TEST_FILE, "exec"), namespace)
    if kind == "compare":
        left = evaluate(plan["left"], namespace)
        right = evaluate(plan["right"], namespace)
        expected = safe_repr(right, repr_limit)
        if plan["op"] != "==":
            expected = f"a value {plan['op']} {expected}"
        detail = {"input": plan["left"]["text"], "expected": expected, "actual": safe_repr(left, repr_limit)}
        ok = COMPARE[plan["op"]](left, right)
    else:
        value = evaluate(plan["value"], namespace)
        detail = {"input": plan["value"]["text"], "actual": safe_repr(value, repr_limit),
                  "expected": "a false value" if kind == "falsy" else "a true value"}
        ok = not value if kind == "falsy" else value
    if not ok:
        message = "assertion failed: " + plan["assertion"]
        if plan["message"] is not None:
            message += " -- " + str(evaluate(plan["message"], namespace))
        raise Failed(message, detail)
    return detail


def judge_run(run, capture):
    mb = 1024 * 1024
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    soft = run["memory_mb"] * mb
    resource.setrlimit(resource.RLIMIT_AS, (soft if hard < 0 else min(soft, hard), hard))
    capture.limit = run["output_limit"]
    namespace = {"__name__": "tests", "__builtins__": __builtins__}
    for name, entry in run["names"].items():
        namespace[name] = stand_in(name) if entry == "function" else entry[1]
    setup = run["setup"]
    SOURCES[SETUP_FILE] = setup

    def prepare():
        if setup:
            exec(compile(setup, SETUP_FILE, "exec"), namespace)
        return {}

    prepared = phase(prepare, capture, run["timeout_s"], run["text_limit"])
    send({"event": "prepared", **prepared})
    if prepared["status"] != "passed":
        return
    plans = run["plans"]
    for index in run["indices"]:  # each test starts as soon as the last one is reported
        result = phase(
            lambda plan=plans[index], ns=dict(namespace): run_test(plan, ns, run["repr_limit"]),
            capture, run["timeout_s"], run["text_limit"],
        )
        send({"event": "result", "index": index, **result})


def serve_judge(job):
    apply_limits(job["limits"])
    _signal.signal(_signal.SIGXFSZ, _signal.SIG_IGN)
    capture = Capture(job["output_limit"], job["own_pid_namespace"])
    while True:
        message = receive()
        if message is None:
            return
        judge_run(message, capture)
        send({"event": "done"})


def main():
    given_fd = int(sys.argv[1])
    if given_fd != RESULT_FD:
        posix.dup2(given_fd, RESULT_FD)
        posix.close(given_fd)
    preload(sys.argv[2])
    job = receive()
    if job is None:
        return
    if not job["own_pid_namespace"]:
        become_subreaper()
    send({"event": "ready"})
    if job["role"] == "judge":
        serve_judge(job)
    else:
        serve_solution(job)


if __name__ == "__main__":
    main()
    posix._exit(0)
