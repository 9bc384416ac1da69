"""The plugin's registration: light to import, and what it contributes to tg-core."""

import pickle
import subprocess
import sys

import pytest

from tg_core import Variable, get_loss, get_simulator
from tg_core.plugins import get_plugins
from tg_core.testing import plugin_checks
from tg_radiotherapy.planning import Planner


@pytest.mark.parametrize("module", ["tg_radiotherapy", "tg_radiotherapy.plugin", "tg_radiotherapy.task"])
def test_importing_the_package_plugin_and_task_loads_no_heavy_library(module):
    code = f"import sys, {module}; print(sorted(m for m in ('numpy', 'scipy', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_names_load_on_first_use_and_stay():
    import tg_radiotherapy

    assert tg_radiotherapy.parse_weights is tg_radiotherapy.parse_weights
    assert "plan_simulator" in tg_radiotherapy.__all__ and "dvh" in dir(tg_radiotherapy)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        tg_radiotherapy.nope  # noqa: B018


@pytest.mark.parametrize(
    "check",
    [
        pytest.param(c, marks=pytest.mark.slow) if c.name.endswith(":simulator") else c  # plans the 5 mm phantom
        for c in plugin_checks("radiotherapy")
    ],
    ids=lambda c: c.name,
)
def test_conformance(check, tmp_path):
    check(tmp_path)


def test_factories_take_keyword_options():
    simulator = get_simulator("radiotherapy.prostate_plan", grid_mm=8.0)
    copy = pickle.loads(pickle.dumps(simulator))  # the planner pickles without its lock and matrices
    weights = Variable(simulator.examples[0][0], role_description="weights")
    assert copy(weights).data.metrics["PTV"]["D95"] == pytest.approx(70.2)
    assert "rectum D25" in get_loss("radiotherapy.protocol_review").system_prompt.value


def test_contributions_are_registered():
    plugins = get_plugins(reload=True)
    assert "radiotherapy" in plugins.tasks()
    assert "radiotherapy.prostate_plan" in plugins.simulators()
    assert "radiotherapy.protocol_review" in plugins.losses()


def test_the_simulator_turns_weights_text_into_a_report_or_an_error_text():
    make = get_plugins().simulators()["radiotherapy.prostate_plan"]
    simulator = make(planner=Planner(grid_mm=8.0, cache=False))
    weights = Variable(
        "weight for PTV: 1000, weight for bladder: 100, weight for rectum: 100, weight for femoral heads: 100, "
        "weight for body: 100",
        role_description="weights",
    )
    report = simulator(weights)
    assert "Plan for: weight for PTV: 1000" in report.value and "Clinical goals" in report.value
    assert report.data.metrics["PTV"]["D95"] > 70.0
    weights.set_value("weight for PTV: lots")
    failed = simulator(weights)
    assert failed.value.startswith("ERROR in prostate_plan: WeightsError: the weight for PTV is not a number")
    assert "error" in failed.data


def test_the_judge_holds_the_protocol():
    judge = get_plugins().losses()["radiotherapy.protocol_review"]()
    assert "rectum Dmean <= 35% of prescription" in judge.system_prompt.value and "take it as fact" in judge.system_prompt.value


def test_the_simulator_tells_the_backward_engine_its_beams():
    assert "7 coplanar 6 MV beams at gantry angles 0, 51.4286" in get_simulator("radiotherapy.prostate_plan").purpose
    three = get_simulator("radiotherapy.prostate_plan", angles=(0, 120, 240))
    assert "3 coplanar 6 MV beams at gantry angles 0, 120, 240 degrees" in three.purpose
    assert three.fn.__self__.beam_settings.gantry_angles == (0.0, 120.0, 240.0)
