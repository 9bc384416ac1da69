"""bench/echo_replay.py: the copying calls of real run folders, replayed over HTTP as sent and without copies."""

import json

import echo_replay
from scripted_server import ScriptedServer
from test_quality_harness import _documented_commands

from tg_core import prompts

CODE = """def first_missing(nums: list[int]) -> int:
    seen = set(nums)
    answer = 1
    while answer in seen:
        answer += 1
    return answer"""
NEW = CODE.replace("set(nums)", "{n for n in nums if n > 0}")
OLD = CODE.replace("answer = 1", "answer = 0")


def optimizer_prompt(value, suggested=None):
    """An optimizer prompt as TGD sent it before echoes were pruned: OLD evaluated, the value in the call, in its
    output and in the feedback, which suggests ``suggested`` code (the value itself by default)."""
    suggested = suggested or value
    return (f"<EVALUATED> {OLD} </EVALUATED> measured: visible passed=0\n"
            f"<EVALUATED> {value} </EVALUATED> measured: visible passed=2\n\n"
            f"<VARIABLE> {value} </VARIABLE>\n\n<CONTEXT> <LM_INPUT> <CODE>\n{value}\n</CODE> </LM_INPUT>\n"
            f"<LM_OUTPUT> Fine.\n```python\n{value}\n``` </LM_OUTPUT> </CONTEXT>\n"
            f"<FEEDBACK> Use a set of positives. Updated code:\n```python\n{suggested}\n``` </FEEDBACK>")


def answer(value):
    return f"{prompts.IMPROVED_START}\n```python\n{value}\n```\n{prompts.IMPROVED_END}"


def write_run(folder, events):
    folder.mkdir(parents=True)
    (folder / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    return folder


def call(prompt, response, role="optimizer:Python code", seed=3):
    return {"time": "2026-12-04T10:00:00", "kind": "llm_call", "role": role, "params": {"seed": seed},
            "messages": [{"role": "system", "content": prompts.OPTIMIZER_SYSTEM},
                         {"role": "user", "content": prompt}], "response": response}


def test_copying_calls_are_replayed_and_counted(tmp_path, capsys):
    run = write_run(tmp_path / "seed-2" / "tg-core" / "case-0" / "run", [
        call(optimizer_prompt(CODE), answer(CODE)),  # copied the value: replayed
        call(optimizer_prompt(CODE, suggested=OLD), answer(OLD)),  # copied the evaluated OLD: replayed
        call(optimizer_prompt(CODE), answer(NEW)),  # proposed a new value: not replayed
        call(optimizer_prompt(CODE), "no tags at all"),  # unusable: not replayed
        call("Condense the feedback.", CODE, role="forward:LLMCall"),
    ])
    with ScriptedServer() as server:
        # the model copies the code it reads in the feedback
        def reply(body):
            feedback = body["messages"][-1]["content"].partition("</VARIABLE>")[2].partition("<FEEDBACK>")[2]
            return answer(next((code for code in (CODE, OLD) if code in feedback), NEW))

        server.reply = reply
        output = tmp_path / "echo-replay.json"
        assert echo_replay.main([str(run), "--server", server.base_url, "--output", str(output)]) == 0
    as_sent, without, as_sent_old, without_old = server.requests
    assert as_sent["seed"] == without["seed"] == 3 + 2 * echo_replay.SEED_STRIDE  # the seed its run had
    assert as_sent["messages"][-1]["content"] == optimizer_prompt(CODE)
    tail = without["messages"][-1]["content"].partition("</VARIABLE>")[2]
    assert CODE not in tail and tail.count(prompts.ECHOED_VALUE) == 3
    tail = without_old["messages"][-1]["content"].partition("</VARIABLE>")[2]
    assert OLD not in tail and prompts.ECHOED_EVALUATED.format(outcome="visible passed=0") in tail
    assert as_sent_old["messages"][-1]["content"] == optimizer_prompt(CODE, suggested=OLD)
    data = json.loads(output.read_text())
    assert data["calls"] == 2 and data["command"] and data["machine"] and data["model"]["served_as"]
    assert data["summary"]["as sent"]["repeated"] == 2 and data["summary"]["without copies"]["repeated"] == 0
    assert [row["without copies"]["answer"].strip() for row in data["rows"]] == [NEW, NEW]
    assert (data["summary"]["without copies"]["mean_prompt_tokens"]
            < data["summary"]["as sent"]["mean_prompt_tokens"])
    assert "repeated a tried value" in capsys.readouterr().out


def test_a_folder_without_events_is_named(tmp_path, refused):
    assert "no events.jsonl" in refused(echo_replay.main, [str(tmp_path)])


def test_runs_without_a_copying_call_are_refused(tmp_path, refused):
    run = write_run(tmp_path / "run", [call(optimizer_prompt(CODE), answer(NEW))])
    assert "nothing to replay" in refused(echo_replay.main, [str(run), "--server", "http://127.0.0.1:9/v1"])


def test_the_documented_replay_command_parses():
    [argv] = _documented_commands("echo_replay.py")
    options = echo_replay.build_parser().parse_args(argv)
    assert options.runs and options.threads == 2
