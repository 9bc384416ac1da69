"""Run untrusted Python against tests, with a verdict the code cannot forge.

The code runs in a fresh sandboxed interpreter that loads it once and then
answers calls; the tests run in another sandboxed interpreter, the judge,
which compares what the calls returned as plain data (see ``referee`` for
the protocol and ``sandbox_runner`` for both sides). The host gives each test
its own deadline. When the code kills its interpreter, or ignores its alarm
and has to be killed, that test gets its status and the remaining calls go to
a fresh interpreter, so every test always ends with its own result.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import weakref
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

from .assert_plans import plan_test
from .interpreter import SandboxedInterpreter, start_interpreter
from .isolation import JUDGE_UID, Isolation, SandboxError, is_root, resolve
from .referee import Referee
from .results import SandboxResult, shorten
from .sandbox_users import UidLease, lease_uids

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 5.0
DEFAULT_MEMORY_MB = 512
MIN_MEMORY_MB = 64
# Standard modules generated solutions import most, for ``preload``: worth it when runs are
# separated by other work (an optimization loop), not when they run back to back (every
# interpreter would pay for modules most solutions never import).
COMMON_MODULES = ("typing", "collections", "math", "re", "itertools", "functools", "heapq", "bisect", "string")


def _discard_all(spares: list[Future[SandboxedInterpreter]], judges: list[SandboxedInterpreter],
                 leases: list[UidLease]) -> None:
    """End the idle interpreters, then give back the uid they ran as (none of its processes is left)."""
    while spares:
        spares.pop().result().end()
    while judges:
        judges.pop().end()
    while leases:
        leases.pop().release()


class Sandbox:
    """Runs code against tests in fresh, isolated interpreters.

    ``isolation`` is ``"auto"`` (the strongest level that works here),
    ``"bwrap"``, ``"unshare"`` or ``"rlimits"``; ``strict=True`` refuses to
    run without namespace isolation. ``python`` is the interpreter for the
    code (default: this one if the sandbox user can run it, else the system's
    ``python3``); the code sees its standard library only. ``prestart``
    interpreters are kept started ahead (0 for none): when a run takes one,
    a replacement starts at once, so start-up overlaps the caller's other
    work and other start-ups; every run still gets an interpreter that has
    run nothing else. ``preload`` names standard modules (e.g.
    ``COMMON_MODULES``) a prestarted interpreter imports while it waits for
    its job (one started on demand imports nothing ahead: that would only
    delay the run). Started as root, the code and the tests run as two uids
    this sandbox holds alone while it is open (``sandbox_users``), so their
    process limits are their own. Nothing is checked or started until the first ``run``;
    ``close()`` (or leaving a ``with`` block) ends a prestarted interpreter
    and gives the uid back (a later ``run`` takes one again).
    """

    def __init__(
        self,
        isolation: str = "auto",
        strict: bool = False,
        python: str | None = None,
        prestart: int = 1,
        preload: tuple[str, ...] = (),
        processes: int = 32,
        open_files: int = 64,
        file_mb: int = 16,
        work_mb: int = 64,
        output_limit: int = 2000,
        repr_limit: int = 400,
        text_limit: int = 3000,
        grace_s: float = 1.0,
        start_timeout_s: float = 30.0,
    ) -> None:
        self.isolation = isolation
        self.strict = strict
        self.python = python
        self.prestart = prestart
        self.preload = preload
        self.processes = processes
        self.open_files = open_files
        self.file_mb = file_mb
        self.work_mb = work_mb
        self.output_limit = output_limit
        self.repr_limit = repr_limit
        self.text_limit = text_limit
        self.grace_s = grace_s
        self.start_timeout_s = start_timeout_s
        self._resolved: Isolation | None = None
        self._lock = threading.Lock()
        self._spares: list[Future[SandboxedInterpreter]] = []
        self._judges: list[SandboxedInterpreter] = []
        self._leases: list[UidLease] = []
        self._uids: tuple[int, int] | None = None
        weakref.finalize(self, _discard_all, self._spares, self._judges, self._leases)

    def resolved(self) -> Isolation:
        """The isolation level and interpreter this sandbox uses (probed on first call)."""
        with self._lock:
            if self._resolved is None:
                self._resolved = resolve(self.isolation, self.strict, self.python)
            return self._resolved

    def running(self, judge: bool = False) -> Isolation:
        """``resolved()`` as the uid the code (``judge``: the tests) runs as: one this sandbox holds, leased
        on the first run after opening (started as root), else the shared one."""
        isolation = self.resolved()
        with self._lock:
            if self._uids is None:
                lease = lease_uids() if is_root() else None
                if lease is not None:
                    self._leases.append(lease)
                self._uids = (lease.uid, lease.judge_uid) if lease is not None else (isolation.uid, JUDGE_UID)
            return dataclasses.replace(isolation, uid=self._uids[judge])

    @property
    def level(self) -> str:
        return self.resolved().level

    def __getstate__(self) -> dict[str, Any]:
        """Settings only: a copy sent to another process (or machine) probes and starts its own."""
        return {k: v for k, v in self.__dict__.items()
                if k not in ("_lock", "_spares", "_judges", "_leases", "_uids", "_resolved")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._resolved = None
        self._lock = threading.Lock()
        self._spares = []
        self._judges = []
        self._leases = []
        self._uids = None
        weakref.finalize(self, _discard_all, self._spares, self._judges, self._leases)

    def close(self) -> None:
        with self._lock:
            _discard_all(self._spares, self._judges, self._leases)
            self._uids = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -------------------------------------------------------------- the public run

    def run(
        self,
        code: str,
        tests: Sequence[str],
        timeout_s: float = DEFAULT_TIMEOUT_S,
        memory_mb: int = DEFAULT_MEMORY_MB,
        setup: str = "",
        entry_point: str | None = None,
        total_timeout_s: float | None = None,
    ) -> SandboxResult:
        """Load ``code``, run ``setup``, then each test (an assert statement) on its own.

        ``timeout_s`` limits loading and each test (wall clock); ``total_timeout_s``
        optionally caps the whole run, after which tests not yet run time out.
        ``entry_point`` names a function the code must define. ``setup`` (the
        problem's helpers) runs after the code in the solution's interpreter and
        before the tests in the judge's. Tests see the code's functions (called in
        the solution's interpreter) and its plain values, never a name of a builtin.
        """
        self._check(code, tests, timeout_s, memory_mb, setup, entry_point, total_timeout_s)
        isolation = self.running()
        started = time.monotonic()
        budget_end = started + total_timeout_s if total_timeout_s else float("inf")
        tests = list(tests)
        job = {
            "role": "solution", "code": code, "setup": setup, "entry_point": entry_point,
            "timeout_s": float(timeout_s), "output_limit": self.output_limit, "text_limit": self.text_limit,
            "own_pid_namespace": isolation.namespaced,
        }
        referee = Referee(self, isolation, job, [plan_test(t) for t in tests], tests, memory_mb, budget_end,
                          total_timeout_s)
        result = referee.judge()
        result.stdout = shorten("".join([result.load_stdout, *(t.stdout for t in result.tests)]), self.text_limit)
        result.stderr = shorten("".join([result.load_stderr, *(t.stderr for t in result.tests)]), self.text_limit)
        result.runtime_s = time.monotonic() - started
        return result

    # -------------------------------------------------------------- interpreters

    def take_solution(self, isolation: Isolation, job: dict[str, Any]) -> SandboxedInterpreter:
        """An interpreter that has run nothing, given ``job``: a prestarted one if there is one.

        Replacements are started on the launcher thread without waiting, so
        they boot while this run goes on.
        """
        with self._lock:
            spare = self._spares.pop(0) if self._spares else None
            while len(self._spares) < self.prestart:
                self._spares.append(start_interpreter(isolation, self.work_mb, self.preload))
        deadline = time.monotonic() + self.start_timeout_s
        if spare is not None:
            interpreter = spare.result()
            if interpreter.alive() and interpreter.send(job, deadline):
                return interpreter
            interpreter.end()
        interpreter = start_interpreter(isolation, self.work_mb).result()
        interpreter.send(job, deadline)
        return interpreter

    def take_judge(self, isolation: Isolation) -> SandboxedInterpreter:
        """An idle judge, or a new one. A judge runs only tests (trusted code), each run in a fresh
        namespace; what it keeps between runs is the modules the tests imported."""
        with self._lock:
            while self._judges:
                judge = self._judges.pop()
                if judge.alive():
                    return judge
                judge.end()
        judge = start_interpreter(self.running(judge=True), self.work_mb).result()
        job = {"role": "judge", "output_limit": self.output_limit, "own_pid_namespace": isolation.namespaced,
               "limits": {"cpu_s": None, "memory_mb": None, "file_mb": self.file_mb,
                          "open_files": self.open_files, "processes": self.processes}}
        deadline = time.monotonic() + self.start_timeout_s
        heard = judge.hear(deadline) if judge.send(job, deadline) else None
        if heard is None or heard.message.get("event") != "ready":
            returncode = judge.end()
            raise SandboxError(
                f"the sandboxed interpreter for the tests did not start ({isolation.level}, {isolation.python}); "
                f"exit code {returncode}: {judge.stderr.strip()[-500:] or 'no message'}"
            )
        return judge

    def return_judge(self, judge: SandboxedInterpreter) -> None:
        with self._lock:
            self._judges.append(judge)

    @staticmethod
    def _check(code: Any, tests: Any, timeout_s: Any, memory_mb: Any, setup: Any, entry_point: Any,
               total_timeout_s: Any) -> None:
        if not isinstance(code, str):
            raise TypeError(f"Sandbox.run: code must be a str, got {type(code).__name__}")
        if isinstance(tests, str) or not isinstance(tests, Sequence) or not all(isinstance(t, str) for t in tests):
            raise TypeError("Sandbox.run: tests must be a list of str (assert statements)")
        if not isinstance(setup, str):
            raise TypeError("Sandbox.run: setup must be a str")
        if entry_point is not None and not (isinstance(entry_point, str) and entry_point.isidentifier()):
            raise ValueError(f"Sandbox.run: entry_point must be a Python name, got {entry_point!r}")
        if not isinstance(timeout_s, (int, float)) or isinstance(timeout_s, bool) or not 0 < timeout_s <= 3600:
            raise ValueError(f"Sandbox.run: timeout_s must be a number of seconds in (0, 3600], got {timeout_s!r}")
        if total_timeout_s is not None and (
            not isinstance(total_timeout_s, (int, float)) or isinstance(total_timeout_s, bool) or total_timeout_s <= 0
        ):
            raise ValueError(f"Sandbox.run: total_timeout_s must be a positive number, got {total_timeout_s!r}")
        if not isinstance(memory_mb, int) or isinstance(memory_mb, bool) or memory_mb < MIN_MEMORY_MB:
            raise ValueError(f"Sandbox.run: memory_mb must be an integer >= {MIN_MEMORY_MB}, got {memory_mb!r}")
