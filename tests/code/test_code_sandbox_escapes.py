"""Hostile code at every isolation level: each attempt gets a clear result, the host is unharmed.

Each level runs one batch of hostile tests (one per attempt) so that the
batch also shows that one test's damage does not leak into the next.
"""

import os
import uuid
from pathlib import Path

import pytest

from tg_code import Sandbox
from tg_code.isolation import is_root

NAMESPACED = ("bwrap", "unshare")
REPO = Path(__file__).resolve().parents[2]


def _processes_with(token):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if token.encode() in cmdline:
                found.append(int(entry))
    return found


def _hostile_tests(token, home):
    return {
        "memory bomb": "x = bytearray(8 * 1024 ** 3)",
        "list memory bomb": "x = [0] * (10 ** 9)",
        "fork bomb that outlives its parents": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
        "fork bomb": "import os\nwhile True:\n    os.fork()",
        "nothing left of the fork bombs": (
            "import os\n"
            "print(sorted(p for p in os.listdir('/proc') if p.isdigit() and p != str(os.getpid())"
            " and os.stat('/proc/' + p).st_uid == os.getuid()))"
        ),
        "subprocess flood": "import subprocess\nps = [subprocess.Popen(['sleep', '30']) for _ in range(200)]",
        "after the fork bomb": "import subprocess\nassert subprocess.run(['true']).returncode == 0",
        "detached child": (
            "import os, sys, time\n"
            "if os.fork() == 0:\n"
            "    os.setsid()\n"
            "    if os.fork() == 0:\n"
            f"        os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(60)', {token!r}])\n"
            "    os._exit(0)\n"
            "time.sleep(0.3)"
        ),
        "network": "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=3)",
        "write outside (tmp)": f"open('/tmp/{token}', 'w').write('escaped')",
        "write outside (repo)": f"open({str(REPO / token)!r}, 'w').write('escaped')",
        "write outside (system)": f"open('/usr/{token}', 'w').write('escaped')",
        "write in the work dir": "import os\nopen('mine.txt', 'w').write('x')\nassert open('mine.txt').read() == 'x'",
        "read the user's home": f"import os\nprint(os.listdir({home!r}))",
        "huge output": "while True:\n    print('x' * 1000)",
        "huge raw output": "import os\nwhile True:\n    os.write(1, b'y' * 65536)",
        "non-utf-8 output": "import sys\nsys.stdout.buffer.write(b'bad \\xff\\xfe bytes')\nprint('\\udcff')",
        "kill the parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
        "kill everything": "import os, signal\nos.kill(-1, signal.SIGKILL)",
        "secrets in the environment": "import os\nassert 'OPENAI_API_KEY' not in os.environ, sorted(os.environ)",
        "still alive": "assert 1 + 1 == 2",
    }


def test_hostile_code_gets_clear_results_and_the_host_is_unharmed(level, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-value")
    token = f"tg-escape-{uuid.uuid4().hex}"
    tests = _hostile_tests(token, str(Path.home()))
    with Sandbox(isolation=level, output_limit=500) as sandbox:
        result = sandbox.run("", list(tests.values()), timeout_s=3, memory_mb=256)
    by_name = dict(zip(tests, result.tests, strict=True))
    status = {name: t.status for name, t in by_name.items()}
    assert result.isolation == level

    assert status["memory bomb"] == "memory" and status["list memory bomb"] == "memory"
    assert status["fork bomb"] == "error" and "Resource temporarily unavailable" in by_name["fork bomb"].message
    assert status["subprocess flood"] == "error"
    assert status["fork bomb that outlives its parents"] == "timeout"
    assert status["after the fork bomb"] == "passed", by_name["after the fork bomb"].message
    if level == "rlimits" and is_root():  # a uid of this sandbox's own: its other processes are the bombs' leftovers
        assert by_name["nothing left of the fork bombs"].stdout == "[]\n", by_name["nothing left of the fork bombs"]
    assert status["write outside (repo)"] == "error" and not (REPO / token).exists()
    assert status["write outside (system)"] == "error" and not Path(f"/usr/{token}").exists()
    assert status["write in the work dir"] == "passed"
    for name in ("huge output", "huge raw output"):
        assert status[name] in ("error", "timeout") and len(by_name[name].stdout) < 600
    assert status["non-utf-8 output"] == "passed" and "\ufffd" in by_name["non-utf-8 output"].stdout
    (tmp_path / "report.txt").write_text(result.to_text(), encoding="utf-8")  # the report is valid UTF-8
    assert status["kill the parent"] in ("passed", "error")
    assert status["secrets in the environment"] == "passed"
    assert status["still alive"] == "passed"
    home = by_name["read the user's home"]
    if is_root() or level in NAMESPACED:  # an error, or an empty directory masking the real one
        assert home.status == "error" or home.stdout == "[]\n", home.stdout

    if level in NAMESPACED:
        assert status["network"] == "error" and "unreachable" in by_name["network"].message.lower()
        assert status["write outside (tmp)"] == "error" and not Path(f"/tmp/{token}").exists()
    assert _processes_with(token) == [], "a detached process outlived the sandbox"
    Path(f"/tmp/{token}").unlink(missing_ok=True)


@pytest.mark.skipif(not is_root(), reason="only root can tell the sandbox user's processes apart")
def test_nothing_of_the_sandbox_user_survives_a_namespaced_run():
    with Sandbox(isolation="bwrap", prestart=0) as sandbox:
        sandbox.run("import subprocess\n", ["ps = [subprocess.Popen(['sleep', '30']) for _ in range(5)]"])
        uid = sandbox.running().uid
    leftovers = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                status = Path(f"/proc/{entry}/status").read_text()
            except OSError:
                continue
            uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
            if int(uid_line.split()[1]) == uid and "sleep" in Path(f"/proc/{entry}/cmdline").read_text():
                leftovers.append(entry)
    assert leftovers == []
