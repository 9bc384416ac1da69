"""`tg run radiotherapy` end to end through the CLI, with a scripted python: engine."""

import json
import re

import pytest

from tg_core import prompts as core_prompts
from tg_core.cli import main

ENGINE = "python:test_rt_task:reply"
SCRIPT = {"mode": "scale-ptv", "seen": []}
JUDGE_ANSWER = (
    "Evidence: PTV Dmax is above 110% and D98 below 95%. Interpretation: hot spot. Analysis: the PTV "
    "weight is too low relative to the organs. <FINAL> Decision: revise. Reasons: raise the PTV weight. </FINAL>"
)
WEIGHTS = re.compile(r"weight for PTV: ([0-9.e+]+)")
PAPER = (
    "weight for PTV: 100, weight for bladder: 100, weight for rectum: 100, "
    "weight for femoral heads: 100, weight for body: 100"
)


def reply(messages, **params):
    """Judge, feedback and optimizer answers; the optimizer multiplies the PTV weight by ten."""
    SCRIPT["seen"].append(messages)
    if SCRIPT.get("interrupt_at") == len(SCRIPT["seen"]):
        SCRIPT["interrupt_at"] = None
        raise KeyboardInterrupt  # as Ctrl-C in the middle of a step
    system = messages[0]["content"]
    if system == core_prompts.OPTIMIZER_SYSTEM:
        current = messages[1]["content"].split("<VARIABLE>")[1].split("</VARIABLE>")[0]
        if SCRIPT["mode"] == "negative-once":
            SCRIPT["mode"] = "scale-ptv"
            new = current.replace("weight for rectum: 100", "weight for rectum: -5")
        else:
            ptv = float(WEIGHTS.search(current).group(1))
            new = WEIGHTS.sub(f"weight for PTV: {ptv * 10:g}", current).replace("rectum: -5", "rectum: 100")
        return f"Raising the target weight. {core_prompts.IMPROVED_START} {new.strip()} {core_prompts.IMPROVED_END}"
    if system == core_prompts.BACKWARD_SYSTEM:
        return "The PTV weight is too low against the organ weights; raise it tenfold."
    return JUDGE_ANSWER


@pytest.fixture(autouse=True)
def script():
    SCRIPT.update(mode="scale-ptv", seen=[], interrupt_at=None)
    return SCRIPT


def run_folder(tmp_path):
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    return folder


def test_run_stops_when_every_goal_is_met_and_writes_plots_and_tables(tmp_path, capsys, script):
    code = main(["run", "radiotherapy", "--grid-mm", "8", "--steps", "6", "--engine", ENGINE, "--runs-dir", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    folder = run_folder(tmp_path)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["all_goals_met"] is True and summary["steps"] == 3
    assert summary["final_weights"].startswith("weight for PTV: 10000, weight for bladder: 100")
    assert summary["best_step"] == 3 and summary["final_goals_met"] == summary["goals_total"] == 14
    for step in (1, 2, 3):
        files = folder / "steps" / f"step-{step:02d}"
        assert (files / "dvh.png").read_bytes()[:4] == b"\x89PNG"
        assert (files / "dose.png").read_bytes()[:4] == b"\x89PNG"
        assert "| rectum |" in (files / "metrics.md").read_text()
    assert not (folder / "steps" / "step-04").exists()
    assert sorted(p.name for p in (folder / "checkpoints").iterdir()) == ["step-0001.json", "step-0002.json", "step-0003.json"]
    report = (folder / "report.md").read_text()
    assert "| 3 | weight for PTV: 10000" in report and "14/14" in report and "[DVH](steps/step-01/dvh.png)" in report
    # the starting and the final plan compared, in a table with differences and in a plot
    assert "Beams: 7 coplanar 6 MV beams at gantry angles 0, 51.4286, 102.857" in report and summary["beams"] == 7
    comparison = report.split("## Starting plan against final plan")[1]
    assert "![DVH of the starting (dashed) and final (solid) plan](comparison.png)" in comparison
    assert re.search(r"\| PTV Dmax <= 110% of prescription \(77\.2 Gy\) \| [0-9.]+ Gy \| [0-9.]+ Gy \| -[0-9.]+ \| MISSED -> met \|",
                     comparison)
    assert re.search(r"\| rectum \| Dmean \(Gy\) \| [0-9.]+ \| [0-9.]+ \| [+-][0-9.]+ \|", comparison)
    assert (folder / "comparison.png").read_bytes()[:4] == b"\x89PNG"
    # the judge saw the protocol and the DVH table; the optimizer saw clinician examples and momentum
    judge_calls = [m for m in script["seen"] if "Evidence:" in m[0]["content"]]
    assert "rectum D25 <= 58% of prescription" in judge_calls[0][0]["content"] and "DVH table" in judge_calls[0][1]["content"]
    optimizer_calls = [m for m in script["seen"] if m[0]["content"] == core_prompts.OPTIMIZER_SYSTEM]
    assert len(optimizer_calls) == 2 and optimizer_calls[0][1]["content"].count("Clinician plan: weight for PTV") == 3
    assert "PAST_ITERATION" in optimizer_calls[1][1]["content"]


def test_bad_weights_from_the_optimizer_become_feedback_not_a_crash(tmp_path, capsys, script):
    script["mode"] = "negative-once"
    code = main(["run", "radiotherapy", "--grid-mm", "8", "--steps", "3", "--no-examples", "--engine", ENGINE,
                 "--runs-dir", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    folder = run_folder(tmp_path)
    checkpoint = json.loads((folder / "checkpoints" / "step-0002.json").read_text())
    step2 = checkpoint["state"]["history"][1]
    assert "rectum must not be negative" in step2["error"]
    assert not (folder / "steps" / "step-02").exists()  # no plan was computed from the bad weights
    judged = [m[1]["content"] for m in script["seen"] if "Evidence:" in m[0]["content"]]
    assert "ERROR in prostate_plan: WeightsError" in judged[1]
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["steps"] == 3 and summary["final_error"] is None
    assert "error: WeightsError: the weight for rectum must not be negative" in (folder / "report.md").read_text()


def test_an_interrupted_run_resumes_after_its_last_completed_step(tmp_path, capsys, script):
    folder = tmp_path / "run"
    argv = ["run", "radiotherapy", "--grid-mm", "8", "--steps", "2", "--no-examples", "--engine", ENGINE,
            "--run-dir", str(folder)]
    script["interrupt_at"] = 6  # 4 calls per step: interrupted during step 2
    assert main(argv) == 130
    assert "--resume" in capsys.readouterr().err
    assert [p.name for p in (folder / "checkpoints").iterdir()] == ["step-0001.json"]
    first = json.loads((folder / "checkpoints" / "step-0001.json").read_text())
    assert first["variables"]["weights"].startswith("weight for PTV: 1000,")
    assert main(["run", "--resume", str(folder)]) == 0, capsys.readouterr().err
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["steps"] == 2 and summary["final_weights"].startswith("weight for PTV: 10000,")
    history = json.loads((folder / "checkpoints" / "step-0002.json").read_text())["state"]["history"]
    assert [h["weights"][:23] for h in history] == ["weight for PTV: 100, we", "weight for PTV: 1000, w"]


@pytest.mark.parametrize(
    "options,message",
    [
        (["--steps", "0"], "--steps must be at least 1"),
        (["--grid-mm", "0.5"], "--grid-mm must be between 1 and 10"),
        (["--weights", "make it better"], "--weights: no weights found"),
        (["--weights", "weight for PTV: 1, weight for rectum: 1"], "--weights: .*missing: bladder"),
        (["--momentum", "-1"], "--momentum must be >= 0"),
        (["--goals", "/nonexistent/goals.toml"], "--goals: goals file /nonexistent/goals.toml does not exist"),
        (["--angles", "0, ninety"], "--angles '0, ninety': 'ninety' is not a number of degrees"),
        (["--angles", "0, 360"], "--angles '0, 360': 360 is outside 0 to 360 degrees"),
        (["--angles", "-10"], "--angles '-10': -10 is outside"),
        (["--angles", "nan"], "--angles 'nan': nan is outside"),
        (["--angles", "0, 90, 90.0"], "--angles '0, 90, 90.0': 90 given twice"),
        (["--angles", " , "], "--angles ' , ': give at least one gantry angle"),
        (["--angles", ",".join(str(a) for a in range(0, 360, 9))], "40 beams, more than 36"),
        (["--weights", PAPER.replace("rectum: 100", "rectum: 1e-320")], "--weights: .*rectum is 1e-320, below the minimum"),
    ],
)
def test_bad_options_are_clear_errors_before_any_run_folder(tmp_path, capsys, options, message):
    code = main(["run", "radiotherapy", *options, "--engine", ENGINE, "--runs-dir", str(tmp_path)])
    assert code == 2
    assert re.search(message, capsys.readouterr().err)
    assert not any(tmp_path.iterdir())  # validated before the run folder exists


def test_a_goals_file_that_does_not_parse_is_refused_before_any_run_folder(tmp_path, capsys):
    goals = tmp_path / "goals.toml"
    goals.write_text('[protocol]\nprescription_gy = 70.2\n[[goal]]\nstructure = "colon"\n')
    runs = tmp_path / "runs"
    assert main(["run", "radiotherapy", "--goals", str(goals), "--engine", ENGINE, "--runs-dir", str(runs)]) == 2
    assert f"--goals: {goals}: goal 1 lacks metric" in capsys.readouterr().err
    assert not runs.exists()


def test_beams_from_the_command_line(tmp_path, capsys):
    code = main(["run", "radiotherapy", "--grid-mm", "8", "--steps", "1", "--angles", "0, 90, 180, 270", "--no-examples",
                 "--engine", ENGINE, "--runs-dir", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    folder = run_folder(tmp_path)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["beams"] == 4 and summary["gantry_angles"] == [0, 90, 180, 270]
    assert "Beams: 4 coplanar 6 MV beams at gantry angles 0, 90, 180, 270 degrees" in (folder / "report.md").read_text()
