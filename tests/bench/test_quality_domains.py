"""Every domain of bench/quality.py end to end on a scripted server: all four arms, one seed, tiny sizes.

textgrad and GEPA really run (in their own venvs, built on first use), tg-core
really runs ``tg run TASK`` as a subprocess, and the simulators are real
(sandbox, planner, Vina); only the model is scripted.
"""

from __future__ import annotations

import json

import pytest
import quality
import quality_remeasure
from replies import scripted
from scripted_server import ScriptedServer

pytestmark = pytest.mark.slow


def run_bench(tmp_path, reply, *args: str) -> dict:
    output = tmp_path / "result.json"
    with ScriptedServer() as server:
        server.reply = reply
        code = quality.main(["--server", server.base_url, "--seeds", "0", "--output", str(output),
                             "--workdir", str(tmp_path / "work"), *args])
    assert code == 0
    return json.loads(output.read_text())


def check_arms(data: dict, calls_at_least: int = 1) -> dict:
    """Every arm ran without error, paid for its calls, and was measured; the per-arm summary by name."""
    runs = {r["arm"]: r for r in data["runs"]}
    assert list(runs) == ["start", "textgrad", "gepa", "tg-core"]
    for arm, run in runs.items():
        assert [c["error"] for c in run["cases"]] == [None] * len(run["cases"]), arm
        assert run["metrics"] is not None, arm
        if arm != "start":
            assert run["calls"] >= calls_at_least, arm
            assert run["prompt_tokens"] > 0 and run["completion_tokens"] > 0, arm
    # gepa is stopped at textgrad's number of calls (it may finish the iteration it is in), unless perfect first
    for case, textgrad in zip(runs["gepa"]["cases"], runs["textgrad"]["cases"], strict=True):
        assert case["calls"] >= textgrad["calls"] or case["outcome"]["stopped"] == "perfect validation score"
    return runs


def test_text_domain(tmp_path):
    reply = scripted(["Drink a glass of water every morning: it keeps you alert.",
                      "Walk ten minutes after lunch, because it lowers blood sugar."])
    data = run_bench(tmp_path, reply, "--domain", "text", "--steps", "2")
    runs = check_arms(data)
    assert runs["start"]["cases"][0]["outcome"]["value"] == "Drink water. It is good."
    assert runs["textgrad"]["cases"][0]["outcome"]["value"] != "Drink water. It is good."
    for arm, run in runs.items():  # the metric judge is counted apart from the arm, and timed apart
        assert run["cases"][0]["measurement_usage"]["calls"] == 1, arm
        assert 0 < run["cases"][0]["measurement_s"] == run["measurement_s"], arm
        assert run["metrics"]["judge_score"] == 7.0
    assert data["summary"]["tg-core"]["vs_start"] == "same"  # same judge score, limits met by both
    assert data["tg_core"]["checkout"] and data["model"]["served_as"] == "scripted-model"
    timed = sum(r["wall_s"] + r["measurement_s"] for r in data["runs"]) / 60
    assert data["all_arms_minutes"] == pytest.approx(timed) and data["all_arms_minutes"] * 60 < data["wall_s"]
    again = run_bench(tmp_path, reply, "--domain", "text", "--steps", "2", "--arms", "tg-core", "--keep-arms")
    assert [r["arm"] for r in again["runs"]] == ["start", "textgrad", "gepa", "tg-core"]
    assert all(r["kept_from"]["date"] == data["date"] for r in again["runs"][:3])
    assert "kept_from" not in again["runs"][3] and set(again["summary"]) == set(data["summary"])
    budgeted = run_bench(tmp_path, reply, "--domain", "text", "--steps", "2", "--arms", "tg-core", "--keep-arms",
                         "--equal-calls")
    textgrad_calls = budgeted["runs"][1]["cases"][0]["calls"]
    assert budgeted["runs"][3]["cases"][0]["error"] is None and budgeted["runs"][3]["calls"] <= textgrad_calls
    command = (tmp_path / "work" / "seed-0" / "tg-core" / "case-0" / "run" / "bench-command.txt").read_text()
    assert f"--max-calls {textgrad_calls} " in command
    assert budgeted["settings"]["tg_core_budget"].startswith("tg run --max-calls: textgrad's")
    assert budgeted["runs"][3]["cases"][0]["budget_calls"] == textgrad_calls
    # textgrad failed on the first of two steps: per step, tg-core and gepa get its rate for both
    saved = tmp_path / "result.json"
    failed = json.loads(saved.read_text())
    failed["runs"][1]["cases"][0].update(calls=3, error="step 1: IndexError: could not be indexed")
    saved.write_text(json.dumps(failed))
    per_step = run_bench(tmp_path, reply, "--domain", "text", "--steps", "2", "--arms", "gepa,tg-core",
                         "--keep-arms", "--equal-calls", "--budget-per-step")
    assert [r["cases"][0]["budget_calls"] for r in per_step["runs"][2:]] == [6, 6]
    command = (tmp_path / "work" / "seed-0" / "tg-core" / "case-0" / "run" / "bench-command.txt").read_text()
    assert "--max-calls 6 " in command and "per step it began" in per_step["settings"]["gepa_budget"]


def test_code_domain(tmp_path):
    solved = "def max_coins(nums):\n    nums = [1] + nums + [1]\n    n = len(nums)\n" \
             "    dp = [[0] * n for _ in range(n)]\n    for length in range(2, n):\n" \
             "        for i in range(n - length):\n            j = i + length\n" \
             "            dp[i][j] = max(nums[i] * nums[k] * nums[j] + dp[i][k] + dp[k][j] for k in range(i + 1, j))\n" \
             "    return dp[0][n - 1]\n"
    wrong = "```python\ndef max_coins(nums):\n    return sum(nums)\n```"
    data = run_bench(tmp_path, scripted([f"```python\n{solved}```"], default=wrong),
                     "--domain", "code", "--problems", "1", "--steps", "1")
    runs = check_arms(data)
    assert runs["start"]["metrics"]["solved"] == 0.0  # the zero-shot answer is the wrong one
    assert runs["start"]["cases"][0]["usage"]["calls"] == 1
    assert runs["textgrad"]["metrics"]["solved"] == 1.0  # it took the scripted fix
    assert runs["tg-core"]["metrics"]["solved"] == 1.0
    assert data["summary"]["tg-core"]["vs_start"] == "better"
    # a rerun of one arm starts from the kept start's code, not from a zero-shot made again
    again = run_bench(tmp_path, scripted([], default="def max_coins(nums):\n    return 0\n"),
                      "--domain", "code", "--problems", "1", "--steps", "1", "--arms", "tg-core", "--keep-arms")
    initial = tmp_path / "work" / "seed-0" / "tg-core" / "case-0" / "initial.py"
    assert initial.read_text() == runs["start"]["cases"][0]["outcome"]["value"] == again["runs"][0]["cases"][0][
        "outcome"]["value"]


def test_qa_domain(tmp_path):
    reply = scripted(["Count every object of the asked kind, then answer with the number only."], default="4")
    data = run_bench(tmp_path, reply, "--domain", "qa", "--qa-train", "3", "--qa-validation", "4",
                     "--qa-test", "6", "--steps", "1")
    runs = check_arms(data)
    for run in runs.values():
        assert run["metrics"]["test_accuracy"] in {i / 6 for i in range(7)}
    # one distinct prompt is measured once: the arms that ended on the start prompt add no test calls
    measured = [r["cases"][0]["measurement_usage"]["calls"] for r in runs.values()]
    assert measured[0] == 6 and sum(measured) <= 6 * len({r["cases"][0]["outcome"]["value"] for r in runs.values()})


def test_radiotherapy_domain(tmp_path):
    weights = ("weight for PTV: 5000, weight for bladder: 80, weight for rectum: 300, "
               "weight for femoral heads: 80, weight for body: 100")
    data = run_bench(tmp_path, scripted([weights]), "--domain", "radiotherapy", "--rt-grid-mm", "10", "--steps", "1")
    runs = check_arms(data)
    assert runs["textgrad"]["cases"][0]["outcome"]["value"] == weights
    metrics = runs["textgrad"]["cases"][0]["metrics"]
    assert len(metrics["goals_met_per_step"]) == 2  # the start and after step 1
    assert {"ptv_mean_offset", "ptv_d95", "ptv_d98", "ptv_d2", "bladder_d50", "rectum_d50"} <= set(metrics)


def test_a_tg_core_run_that_fails_keeps_the_steps_it_finished(tmp_path, capsys):
    # Every request after step 1's checkpoint is refused: tg run fails in step 2 (as the old
    # radiotherapy loop did when a call outlived its engine's timeout).
    weights = ("weight for PTV: 5000, weight for bladder: 80, weight for rectum: 300, "
               "weight for femoral heads: 80, weight for body: 100")
    checkpoints = tmp_path / "work" / "seed-0" / "tg-core" / "case-0" / "run" / "checkpoints"
    output = tmp_path / "result.json"
    answer = scripted([weights])
    with ScriptedServer() as server:
        def reply(body: dict) -> str:
            if any(checkpoints.glob("step-*.json")) and not server.behaviours:
                server.behaviours.extend(["400"] * 1000)
            return answer(body)

        server.reply = reply
        code = quality.main(["--server", server.base_url, "--seeds", "0", "--output", str(output),
                             "--workdir", str(tmp_path / "work"), "--domain", "radiotherapy", "--rt-grid-mm", "10",
                             "--steps", "2", "--arms", "start,tg-core"])
    assert code == 0
    case = json.loads(output.read_text())["runs"][1]["cases"][0]
    assert "tg run radiotherapy failed" in case["error"] and "metrics" not in case
    assert len(case["finished_steps"]) == 1 and "weight for PTV" in case["finished_steps"][0]["weights"]
    printed = capsys.readouterr().err
    assert "(after 1 finished steps, kept in the result file)" in printed and "400" in printed


def test_molecule_domain(tmp_path):
    # The textgrad arm proposes a thiol (a Brenk alert): valid and new, but never the best.
    data = run_bench(tmp_path, scripted(["Sc1ccccc1O", "Oc1ccc(Cl)cc1", "not a molecule"]), "--domain", "molecule",
                     "--molecule-starts", "phenol", "--molecule-exhaustiveness", "1", "--steps", "1")
    runs = check_arms(data)
    textgrad = runs["textgrad"]["cases"][0]["metrics"]
    assert textgrad["proposals"] >= 1 and textgrad["valid"] >= 1 and textgrad["new"] >= 1
    assert textgrad["alerted"] == 1 and textgrad["best_smiles"] == "Oc1ccccc1"  # the start, not the thiol
    bests = {arm: run["cases"][0]["metrics"]["best_smiles"] for arm, run in runs.items()}
    assert "Oc1ccc(Cl)cc1" in bests.values() and "Sc1ccccc1O" not in bests.values()
    assert runs["start"]["metrics"]["proposals"] == 0
    assert runs["start"]["cases"][0]["metrics"]["final_goals"] == 0  # phenol: QED 0.46, Vina about -4.5
    # Measuring the saved outcomes again (the docking cache answers) gives the same metrics.
    saved = tmp_path / "result.json"
    assert quality_remeasure.main([str(saved)]) == 0
    again = json.loads(saved.read_text())
    assert [r["metrics"] for r in again["runs"]] == [r["metrics"] for r in data["runs"]]
    assert again["summary"] == data["summary"] and again["remeasured"]["commit"]


@pytest.mark.parametrize(("ok", "vina", "qed", "met"), [
    (True, -10.5, 0.7, 2), (True, -10.0, 0.6, 2), (True, -6.35, 0.55, 0), (True, -5.74, 0.68, 1),
    (True, -11.0, 0.3, 1), (False, None, None, 0)])
def test_goals_met_counts_the_goals_every_arm_is_given(ok, vina, qed, met):
    from types import SimpleNamespace

    import quality_molecule

    assert quality_molecule.goals_met(SimpleNamespace(ok=ok, vina=vina, qed=qed)) == met


def test_a_result_without_goals_counted_says_so_instead_of_zero():
    import quality_molecule

    domain = quality_molecule.DOMAIN
    measured = {"best_vina": -6.9, "best_qed": 0.69, "best_sa": 2.1, "proposals": 4, "valid": 3, "new": 2}
    counted = domain.cell(domain.mean_summary([domain.summarize([{**measured, "final_goals": 1}])]))
    assert "returned meets 1.0 of 2 goals" in counted
    older = domain.cell(domain.mean_summary([domain.summarize([measured])]))
    assert "goals of the returned molecule not measured" in older and "meets" not in older


def test_remeasure_refuses_a_result_of_another_domain(tmp_path, capsys):
    other = tmp_path / "quality-text.json"
    other.write_text(json.dumps({"domain": "text", "runs": []}))
    with pytest.raises(SystemExit):
        quality_remeasure.main([str(other)])
    assert "only the molecule domain is remeasured" in capsys.readouterr().err
