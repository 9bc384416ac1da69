"""The plugin's registration: light to import, and what it contributes to tg-core."""

import subprocess
import sys

from tg_core import Variable
from tg_core.plugins import get_plugins
from tg_radiotherapy.planning import Planner


def test_importing_the_plugin_loads_no_heavy_library():
    code = "import sys, tg_radiotherapy.plugin; print(sorted(m for m in ('numpy', 'scipy', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_contributions_are_registered():
    plugins = get_plugins(reload=True)
    assert "radiotherapy" in plugins.tasks()
    assert "radiotherapy.prostate_plan" in plugins.simulators()
    assert "radiotherapy.protocol_review" in plugins.losses()


def test_the_simulator_turns_weights_text_into_a_report_or_an_error_text():
    make = get_plugins().simulators()["radiotherapy.prostate_plan"]
    simulator = make(Planner(grid_mm=8.0, cache=False))
    weights = Variable(
        "weight for PTV: 1000, weight for bladder: 100, weight for rectum: 100, weight for femoral heads: 100, "
        "weight for body: 100",
        role_description="weights",
    )
    report = simulator(weights)
    assert report.value.startswith("Plan for: weight for PTV: 1000") and "Clinical goals" in report.value
    assert report.data.metrics["PTV"]["D95"] > 70.0
    weights.set_value("weight for PTV: lots")
    failed = simulator(weights)
    assert failed.value.startswith("ERROR in prostate_plan: WeightsError: the weight for PTV is not a number")
    assert "error" in failed.data


def test_the_judge_holds_the_protocol():
    judge = get_plugins().losses()["radiotherapy.protocol_review"]()
    assert "rectum Dmean <= 35% of prescription" in judge.system_prompt.value and "<FINAL>" in judge.system_prompt.value
