"""``tg run code`` through the CLI, with scripted engines (``python:test_code_cli:...``)."""

import json

import pytest

from tg_code import prompts
from tg_core import prompts as core
from tg_core.cli import main

BUGGY = "def trap(height):\n    return 0\n"
HALF = "def trap(height):\n    return 6 if len(height) > 6 else 0\n"
FIXED = (
    "def trap(height):\n    total = 0\n    for i, h in enumerate(height):\n"
    "        total += min(max(height[: i + 1]), max(height[i:])) - h\n    return total\n"
)
STATE = {"optimizer_calls": 0, "fail_on": None}


def _answer(messages, updates):
    system = messages[0]["content"]
    if system == prompts.INITIAL_SOLUTION_SYSTEM:
        return f"```python\n{BUGGY}```"
    if system == core.OPTIMIZER_SYSTEM:
        STATE["optimizer_calls"] += 1
        if STATE["optimizer_calls"] == STATE["fail_on"]:
            STATE["fail_on"] = None
            raise KeyboardInterrupt  # the user stops the run in the middle of a step
        code = updates[min(STATE["optimizer_calls"], len(updates)) - 1]
        return f"{core.IMPROVED_START}\n```python\n{code}```\n{core.IMPROVED_END}"
    if system == core.BACKWARD_SYSTEM:
        return "Compute the water above each bar."
    return "Tests fail: the answer is wrong."


def fixes_at_once(messages, **params):
    return _answer(messages, [FIXED])


def fixes_in_two_steps(messages, **params):
    return _answer(messages, [HALF, FIXED])


def never_fixes(messages, **params):
    return _answer(messages, [BUGGY])


@pytest.fixture(autouse=True)
def fresh_state():
    STATE.update(optimizer_calls=0, fail_on=None)


def _run_dir(tmp_path):
    return next(p for p in tmp_path.iterdir() if p.is_dir())


def test_run_stops_when_visible_tests_pass_and_reports_every_iteration(tmp_path, capsys):
    code = main(["run", "code", "--problem", "hard/trapping-rain-water", "--steps", "4",
                 "--engine", "python:test_code_cli:fixes_in_two_steps", "--runs-dir", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    run_dir = _run_dir(tmp_path)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["stopped_early"] and summary["iterations"] == 3
    assert summary["visible_passed"] and summary["hidden_passed"] and summary["isolation"]
    assert [round(r["visible"], 2) for r in summary["pass_rates"]] == [0.33, 0.67, 1.0]
    report = (run_dir / "report.md").read_text()
    assert "| 1 | 1/3 |" in report and "| 2 | 2/3 |" in report and "| 3 | 3/3 |" in report
    assert "visible tests pass: stopped" in report and "```diff" in report and "+    total = 0" in report
    assert (run_dir / "final.py").read_text() == FIXED.rstrip("\n")
    assert (run_dir / "initial.py").read_text() == BUGGY.rstrip("\n")
    assert (run_dir / "checkpoints" / "step-0003.json").exists()


def test_a_run_that_never_passes_uses_every_iteration_and_shows_hidden_failures(tmp_path, capsys):
    assert main(["run", "code", "--problem", "hard/trapping-rain-water", "--steps", "2",
                 "--engine", "python:test_code_cli:never_fixes", "--runs-dir", str(tmp_path)]) == 0
    run_dir = _run_dir(tmp_path)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["iterations"] == 2 and not summary["stopped_early"] and not summary["hidden_passed"]
    assert "## Final code on the hidden tests" in (run_dir / "report.md").read_text()


def test_initial_code_from_a_file(tmp_path, capsys):
    start = tmp_path / "start.py"
    start.write_text(FIXED)
    runs = tmp_path / "runs"
    assert main(["run", "code", "--problem", "hard/trapping-rain-water", "--code", str(start),
                 "--engine", "python:test_code_cli:never_fixes", "--runs-dir", str(runs)]) == 0
    summary = json.loads((_run_dir(runs) / "summary.json").read_text())
    assert summary["stopped_early"] and summary["iterations"] == 1 and summary["usage"]["calls"] == 0


def test_humaneval_problem(tmp_path, capsys):
    start = tmp_path / "start.py"
    start.write_text("from typing import List\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
                     "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n")
    runs = tmp_path / "runs"
    assert main(["run", "code", "--problem", "HumanEval/0", "--code", str(start),
                 "--engine", "python:test_code_cli:never_fixes", "--runs-dir", str(runs)]) == 0
    summary = json.loads((_run_dir(runs) / "summary.json").read_text())
    assert summary["hidden_passed"] and summary["problem"] == "HumanEval/0"


def test_an_interrupted_run_resumes_after_its_last_completed_step(tmp_path, capsys):
    STATE["fail_on"] = 2
    argv = ["run", "code", "--problem", "hard/trapping-rain-water", "--steps", "4",
            "--engine", "python:test_code_cli:fixes_in_two_steps", "--runs-dir", str(tmp_path)]
    assert main(argv) == 130
    assert "continue with --resume" in capsys.readouterr().err
    run_dir = _run_dir(tmp_path)
    assert (run_dir / "checkpoints" / "step-0001.json").exists()
    assert not (run_dir / "checkpoints" / "step-0002.json").exists()
    initial = (run_dir / "initial.py").read_text()

    assert main(["run", "--resume", str(run_dir)]) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["stopped_early"] and summary["hidden_passed"] and summary["iterations"] == 3
    assert (run_dir / "initial.py").read_text() == initial
    steps = [json.loads(line)["step"] for line in (run_dir / "events.jsonl").read_text().splitlines()
             if '"kind": "iteration"' in line]
    assert steps == [1, 2, 3]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--problem", "hard/no-such-problem"], "--problem 'hard/no-such-problem': unknown problem"),
        (["--problem", "nowhere/problem.json"], "problem file nowhere/problem.json: no such file"),
        (["--problem", "HumanEval/0", "--iterations", "3"], "unrecognized arguments: --iterations"),
        (["--problem", "HumanEval/0", "--steps", "0"], "--steps must be at least 1"),
        (["--problem", "HumanEval/0", "--timeout", "-1"], "--timeout must be in"),
        (["--problem", "HumanEval/0", "--memory-mb", "8"], "--memory-mb must be at least 64"),
        (["--problem", "HumanEval/0", "--momentum", "-2"], "--momentum must be >= 0"),
        (["--problem", "HumanEval/0", "--code", "missing.py"], "--code missing.py: no such file"),
        (["--problem", "HumanEval/0", "--isolation", "rlimits", "--strict"], "--strict: Sandbox(strict=True)"),
    ],
    ids=["problem", "problem-file", "old-iterations", "steps", "timeout", "memory", "momentum", "code", "strict"],
)
def test_bad_options_are_named_before_a_run_folder_exists(tmp_path, capsys, options, message):
    runs = tmp_path / "runs"
    try:
        code = main(["run", "code", *options, "--engine", "python:test_code_cli:never_fixes", "--runs-dir", str(runs)])
    except SystemExit as exc:  # argparse refuses an unknown option itself
        code = exc.code
    assert code == 2
    assert message in capsys.readouterr().err
    assert STATE["optimizer_calls"] == 0
    assert not runs.exists()
