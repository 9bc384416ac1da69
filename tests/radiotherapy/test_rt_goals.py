"""Clinical goals: the protocol file, and the verdict on plans that meet or miss each goal."""

import json

import numpy as np
import pytest

from tg_radiotherapy import dvh
from tg_radiotherapy.goals import ProtocolError, load_protocol
from tg_radiotherapy.phantom import REGIONS, STRUCTURES
from tg_radiotherapy.plan_text import goal_line


@pytest.fixture(scope="module")
def protocol():
    return load_protocol()


VOXEL_CC = 0.125  # 2000 voxels: 250 cc per structure


def metrics_for(protocol, doses_by_structure):
    needed = protocol.metrics_by_structure()
    return {s: {m: dvh.metric(doses_by_structure[s], m, VOXEL_CC) for m in needed.get(s, [])} for s in doses_by_structure}


def linear(a, b, n=2000):
    return a + (np.arange(n) + 0.5) * (b - a) / n


def test_the_builtin_protocol_is_portpys_hypofractionated_set_plus_hot_spot_goals(protocol):
    assert protocol.prescription_gy == 70.2 and "26 fx" in protocol.name
    described = [g.describe(70.2) for g in protocol.goals]
    for text in (
        "PTV D98 >= 95% of prescription (66.7 Gy)", "PTV Dmax <= 110% of prescription (77.2 Gy)",
        "rectum Dmax <= 102% of prescription (71.6 Gy)", "rectum Dmean <= 35% of prescription (24.6 Gy)",
        "rectum D8cc <= 76% of prescription (53.4 Gy)", "rectum D25 <= 58% of prescription (40.7 Gy)",
        "bladder Dmax <= 107% of prescription (75.1 Gy)", "bladder D10 <= 94% of prescription (66.0 Gy)",
        "bladder D50 <= 46% of prescription (32.3 Gy)", "femoral heads Dmax <= 78% of prescription (54.8 Gy)",
        "femoral heads D10cc <= 51% of prescription (35.8 Gy)",
        "outside PTV Dmax <= 105% of prescription (73.7 Gy)", "outside PTV D1cc <= 100% of prescription (70.2 Gy)",
        "ring 20-50 mm Dmax <= 75% of prescription (52.6 Gy)",
    ):
        assert text in described
    assert len(described) == 14
    assert not any(g.metric.startswith("V") for g in protocol.goals)  # no 2 Gy-per-fraction V limits
    sources = {g.source for g in protocol.goals}
    assert "PortPy Prostate_26Fx" in sources


def test_a_plan_that_meets_every_goal(protocol):
    doses = {
        "PTV": linear(68.0, 74.0),
        "rectum": linear(0.0, 45.0),
        "bladder": linear(0.0, 40.0),
        "femoral heads": linear(0.0, 35.0),
        "body": linear(0.0, 30.0),
        "outside PTV": linear(0.0, 70.0),
        "ring 20-50 mm": linear(0.0, 50.0),
    }
    results = protocol.evaluate(metrics_for(protocol, doses))
    assert all(r.met for r in results), [goal_line(r, 70.2) for r in results if not r.met]
    assert all(goal_line(r, 70.2).startswith("- [met]") for r in results)


def test_a_plan_that_misses_every_goal(protocol):
    doses = {
        "PTV": linear(40.0, 90.0),
        "rectum": linear(60.0, 80.0),
        "bladder": linear(70.0, 90.0),
        "femoral heads": linear(45.0, 60.0),
        "body": linear(0.0, 30.0),
        "outside PTV": linear(60.0, 100.0),
        "ring 20-50 mm": linear(50.0, 90.0),
    }
    results = protocol.evaluate(metrics_for(protocol, doses))
    assert not any(r.met for r in results), [goal_line(r, 70.2) for r in results if r.met]
    line = next(goal_line(r, 70.2) for r in results if r.goal.metric == "Dmean" and r.goal.structure == "rectum")
    assert line == "- [MISSED] rectum Dmean <= 35% of prescription (24.6 Gy): 70.0 Gy"


def test_goal_values_and_limits_are_in_metric_units(protocol):
    doses = {s: linear(0.0, 100.0) for s in (*STRUCTURES, *REGIONS)}
    results = {(r.goal.structure, r.goal.metric): r for r in protocol.evaluate(metrics_for(protocol, doses))}
    assert results[("PTV", "Dmax")].limit == pytest.approx(77.22)
    assert results[("rectum", "Dmean")].value == pytest.approx(50.0)
    assert results[("rectum", "D25")].value == pytest.approx(75.0)
    assert results[("rectum", "D8cc")].value == pytest.approx(100 - 100 * 8 / 250, abs=0.06)
    assert results[("rectum", "D25")].as_dict()["unit"] == "Gy"


def write(tmp_path, text, name="goals.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


HEADER = '[protocol]\nname = "mine"\nprescription_gy = 60\n'
GOAL = '[[goal]]\nstructure = "rectum"\nmetric = "V50"\nop = "<"\nlimit = 30\nunit = "%"\n'


def test_users_load_their_own_protocol_as_toml_or_json(tmp_path):
    protocol = load_protocol(write(tmp_path, HEADER + GOAL))
    assert protocol.name == "mine" and protocol.prescription_gy == 60 and len(protocol.goals) == 1
    data = {"protocol": {"prescription_gy": 60}, "goal": [{"structure": "PTV", "metric": "D95", "op": ">=", "limit": 100, "unit": "%Rx"}]}
    protocol = load_protocol(write(tmp_path, json.dumps(data), "goals.json"))
    assert protocol.goals[0].limit_in_metric_units(60) == 60


@pytest.mark.parametrize(
    "text,message",
    [
        (HEADER + GOAL.replace('structure = "rectum"\n', ""), "goal 1 lacks structure"),
        (HEADER + GOAL.replace('"rectum"', '"colon"'), "unknown structure 'colon'.*ring 20-50 mm"),
        (HEADER + GOAL.replace('"V50"', '"D0cc"'), "volume must be positive"),
        (HEADER + GOAL.replace('"V50"', '"V"'), "unknown metric 'V'"),
        (HEADER + GOAL.replace('"<"', '"<<"'), "op must be one of"),
        (HEADER + GOAL.replace('unit = "%"', 'unit = "Gy"'), "unit for V50 must be %"),
        (HEADER + GOAL.replace("limit = 30", 'limit = "thirty"'), "limit must be a finite number"),
        (HEADER + GOAL + 'colour = "red"\n', "unknown fields colour"),
        (HEADER, "no goals"),
        (GOAL, "prescription_gy"),
        (HEADER + "[[goal]\n", "not valid TOML"),
    ],
)
def test_bad_protocol_files_name_the_file_and_goal(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ProtocolError, match=message) as caught:
        load_protocol(path)
    assert str(path) in str(caught.value)


def test_missing_protocol_file(tmp_path):
    with pytest.raises(ProtocolError, match="does not exist"):
        load_protocol(tmp_path / "nope.toml")
