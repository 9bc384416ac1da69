"""Goals, filters and candidate ranking: computed by the program, before and after docking."""

import pytest

from tg_molecule import scoring
from tg_molecule.candidates import NOT_RANKED, evaluate_candidates
from tg_molecule.filters import Filters, Window, parse_range
from tg_molecule.goals import GoalSet, goals_table, read_goal_file

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
CAFFEINE = "Cn1c(=O)c2c(ncn2C)n(C)c1=O"
AZO_PHENOL = "Oc1ccc(N=Nc2ccccc2)cc1"  # a PAINS azo dye
BIG_RING = "C1CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC1"  # Vina loves it: -11 kcal/mol on DRD2
VALUES = {"qed": 0.55, "sa": 2.4, "mw": 180.16, "logp": 1.31, "tpsa": 63.6, "hbd": 1, "hba": 3,
          "rotatable_bonds": 2}


def test_each_goal_is_computed_with_value_threshold_and_status():
    goals = GoalSet(targets=("DRD2",), vina=-9.0, anti_target="DRD3", selectivity=-1.0, qed=0.5, sa=3.0,
                    similarity_min=0.4, windows={"mw": Window(200, 500), "hbd": Window(high=5)})
    statuses = goals.statuses({"DRD2": -8.0, "DRD3": -7.5}, VALUES, similarity=0.45)
    table = goals_table(statuses)
    assert table == "\n".join([
        "| goal | value | threshold | status |",
        "|---|---|---|---|",
        "| Vina score on DRD2 (kcal/mol) | -8.00 | at most -9 | missed by 1.00 |",
        "| selectivity: Vina on DRD2 minus Vina on DRD3 (kcal/mol) | -0.50 | at most -1 | missed by 0.50 |",
        "| QED | 0.550 | at least 0.5 | met |",
        "| SA score | 2.40 | at most 3 | met |",
        "| similarity to the starting molecule | 0.45 | at least 0.4 | met |",
        "| molecular weight | 180.16 | 200 to 500 | missed by 19.84 |",
        "| H-bond donors | 1.00 | at most 5 | met |",
        "",
        "Goals met (computed by the program): 4 of 7.",
    ])
    assert goals_table(goals.statuses({"DRD2": -8.0, "DRD3": -7.5}, VALUES, similarity=0.45)) == table
    # a failed docking is a missed goal with no value, never a crash
    failed = goals.statuses({"DRD2": None, "DRD3": -7.5}, VALUES, similarity=0.45)
    assert [s.status_text() for s in failed[:2]] == ["missed (no value)", "missed (no value)"]


def test_score_ranks_goals_met_first_then_the_weighted_objective():
    goals = GoalSet(vina=-9.0, qed=0.5)
    strong_binder_low_qed = goals.score(goals.statuses({"DRD2": -12.0}, {**VALUES, "qed": 0.3}))
    both_met = goals.score(goals.statuses({"DRD2": -9.5}, VALUES))
    both_met_stronger = goals.score(goals.statuses({"DRD2": -10.5}, VALUES))
    assert strong_binder_low_qed[0] == 1 and both_met[0] == 2
    assert both_met_stronger > both_met > strong_binder_low_qed
    assert both_met > NOT_RANKED
    # QED beyond its goal counts at most one unit (0.1): it cannot buy a weaker binder
    very_drug_like = goals.score(goals.statuses({"DRD2": -9.5}, {**VALUES, "qed": 0.95}))
    assert very_drug_like < both_met_stronger
    heavier_vina = GoalSet(vina=-9.0, qed=0.5, weights={"vina": 3.0})
    assert heavier_vina.score(heavier_vina.statuses({"DRD2": -10.5}, VALUES))[1] == pytest.approx(4.5 + 0.5)


@pytest.mark.parametrize("options, message", [
    ({"targets": ("DRD9",)}, "unknown target 'DRD9'"),
    ({"targets": ()}, "at least one target"),
    ({"anti_target": "drd2"}, "the anti-target DRD2 is also a target"),
    ({"qed": 1.5}, "the qed goal must be a number from 0 to 1, got 1.5"),
    ({"sa": 0}, "the sa goal must be a number from 1 to 10"),
    ({"similarity_min": -0.1}, "the similarity_min goal"),
    ({"windows": {"charge": Window(0, 1)}}, "unknown property window(s) charge"),
    ({"alerts": ("PAINS", "NOPE")}, "unknown alert catalog 'NOPE'"),
    ({"weights": {"potency": 2}}, "unknown weight 'potency'"),
    ({"weights": {"vina": -1}}, "the weight vina goal must be a number from 0"),
])
def test_bad_goals_are_clear_errors(options, message):
    with pytest.raises(ValueError) as info:
        GoalSet(**options)
    assert message in str(info.value)


def test_filters_refuse_alerts_and_windows_with_a_reason_and_pass_clean_molecules():
    check = Filters(windows={"mw": Window(150, 400)}).check
    assert check(CAFFEINE) is None
    assert check(AZO_PHENOL) == (f"{AZO_PHENOL} is refused before docking: structural PAINS alert azo_A(324); "
                                 "structural BRENK alert diazo_group")
    assert "molecular weight 448.86 is outside the window 150 to 400" in check(BIG_RING)
    assert check(ASPIRIN) == f"{ASPIRIN} is refused before docking: structural BRENK alert phenol_ester"
    assert Filters(alerts=("PAINS",)).check(ASPIRIN) is None
    assert "invalid SMILES" in check("C1CC((")


def test_filters_are_a_checked_optimizer_constraint():
    import tg_core

    constraint = GoalSet(windows={"mw": Window(150, 400)}).filters().constraint()
    assert constraint.description == ("The molecule must not contain a PAINS or BRENK structural alert. Its "
                                      "properties must lie in these windows: molecular weight 150 to 400.")
    assert "azo_A(324)" in constraint.violation(AZO_PHENOL)
    assert constraint.violation(CAFFEINE) is None
    tg_core.TGD([tg_core.Variable(CAFFEINE, role_description="SMILES")], constraints=[constraint],
                engine=tg_core.FunctionEngine(lambda messages, **params: ""))


@pytest.mark.parametrize("text, expected", [("200:500", Window(200, 500)), ("200:", Window(200)),
                                            (":5", Window(high=5)), (" -1.5 : 3 ", Window(-1.5, 3))])
def test_ranges_parse(text, expected):
    assert parse_range(text, "--mw") == expected


@pytest.mark.parametrize("text, message", [
    ("500", "--mw '500': give a range as MIN:MAX"),
    ("500:200", "--mw '500:200': the window's minimum 500 is above its maximum 200"),
    ("a:b", "--mw 'a:b': could not convert"),
    (":", "--mw ':': a window needs a minimum, a maximum or both"),
    ("nan:1", "--mw 'nan:1': a window end must be a finite number"),
])
def test_bad_ranges_name_the_option(text, message):
    with pytest.raises(ValueError) as info:
        parse_range(text, "--mw")
    assert message in str(info.value)


def test_goal_file_sets_every_goal(tmp_path):
    path = tmp_path / "goals.toml"
    path.write_text('targets = ["drd2", "DRD3"]\nanti_target = "ADRB2"\nvina = -9.5\nsa = 4\n'
                    'similarity_min = 0.3\nalerts = ["PAINS"]\n[windows]\nmw = [200, 500]\ntpsa = {max = 120}\n'
                    '[weights]\nvina = 2.0\n')
    goals = GoalSet(**read_goal_file(path))
    assert goals.targets == ("DRD2", "DRD3") and goals.anti_target == "ADRB2"
    assert (goals.vina, goals.sa, goals.similarity_min, goals.alerts) == (-9.5, 4, 0.3, ("PAINS",))
    assert goals.windows == {"mw": Window(200, 500), "tpsa": Window(high=120)}
    assert goals.weights == {"vina": 2.0}


@pytest.mark.parametrize("content, message", [
    ("vina = ", "not valid TOML"),
    ("potency = 3", "unknown key(s) potency"),
    ("[windows]\nmw = [500]", "windows.mw: give [MIN, MAX]"),
    ("[windows]\nmw = [500, 100]", "windows.mw: the window's minimum 500 is above its maximum 100"),
    ("windows = 3", "[windows] must be a table"),
])
def test_bad_goal_files_name_the_file_and_key(tmp_path, content, message):
    path = tmp_path / "goals.toml"
    path.write_text(content)
    with pytest.raises(ValueError) as info:
        read_goal_file(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_a_missing_goal_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="cannot read it"):
        read_goal_file(tmp_path / "nope.toml")


def test_invalid_and_refused_candidates_cost_no_docking(monkeypatch):
    def no_docking(*args, **kwargs):
        raise AssertionError("a refused or invalid candidate was docked")

    monkeypatch.setattr(scoring, "dock_outcome", no_docking)
    goals = GoalSet(windows={"mw": Window(150, 400)})
    invalid, azo, ring = evaluate_candidates(["C1CC((", AZO_PHENOL, BIG_RING], goals, reference=ASPIRIN)
    assert "invalid SMILES" in invalid.error and invalid.score == NOT_RANKED
    assert azo.rejection_kinds == ["PAINS alert azo_A(324)", "BRENK alert diazo_group"]
    assert ring.rejection_kinds == ["molecular weight outside 150 to 400"]
    assert "REJECTED: " in ring.to_text() and "MW 448.9" in ring.to_text()
    assert azo.similarity == pytest.approx(0.2, abs=0.05) and not azo.results and azo.score == NOT_RANKED


@pytest.mark.slow
def test_a_candidate_docked_on_target_and_anti_target_gets_every_goal_computed():
    goals = GoalSet(targets=("DRD2",), vina=-5.0, anti_target="DRD3", selectivity=0.5, qed=0.3,
                    similarity_min=0.05, windows={"mw": Window(100, 300)})
    start, caffeine = evaluate_candidates([ASPIRIN, CAFFEINE], goals, reference=ASPIRIN, exempt=[ASPIRIN],
                                          settings=scoring.DockingSettings(exhaustiveness=1))
    assert start.docked and "starting molecule, docked although" in start.notes[0]  # its Brenk alert
    assert start.similarity == 1.0
    assert caffeine.docked
    drd2, drd3 = caffeine.vina("DRD2"), caffeine.vina("DRD3")
    selectivity = next(g for g in caffeine.goals if g.kind == "selectivity")
    assert selectivity.value == pytest.approx(drd2 - drd3)
    assert [g.kind for g in caffeine.goals] == ["vina", "selectivity", "qed", "similarity", "windows"]
    assert caffeine.score == goals.score(caffeine.goals) and caffeine.score[0] == sum(g.met for g in caffeine.goals)
    text = caffeine.to_text()
    assert "Vina docking score on DRD3 (the anti-target" in text and goals_table(caffeine.goals) in text
    assert caffeine.results["DRD2"].pose is not None
