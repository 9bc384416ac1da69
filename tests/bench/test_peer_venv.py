"""The peers' venvs (textgrad, gepa) are built once even when several processes need them at once."""

from __future__ import annotations

import fcntl
import subprocess
import sys
import time

from conftest import ROOT


def test_a_process_that_needs_the_venv_while_another_builds_it_waits_and_reuses_that_build(tmp_path):
    venv = tmp_path / ".venv-peer"
    stamp = venv / ".peer-1.0"
    script = ("import sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path; import _common; "
              "print(_common.pinned_venv_python(Path(sys.argv[2]), 'peer', '1.0'))")
    with open(tmp_path / ".venv-peer.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # this test is the process building it
        waiting = subprocess.Popen([sys.executable, "-c", script, str(ROOT / "bench"), str(venv)],
                                   stdout=subprocess.PIPE, text=True)
        time.sleep(2)
        assert waiting.poll() is None and not venv.exists()  # it waits instead of building beside us
        venv.mkdir()
        stamp.touch()  # our build is done
    out, _ = waiting.communicate(timeout=60)
    assert waiting.returncode == 0 and out.strip() == str(venv / "bin" / "python")
    assert sorted(p.name for p in venv.iterdir()) == [".peer-1.0"]  # it built nothing of its own
