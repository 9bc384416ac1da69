"""Runs that fail loudly and recover: corrupt files on disk, kill -9 leftovers, SIGTERM, budgets across resumes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tg_core.cli import main

TG = str(Path(sys.executable).parent / "tg")

ENGINE_MODULE = '''
import os, time
from tg_core import prompts

def reply(messages, **params):
    delay = float(os.environ.get("SCRIPT_DELAY", "0"))
    time.sleep(delay)
    if messages[0]["content"] == prompts.OPTIMIZER_SYSTEM:
        n = messages[-1]["content"].count("<TRIED>") + len(messages)
        return f"{prompts.IMPROVED_START} Drink a glass of water with meal number {n}. {prompts.IMPROVED_END}"
    return "Name the habit.\\nSCORE: 5"
'''


@pytest.fixture
def engine_module(tmp_path, monkeypatch):
    folder = tmp_path / "engine_mod"
    folder.mkdir()
    (folder / "recovery_engine.py").write_text(ENGINE_MODULE)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("PYTHONPATH", str(folder))
    return "python:recovery_engine:reply"


def _run(args, capsys=None):
    code = main(["run", *args])
    return code, (capsys.readouterr().err if capsys else "")


def test_a_corrupt_last_checkpoint_is_skipped_and_named(tmp_path, engine_module, capsys):
    run_dir = tmp_path / "run"
    assert _run(["text", "--steps", "2", "--engine", engine_module, "--run-dir", str(run_dir)])[0] == 0
    (run_dir / "checkpoints" / "step-0002.json").write_text('{"broken')
    capsys.readouterr()
    code, err = _run(["--resume", str(run_dir)], capsys)
    assert code == 0, err
    assert "resuming after step 1" in err
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    skipped = [e for e in events if e["kind"] == "checkpoint_skipped"]
    assert skipped and skipped[0]["path"].endswith("step-0002.json")
    assert json.loads((run_dir / "checkpoints" / "step-0002.json").read_text())["step"] == 2  # redone


def test_garbage_config_is_named(tmp_path, engine_module, capsys):
    run_dir = tmp_path / "run"
    assert _run(["text", "--steps", "1", "--engine", engine_module, "--run-dir", str(run_dir)])[0] == 0
    (run_dir / "config.json").write_bytes(b"\x00\xff garbage")
    capsys.readouterr()
    code, err = _run(["--resume", str(run_dir)], capsys)
    assert code == 2
    assert f"{run_dir / 'config.json'} is not valid JSON" in err


def test_a_partial_last_event_line_is_repaired_on_resume(tmp_path, engine_module):
    run_dir = tmp_path / "run"
    assert _run(["text", "--steps", "2", "--engine", engine_module, "--run-dir", str(run_dir)])[0] == 0
    (run_dir / "checkpoints" / "step-0002.json").unlink()
    with open(run_dir / "events.jsonl", "a") as f:
        f.write('{"time": "2026", "kind": "llm_ca')  # what kill -9 leaves behind
    assert _run(["--resume", str(run_dir)])[0] == 0
    lines = (run_dir / "events.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line parses: nothing was swallowed
    assert any(r["kind"] == "events_repaired" and r["dropped_bytes"] == 32 for r in records)


def _real_calls(run_dir):
    records = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    return sum(1 for r in records if r["kind"] == "llm_call" and not r["cached"])


def test_usage_and_budgets_add_up_across_resumes(tmp_path, engine_module, capsys):
    run_dir = tmp_path / "run"
    # step 1 takes 9 calls (3 judgements of the start and of the proposal, 2 backward, 1 proposal);
    # a budget of 12 ends the run inside step 2, before its proposal is judged, so step 2 is dropped
    # (three judgements asked for: left to itself, the task judges once under this budget)
    code, err = _run(["text", "--steps", "3", "--max-calls", "12", "--judge-samples", "3", "--engine", engine_module,
                      "--run-dir", str(run_dir)], capsys)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert code == 0 and summary["stopped"].startswith("out of budget in step 2 (budget of 12 LLM calls reached")
    assert summary["completed_steps"] == 1
    calls_before = sum(1 for line in (run_dir / "events.jsonl").read_text().splitlines() if '"llm_call"' in line)
    assert calls_before == 12
    code, err = _run(["--resume", str(run_dir)], capsys)
    assert code == 0 and "resuming after step 1" in err
    stopped = json.loads((run_dir / "summary.json").read_text())["stopped"]
    assert stopped.startswith("out of budget in step 2 (budget of 12 LLM calls reached (12 made)")  # not reset
    assert _real_calls(run_dir) == calls_before  # the resumed process made none
    assert "usage: 12 LLM calls" in err


def test_the_readme_resume_form_with_the_task_name_works(tmp_path, engine_module, capsys):
    run_dir = tmp_path / "run"
    assert _run(["text", "--steps", "1", "--engine", engine_module, "--run-dir", str(run_dir)])[0] == 0
    capsys.readouterr()
    code, err = _run(["text", "--resume", str(run_dir)], capsys)
    assert code == 0 and "resuming after step 1" in err
    code, err = _run(["molecule", "--resume", str(run_dir)], capsys)
    assert code == 2 and "holds a 'text' run, not 'molecule'" in err


def test_sigterm_stops_a_run_like_ctrl_c_with_a_report(tmp_path, engine_module):
    run_dir = tmp_path / "run"
    env = {**os.environ, "SCRIPT_DELAY": "0.3"}
    proc = subprocess.Popen([TG, "run", "text", "--steps", "20", "--patience", "20", "--engine", engine_module,
                             "--run-dir", str(run_dir)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 120
    while not (run_dir / "checkpoints" / "step-0001.json").exists():
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["interrupted"].startswith("interrupted") and summary["completed_steps"] >= 1
    assert f"tg run --resume {run_dir}" in (run_dir / "report.md").read_text()


def test_resume_with_steps_extends_a_finished_run(tmp_path, engine_module, capsys):
    run_dir = tmp_path / "run"
    assert _run(["text", "--steps", "1", "--patience", "5", "--engine", engine_module, "--run-dir", str(run_dir)])[0] == 0
    capsys.readouterr()
    code, err = _run(["text", "--resume", str(run_dir), "--steps", "2"], capsys)
    assert code == 0 and "resuming after step 1" in err
    assert (run_dir / "checkpoints" / "step-0002.json").exists()


def test_a_missing_local_model_is_named_before_a_run_folder_exists(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TG_LOCAL_MODEL", str(tmp_path / "nowhere.gguf"))
    code, err = _run(["text", "--engine", "local", "--runs-dir", str(tmp_path / "runs")], capsys)
    assert code == 2 and f"TG_LOCAL_MODEL: no such file: {tmp_path / 'nowhere.gguf'}" in err
    assert not (tmp_path / "runs").exists()
