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
    """Through the spec python:test_molecule_cli:chemist: aspirin -> a typo -> caffeine -> paracetamol.

    The loop itself (typos asked again, stalls, resume) is tested in test_molecule_loop.py.
    """
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


@pytest.mark.parametrize("option, value, message", [
    ("--target", "DRD9", "--target 'DRD9': unknown target 'DRD9'"),
    ("--anti-target", "XYZ", "--anti-target 'XYZ': unknown target 'XYZ'"),
    ("--anti-target", "drd2", "--anti-target DRD2: it is also a target"),
    ("--exhaustiveness", "0", "--exhaustiveness: exhaustiveness must be an integer from 1 to 512, got 0"),
    ("--exhaustiveness", "-2", "exhaustiveness must be an integer from 1 to 512, got -2"),
    ("--max-rotatable-bonds", "-1", "--max-rotatable-bonds: max_rotatable_bonds must be an integer >= 0"),
    ("--timeout", "0", "--timeout: timeout_s must be a number of seconds > 0"),
    ("--smiles", "C1CC((", "--smiles 'C1CC((': invalid SMILES"),
    ("--smiles", "CC(=O)Oc1ccccc1C(=O)O.CN1C(=O)CN=C(c2ccccc2)c2cc(Cl)ccc21", "mixture of 2 drug-sized molecules"),
    ("--qed-goal", "1.5", "--qed-goal 1.5: the goal must be from 0 to 1"),
    ("--similarity-min", "1.2", "--similarity-min 1.2: the goal must be from 0 to 1"),
    ("--selectivity", "50", "--selectivity 50: the goal must be from -30 to 30"),
    ("--mw", "500:200", "--mw '500:200': the window's minimum 500 is above its maximum 200"),
    ("--mw", "heavy", "--mw 'heavy': give a range as MIN:MAX"),
    ("--logp", "x:3", "--logp 'x:3': could not convert"),
    ("--goals", "/no/such/goals.toml", "--goals: goal file /no/such/goals.toml: cannot read it"),
    ("--workers", "0", "--workers must be at least 1, got 0"),
])
def test_bad_options_are_clear_errors_before_any_run_folder(tmp_path, capsys, option, value, message):
    code = main(["run", "molecule", option, value, "--engine", ENGINE, "--run-dir", str(tmp_path / "run")])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_bad_goal_file_and_a_lonely_all_are_refused_naming_the_option(tmp_path, capsys):
    goals = tmp_path / "goals.toml"
    goals.write_text('qed = 0.5\npotency = 3\n')
    assert main(["run", "molecule", "--goals", str(goals), "--run-dir", str(tmp_path / "run")]) == 2
    assert f"--goals: goal file {goals}: unknown key(s) potency" in capsys.readouterr().err
    goals.write_text('anti_target = "DRD3"\n[windows]\nmw = [100, 50]\n')
    assert main(["run", "molecule", "--goals", str(goals), "--run-dir", str(tmp_path / "run")]) == 2
    assert "windows.mw: the window's minimum 100 is above its maximum 50" in capsys.readouterr().err
    assert main(["run", "molecule", "--target", "all", "--target", "DRD2", "--run-dir", str(tmp_path / "run")]) == 2
    assert "--target all: give it alone" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


AZO_PHENOL = "Oc1ccc(N=Nc2ccccc2)cc1"  # a PAINS azo dye


def medicinal_chemist(messages, **params):
    """Through python:test_molecule_cli:medicinal_chemist: aspirin -> an azo dye -> caffeine."""
    system, user = messages[0]["content"], messages[-1]["content"]
    if system == prompts.OPTIMIZER_SYSTEM:  # asked again after the azo dye: caffeine
        proposal = AZO_PHENOL if f"<VARIABLE> {ASPIRIN} </VARIABLE>" in user else CAFFEINE
        return f"{prompts.IMPROVED_START} {proposal} {prompts.IMPROVED_END}"
    if system == prompts.BACKWARD_SYSTEM:
        return "Drop the azo group; keep the molecule small."
    return "Selectivity missed; QED close."


@pytest.mark.slow
def test_goals_filters_and_poses_end_to_end(tmp_path, capsys):
    from rdkit import Chem

    run_dir = tmp_path / "run"
    code = main(["run", "molecule", "--smiles", ASPIRIN, "--anti-target", "DRD3", "--similarity-min", "0.05",
                 "--mw", "100:400", "--steps", "1", "--candidates", "1", "--exhaustiveness", "1", "--executor", "thread",
                 "--engine", "python:test_molecule_cli:medicinal_chemist", "--run-dir", str(run_dir)])
    assert code == 0, capsys.readouterr().err
    rows = _csv(run_dir / "molecules.csv")
    assert [r["input_smiles"] for r in rows] == [ASPIRIN, CAFFEINE, AZO_PHENOL]  # start, candidate, refused
    start, caffeine, azo = rows
    assert azo["rejection_kinds"] == "PAINS alert azo_A(324); BRENK alert diazo_group" and azo["vina"] == ""
    assert caffeine["vina_by_target"].startswith("DRD2 -") and "; DRD3 -" in caffeine["vina_by_target"]
    judged = [c["messages"][-1]["content"] for c in _events(run_dir, "llm_call")
              if "The goals are:" in c["messages"][0]["content"]]
    assert "| selectivity: Vina on DRD2 minus Vina on DRD3 (kcal/mol) |" in judged[0]
    reasks = [c["messages"][-1]["content"] for c in _events(run_dir, "llm_call") if len(c["messages"]) > 2
              and c["messages"][0]["content"] == prompts.OPTIMIZER_SYSTEM]
    assert len(reasks) == 1 and "refused before docking: structural PAINS alert azo_A(324)" in reasks[0]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["rejections"] == {"PAINS alert azo_A(324)": 1, "BRENK alert diazo_group": 1}
    assert summary["best"]["smiles"] in (ASPIRIN, CAFFEINE)
    # the pose file opens in RDKit and carries the score the run reported for that molecule
    records = list(Chem.SDMolSupplier(str(run_dir / "poses.sdf"), removeHs=False))
    by_key = {(m.GetProp("_Name"), m.GetProp("target")): m for m in records}
    assert set(by_key) == {(ASPIRIN, "DRD2"), (ASPIRIN, "DRD3"), (CAFFEINE, "DRD2"), (CAFFEINE, "DRD3")}
    assert float(by_key[(CAFFEINE, "DRD2")].GetProp("vina")) == float(caffeine["vina"])
    assert by_key[(CAFFEINE, "DRD3")].GetProp("role") == "anti-target"
    assert len(summary["poses"]["pdbqt"]) == 4 and all((run_dir / p).is_file() for p in summary["poses"]["pdbqt"])
    text = (run_dir / "report.md").read_text()
    assert "[poses.sdf](poses.sdf)" in text and "## Refused before docking, per reason" in text
    assert "| PAINS alert azo_A(324) | 1 |" in text and "Goals met (computed by the program)" in text


@pytest.mark.slow
def test_a_run_per_target_writes_one_table_across_targets_and_releases_each_targets_processes(tmp_path, capsys):
    import tg_molecule
    from tg_molecule.docking_client import children

    tg_molecule.release_targets()
    run_dir = tmp_path / "run"
    code = main(["run", "molecule", "--target", "DRD2", "--target", "DRD3", "--per-target", "--smiles", CAFFEINE,
                 "--steps", "1", "--candidates", "1", "--exhaustiveness", "1", "--executor", "thread", "--engine", ENGINE,
                 "--run-dir", str(run_dir)])
    assert code == 0, capsys.readouterr().err
    assert children.live() == 0  # each target's docking processes stopped when it was done
    table = _csv(run_dir / "targets.csv")
    assert [t["targets"] for t in table] == ["DRD2", "DRD3"]
    rows = _csv(run_dir / "molecules.csv")
    assert {(r["targets"], r["iteration"]) for r in rows} == {("DRD2", "0"), ("DRD2", "1"), ("DRD3", "0"), ("DRD3", "1")}
    assert all(float(t["vina"]) < -4 for t in table)
    assert "## Across targets" in (run_dir / "report.md").read_text()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["per_target"] and [t["targets"] for t in summary["across_targets"]] == ["DRD2", "DRD3"]


@pytest.mark.slow
def test_a_call_budget_per_target_leaves_the_later_targets_their_share(tmp_path, capsys):
    run_dir = tmp_path / "run"
    code = main(["run", "molecule", "--target", "DRD2", "--target", "DRD3", "--per-target", "--smiles", CAFFEINE,
                 "--steps", "1", "--exhaustiveness", "1", "--executor", "thread", "--engine", ENGINE,
                 "--max-calls", "12", "--run-dir", str(run_dir)])
    assert code == 0, capsys.readouterr().err
    # paced to one candidate each, both targets take their step in 12 calls; paced as if DRD2 were alone,
    # its four candidates (each answer asked again) spent the budget and DRD3 never started
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["stopped"] == "DRD2: ran every step; DRD3: ran every step" and summary["usage"]["calls"] <= 12
    rows = _csv(run_dir / "molecules.csv")
    assert {(r["targets"], r["iteration"]) for r in rows} == {("DRD2", "0"), ("DRD2", "1"), ("DRD3", "0"), ("DRD3", "1")}
    assert [e["candidates"] for e in _events(run_dir, "pace")] == [1, 1]


def test_target_all_plans_one_optimization_per_dockstring_target():
    import argparse

    from tg_molecule.task import add_arguments, plan

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    chosen = plan(parser.parse_args(["--target", "all", "--anti-target", "DRD3"]))
    assert len(chosen.target_sets) == 57  # every target but the anti-target
    assert all(len(g.targets) == 1 and g.anti_target == "DRD3" for g in chosen.target_sets)
    joint = plan(parser.parse_args(["--target", "DRD2", "--target", "drd3"]))
    assert [g.targets for g in joint.target_sets] == [("DRD2", "DRD3")]
