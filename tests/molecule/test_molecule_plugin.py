"""tg_molecule passes tg_core's plugin conformance checks (the simulator's one docks for real)."""

import pytest

from tg_core.testing import plugin_checks

CHECKS = [pytest.param(c, id=c.name, marks=[pytest.mark.slow] if c.name.endswith(":simulator") else [])
          for c in plugin_checks("molecule")]


def test_every_check_is_there():
    assert {c.values[0].name for c in CHECKS} == {
        "molecule:hooks", "molecule.docking:simulator", "molecule.docking:executor-and-pickle",
        "molecule.goals:loss", "molecule:task-options",
    }


@pytest.mark.parametrize("check", CHECKS)
def test_conformance(check, tmp_path):
    check(tmp_path)
