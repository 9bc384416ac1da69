"""``tg run molecule`` on the shared loop, through the CLI: real RDKit and Vina, scripted models.

Small molecules and exhaustiveness 1 keep each docking to a second or two.
"""

import csv
import json

import pytest

from tg_core import prompts
from tg_core.cli import main
from tg_molecule.edits import valid_edits

PHENOL = "Oc1ccccc1"
PHENOL_AS_GIVEN = "c1ccccc1O"  # the same molecule written another way
BIPHENYLOL = "Oc1ccc(-c2ccccc2)cc1"  # binds DRD2 better than phenol, QED above 0.6
BROKEN = "C1CC(("


def _optimizer_call(messages):
    return messages[0]["content"] == prompts.OPTIMIZER_SYSTEM


def _answer(smiles):
    return f"{prompts.IMPROVED_START} {smiles} {prompts.IMPROVED_END}"


def _other(messages):
    if messages[0]["content"] == prompts.BACKWARD_SYSTEM:
        return "Grow the molecule: add a second aromatic ring."
    return "The Vina goal is missed; add a ring."


def parrot(messages, **params):
    """python:test_molecule_loop:parrot: always sends back the molecule it was given, written as given."""
    if _optimizer_call(messages):
        return _answer(PHENOL_AS_GIVEN)
    return _other(messages)


def one_better_one_worse(messages, **params):
    """python:test_molecule_loop:one_better_one_worse: from phenol a typo, then (asked again with the
    reason) biphenylol or ethanol by seed; from biphenylol only small alcohols, all worse."""
    if not _optimizer_call(messages):
        return _other(messages)
    seed = params.get("seed", 0)
    if f"<VARIABLE> {PHENOL} </VARIABLE>" in messages[1]["content"]:
        if "could not be used" not in messages[-1]["content"]:
            return _answer(BROKEN)
        return _answer(BIPHENYLOL if seed % 2 == 0 else "CCO")
    return _answer("CO" if seed % 2 == 0 else "CCCO")


def _run(tmp_path, engine, *extra):
    return main(["run", "molecule", "--target", "DRD2", "--smiles", PHENOL_AS_GIVEN, "--exhaustiveness", "1",
                 "--executor", "thread", "--engine", f"python:test_molecule_loop:{engine}",
                 "--run-dir", str(tmp_path / "run"), *extra])


def _outputs(tmp_path):
    run_dir = tmp_path / "run"
    with open(run_dir / "molecules.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return json.loads((run_dir / "summary.json").read_text()), (run_dir / "report.md").read_text(), rows


def _events(tmp_path, kind):
    lines = (tmp_path / "run" / "events.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == kind]


@pytest.mark.slow
def test_a_model_returning_the_input_is_asked_once_per_candidate_and_drawn_edits_are_docked_instead(tmp_path,
                                                                                                      capsys):
    """The embedded model, asked again after handing back the molecule, hands it back again: each such
    answer costs one call, and a drawn edit of the best molecule is docked in its place."""
    assert _run(tmp_path, "parrot", "--steps", "2", "--candidates", "2") == 0, capsys.readouterr().err
    summary, report, rows = _outputs(tmp_path)
    optimizer_calls = [c for c in _events(tmp_path, "llm_call") if _optimizer_call(c["messages"])]
    assert len(optimizer_calls) == 4  # two candidates in each of two steps, none asked again
    counts = summary["parameters"]["molecule 1"]["counts"]
    assert counts["unchanged"] == 4 and counts["resampled"] == 4 and counts["stalled_steps"] == 0
    steps = _events(tmp_path, "loop_step")
    drawn = [c["value"] for e in steps for c in e["candidates"] if c.get("resampled")]
    assert set(drawn[:2]) <= {e.smiles for e in valid_edits(PHENOL)}  # step 1 draws edits of phenol
    assert set(drawn[2:]) <= {e.smiles for e in valid_edits(steps[1]["value"])}  # step 2, of the best
    smiles = [r["smiles"] for r in rows]
    assert PHENOL in smiles and len(set(smiles)) == len(smiles)  # phenol written another way is not docked again
    assert summary["run_metrics"]["novelty"] > 0 and "(resampled)" in report


@pytest.mark.slow
def test_an_invalid_smiles_is_asked_again_with_rdkits_reason_costs_no_docking_and_worse_never_wins(tmp_path, capsys):
    assert _run(tmp_path, "one_better_one_worse", "--steps", "2", "--candidates", "2") == 0, capsys.readouterr().err
    summary, report, rows = _outputs(tmp_path)
    reasks = [c["messages"][-1]["content"] for c in _events(tmp_path, "llm_call")
              if _optimizer_call(c["messages"]) and len(c["messages"]) > 2]
    assert reasks and all(f"invalid SMILES '{BROKEN}': RDKit cannot parse it" in m for m in reasks)
    docked = {s for e in _events(tmp_path, "simulator") for s in e["inputs"]}
    assert BROKEN not in docked and docked == {PHENOL, BIPHENYLOL, "CCO", "CO", "CCCO"}
    broken = [r for r in rows if r["input_smiles"] == BROKEN]
    assert broken and all(r["vina"] == "" and "invalid SMILES" in r["error"] for r in broken)
    track = summary["parameters"]["molecule 1"]
    assert track["best_value"] == BIPHENYLOL and track["best_step"] == 1  # step 2's two worse ones were not kept
    assert [s["best_score"] for s in track["score_per_step"]][0] == [s["best_score"] for s in
                                                                    track["score_per_step"]][1]
    assert summary["best_per_start"][0]["vina"] < summary["best_per_start"][0]["start_vina"]
    assert summary["run_metrics"]["validity"] < 1 and summary["run_metrics"]["novelty"] == 1.0
    assert {p["smiles"] for p in summary["pareto_front"]} == {BIPHENYLOL}
    assert "## Progress" in report and "[score.svg](score.svg)" in report and "## Run metrics" in report
    assert (tmp_path / "run" / "score.svg").read_text().startswith("<svg")
    menu = [c["messages"][1]["content"] for c in _events(tmp_path, "llm_call") if _optimizer_call(c["messages"])]
    assert all("checked by the program" in m for m in menu)  # every optimizer call had the menu of edits
    step2 = [m for m in menu if f"<VARIABLE> {BIPHENYLOL} </VARIABLE>" in m]
    listed = [line for line in step2[0].splitlines() if line.startswith("<EVALUATED>")]
    assert listed[-1].startswith(f"<EVALUATED> {BIPHENYLOL} </EVALUATED> measured: ")  # the best comes last
    assert f"<EVALUATED> {PHENOL} </EVALUATED>" in step2[0] and "Vina score on DRD2 (kcal/mol) -" in listed[-1]


def test_max_calls_ends_the_run_with_the_best_molecule_of_the_steps_before(tmp_path, capsys):
    """Paced to one candidate a step (8 calls for 3 steps). Step 1 answers a typo, then ethanol (worse);
    step 2 the typo, then ethanol again: a repeat is not asked again, a drawn edit of phenol is docked
    in its place and kept. Step 3 cannot be paid for."""
    code = _run(tmp_path, "one_better_one_worse", "--steps", "3", "--max-calls", "8")
    assert code == 0, capsys.readouterr().err
    summary, report, _ = _outputs(tmp_path)
    assert summary["completed_steps"] == 2 and summary["usage"]["calls"] == 8
    assert summary["stopped"].startswith("out of budget in step 3 (budget of 8 LLM calls reached")
    (step2,) = [e for e in _events(tmp_path, "loop_step") if e["step"] == 2]
    assert [r["kind"] for r in step2["rejections"]] == ["constraint", "tried"]
    (drawn,) = step2["candidates"]
    assert drawn["resampled"] and drawn["accepted"] and drawn["value"] in {e.smiles for e in valid_edits(PHENOL)}
    assert summary["best_per_start"][0]["best"] == drawn["value"]  # step 2's find is kept
    assert summary["best_per_start"][0]["vina"] < summary["best_per_start"][0]["start_vina"]
    assert "out of budget in step 3" in report and "(resampled) (kept)" in report


@pytest.mark.slow
def test_resume_in_the_middle_continues_from_the_best_molecule(tmp_path, capsys):
    assert _run(tmp_path, "one_better_one_worse", "--steps", "2", "--candidates", "2") == 0, capsys.readouterr().err
    first, _, rows = _outputs(tmp_path)
    (tmp_path / "run" / "checkpoints" / "step-0002.json").unlink()  # as if killed during step 2
    assert main(["run", "--resume", str(tmp_path / "run")]) == 0, capsys.readouterr().err
    again, _, rows_again = _outputs(tmp_path)
    assert again["completed_steps"] == 2
    assert [r["smiles"] for r in rows_again] == [r["smiles"] for r in rows]
    assert again["parameters"] == first["parameters"]
    assert all(r["cached"] == "True" for r in rows_again if r["iteration"] == "2")  # docked in the first run


def test_loop_options_are_checked_before_any_run_folder(tmp_path, capsys):
    for option, value, message in (("--candidates", "0", "--candidates must be at least 1, got 0"),
                                   ("--patience", "0", "--patience must be at least 1, got 0"),
                                   ("--edits", "-1", "--edits must be at least 0, got -1"),
                                   ("--smiles", "Oc1ccccc1", "--smiles: the same molecule is given twice")):
        code = main(["run", "molecule", "--smiles", PHENOL_AS_GIVEN, option, value, "--engine",
                     "python:test_molecule_loop:parrot", "--run-dir", str(tmp_path / "run")])
        assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()



@pytest.mark.slow
@pytest.mark.timeout(3600)  # one step took 1531 s on a loaded 2-core machine (calls of 200-300 s each)
def test_a_step_with_the_light_model(real_cache, tmp_path, monkeypatch):
    from tg_molecule.chemistry import parse_molecule
    from tg_molecule.goals import GoalSet

    monkeypatch.setenv("TG_CACHE_DIR", real_cache)
    assert main(["run", "molecule", "--smiles", PHENOL, "--steps", "1", "--candidates", "2", "--exhaustiveness", "1",
                 "--executor", "thread", "--engine", "local:light", "--no-cache",
                 "--run-dir", str(tmp_path / "run")]) == 0
    summary, report, rows = _outputs(tmp_path)
    track = summary["parameters"]["molecule 1"]
    assert track["best_score"] >= track["start_score"]  # whatever the small model wrote, never worse
    filters = GoalSet().filters()
    for row in rows:
        if row["vina"]:  # every molecule docked was valid and passed the filters
            assert filters.check(parse_molecule(row["smiles"]).smiles) is None or row["smiles"] == PHENOL
    assert ("improved from" in report) or ("no improvement over the start" in report) or ("changed without" in report)
