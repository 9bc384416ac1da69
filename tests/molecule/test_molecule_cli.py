"""``tg run molecule`` end to end: real docking, a scripted LLM proposing real molecules."""

import csv
import json

import pytest

from tg_core import prompts
from tg_core.cli import main

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
CAFFEINE = "Cn1c(=O)c2c(ncn2C)n(C)c1=O"
PARACETAMOL = "CC(=O)Nc1ccc(O)cc1"
BROKEN = "C1CC(("
ENGINE = "python:test_molecule_cli:chemist"


def chemist(messages, **params):
    """Through the spec python:test_molecule_cli:chemist: aspirin -> a typo -> caffeine -> paracetamol."""
    system, user = messages[0]["content"], messages[-1]["content"]
    if system == prompts.OPTIMIZER_SYSTEM:
        for current, proposal in ((ASPIRIN, BROKEN), (BROKEN, CAFFEINE), (CAFFEINE, PARACETAMOL)):
            if f"<VARIABLE> {current} </VARIABLE>" in user:
                return f"{prompts.IMPROVED_START} {proposal} {prompts.IMPROVED_END}"
        return f"{prompts.IMPROVED_START} {PARACETAMOL} {prompts.IMPROVED_END}"
    if system == prompts.BACKWARD_SYSTEM:
        return "Make the SMILES valid first, then add a basic amine to bind the aspartate of DRD2."
    return "Vina goal missed by about 4 kcal/mol; QED goal missed slightly."


def _csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _events(run_dir, kind):
    records = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    return [r for r in records if r["kind"] == kind]


def _run(tmp_path, *extra):
    return main(["run", "molecule", "--target", "DRD2", "--smiles", ASPIRIN, "--steps", "2",
                 "--exhaustiveness", "1", "--engine", ENGINE, "--run-dir", str(tmp_path / "run"), *extra])


@pytest.mark.slow
def test_tg_run_molecule_keeps_every_molecule_and_turns_a_typo_into_feedback(tmp_path, capsys):
    assert _run(tmp_path) == 0, capsys.readouterr().err
    run_dir = tmp_path / "run"
    rows = _csv(run_dir / "molecules.csv")
    assert [(r["iteration"], r["input_smiles"]) for r in rows] == [("0", ASPIRIN), ("1", BROKEN), ("2", CAFFEINE)]
    assert float(rows[0]["vina"]) < -4 and float(rows[2]["vina"]) < -4
    assert "invalid SMILES" in rows[1]["error"] and rows[1]["vina"] == ""
    # the typo reached the judge as an ERROR report and came back as feedback on the SMILES
    judged = [c for c in _events(run_dir, "llm_call") if "The goals are:" in c["messages"][0]["content"]]
    assert len(judged) == 2
    assert "Vina docking score at most -10 kcal/mol" in judged[0]["messages"][0]["content"]
    assert "Vina docking score: -" in judged[0]["messages"][-1]["content"]
    assert "ERROR: invalid SMILES" in judged[1]["messages"][-1]["content"]
    optimizer_calls = [c for c in _events(run_dir, "llm_call") if c["messages"][0]["content"] == prompts.OPTIMIZER_SYSTEM]
    assert "exactly one valid SMILES" in optimizer_calls[1]["messages"][-1]["content"]
    assert "PAST_ITERATION" in optimizer_calls[1]["messages"][-1]["content"]  # momentum shows aspirin
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["best"]["smiles"] == ASPIRIN and summary["invalid"] == 1
    assert {p["smiles"] for p in summary["pareto_front"]} <= {ASPIRIN, CAFFEINE}
    pareto = _csv(run_dir / "pareto.csv")
    assert [r["smiles"] for r in pareto] == [p["smiles"] for p in summary["pareto_front"]]
    for image in ("molecules.png", "objectives.png"):
        assert (run_dir / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "## Pareto front" in (run_dir / "report.md").read_text()


@pytest.mark.slow
def test_resume_continues_after_the_last_step_with_the_evaluated_history(tmp_path, capsys):
    assert _run(tmp_path, "--executor", "thread") == 0, capsys.readouterr().err
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints" / "step-0002.json").unlink()  # as if killed during step 2
    assert main(["run", "--resume", str(run_dir)]) == 0, capsys.readouterr().err
    rows = _csv(run_dir / "molecules.csv")
    assert [r["input_smiles"] for r in rows] == [ASPIRIN, BROKEN, CAFFEINE]
    assert rows[2]["cached"] == "True"  # docked in the first run
    assert json.loads((run_dir / "summary.json").read_text())["completed_steps"] == 2


@pytest.mark.parametrize("option, value, message", [
    ("--target", "DRD9", "unknown target 'DRD9'"),
    ("--exhaustiveness", "0", "exhaustiveness must be an integer from 1 to 512, got 0"),
    ("--exhaustiveness", "-2", "exhaustiveness must be an integer from 1 to 512, got -2"),
    ("--smiles", "C1CC((", "--smiles 'C1CC((': invalid SMILES"),
    ("--smiles", "CCO.CCN.[Na+].Cc1ccccc1C.Cn1c(=O)c2c(ncn2C)n(C)c1=O.CC(=O)Nc1ccc(O)cc1",
     "mixture of 2 drug-sized molecules"),
    ("--steps", "0", "--steps must be at least 1"),
    ("--qed-goal", "1.5", "QED goal must be between 0 and 1"),
    ("--workers", "0", "--workers must be at least 1, got 0"),
])
def test_bad_options_are_clear_errors_before_any_docking(tmp_path, capsys, option, value, message):
    code = main(["run", "molecule", option, value, "--engine", ENGINE, "--run-dir", str(tmp_path / "run")])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run" / "molecules.csv").exists()
