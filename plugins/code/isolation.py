"""Isolation levels: how a sandboxed interpreter is started and how its whole process tree ends.

- ``bwrap``: bubblewrap with every namespace unshared (no network, own PID
  namespace, only /usr and the interpreter visible, read-only, and a private
  size-capped tmpfs as the work directory).
- ``unshare``: util-linux ``unshare`` with network, PID, mount, IPC and UTS
  namespaces; every mount is remounted read-only, home directories are
  masked and the work directory is a private tmpfs.
- ``rlimits``: a plain child process in its own session. Resource limits and
  an unprivileged uid only: it can reach the network, and a daemon that
  double-forks and calls ``setsid()`` can outlive the run. ``strict=True``
  refuses it.

Every level applies the resource limits (inside the runner) and, when started
as root, runs the code as an unprivileged uid, with no groups, no
capabilities and no-new-privileges: RLIMIT_NPROC is not enforced for root.
The judge (the interpreter that runs the tests) runs as another uid, so that
even without namespaces the solution cannot reach it. Each open ``Sandbox``
leases its own pair (``sandbox_users``); ``SANDBOX_UID`` ("nobody") and
``JUDGE_UID`` are the shared fallback. Started by an ordinary
user, ``rlimits`` runs everything as that user, which the code can reach:
use a namespace level (``strict=True``) where the verdict matters. Which levels work is probed once per process by starting a trivial
interpreter exactly as a real run would.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tg_core import TGError

log = logging.getLogger(__name__)

LEVELS = ("bwrap", "unshare", "rlimits")
NAMESPACE_LEVELS = ("bwrap", "unshare")
SANDBOX_UID = 65534
JUDGE_UID = 65533  # the judge runs as another user, so the solution cannot signal, trace or read it
BWRAP_WORK_DIR = "/work"
UNSHARE_WORK_DIR = "/tmp/work"
MASKED_DIRS = ("/root", "/home", "/var/tmp", "/dev/shm", "/run")
SYSTEM_PYTHONS = ("/usr/bin/python3", "/usr/local/bin/python3")
PYTHON_FLAGS = ("-S",)
# The runner arrives first on stdin (marshalled, as code or source), then its
# job: the command line stays short and the runner loads while the job is awaited.
BOOTSTRAP = "import marshal, sys; exec(marshal.load(sys.stdin.buffer))"
PROBE_SOURCE = "import os, sys; os.write(int(sys.argv[1]), sys.prefix.encode())"
PROBE_TIMEOUT_S = 30.0

# Runs as root (or mapped root) inside the new mount namespace, then execs the
# interpreter with privileges dropped: every writable mount becomes read-only
# (/sys is hidden), /tmp is replaced by a read-only tmpfs holding the work
# directory, a private size-capped tmpfs. $1: its size, $2: its owner uid,
# then the directories to mask, "--", and the command.
UNSHARE_SETUP = """set -e
while read -r _ _ _ _ point options _; do
  case "$point" in /sys|/sys/*) continue ;; *\\\\*) point=$(printf '%b' "$point") ;; esac
  case "$options" in rw*) mount -o remount,bind,ro "$point" 2>/dev/null || true ;; esac
done < /proc/self/mountinfo
mount -t tmpfs -o ro,size=4k,mode=0755 tg-mask /sys
mount -t tmpfs -o size=64k,mode=0755 tg-tmp /tmp
mkdir {work}
mount -o remount,bind,ro /tmp
mount -t tmpfs -o "size=$1,mode=0700,uid=$2,gid=$2" tg-work {work}
shift 2
while [ "$1" != "--" ]; do
  if [ -d "$1" ]; then mount -t tmpfs -o ro,size=4k,mode=0755 tg-mask "$1"; fi
  shift
done
shift
cd {work}
exec "$@"
"""


class SandboxError(TGError):
    """The sandbox itself cannot run (as opposed to the code under test failing)."""


def is_root() -> bool:
    return os.geteuid() == 0


@functools.cache
def runner_payload(compiled: bool) -> bytes:
    """The runner as the bootstrap loads it: a marshalled code object, or its source."""
    import marshal

    path = Path(__file__).parent / "sandbox_runner.py"
    source = path.read_text(encoding="utf-8")
    return marshal.dumps(compile(source, str(path), "exec") if compiled else source)


def sandbox_env(home: str) -> dict[str, str]:
    """The whole environment of the sandboxed process: nothing of the host's leaks in."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUTF8": "1",
        "PYTHONSAFEPATH": "1",
    }


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SandboxError(f"{name} is not installed")
    return path


def _drop_privileges(uid: int) -> list[str]:
    """setpriv to ``uid`` (and the same gid) with no groups, no capabilities and no setuid escalation."""
    if not is_root():
        return [_tool("setpriv"), "--no-new-privs", "--"]
    return [
        _tool("setpriv"), f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
        "--inh-caps=-all", "--no-new-privs", "--",
    ]


def _interpreter_prefix(python: str) -> str:
    return str(Path(os.path.realpath(python)).parent.parent)


@dataclass(frozen=True)
class Isolation:
    """One working way to start the sandboxed interpreter.

    ``bytecode`` says whether the interpreter reads this process's compiled
    code (same bytecode magic number): the runner is then sent compiled,
    which saves compiling it in every sandbox.
    """

    level: str
    python: str
    bytecode: bool = False
    uid: int = SANDBOX_UID  # when started as root

    @property
    def namespaced(self) -> bool:
        return self.level in NAMESPACE_LEVELS

    def work_dir(self, host_dir: str) -> str:
        """The work directory as the code sees it."""
        return {"bwrap": BWRAP_WORK_DIR, "unshare": UNSHARE_WORK_DIR}.get(self.level, host_dir)

    def command(self, result_fd: int, work_mb: int, source: str = BOOTSTRAP,
                preload: tuple[str, ...] = ()) -> list[str]:
        interpreter = [self.python, *PYTHON_FLAGS, "-c", source, str(result_fd), ",".join(preload)]
        if self.level == "bwrap":
            return self._bwrap(interpreter, work_mb)
        if self.level == "unshare":
            return self._unshare(interpreter, work_mb)
        return [*_drop_privileges(self.uid), *interpreter]

    def popen_options(self) -> dict[str, object]:
        """Extra ``subprocess.Popen`` arguments: bubblewrap is started as the sandbox user directly
        (it sets no-new-privileges itself), which saves the exec of ``setpriv``."""
        if self.level == "bwrap" and is_root():
            return {"user": self.uid, "group": self.uid, "extra_groups": []}
        return {}

    def _bwrap(self, interpreter: list[str], work_mb: int) -> list[str]:
        argv = [
            _tool("bwrap"), "--unshare-all", "--die-with-parent", "--new-session", "--as-pid-1",
            "--ro-bind", "/usr", "/usr",
        ]
        for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
            if os.path.islink(name):
                argv += ["--symlink", os.readlink(name), name]
            elif os.path.isdir(name):
                argv += ["--ro-bind", name, name]
        prefix = _interpreter_prefix(self.python)
        if not prefix.startswith("/usr/") and prefix != "/usr":
            argv += ["--ro-bind", prefix, prefix]
        argv += [
            "--dev", "/dev", "--proc", "/proc",
            "--perms", "0700", "--size", str(work_mb * 1024 * 1024), "--tmpfs", BWRAP_WORK_DIR,
            "--chdir", BWRAP_WORK_DIR, "--",
        ]
        return argv + interpreter

    def _unshare(self, interpreter: list[str], work_mb: int) -> list[str]:
        masked = list(MASKED_DIRS)
        home = str(Path.home())
        if home not in masked and home != "/":
            masked.append(home)
        owner = self.uid if is_root() else 0
        argv = [
            _tool("unshare"), "--mount", "--net", "--pid", "--ipc", "--uts", "--fork", "--kill-child",
            "--mount-proc",
        ]
        if not is_root():
            argv.append("--map-root-user")
        script = UNSHARE_SETUP.format(work=shlex.quote(UNSHARE_WORK_DIR))
        setup = ["/bin/sh", "-c", script, "tg-sandbox", f"{work_mb}m", str(owner), *masked, "--"]
        return argv + ["--", *setup, *_drop_privileges(self.uid), *interpreter]


# ---------------------------------------------------------------- probing


_probe_lock = threading.Lock()
_probed: dict[tuple[str, str], str | None] = {}


def _probe(level: str, python: str) -> str | None:
    """None when ``level`` can start ``python`` and pass it the result pipe; else why not."""
    key = (level, python)
    with _probe_lock:
        if key not in _probed:
            _probed[key] = _try(Isolation(level, python))
        return _probed[key]


def _try(isolation: Isolation) -> str | None:
    import tempfile

    read_fd, write_fd = os.pipe()
    try:
        with tempfile.TemporaryDirectory(prefix="tg-sandbox-probe-") as host_dir:
            if isolation.level == "rlimits" and is_root():
                os.chown(host_dir, SANDBOX_UID, SANDBOX_UID)
            argv = isolation.command(write_fd, work_mb=1, source=PROBE_SOURCE)
            proc = subprocess.run(
                argv, pass_fds=(write_fd,), capture_output=True, timeout=PROBE_TIMEOUT_S, stdin=subprocess.DEVNULL,
                env=sandbox_env(isolation.work_dir(host_dir)), cwd=host_dir, check=False,
                **isolation.popen_options(),
            )
            os.close(write_fd)
            write_fd = -1
            answer = os.read(read_fd, 4096).decode("utf-8", "replace")
    except SandboxError as exc:
        return str(exc)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)
    prefix = _interpreter_prefix(isolation.python)
    if proc.returncode == 0 and os.path.realpath(answer) == prefix:
        return None
    if proc.returncode == 0:
        return f"the interpreter cannot read its own standard library under {prefix} (it found {answer!r})"
    stderr = proc.stderr.decode("utf-8", "replace").strip().splitlines()
    return f"exit code {proc.returncode}: {stderr[-1] if stderr else 'no message'}"


@functools.cache
def _same_bytecode(python: str) -> bool:
    """Whether ``python`` runs code objects compiled here (the same bytecode magic number)."""
    import importlib.util

    ask = "import importlib.util, sys; sys.stdout.write(importlib.util.MAGIC_NUMBER.hex())"
    try:
        out = subprocess.run([python, "-S", "-c", ask], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S,
                             check=True, env=sandbox_env("/"))
    except (OSError, subprocess.SubprocessError):
        return False
    return out.stdout.strip() == importlib.util.MAGIC_NUMBER.hex()


def _interpreters(python: str | None) -> list[str]:
    if python is not None:
        if not os.path.isfile(python):
            raise SandboxError(f"Sandbox(python={python!r}): no such interpreter")
        return [python]
    found: list[str] = []
    for candidate in (os.path.realpath(sys.executable), *SYSTEM_PYTHONS):
        real = os.path.realpath(candidate)
        if os.path.isfile(real) and real not in found:
            found.append(real)
    return found


def resolve(requested: str, strict: bool, python: str | None) -> Isolation:
    """The first working isolation level (in order of strength) and interpreter."""
    if requested != "auto" and requested not in LEVELS:
        raise SandboxError(f"Sandbox(isolation={requested!r}): choose auto, {', '.join(LEVELS)}")
    if strict and requested == "rlimits":
        raise SandboxError("Sandbox(strict=True) refuses isolation='rlimits': it has no namespace isolation")
    levels = LEVELS if requested == "auto" else (requested,)
    if strict:
        levels = tuple(level for level in levels if level in NAMESPACE_LEVELS)
    reasons = []
    for level in levels:
        for interpreter in _interpreters(python):
            reason = _probe(level, interpreter)
            if reason is None:
                if reasons:
                    log.info("sandbox: using %s with %s (not available: %s)", level, interpreter, "; ".join(reasons))
                return Isolation(level, interpreter, bytecode=_same_bytecode(interpreter))
            reasons.append(f"{level} with {interpreter}: {reason}")
    wanted = "namespace isolation (bwrap or unshare)" if strict else f"isolation {requested!r}"
    raise SandboxError(
        f"no working {wanted}: " + "; ".join(reasons)
        + ". Install bubblewrap (apt-get install bubblewrap) and allow user namespaces."
    )


# ---------------------------------------------------------------- ending the process tree


def _descendants(root_pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root_pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def has_exited(proc: subprocess.Popen) -> bool:
    """Whether the process ended, without reaping it (its pid stays reserved for killpg)."""
    if proc.returncode is not None:
        return True
    try:
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def end_tree(proc: subprocess.Popen, isolation: Isolation, wait_s: float = 0.0) -> int:
    """Kill everything the run started and reap the process; returns its return code.

    The process may first finish on its own for up to ``wait_s`` (so that its
    exit status is its own). With namespaces, killing the outer process takes
    down the PID namespace and with it every process inside, detached or not.
    Without, the session's process group and every descendant still attached
    are killed. The process is reaped last, so its pid cannot be reused while
    its group is being killed.
    """
    waited_until = time.monotonic() + wait_s
    while not has_exited(proc) and time.monotonic() < waited_until:
        time.sleep(0.002)
    if proc.returncode is None:
        stragglers = [] if isolation.namespaced else _descendants(proc.pid)
        for kill in (lambda: os.killpg(proc.pid, signal.SIGKILL), proc.kill,
                     *(functools.partial(os.kill, pid, signal.SIGKILL) for pid in stragglers)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                kill()
    return proc.wait()
