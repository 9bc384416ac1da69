"""Sandbox users: started as root, each open ``Sandbox`` runs its code and its tests as two uids of its own.

RLIMIT_NPROC counts every process of a real uid (outside user namespaces:
the ``unshare`` and ``rlimits`` levels), not those of one sandbox. With one
shared code user and one shared judge user, a fork bomb stopped at
``Sandbox(processes=...)`` in one sandbox left no processes for the others
running at the same time as that user: a second ``tg run code`` on the
machine, or a parallel test worker, saw its code or its tests fail to start
a subprocess ("Resource temporarily unavailable").

A pair of uids (the code's, and the judge's right after it) is leased with an
exclusive ``flock`` on a file named after the first, held while the sandbox is
open. The kernel drops the lock when the process dies, so a crashed run never
keeps a pair. Leasing first kills whatever processes an earlier holder left as
either user (``rlimits`` cannot stop a daemon that double-forks), so they
cannot count against the new holder's limit. When every pair is taken, or the
lock folder is not safe, the sandbox falls back to the shared users and says
so in the log.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import stat
import subprocess
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

# Debian reserves 65000-65533 and allocates none of it; the shared judge is 65533 and the shared user 65534.
FIRST_UID = 65400
PAIR_COUNT = 64
LOCK_DIRS = (Path("/run/tg-core-sandbox-users"), Path(tempfile.gettempdir()) / "tg-core-sandbox-users")
KILL_TIMEOUT_S = 10.0


class UidLease:
    """Two uids held for one sandbox, ``uid`` for the code and ``judge_uid`` for its tests; ``release()``
    (idempotent) gives them back."""

    def __init__(self, uid: int, fd: int) -> None:
        self.uid = uid
        self.judge_uid = uid + 1
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file drops the flock
            self._fd = None


def _lock_dir() -> Path | None:
    """A folder for the lock files that only root can write, or ``None``."""
    for folder in LOCK_DIRS:
        with contextlib.suppress(FileExistsError, OSError):
            folder.mkdir(mode=0o700)
        try:
            info = folder.lstat()
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode) and info.st_uid == 0 and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return folder
        log.warning("sandbox users: %s is not a folder only root can write; not using it", folder)
    return None


def _kill_all_of(uid: int) -> None:
    """Kill every process running as ``uid`` (``kill(-1)`` from that uid reaches exactly those)."""
    try:
        subprocess.run(["kill", "-9", "-1"], user=uid, group=uid, extra_groups=[],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=KILL_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("sandbox users: could not end the processes left by uid %d: %s", uid, exc)


def lease_uids() -> UidLease | None:
    """Two uids no other open sandbox on this machine uses (processes of earlier holders killed), or ``None``."""
    folder = _lock_dir()
    if folder is None:
        return None
    for uid in range(FIRST_UID, FIRST_UID + 2 * PAIR_COUNT, 2):
        try:
            fd = os.open(folder / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            log.warning("sandbox users: cannot open a lock file in %s: %s", folder, exc)
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EACCES):
                continue
            log.warning("sandbox users: cannot lock %s/%d.lock: %s", folder, uid, exc)
            return None
        lease = UidLease(uid, fd)
        _kill_all_of(lease.uid)
        _kill_all_of(lease.judge_uid)
        return lease
    log.warning("sandbox users: all %d pairs of uids from %d are in use; this sandbox shares the common users",
                PAIR_COUNT, FIRST_UID)
    return None
