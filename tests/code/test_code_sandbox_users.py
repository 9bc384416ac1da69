"""Each open sandbox runs its code and its tests as uids of its own: one run's processes never count against
another's process limit."""

import fcntl
import logging
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from tg_code import Sandbox, sandbox_users
from tg_code.isolation import JUDGE_UID, SANDBOX_UID, is_root
from tg_code.sandbox_users import lease_uids

pytestmark = pytest.mark.skipif(not is_root(), reason="the uid is only changed when started as root")

# Holds every process its user may have (Sandbox(processes=32)) for a few seconds.
FORK_TO_THE_LIMIT = """import os, time
children = 0
while True:
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(4)
        os._exit(0)
    children += 1
print(children, flush=True)
time.sleep(4)
"""

UID_CODE = "import os\n\ndef uid():\n    return os.getuid()\n"
# A test starts a process in the judge; the code's function starts one in the code's interpreter.
STARTS_A_PROCESS = "import subprocess\nassert subprocess.run(['true']).returncode == 0"
CODE_STARTING_A_PROCESS = (
    "import subprocess\n\ndef start():\n    return subprocess.run(['true']).returncode\n"
)


@pytest.fixture
def private_uids(monkeypatch):
    """A range of uids no other test (or test worker) leases, starting at ``first``."""

    def use(first, pairs):
        monkeypatch.setattr(sandbox_users, "FIRST_UID", first)
        monkeypatch.setattr(sandbox_users, "PAIR_COUNT", pairs)
        return first

    return use


def _held(uid):
    """Whether some process holds the lease of ``uid`` (tried with a lock of our own)."""
    folder = sandbox_users._lock_dir()
    fd = os.open(folder / f"{uid}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@pytest.mark.parametrize("where", ["code", "tests"])
def test_a_fork_bomb_in_one_sandbox_leaves_another_its_processes(level, where):
    """Outside user namespaces (unshare, rlimits) the limit counted the processes of every sandbox of the
    machine: the code's, or the tests' (they run as the judge's user)."""
    code, tests = (FORK_TO_THE_LIMIT, ["pass"]) if where == "code" else ("", [FORK_TO_THE_LIMIT])
    with Sandbox(isolation=level, prestart=0) as bomb, Sandbox(isolation=level, prestart=0) as other:
        uids = {bomb.running().uid, bomb.running(judge=True).uid, other.running().uid, other.running(judge=True).uid}
        assert len(uids) == 4
        result = {}
        thread = threading.Thread(target=lambda: result.update(bomb=bomb.run(code, tests, timeout_s=10)))
        thread.start()
        time.sleep(2)  # the bomb holds every process its user may have
        after = other.run(CODE_STARTING_A_PROCESS, ["assert start() == 0", STARTS_A_PROCESS])
        thread.join()
    held = result["bomb"].load_stdout if where == "code" else result["bomb"].tests[0].stdout
    assert int(held) >= 20, result["bomb"].to_text()
    assert [t.status for t in after.tests] == ["passed", "passed"], after.to_text()


def test_closing_gives_the_uid_back_and_a_later_run_takes_one_again():
    sandbox = Sandbox(isolation="auto", prestart=0)
    sandbox.run("", ["pass"])
    uid = sandbox.running().uid
    assert _held(uid)
    sandbox.close()
    assert not _held(uid)
    again = sandbox.run(UID_CODE, ["print(uid())", "import os\nprint(os.getuid())"])
    assert [t.stdout.strip() for t in again.tests] == [str(sandbox.running().uid), str(sandbox.running(judge=True).uid)]
    assert _held(sandbox.running().uid)
    sandbox.close()


def test_a_killed_holder_never_keeps_its_uid(private_uids):
    uid = private_uids(65380, 1)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom tg_code import sandbox_users\n"
         f"sandbox_users.FIRST_UID, sandbox_users.PAIR_COUNT = {uid}, 1\n"
         "print(sandbox_users.lease_uids().uid, flush=True)\ntime.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == str(uid)
        assert lease_uids() is None  # held by the other process
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    lease = lease_uids()
    assert lease is not None and (lease.uid, lease.judge_uid) == (uid, uid + 1)
    lease.release()


def test_taking_a_uid_ends_what_its_last_holder_left_running(private_uids):
    uid = private_uids(65382, 1)
    leftover = subprocess.Popen(["sleep", "60"], user=uid + 1, group=uid + 1, extra_groups=[])  # the judge's
    lease = lease_uids()
    try:
        assert lease is not None and lease.uid == uid
        assert leftover.wait(timeout=10) == -signal.SIGKILL
    finally:
        if leftover.poll() is None:
            leftover.kill()
        if lease is not None:
            lease.release()


def test_with_every_uid_taken_the_sandbox_shares_the_common_users(private_uids, caplog):
    uid = private_uids(65384, 1)
    lease = lease_uids()
    assert lease is not None and lease.uid == uid
    try:
        with caplog.at_level(logging.WARNING, logger="tg_code.sandbox_users"), Sandbox(prestart=0) as sandbox:
            result = sandbox.run(UID_CODE, ["print(uid())", "import os\nprint(os.getuid())"])
        assert [t.stdout.strip() for t in result.tests] == [str(SANDBOX_UID), str(JUDGE_UID)]
        assert "all 1 pairs of uids from 65384 are in use" in caplog.text
    finally:
        lease.release()


def test_a_lock_folder_others_can_write_is_not_used(monkeypatch, tmp_path, caplog):
    folder = tmp_path / "locks"
    folder.mkdir()
    folder.chmod(0o777)
    monkeypatch.setattr(sandbox_users, "LOCK_DIRS", (folder,))
    with caplog.at_level(logging.WARNING, logger="tg_code.sandbox_users"):
        assert lease_uids() is None
    assert "not a folder only root can write" in caplog.text
    assert list(folder.iterdir()) == []
