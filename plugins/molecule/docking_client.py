"""Long-lived docking processes, one per (target, seed, cpu, memory limit), reused.

Each ligand docks in a child process so that a timeout or a memory blow-up
costs one process, never the caller. A child keeps its target's Vina maps
(about 3 s to compute) for every ligand it docks; one that dies or runs past
its deadline is killed and a fresh one starts on the next request. Vina's
stderr chatter is read by a thread and sent to the debug log, away from the
user's terminal. Children exit on their own when their parent goes away,
because their stdin closes.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import json
import logging
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .errors import DockingError

log = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 300.0
DEFAULT_MAX_CHILDREN = 4  # about 530 MB each with small ligands: about 2 GB in all
_STDERR_LINES_KEPT = 20


@dataclass(frozen=True)
class ChildSpec:
    """What a docking process is bound to; requests differ only by ligand and exhaustiveness."""

    target: str
    seed: int
    cpu: int
    memory_mb: int


class DockingChild:
    """One docking process; ``dock`` sends a ligand and waits for its reply with a deadline."""

    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        env = dict(os.environ, MALLOC_ARENA_MAX="2", OMP_NUM_THREADS="1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tg_molecule.docking_child", "--target", spec.target,
             "--seed", str(spec.seed), "--cpu", str(spec.cpu), "--memory-mb", str(spec.memory_mb)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0, env=env,
        )
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=_STDERR_LINES_KEPT)
        self._buffer = b""
        self._stderr_reader = threading.Thread(
            target=self._drain_stderr, name=f"vina-stderr-{self.process.pid}", daemon=True
        )
        self._stderr_reader.start()
        try:
            ready = self._read_reply(time.monotonic() + STARTUP_TIMEOUT_S, "starting")
        except DockingError:
            self.close()
            raise
        if not ready.get("ready"):
            self.close()
            raise DockingError(
                f"the docking process for {spec.target} could not start: {ready.get('error')} "
                f"(memory limit {spec.memory_mb} MB)"
            )
        log.debug("docking process %d ready for %s in %.1f s", self.process.pid, spec.target, ready["seconds"])

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def dock(self, smiles: str, exhaustiveness: int, timeout_s: float) -> dict[str, Any]:
        """The child's reply: ``vina`` or a molecule-specific ``error``; raises when the process fails."""
        request = json.dumps({"smiles": smiles, "exhaustiveness": exhaustiveness}) + "\n"
        try:
            self.process.stdin.write(request.encode("utf-8"))
        except (BrokenPipeError, OSError):
            self.close()
            raise DockingError(self._death_message(f"before docking {smiles!r}")) from None
        reply = self._read_reply(time.monotonic() + timeout_s, f"docking {smiles!r}", timeout_s)
        if reply.get("fatal"):
            self.close()
            raise DockingError(
                f"{reply['error']} while docking {smiles!r} (memory limit {self.spec.memory_mb} MB); "
                "the docking process was restarted"
            )
        return reply

    def _read_reply(self, deadline: float, doing: str, timeout_s: float | None = None) -> dict[str, Any]:
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    self.close(kill=True)
                    waited = timeout_s if timeout_s is not None else STARTUP_TIMEOUT_S
                    raise DockingError(
                        f"timed out after {waited:g} s while {doing}; the docking process was stopped "
                        "(a larger timeout, or a smaller or less flexible molecule, may help)"
                    )
                chunk = os.read(self.process.stdout.fileno(), 65536)
                if not chunk:
                    self.close()
                    raise DockingError(self._death_message(f"while {doing}"))
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def _death_message(self, doing: str) -> str:
        code = self.process.wait()
        self._stderr_reader.join(timeout=1)  # its last words explain the death
        if code < 0:
            how = f"was killed by {signal.Signals(-code).name}"
        else:
            how = f"exited with code {code}"
        last = f"; its last message: {self.stderr_tail[-1]}" if self.stderr_tail else ""
        return (
            f"the docking process {how} {doing} (memory limit {self.spec.memory_mb} MB: exceeding "
            f"it is the usual cause){last}"
        )

    def _drain_stderr(self) -> None:
        for raw in self.process.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self.stderr_tail.append(line)
                log.debug("docking process %d: %s", self.process.pid, line)

    def close(self, kill: bool = False) -> None:
        """Let the process finish (it exits when stdin closes), or kill it at once."""
        if kill:
            self.process.kill()
        if self.alive:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
            try:
                self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process.wait()
        with contextlib.suppress(OSError):
            self.process.stdout.close()


class ChildPool:
    """Docking processes of this process, reused by spec, at most ``max_children`` alive.

    Each child holds its target's Vina maps, about 530 MB resident, so a loop
    over many targets would otherwise keep one per target (58 targets: about
    30 GB). When a new child would pass the cap, the least recently used
    idle ones are stopped first; children in use are never stopped, so a
    caller with more threads than the cap runs over it until they return.
    ``release`` stops idle children on demand (all, or those of some targets).

    Concurrent callers in one process (threads) each get their own child, so
    docking children are never shared mid-request. A forked copy of this pool
    forgets its parent's children instead of writing to their pipes.
    """

    def __init__(self, max_children: int = DEFAULT_MAX_CHILDREN) -> None:
        self.max_children = max_children
        self._idle: list[DockingChild] = []  # least recently used first
        self._busy = 0
        self._lock = threading.Lock()
        self._hooks_installed = False

    @property
    def max_children(self) -> int:
        return self._max_children

    @max_children.setter
    def max_children(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"max_children must be an integer >= 1, got {value!r}")
        self._max_children = value

    def live(self) -> int:
        """Docking processes of this pool alive now, idle or in use."""
        with self._lock:
            return self._busy + sum(c.alive for c in self._idle)

    @contextlib.contextmanager
    def child(self, spec: ChildSpec) -> Iterator[DockingChild]:
        self._install_hooks()
        with self._lock:
            child = next((c for c in reversed(self._idle) if c.spec == spec), None)
            if child is not None:
                self._idle.remove(child)
            evicted = self._evict(room_for=1 if child is None or not child.alive else 0)
            self._busy += 1
        for old in evicted:
            log.debug("stopping the idle docking process for %s (at most %d alive)", old.spec.target,
                      self.max_children)
            old.close()
        try:
            if child is None or not child.alive:
                child = DockingChild(spec)
            yield child
        finally:
            with self._lock:
                self._busy -= 1
                if child is not None and child.alive:
                    self._idle.append(child)
                evicted = self._evict(room_for=0)
            for old in evicted:
                old.close()

    def _evict(self, room_for: int) -> list[DockingChild]:
        """Take the least recently used idle children out until ``room_for`` more fit (lock held)."""
        self._idle = [c for c in self._idle if c.alive]
        evicted = []
        while self._idle and self._busy + len(self._idle) + room_for > self.max_children:
            evicted.append(self._idle.pop(0))
        return evicted

    def resize(self, max_children: int) -> None:
        """Set the cap, stopping the least recently used idle children beyond it."""
        self.max_children = max_children
        with self._lock:
            evicted = self._evict(room_for=0)
        for child in evicted:
            child.close()

    def release(self, targets: Iterable[str] | None = None) -> int:
        """Stop the idle docking processes (of ``targets`` only, if given); returns how many."""
        wanted = None if targets is None else set(targets)
        with self._lock:
            stopping = [c for c in self._idle if wanted is None or c.spec.target in wanted]
            self._idle = [c for c in self._idle if c not in stopping]
        for child in stopping:
            child.close()
        return len(stopping)

    def close(self) -> None:
        """Stop every idle docking process of this process."""
        self.release()

    def _install_hooks(self) -> None:
        if not self._hooks_installed:
            self._hooks_installed = True
            atexit.register(self.close)
            os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        for child in self._idle:
            for pipe in (child.process.stdin, child.process.stdout, child.process.stderr):
                with contextlib.suppress(OSError):
                    pipe.close()
        self._lock = threading.Lock()
        self._idle = []
        self._busy = 0


children = ChildPool()


def release_targets(*targets: str) -> int:
    """Stop this process's idle docking processes, of ``targets`` only if any are named.

    Each holds a target's Vina maps (about 530 MB resident); a loop over
    targets calls this when it is done with one. They restart on demand,
    at the cost of computing the maps again (about 3 s). Returns how many
    were stopped. The cap on live processes is ``set_max_children``.
    """
    from .receptors import check_target

    return children.release([check_target(t) for t in targets] if targets else None)


def set_max_children(count: int) -> None:
    """At most ``count`` docking processes alive in this process (default 4); idle ones beyond stop."""
    children.resize(count)
