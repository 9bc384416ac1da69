"""``tg run qa`` and ``tg run qa-solution`` end to end, with engines defined in this module
(reached through the engine spec python:test_qa_cli:<function>)."""

import json
import re
import threading

import pytest

import tg_core as tg
from tg_core import prompts as core_prompts
from tg_core.cli import main
from tg_qa import datasets
from tg_qa import prompts as qa_prompts

SIZES = "12,8,8"
GENERATED = [datasets.object_counting(0, (12, 8, 8)), datasets.word_sorting(0, (3, 4, 4))]
ANSWERS = {e.question: e.answer for s in GENERATED for e in (*s.train, *s.validation, *s.test)}
DEMO = datasets.multiple_choice_demo()


class Calls:
    """What the engine was asked, and an optional simulated outage at the n-th backward call."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self, fail_at_backward=None):
        self.fail_at_backward = fail_at_backward
        self.backward = 0
        self.optimizer = 0
        self.forward_questions = []


CALLS = Calls()


@pytest.fixture(autouse=True)
def fresh_calls():
    CALLS.reset()


def current_value(request):
    return re.search(r"<VARIABLE> (.*?) </VARIABLE>", request, re.S).group(1)


def reply(messages, **params):
    """A model that counts right once its prompt says 'Be careful.', and an optimizer that adds it."""
    system, request = messages[0]["content"], messages[-1]["content"]
    with CALLS.lock:
        if system == core_prompts.OPTIMIZER_SYSTEM:
            CALLS.optimizer += 1
            value = current_value(request)
            return f"{core_prompts.IMPROVED_START} {value} Be careful. {core_prompts.IMPROVED_END}"
        if system == core_prompts.BACKWARD_SYSTEM:
            CALLS.backward += 1
            if CALLS.backward == CALLS.fail_at_backward:
                raise tg.EngineCallError("simulated outage")
            return "Tell the model to be careful."
        if qa_prompts.VERDICT_START in request:
            return "The count is right. <VERDICT>correct</VERDICT>"
        CALLS.forward_questions.append(request)
    answer = ANSWERS.get(request)
    if answer is None:
        return "Answer: A"
    careful = system.count("Be careful.")
    if answer.isdigit():
        return f"Answer: {int(answer) if careful or int(answer) % 2 == 0 else int(answer) + 1}"
    return f"Answer: {answer if careful else ' '.join(reversed(answer.split()))}"


TRAIN = {e.question for e in GENERATED[0].train}


RANKED_FIRST = {e.question for e in GENERATED[0].validation[:3]}  # the questions step 1 ranks on (seed 0)


def sloppy(messages, **params):
    """An optimizer that adds 'Be sloppy.', after which every count outside the training split and
    step 1's ranking questions is off by one: the candidate does well on the ranking questions, loses
    on validation, and is reverted."""
    system, request = messages[0]["content"], messages[-1]["content"]
    if system == core_prompts.OPTIMIZER_SYSTEM:
        return f"{core_prompts.IMPROVED_START} {current_value(request)} Be sloppy. {core_prompts.IMPROVED_END}"
    if "Be sloppy." in system and request in ANSWERS:
        return f"Answer: {int(ANSWERS[request]) + (request not in TRAIN | RANKED_FIRST)}"
    return reply(messages, **params)


def solution_reply(messages, **params):
    """Zero-shot answers A; the optimizer then gives the demo set's correct letter."""
    system, request = messages[0]["content"], messages[-1]["content"]
    if system == core_prompts.OPTIMIZER_SYSTEM:
        with CALLS.lock:
            CALLS.optimizer += 1
        letter = next(e.answer for e in DEMO if e.question in request)
        return f"{core_prompts.IMPROVED_START} Reconsidered.\nAnswer: {letter} {core_prompts.IMPROVED_END}"
    if system == core_prompts.BACKWARD_SYSTEM:
        with CALLS.lock:
            CALLS.backward += 1
            if CALLS.backward == CALLS.fail_at_backward:
                raise tg.EngineCallError("simulated outage")
        return "Re-check the facts."
    if system == qa_prompts.TEST_TIME_SYSTEM:
        return "The answer may be wrong."
    with CALLS.lock:
        CALLS.forward_questions.append(request)
    return "Quick guess.\nAnswer: A"


def qa(tmp_path, *options, engine="reply"):
    return ["run", "qa", *options, "--engine", f"python:test_qa_cli:{engine}", "--no-cache",
            "--run-dir", str(tmp_path / "run")]


def test_tg_run_qa_prints_a_table_writes_a_plot_and_a_summary(tmp_path, capsys):
    assert main(qa(tmp_path, "--task", "object_counting", "--sizes", SIZES, "--steps", "2")) == 0
    out = capsys.readouterr().out
    assert re.search(r"step\s+epoch\s+batch\s+candidate\s+candidate val\s+decision\s+val\s+test", out)
    # step 1's rewrite answers more of the ranking questions; step 2's candidates tie there, and the
    # demonstrations, which keep the prompt whole, are validated
    assert re.search(r"^\s+1\s+1\s+\S+\s+feedback\s+100\.0\s+kept\s+100\.0\s+100\.0$", out, re.M)
    assert re.search(r"^\s+2\s+1\s+100\.0\s+demonstrations\s+100\.0\s+kept\s+100\.0\s+100\.0$", out, re.M)
    run = tmp_path / "run"
    assert (run / "accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 2 and summary["kept"] == 2 and summary["final"]["test"] == 1.0
    assert summary["kept_from"] == {"feedback": 1, "demonstrations": 1}
    final = summary["final"]["prompt"]
    assert final.startswith(f"{qa_prompts.OBJECT_COUNTING_SYSTEM} Be careful.\n\n{qa_prompts.DEMONSTRATIONS_HEADER}")
    assert summary["initial"]["prompt"] == qa_prompts.OBJECT_COUNTING_SYSTEM
    report = (run / "report.md").read_text()
    assert "## Step 2 (kept)" in report
    assert re.search(r"^Candidates on validation questions object_counting-0-12, object_counting-0-13, "
                     r"object_counting-0-14: feedback 100\.0%, demonstrations 66\.7%\.$", report, re.M)
    assert re.search(r"^Verdict: 2 prompt\(s\) kept; validation \S+% -> 100\.0%, test \S+% -> 100\.0%\.$", report, re.M)


def test_a_run_that_keeps_no_prompt_says_so_in_its_report(tmp_path):
    assert main(qa(tmp_path, "--task", "object_counting", "--sizes", SIZES, "--steps", "1", "--demonstrations", "0",
                     engine="sloppy")) == 0
    report = (tmp_path / "run" / "report.md").read_text()
    assert "Verdict: no improvement: the final prompt is the starting one" in report
    assert ("0 step(s) validated no candidate (none new, or none as good on the ranking questions), 1 candidate(s) "
            "scored lower on validation and were reverted.") in report


def test_word_sorting_and_a_users_multiple_choice_file_run_too(tmp_path):
    assert main(qa(tmp_path / "a", "--task", "word_sorting", "--sizes", "3,4,4", "--steps", "1")) == 0
    summary = json.loads((tmp_path / "a" / "run" / "summary.json").read_text())
    assert summary["final"]["validation"] == 1.0 and summary["initial"]["validation"] < 1.0
    data = tmp_path / "mc.jsonl"
    data.write_text("\n".join(json.dumps(e.as_dict()) for e in DEMO[:6]))
    assert main(qa(tmp_path / "b", "--data", str(data), "--sizes", "2,2,2", "--steps", "1")) == 0
    summary = json.loads((tmp_path / "b" / "run" / "summary.json").read_text())
    assert summary["evaluator"] == "multiple_choice" and summary["data"] == str(data)


def test_an_llm_judge_can_score_the_answers(tmp_path):
    assert main(qa(tmp_path, "--sizes", SIZES, "--steps", "1", "--evaluator", "llm_judge")) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["evaluator"] == "llm_judge" and summary["initial"]["validation"] == 1.0
    # validation and test at the start, the batch, both candidates on three validation questions, the
    # other five validation questions for the better one, then the new prompt's test
    judged = 8 + 8 + 3 + 2 * 3 + 5 + 8
    backward = 3 + 3  # judge -> answer (an LLM call, unlike a check), then answer -> prompt
    assert summary["usage"]["calls"] == len(CALLS.forward_questions) + judged + backward + 1


def test_resume_after_an_interruption_redoes_no_finished_step(tmp_path, capsys):
    CALLS.reset(fail_at_backward=7)  # each step makes three backward calls: step 3 fails
    options = ["--task", "object_counting", "--sizes", SIZES, "--steps", "4"]
    assert main(qa(tmp_path, *options)) == 2
    assert "simulated outage" in capsys.readouterr().err
    run = tmp_path / "run"
    saved = sorted(p.name for p in (run / "checkpoints").glob("step-*.json"))
    assert saved == ["step-0000.json", "step-0001.json", "step-0002.json"]
    done = json.loads((run / "checkpoints" / "step-0002.json").read_text())["state"]["history"]
    finished_batches = {q for record in done for q in record["batch"]}

    CALLS.reset()
    assert main(["run", "--resume", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    history = json.loads((run / "checkpoints" / "step-0004.json").read_text())["state"]["history"]
    assert history[:2] == done and [r["step"] for r in history] == [1, 2, 3, 4]
    assert CALLS.optimizer == 2 and CALLS.backward == 6
    train = {e.question: e.id for e in GENERATED[0].train}
    asked_train = {train[q] for q in CALLS.forward_questions if q in train}
    assert asked_train and not asked_train & finished_batches
    assert summary["completed_steps"] == 4 and all(
        v["test"] is not None for v in json.loads((run / "checkpoints" / "step-0004.json").read_text())["state"]["versions"]
    )
    steps_logged = [json.loads(line)["step"] for line in (run / "events.jsonl").read_text().splitlines()
                    if json.loads(line)["kind"] == "step"]
    assert [s for s in steps_logged if s < 4] == [0, 1, 2, 3] and 4 in steps_logged


def test_a_spent_budget_ends_training_with_the_prompt_kept_before(tmp_path, capsys):
    options = ["--task", "object_counting", "--sizes", SIZES, "--steps", "3", "--max-calls", "50"]
    # the start takes 16 calls, step 1 18 and its kept prompt's test 8; step 2 needs more than the 8 left
    assert main(qa(tmp_path, *options)) == 0
    run = tmp_path / "run"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 1 and summary["kept"] == 1 and summary["usage"]["calls"] <= 50
    assert summary["stopped"].startswith("out of budget in step 2 (budget of 50 LLM calls reached")
    assert summary["final"]["prompt"] == f"{qa_prompts.OBJECT_COUNTING_SYSTEM} Be careful."
    assert summary["final"]["test"] == 1.0  # measured before the budget ran out
    assert sorted(p.name for p in (run / "checkpoints").glob("step-*.json")) == ["step-0000.json", "step-0001.json"]
    assert "Stopped early: out of budget in step 2" in (run / "report.md").read_text()
    calls = CALLS.optimizer
    assert main(["run", "--resume", str(run)]) == 0  # the budget counts across resumes: it stops again at once
    again = json.loads((run / "summary.json").read_text())
    assert again["steps"] == 1 and again["stopped"].startswith("out of budget in step 2") and CALLS.optimizer == calls


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--steps", "0"], "--steps must be at least 1"),
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--momentum", "-1"], "--momentum must be at least 0"),
        (["--demonstrations", "-1"], "--demonstrations must be at least 0"),
        (["--batch-size", "0"], "--batch-size must be at least 1"),
        (["--concurrency", "0"], "--concurrency must be at least 1"),
        (["--sizes", "5,5"], "--sizes"),
        (["--sizes", "a,b,c"], "--sizes must be three integers"),
        (["--data", "no/such/file.jsonl"], "no/such/file.jsonl does not exist"),
        (["--evaluator", "multiple_choice"], "needs choices on every example"),
        (["--system-prompt", "   "], "--system-prompt must not be empty"),
    ],
)
def test_bad_qa_options_are_clear_errors_before_any_run_folder_or_llm_call(tmp_path, capsys, options, message):
    assert main(qa(tmp_path, "--sizes", SIZES, *options)) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    assert CALLS.forward_questions == [] and CALLS.optimizer == 0


def solution(tmp_path, *options):
    return ["run", "qa-solution", *options, "--engine", "python:test_qa_cli:solution_reply", "--no-cache",
            "--run-dir", str(tmp_path / "run")]


def test_tg_run_qa_solution_votes_and_resumes_after_an_interruption(tmp_path, capsys):
    CALLS.reset(fail_at_backward=3)  # one backward call per iteration: the second batch fails
    options = ["--limit", "4", "--steps", "1", "--batch-size", "2"]
    assert main(solution(tmp_path, *options)) == 2
    assert "simulated outage" in capsys.readouterr().err
    CALLS.reset()
    assert main(["run", "--resume", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "accuracy: zero shot" in out and "majority vote" in out
    assert len(CALLS.forward_questions) == 2 and all(e.question in "".join(CALLS.forward_questions) for e in DEMO[2:4])
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    expected_zero_shot = sum(e.answer == "A" for e in DEMO[:4]) / 4
    assert summary["questions"] == 4 and summary["accuracy"]["zero_shot"] == expected_zero_shot
    assert summary["accuracy"]["final_iteration"] == 1.0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--limit", "0"], "--limit must be at least 1"),
        (["--steps", "-1"], "--steps must be at least 0"),
        (["--batch-size", "0"], "--batch-size must be at least 1"),
    ],
)
def test_bad_qa_solution_options_are_clear_errors_before_any_run_folder(tmp_path, capsys, options, message):
    assert main(solution(tmp_path, *options)) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_qa_solution_needs_choices_in_the_users_file(tmp_path, capsys):
    data = tmp_path / "plain.jsonl"
    data.write_text('{"question": "2+2?", "answer": "4", "id": "sum"}\n')
    assert main(solution(tmp_path, "--data", str(data))) == 2
    assert "every question needs choices; these have none: sum" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


GOOD = b'{"question": "2+2?", "choices": ["3", "4"], "answer": "B"}\n'
BAD_DATA = [
    ("image.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "line 1: not UTF-8 text"),
    ("nobom.jsonl", GOOD.decode().encode("utf-16-le"), "line 1: a NUL character"),
    ("long.csv", b'question,answer\nq,1\n"' + b"x" * 200_000 + b'",2\n', "line 3: unreadable CSV: a cell longer than"),
    ("deep.jsonl", GOOD + b'{"question": "q", "answer": "1", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
     "line 2: JSON nested too deeply"),
]


@pytest.mark.parametrize("task", [qa, solution])
@pytest.mark.parametrize(("name", "data", "message"), BAD_DATA, ids=[name for name, _, _ in BAD_DATA])
def test_a_bad_data_file_is_named_with_its_line_and_no_run_folder_is_made(tmp_path, capsys, task, name, data, message):
    path = tmp_path / name
    path.write_bytes(data)
    assert main(task(tmp_path, "--data", str(path))) == 2
    assert f"--data: {path} {message}" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    assert CALLS.forward_questions == [] and CALLS.optimizer == 0


def test_utf16_data_with_a_byte_order_mark_runs(tmp_path):
    path = tmp_path / "excel.jsonl"
    path.write_bytes("\n".join(json.dumps(e.as_dict(), ensure_ascii=False) for e in DEMO[:2]).encode("utf-16"))
    assert main(solution(tmp_path, "--data", str(path), "--steps", "0")) == 0
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["questions"] == 2


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_a_training_step_with_the_light_model(real_cache, tmp_path, monkeypatch):
    monkeypatch.setenv("TG_CACHE_DIR", real_cache)
    assert main(["run", "qa", "--task", "object_counting", "--sizes", "3,1,0", "--batch-size", "1",
                 "--demonstrations", "1", "--steps", "1", "--engine", "local:light", "--no-cache",
                 "--run-dir", str(tmp_path / "run")]) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    state = json.loads((tmp_path / "run" / "checkpoints" / "step-0001.json").read_text())["state"]
    (record,) = state["history"]
    assert summary["steps"] == 1 and record["feedback"]  # the light model wrote feedback on the prompt
    assert {c["source"] for c in record["candidates"]} >= {"demonstrations"}
    assert all(c["batch_accuracy"] is not None for c in record["candidates"])
    start = summary["initial"]["validation"]
    assert summary["final"]["validation"] >= start  # whatever the small model wrote, never worse on validation
    assert (tmp_path / "run" / "report.md").read_text().startswith("# tg run qa: object_counting\n\nVerdict: ")
