"""One sandboxed interpreter: started, talked to through deadlines, and ended with its whole tree.

An interpreter can be started before its job is known (it waits for the job
on stdin), so that its start-up overlaps other work; it still runs exactly
one job and never anything else.
"""

from __future__ import annotations

import logging
import marshal
import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .isolation import (
    Isolation,
    end_tree,
    has_exited,
    is_root,
    runner_payload,
    sandbox_env,
)
from .plain_data import MalformedReport, parse_line

log = logging.getLogger(__name__)

MAX_REPORT_BYTES = 1 << 20
POLL_S = 0.1
EXIT_WAIT_S = 1.0  # how long an interpreter that stopped reporting may take to exit on its own
SEND_TIMEOUT_S = 30.0  # for the runner itself, sent before the interpreter has anything else to do
_threads: dict[str, ThreadPoolExecutor] = {}
_threads_lock = threading.Lock()


def _thread(name: str) -> ThreadPoolExecutor:
    """A long-lived single worker thread: ``launcher`` starts interpreters, ``reaper`` ends them."""
    with _threads_lock:
        if name not in _threads:
            _threads[name] = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"tg-sandbox-{name}")
        return _threads[name]


def start_interpreter(
    isolation: Isolation, work_mb: int, preload: tuple[str, ...] = ()
) -> Future[SandboxedInterpreter]:
    """Start an interpreter on the launcher thread; the future holds it once its process exists.

    Every interpreter is started from this one long-lived thread: bubblewrap's
    ``--die-with-parent`` ties the sandbox's life to the thread that started
    it (the kernel's parent-death signal is per thread), so one started from a
    short-lived caller thread would be killed when that thread ends.
    """
    return _thread("launcher").submit(SandboxedInterpreter, isolation, work_mb, preload)


def end_later(interpreter: SandboxedInterpreter) -> None:
    """End an interpreter whose job is done without making the caller wait for the cleanup.

    With namespaces the process tree is already gone when the runner exits
    after its last report; what remains is reaping and removing the folder.
    """
    _thread("reaper").submit(interpreter.end).add_done_callback(_log_failure)


def _log_failure(future: Future[None]) -> None:
    if future.exception() is not None:
        log.warning("sandbox cleanup failed: %r", future.exception())


def _forget_threads() -> None:
    """In a forked child those threads do not exist: start afresh."""
    global _threads_lock
    _threads.clear()
    _threads_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_threads)


@dataclass
class Heard:
    """The next thing an interpreter said: a ``message``, a ``malformed`` line, or nothing because it
    ``ended`` or was ``late`` (the deadline passed)."""

    kind: str
    message: dict[str, Any] = field(default_factory=dict)
    detail: str = ""


def ending(returncode: int | None) -> tuple[str, str]:
    """Status and message for an interpreter that ended on its own (not killed by the host)."""
    code = returncode or 0
    signum = -code if code < 0 else (code - 128 if code > 128 else 0)
    if signum == signal.SIGXCPU:
        return "timeout", "exceeded the CPU time limit (the interpreter was killed by SIGXCPU)"
    if signum == signal.SIGXFSZ:
        return "crashed", "exceeded the file size limit (SIGXFSZ)"
    if signum == signal.SIGSEGV:
        return "crashed", "the interpreter crashed with a segmentation fault (often a stack overflow in deep recursion)"
    if signum:
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        return "crashed", f"the interpreter was killed by {name}"
    return "crashed", f"the interpreter exited with code {code} (os._exit or a closed result channel)"


class SandboxedInterpreter:
    """A started interpreter in its own host folder: messages in on its stdin (marshalled), reports
    out on a private pipe (one Python literal per line, read with ``plain_data.parse_line``).

    Both ends are non-blocking and every wait has a deadline, so an
    interpreter that stops reading or writing can delay the host only until
    then. Create it with ``start_interpreter`` (see there why the thread matters).
    """

    def __init__(self, isolation: Isolation, work_mb: int, preload: tuple[str, ...] = ()) -> None:
        self.isolation = isolation
        self.stderr = ""
        self.host_dir = tempfile.mkdtemp(prefix="tg-sandbox-")
        work_dir = os.path.join(self.host_dir, "work")
        os.mkdir(work_dir, 0o700)
        if is_root():
            os.chown(work_dir, isolation.uid, isolation.uid)
        self.stderr_file = open(os.path.join(self.host_dir, "stderr"), "w+b")  # noqa: SIM115
        self.report_fd, report_write = os.pipe()
        job_read, self.job_fd = os.pipe()
        self._buffer = b""
        try:
            self.proc = subprocess.Popen(
                isolation.command(report_write, work_mb, preload=preload),
                stdin=job_read, stdout=subprocess.DEVNULL, stderr=self.stderr_file, pass_fds=(report_write,),
                cwd="/" if isolation.namespaced else work_dir,
                env=sandbox_env(isolation.work_dir(work_dir)), start_new_session=True,
                **isolation.popen_options(),
            )
        except BaseException:
            self._close_files()
            raise
        finally:
            os.close(report_write)
            os.close(job_read)
        os.set_blocking(self.job_fd, False)
        os.set_blocking(self.report_fd, False)
        self._readable = selectors.DefaultSelector()
        self._readable.register(self.report_fd, selectors.EVENT_READ)
        self._writable = selectors.DefaultSelector()
        self._writable.register(self.job_fd, selectors.EVENT_WRITE)
        self.send_bytes(runner_payload(isolation.bytecode), time.monotonic() + SEND_TIMEOUT_S)

    def alive(self) -> bool:
        return not has_exited(self.proc)

    def send(self, message: Any, deadline: float) -> bool:
        """Send one message (plain data, marshalled); False if it is gone or does not read in time."""
        return self.send_bytes(marshal.dumps(message), deadline)

    def send_bytes(self, data: bytes, deadline: float) -> bool:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.job_fd, view):]
                continue
            except BlockingIOError:
                pass
            except OSError:
                return False
            now = time.monotonic()
            if now >= deadline:
                return False
            if not self._writable.select(timeout=min(deadline - now, POLL_S)) and has_exited(self.proc):
                return False
        return True

    def hear(self, deadline: float) -> Heard:
        """The next report line, parsed; never waits past ``deadline``."""
        while True:
            line, newline, rest = self._buffer.partition(b"\n")
            if newline:
                self._buffer = rest
                try:
                    return Heard("message", parse_line(line))
                except MalformedReport as exc:
                    return Heard("malformed", detail=str(exc))
            if len(self._buffer) > MAX_REPORT_BYTES:
                self._buffer = b""
                return Heard("malformed", detail=f"a report line longer than {MAX_REPORT_BYTES} bytes")
            chunk = self._read()
            if chunk:
                self._buffer += chunk
                continue
            if chunk == b"":
                return Heard("ended")
            now = time.monotonic()
            if now >= deadline:
                return Heard("late")
            if not self._readable.select(timeout=min(deadline - now, POLL_S)) and has_exited(self.proc):
                chunk = self._read()
                if not chunk:
                    return Heard("ended")
                self._buffer += chunk

    def _read(self) -> bytes | None:
        """What is there to read: bytes, b"" at the end, None for nothing yet."""
        try:
            return os.read(self.report_fd, 1 << 16)
        except BlockingIOError:
            return None

    def end(self, patient: bool = False) -> int:
        """Kill the whole tree, reap the process and remove the host folder; the return code.

        ``patient``: the interpreter stopped reporting on its own, so it may
        take a moment to exit with its own status before it is killed.
        """
        if self.report_fd < 0:
            return self.proc.returncode if self.proc.returncode is not None else -signal.SIGKILL
        returncode = end_tree(self.proc, self.isolation, wait_s=EXIT_WAIT_S if patient else 0.0)
        self.stderr_file.seek(0)
        self.stderr = self.stderr_file.read(4000).decode("utf-8", "replace")
        self._close_files()
        return returncode

    def _close_files(self) -> None:
        for selector in (getattr(self, "_readable", None), getattr(self, "_writable", None)):
            if selector is not None:
                selector.close()
        for fd in (self.report_fd, self.job_fd):
            if fd >= 0:
                os.close(fd)
        self.report_fd = self.job_fd = -1
        self.stderr_file.close()
        shutil.rmtree(self.host_dir, ignore_errors=True)
