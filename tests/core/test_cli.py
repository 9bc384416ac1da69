import json
import subprocess
import sys
from pathlib import Path

import pytest

from tg_core.cli import main

TG = str(Path(sys.executable).parent / "tg")


def test_tg_plugins_lists_builtins():
    out = subprocess.run([TG, "plugins"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    for name in ("core", "code", "molecule", "radiotherapy", "qa"):
        assert any(line.startswith(name + " ") for line in out.stdout.splitlines()), out.stdout


def test_tg_run_task_help_shows_task_and_run_options():
    out = subprocess.run([TG, "run", "text", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0
    assert "--goal" in out.stdout and "--resume RUN_DIR" in out.stdout and "--engine" in out.stdout


def test_unknown_task_is_a_clear_error(capsys):
    try:
        main(["run", "no-such-task"])
    except SystemExit as exc:
        assert exc.code == 2
    assert "invalid choice: 'no-such-task'" in capsys.readouterr().err


def test_resume_of_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["run", "--resume", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_bad_engine_spec_names_the_setting(tmp_path, capsys):
    code = main(["run", "text", "--engine", "nonsense-engine", "--runs-dir", str(tmp_path)])
    assert code == 2
    assert "unknown engine spec 'nonsense-engine'" in capsys.readouterr().err


def scripted_reply(messages, **params):
    """Used through the engine spec python:test_cli:scripted_reply."""
    from tg_core import prompts

    if messages[0]["content"] == prompts.OPTIMIZER_SYSTEM:
        return f"{prompts.IMPROVED_START} Drink a glass of water with each meal: it keeps you hydrated. {prompts.IMPROVED_END}"
    return "Too vague: name a habit and a reason.\nSCORE: 4"


def test_tg_run_text_with_python_engine_writes_a_run_folder(tmp_path, capsys):
    code = main(["run", "text", "--steps", "2", "--engine", "python:test_cli:scripted_reply",
                 "--runs-dir", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    run_dir = next(tmp_path.iterdir())
    assert (run_dir / "checkpoints" / "step-0002.json").exists()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["final"].startswith("Drink a glass of water")
    # step 1: judge the start, backward (judge -> report -> text), propose, judge the candidate;
    # step 2: backward on the new text, then the script proposes the same text three times: a stall;
    # each of the two values judged also got two sampled judgements (--judge-samples 3)
    assert summary["usage"]["calls"] == 14
    assert summary["counts"] == {"proposed": 4, "invalid": 0, "repaired": 0, "derived": 0, "resampled": 0, "unchanged": 3, "accepted": 1, "stalled_steps": 1}
    report = (run_dir / "report.md").read_text()
    assert "## Progress" in report and "**stalled**" in report and "### Step 2" in report
    kinds = [line.split('"kind": "')[1].split('"')[0] for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert kinds.count("step") == 2 and kinds.count("llm_call") == 14 and kinds.count("stall") == 1


def test_python_engine_spec_errors_name_the_spec(capsys):
    assert main(["run", "text", "--engine", "python:nowhere_module:fn"]) == 2
    assert "python:nowhere_module:fn" in capsys.readouterr().err


def test_replay_engine_reproduces_a_recorded_run_without_calls(tmp_path, capsys):
    assert main(["run", "text", "--steps", "2", "--engine", "python:test_cli:scripted_reply",
                 "--run-dir", str(tmp_path / "first")]) == 0
    assert main(["run", "text", "--steps", "2", "--engine", f"replay:{tmp_path / 'first'}", "--no-cache",
                 "--run-dir", str(tmp_path / "again")]) == 0
    first = (tmp_path / "first" / "summary.json").read_text()
    again = (tmp_path / "again" / "summary.json").read_text()
    assert '"final": "Drink a glass of water' in again
    assert first.split('"final"')[1].split("\n")[0] == again.split('"final"')[1].split("\n")[0]


def test_replay_engine_refuses_unrecorded_requests(tmp_path, capsys):

    import tg_core as tg

    assert main(["run", "text", "--steps", "1", "--engine", "python:test_cli:scripted_reply",
                 "--run-dir", str(tmp_path / "rec")]) == 0
    engine = tg.get_engine(f"replay:{tmp_path / 'rec'}", cache=False)
    with pytest.raises(tg.EngineCallError, match="no recorded response"):
        engine.generate([{"role": "user", "content": "never asked"}])
    with pytest.raises(tg.EngineConfigError, match="does not exist"):
        tg.get_engine(f"replay:{tmp_path / 'nothing'}")


@pytest.mark.slow
def test_tg_serve_announces_its_address_and_answers_openai_clients():
    import re
    import signal
    import socket

    import openai

    pytest.importorskip("xllamacpp")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([TG, "serve", "--model", "light", "--port", str(port), "--max-tokens", "12"],
                            stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        while "serving" not in line:
            line = proc.stderr.readline()
            assert line or proc.poll() is None, "tg serve exited before serving"
        url = re.search(r"at (http://\S+)", line).group(1)
        assert url == f"http://127.0.0.1:{port}/v1"
        client = openai.OpenAI(base_url=url, api_key="none")
        reply = client.chat.completions.create(
            model="local", messages=[{"role": "user", "content": "Say OK."}], max_tokens=5)
        assert reply.choices[0].message.content
        # A client that sets no max_tokens stops at the server's --max-tokens, not at n_ctx.
        story = client.chat.completions.create(
            model="local", messages=[{"role": "user", "content": "Tell a very long story about a cat."}])
        assert story.usage.completion_tokens == 12 and story.choices[0].finish_reason == "length"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)


@pytest.mark.parametrize("value", ["0", "-5", "999999"])
def test_tg_serve_refuses_a_bad_max_tokens_before_loading_the_model(value, capsys):
    assert main(["serve", "--model", "light", "--port", "0", "--max-tokens", value]) != 0
    assert "max_tokens must be an integer from 1 to n_ctx" in capsys.readouterr().err


def test_tg_serve_refuses_an_unknown_speculative_decoding_before_loading_the_model(capsys, monkeypatch):
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--model", "light", "--port", "0", "--speculative", "fast"])
    assert exit_info.value.code == 2
    assert "argument --speculative: invalid choice: 'fast'" in capsys.readouterr().err
    monkeypatch.setenv("TG_LOCAL_SPECULATIVE", "draft-simple")
    assert main(["serve", "--model", "light", "--port", "0"]) != 0
    assert "TG_LOCAL_SPECULATIVE must be one of off, ngram-mod" in capsys.readouterr().err


def judge(messages, **params):
    """python:test_cli:judge, a model that would let a run go on."""
    return "Fine.\nSCORE: 5"


@pytest.mark.parametrize(("option", "value"), [("--max-calls", "0"), ("--max-tokens", "-5"), ("--max-usd", "0")])
def test_a_budget_of_zero_or_less_is_named_before_a_run_folder_exists(tmp_path, capsys, option, value):
    """0 used to read as no budget at all, so --max-calls 0 ran without a limit."""
    assert main(["run", "text", option, value, "--engine", "python:test_cli:judge",
                 "--runs-dir", str(tmp_path / "runs")]) == 2
    assert f"{option} must be positive, got {value}" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
