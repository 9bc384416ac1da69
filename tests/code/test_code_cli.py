"""``tg run code`` through the CLI and the shared loop, with scripted engines (``python:test_code_cli:...``).

The optimizer's answers are chosen by the seed the loop gives each candidate
(step * candidates + index, plus 1009 per re-ask), so runs with several
concurrent candidates are deterministic.
"""

import json

import pytest

from tg_code import prompts
from tg_core import prompts as core
from tg_core.cli import main

BUGGY = "def trap(height):\n    return 0\n"  # passes 1 of the 3 visible tests
HALF = "def trap(height):\n    return 6 if len(height) > 6 else 0\n"  # 2 of 3
WORSE = "def trap(height):\n    return -1\n"  # 0 of 3
CRASHES = "def trap(height):\n    return height[99]\n"  # 0 of 3, every test an error
BROKEN = "def trap(height:\n    return 0\n"  # does not compile
FIXED = (
    "def trap(height):\n    total = 0\n    for i, h in enumerate(height):\n"
    "        total += min(max(height[: i + 1]), max(height[i:])) - h\n    return total\n"
)
SLOW_DIGITS = "def count_digit_one(n):\n    return sum(str(i).count('1') for i in range(n + 1))\n"  # right, O(n)
FAST_DIGITS = (
    "def count_digit_one(n):\n    count, place = 0, 1\n    while place <= n:\n"
    "        high, low = divmod(n, place * 10)\n        digit, rest = divmod(low, place)\n"
    "        count += high * place + (place if digit > 1 else rest + 1 if digit == 1 else 0)\n"
    "        place *= 10\n    return count\n"
)
REASK = 1009  # added to the seed of each re-ask
STATE = {"interrupt_at_seed": None, "optimizer_prompts": [], "messages": []}


def _reply(messages, params, propose):
    STATE["messages"].append(messages)
    system = messages[0]["content"]
    if system == prompts.INITIAL_SOLUTION_SYSTEM:
        return f"Here you are.\n```python\n{BUGGY}```"
    if system == core.OPTIMIZER_SYSTEM:
        STATE["optimizer_prompts"].append((params.get("seed", 0), messages))
        code = propose(params.get("seed", 0))
        return f"{core.IMPROVED_START}\n```python\n{code}```\n{core.IMPROVED_END}"
    if system == core.BACKWARD_SYSTEM:
        return "Compute the water above each bar from the tallest bars on both sides."
    return "Tests 1 and 2 fail: the code does not compute the trapped water."


def stress_tested(messages, **params):
    """count-digit-one: the limit test at n = 10**12, and the digit-by-digit count as the rewrite."""
    STATE["messages"].append(messages)
    system = messages[0]["content"]
    if system == prompts.LIMIT_SYSTEM:
        return "The largest input:\n```python\ncount_digit_one(10**12)\n```"
    if system == core.OPTIMIZER_SYSTEM:
        return f"{core.IMPROVED_START}\n```python\n{FAST_DIGITS}```\n{core.IMPROVED_END}"
    if system == core.BACKWARD_SYSTEM:
        return "Count the ones digit by digit instead of visiting every number."
    return "Test 4 times out: the code visits every number up to n."


def fixes_in_two_steps(messages, **params):  # one candidate per step: seed 1, then 2
    return _reply(messages, params, lambda seed: {1: HALF, 2: FIXED}[seed])


def never_fixes(messages, **params):
    return _reply(messages, params, lambda seed: BUGGY)


def worse_candidates(messages, **params):  # two candidates per step: seeds 2, 3 then 4, 5
    return _reply(messages, params, lambda seed: {2: WORSE, 3: HALF, 4: CRASHES, 5: BUGGY.replace("0", "0 * len(height)")}[seed])


def ties_then_improves(messages, **params):  # one candidate per step: seed 1 ties the start, seed 2 improves
    return _reply(messages, params, lambda seed: {1: BUGGY.replace("0", "0 * len(height)"), 2: HALF}[seed])


def syntax_error_first(messages, **params):
    return _reply(messages, params, lambda seed: FIXED if seed >= REASK else BROKEN)


def interrupted(messages, **params):
    """Step 1 improves, step 2 proposes worse code, step 3 is interrupted once, then repeats step 2's."""

    def propose(seed):
        if seed == STATE["interrupt_at_seed"]:
            STATE["interrupt_at_seed"] = None
            raise KeyboardInterrupt  # the user stops the run in the middle of step 3
        return {1: HALF, 2: WORSE, 3: WORSE, 3 + REASK: FIXED}[seed]

    return _reply(messages, params, propose)


@pytest.fixture(autouse=True)
def fresh_state():
    STATE.update(interrupt_at_seed=None, optimizer_prompts=[], messages=[])


def _run(tmp_path, *options, engine="fixes_in_two_steps"):
    return main(["run", "code", "--problem", "hard/trapping-rain-water", *options,
                 "--engine", f"python:test_code_cli:{engine}", "--run-dir", str(tmp_path / "run")])


def _outputs(tmp_path):
    run_dir = tmp_path / "run"
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    return json.loads((run_dir / "summary.json").read_text()), (run_dir / "report.md").read_text(), events


def test_a_run_improves_stops_when_the_visible_tests_pass_and_reports_progress(tmp_path, capsys):
    assert _run(tmp_path, "--steps", "4", "--candidates", "1") == 0, capsys.readouterr().err
    summary, report, events = _outputs(tmp_path)
    assert summary["stopped_early"] and summary["iterations"] == 3 and summary["stopped"].startswith("every")
    # (visible passed, limit passed, visible without error): no limit test here (the model answered prose)
    assert summary["start_score"] == [1.0, 0.0, 3.0] and summary["best_score"] == [3.0, 0.0, 3.0]
    assert summary["best_step"] == 2
    assert [r["best_score"] for r in summary["score_per_step"]] == [[2.0, 0.0, 3.0], [3.0, 0.0, 3.0], [3.0, 0.0, 3.0]]
    assert [round(r["visible"], 2) for r in summary["pass_rates"]] == [0.33, 0.67, 1.0]
    assert summary["counts"] == {"proposed": 2, "invalid": 0, "repaired": 0, "derived": 0, "resampled": 0, "unchanged": 0, "accepted": 2, "stalled_steps": 0}
    assert summary["visible_passed"] and summary["hidden_passed"] and summary["isolation"]
    assert summary["start_hidden_pass_rate"] < 0.5 and summary["hidden"]["best"]["all_passed"]
    assert "improved from visible passed=1" in capsys.readouterr().out  # the verdict line

    assert "improved from visible passed=1, limit passed=0, visible without error=3 to visible passed=3" in report
    assert "| start | 1/3 | " in report and "| best (step 2) | 3/3 | 35/35 |" in report
    assert "## Hidden tests on the initial code" in report and "Every visible test passes: no update." in report
    assert "```diff" in report and "+    total = 0" in report and "[score.svg](score.svg)" in report
    assert (tmp_path / "run" / "score.svg").read_text().startswith("<svg")
    assert (tmp_path / "run" / "final.py").read_text() == FIXED.rstrip("\n")
    assert (tmp_path / "run" / "initial.py").read_text() == BUGGY.rstrip("\n")
    assert [e["step"] for e in events if e["kind"] == "loop_step"] == [1, 2, 3]
    assert [e for e in events if e["kind"] == "hidden_tests"][0]["best"] == "35/35"


def test_the_judge_is_told_each_tests_status_and_no_hidden_test_reaches_a_model(tmp_path):
    from tg_code import get_problem

    assert _run(tmp_path, "--steps", "2", "--candidates", "1") == 0
    review = [m for m in STATE["messages"] if m[0]["content"] == prompts.CODE_LOSS_SYSTEM][0][-1]["content"]
    assert prompts.CODE_LOSS_INSTRUCTION in review and "<CODE>\n" + BUGGY.rstrip("\n") in review
    assert prompts.REPORT_STATUS_HEADER in review
    assert "- Test 1: FAILED: assert trap([0, 1, 0, 2, 1, 0, 1, 3, 2, 1, 2, 1]) == 6" in review
    assert "- Test 3: passed: assert trap([3]) == 0" in review and "expected: 6" in review
    problem = get_problem("hard/trapping-rain-water")
    hidden_only = [t for t in problem.hidden_tests if t not in problem.visible_tests]
    everything = "\n".join(m["content"] for messages in STATE["messages"] for m in messages)
    assert len(hidden_only) > 20 and not any(test in everything for test in hidden_only)
    assert not any(test.removeprefix("assert ").split(" == ")[0] in everything for test in hidden_only[-3:])


@pytest.mark.parametrize("resamples", [1, 0])
def test_a_model_that_returns_the_same_code_stalls_and_stops_early_with_a_warning(tmp_path, capsys, caplog,
                                                                                  resamples):
    assert _run(tmp_path, "--steps", "5", "--resamples", str(resamples), engine="never_fixes") == 0
    summary, report, events = _outputs(tmp_path)
    assert summary["iterations"] == 2 and summary["stopped"].startswith("stalled")  # patience 2 of 5 steps
    assert summary["counts"]["stalled_steps"] == 2 and summary["counts"]["accepted"] == 0
    seeds = [seed for seed, _ in STATE["optimizer_prompts"]]
    draws = [m for m in STATE["messages"] if m[0]["content"] == prompts.INITIAL_SOLUTION_SYSTEM]
    if resamples:
        # 3 candidates x 2 steps, each refused as tried and not asked again: a draw takes each one's place
        # (the step's own draw and three more a step, all the same buggy code here, so dropped)
        assert summary["counts"]["unchanged"] == 6 and len(set(seeds)) == 6
        assert len(draws) == 1 + 2 * (1 + 3)  # the first solution, then the draws
    else:
        assert summary["counts"]["unchanged"] == 18  # 3 candidates x 3 attempts x 2 steps, each refused as tried
        assert len(set(seeds)) == 18 and len(draws) == 1  # every re-ask had a seed of its own
    assert "WARNING: no improvement over the start" in report and "Stopped early: stalled" in report
    assert "**Stalled**" in report and not summary["hidden_passed"]
    assert [e["step"] for e in events if e["kind"] == "stall"] == [1, 2]
    assert "step 2, code: stalled" in caplog.text  # the console's warning
    assert "WARNING: no improvement over the start" in capsys.readouterr().out


def test_a_worse_candidate_never_replaces_a_better_one(tmp_path):
    assert _run(tmp_path, "--steps", "2", "--candidates", "2", engine="worse_candidates") == 0
    summary, _, _ = _outputs(tmp_path)
    first, second = summary["score_per_step"]
    assert first["best_score"] == [2.0, 0.0, 3.0] and second["best_score"] == [2.0, 0.0, 3.0]
    assert summary["best_step"] == 1 and summary["final_code"] == HALF.rstrip("\n")
    assert (tmp_path / "run" / "final.py").read_text() == HALF.rstrip("\n")
    history = json.loads((tmp_path / "run" / "checkpoints" / "step-0002.json").read_text())["state"]["loop"]
    step2 = history["tracks"]["code"]["history"][1]
    assert sorted(c["score"][0] for c in step2["candidates"]) == [0.0, 1.0] and not step2["accepted"]
    assert [c["score"] for c in step2["candidates"] if c["value"] == CRASHES.rstrip("\n")] == [[0.0, 0.0, 0.0]]


def test_code_that_only_ties_the_kept_code_on_visible_tests_does_not_replace_it(tmp_path):
    assert _run(tmp_path, "--steps", "2", "--candidates", "1", engine="ties_then_improves") == 0
    summary, _report, events = _outputs(tmp_path)
    steps = [e for e in events if e["kind"] == "loop_step"]
    assert [s["candidates"][0]["score"] for s in steps] == [[1.0, 0.0, 3.0], [2.0, 0.0, 3.0]]
    assert [s["accepted"] for s in steps] == [False, True] and steps[1]["value"] == BUGGY.rstrip("\n")
    assert (tmp_path / "run" / "final.py").read_text() == HALF.rstrip("\n")
    # step 2 starts from the same kept code, so its review is not asked again
    assert len([m for m in STATE["messages"] if m[0]["content"] == prompts.CODE_LOSS_SYSTEM]) == 1


def test_code_with_a_syntax_error_is_reasked_with_the_reason_and_never_run(tmp_path):
    assert _run(tmp_path, "--steps", "2", "--candidates", "1", engine="syntax_error_first") == 0
    summary, report, _ = _outputs(tmp_path)
    assert summary["final_code"] == FIXED.rstrip("\n") and summary["visible_passed"]
    assert summary["counts"]["invalid"] == 1 and summary["counts"]["proposed"] == 2
    reask = STATE["optimizer_prompts"][1][1][-1]["content"]
    assert "breaks the constraints: the code does not compile: SyntaxError: '(' was never closed (line 1)" in reask
    assert "def trap(height:" in reask  # the line at fault
    first = STATE["optimizer_prompts"][0][1][-1]["content"]
    assert "The code must be valid Python 3 that compiles." in first
    checkpoint = json.loads((tmp_path / "run" / "checkpoints" / "step-0001.json").read_text())
    step1 = checkpoint["state"]["loop"]["tracks"]["code"]["history"][0]
    assert [c["value"] for c in step1["candidates"]] == [FIXED.rstrip("\n")]  # the broken code was never evaluated
    assert step1["rejections"][0]["kind"] == "constraint"
    assert "rejected answer (constraint): the improved variable breaks the constraints" in report


def test_an_interrupted_run_resumes_with_its_best_code_and_the_code_it_tried(tmp_path, capsys):
    STATE["interrupt_at_seed"] = 3
    # no draws: a repeated code is then asked again, and the re-ask lists what the resumed run tried
    assert _run(tmp_path, "--steps", "4", "--candidates", "1", "--resamples", "0", "--limit-test", "start",
               engine="interrupted") == 130
    assert "continue with --resume" in capsys.readouterr().err
    run_dir = tmp_path / "run"
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["step-0001.json", "step-0002.json"]
    initial = (run_dir / "initial.py").read_text()

    assert main(["run", "--resume", str(run_dir)]) == 0
    summary, _, events = _outputs(tmp_path)
    assert summary["iterations"] == 4 and summary["stopped_early"] and summary["hidden_passed"]
    assert [r["best_score"] for r in summary["score_per_step"]] == [[2.0, 0.0, 3.0], [2.0, 0.0, 3.0], [3.0, 0.0, 3.0],
                                                                   [3.0, 0.0, 3.0]]
    assert summary["best_step"] == 3 and (run_dir / "initial.py").read_text() == initial
    assert summary["start_value"] == BUGGY.rstrip("\n")
    reask = STATE["optimizer_prompts"][-1][1][-1]["content"]  # step 3 proposed step 2's code again
    assert "identical to a value already tried" in reask and "<TRIED> def trap(height):\n    return -1 </TRIED>" in reask  # as written
    assert [e["step"] for e in events if e["kind"] == "loop_step"] == [1, 2, 3, 4]
    # the limit request was made once: the resumed run read the answer from the run folder
    assert len([m for m in STATE["messages"] if m[0]["content"] == prompts.LIMIT_SYSTEM]) == 1


@pytest.mark.parametrize("content", ['{"call": "count_digit_one(10**12)"', '["count_digit_one(10**12)"]',
                                     '{"call": 12, "why": ""}', b"\xff\xfe"], ids=["cut", "list", "number", "bytes"])
def test_a_corrupt_limit_test_file_is_named_on_resume_and_the_run_folder_kept(tmp_path, capsys, content):
    STATE["interrupt_at_seed"] = 2
    assert _run(tmp_path, "--steps", "3", "--candidates", "1", "--resamples", "0", engine="interrupted") == 130
    run_dir = tmp_path / "run"
    saved = run_dir / "limit_test.json"
    (saved.write_bytes if isinstance(content, bytes) else saved.write_text)(content)
    checkpoints = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    capsys.readouterr()
    assert main(["run", "--resume", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert f"{saved} is not a limit test" in err and "delete it to have the model write one again" in err
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == checkpoints == ["step-0001.json"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--problem", "hard/no-such-problem"], "--problem 'hard/no-such-problem': unknown problem"),
        (["--problem", "nowhere/problem.json"], "problem file nowhere/problem.json: no such file"),
        (["--problem", "HumanEval/0", "--iterations", "3"], "unrecognized arguments: --iterations"),
        (["--problem", "HumanEval/0", "--steps", "0"], "--steps must be at least 1"),
        (["--problem", "HumanEval/0", "--candidates", "0"], "--candidates must be at least 1"),
        (["--problem", "HumanEval/0", "--patience", "0"], "--patience must be at least 1"),
        (["--problem", "HumanEval/0", "--timeout", "-1"], "--timeout must be in"),
        (["--problem", "HumanEval/0", "--memory-mb", "8"], "--memory-mb must be at least 64"),
        (["--problem", "HumanEval/0", "--momentum", "-2"], "--momentum must be >= 0"),
        (["--problem", "HumanEval/0", "--resamples", "-1"], "--resamples must be >= 0"),
        (["--problem", "HumanEval/0", "--code", "missing.py"], "--code missing.py: no such file"),
        (["--problem", "HumanEval/0", "--isolation", "rlimits", "--strict"], "--strict: Sandbox(strict=True)"),
        (["--problem", "HumanEval/0", "--limit-test", "always"], "argument --limit-test: invalid choice: 'always'"),
    ],
    ids=["problem", "problem-file", "old-iterations", "steps", "candidates", "patience", "timeout", "memory",
         "momentum", "resamples", "code", "strict", "limit-test"],
)
def test_bad_options_are_named_before_a_run_folder_exists(tmp_path, capsys, options, message):
    runs = tmp_path / "runs"
    try:
        code = main(["run", "code", *options, "--engine", "python:test_code_cli:never_fixes", "--runs-dir", str(runs)])
    except SystemExit as exc:  # argparse refuses an unknown option itself
        code = exc.code
    assert code == 2
    assert message in capsys.readouterr().err
    assert STATE["optimizer_prompts"] == []
    assert not runs.exists()


@pytest.mark.parametrize("limit", [[], ["--limit-test", "start"], ["--limit-test", "off"]],
                         ids=["default", "start", "off"])
def test_initial_code_from_a_file_that_already_passes_costs_no_call_but_the_limit_tests(tmp_path, limit):
    start = tmp_path / "start.py"
    start.write_text(FIXED)
    assert _run(tmp_path, "--code", str(start), *limit, engine="never_fixes") == 0
    summary, report, _ = _outputs(tmp_path)
    # the scripted model answers the limit request with prose: no call, so no limit test either way
    assert summary["stopped_early"] and summary["iterations"] == 1
    off = limit == ["--limit-test", "off"]
    assert summary["usage"]["calls"] == (0 if off else 1)
    assert summary["limit_test"]["call"] is None
    why = "off (--limit-test passing or start turns it on)" if off else "the answer holds no call of trap built from literals"
    assert f"No limit test: {why}" in report
    assert "Verdict: the start code already passes every visible test (visible passed=3" in report
    assert "| best (the start) | 3/3 | 35/35 |" in report and summary["start_hidden_pass_rate"] == 1.0


@pytest.mark.parametrize("when", ["passing", "start"])
def test_code_too_slow_for_the_largest_input_is_not_done_until_a_rewrite_passes_the_limit_test(tmp_path, when):
    start = tmp_path / "slow.py"
    start.write_text(SLOW_DIGITS)
    options = ["run", "code", "--problem", "hard/count-digit-one", "--code", str(start), "--timeout", "1",
               "--steps", "3", "--candidates", "1", "--resamples", "0", "--engine", "python:test_code_cli:stress_tested"]
    by_default = [] if when == "passing" else ["--limit-test", when]
    assert main([*options, *by_default, "--run-dir", str(tmp_path / "run")]) == 0
    summary, report, events = _outputs(tmp_path)
    # the slow start does not return: its call times out, or on a loaded machine its judge is killed first
    (start_status,) = summary["limit_test"]["start"]
    assert start_status in ("timeout", "crashed")
    assert summary["limit_test"] == {"call": "count_digit_one(10**12)", "why": "", "start": [start_status],
                                     "best": ["passed"]}
    assert summary["start_score"] == [3.0, 0.0, 3.0] and summary["best_score"] == [3.0, 1.0, 3.0] and summary["iterations"] == 2
    assert summary["visible_pass_rate"] == 1.0 and summary["start_visible_pass_rate"] == 1.0  # the problem's own
    assert summary["hidden_passed"] and summary["start_hidden_pass_rate"] < 1.0  # the start times out there too
    assert f"`count_digit_one(10**12)`: {start_status} for the start, passed for the best code." in report
    assert "Every visible test and the limit test pass: no update." in report
    assert [e["call"] for e in events if e["kind"] == "limit_test"] == ["count_digit_one(10**12)"]
    review = [m for m in STATE["messages"] if m[0]["content"] == prompts.CODE_LOSS_SYSTEM][0][-1]["content"]
    assert "- Test 4: TIMEOUT: count_digit_one(10**12)" in review or "- Test 4: CRASHED: count_digit_one(10**12)" in review
    assert "Test 4 is the limit test" in review
    request = [m for m in STATE["messages"] if m[0]["content"] == prompts.LIMIT_SYSTEM][0][-1]["content"]
    assert "(0 <= n <= 10**12)" in request

    assert main([*options, "--limit-test", "off", "--run-dir", str(tmp_path / "plain")]) == 0  # the slow code is done
    plain = json.loads((tmp_path / "plain" / "summary.json").read_text())
    assert plain["iterations"] == 1 and plain["usage"]["calls"] == 0 and not plain["hidden_passed"]
    assert plain["limit_test"] == {"call": None, "why": "off (--limit-test passing or start turns it on)",
                                   "start": [], "best": []}


def test_a_run_whose_code_never_passes_the_visible_tests_asks_for_no_limit_test(tmp_path):
    assert _run(tmp_path, "--steps", "2", "--resamples", "0", engine="never_fixes") == 0
    summary, report, events = _outputs(tmp_path)
    assert not [m for m in STATE["messages"] if m[0]["content"] == prompts.LIMIT_SYSTEM]
    assert not (tmp_path / "run" / "limit_test.json").exists() and not [e for e in events if e["kind"] == "limit_test"]
    assert summary["limit_test"]["call"] is None
    assert "No limit test: none was written before the run ended (it is asked for once code passes" in report


def test_humaneval_problem(tmp_path):
    start = tmp_path / "start.py"
    start.write_text("from typing import List\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
                     "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n")
    assert main(["run", "code", "--problem", "HumanEval/0", "--code", str(start),
                 "--engine", "python:test_code_cli:never_fixes", "--run-dir", str(tmp_path / "run")]) == 0
    summary, _, _ = _outputs(tmp_path)
    assert summary["hidden_passed"] and summary["problem"] == "HumanEval/0"



@pytest.mark.slow
@pytest.mark.timeout(1800)  # 13 calls took 929 s (up to 203 s each) on a loaded 2-core machine
def test_a_step_of_the_shared_loop_with_the_light_model(real_cache, tmp_path, monkeypatch):
    from tg_code.refinement import syntax_problem

    monkeypatch.setenv("TG_CACHE_DIR", real_cache)
    start = tmp_path / "start.py"
    start.write_text("from typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) "
                     "-> bool:\n    return False\n")  # passes 1 of the 2 visible tests
    assert main(["run", "code", "--problem", "HumanEval/0", "--code", str(start), "--engine", "local:light",
                 "--steps", "1", "--candidates", "1", "--resamples", "0", "--no-cache", "--run-dir", str(tmp_path / "run")]) == 0
    summary, report, _ = _outputs(tmp_path)
    assert summary["start_score"] == [1.0, 0.0, 2.0] and summary["iterations"] == 1
    assert summary["usage"]["calls"] >= 5  # the judge, three backward calls, at least one optimizer answer
    assert summary["best_score"] >= summary["start_score"]  # whatever the small model wrote, never worse
    loop = json.loads(sorted((tmp_path / "run" / "checkpoints").iterdir())[-1].read_text())["state"]["loop"]
    evaluated = [c["value"] for r in loop["tracks"]["code"]["history"] for c in r["candidates"]]
    assert all(syntax_problem(code) is None for code in evaluated)  # code that does not compile never ran
    assert ("improved from" in report) or ("no improvement over the start" in report) or ("changed without" in report)
    assert "## Hidden tests on the best code" in report
