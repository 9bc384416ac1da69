"""tg_qa against the plugin contract: the conformance suite, and a public API that loads lazily."""

import subprocess
import sys

import pytest

from tg_core.testing import plugin_checks


@pytest.mark.parametrize("check", plugin_checks("qa"), ids=lambda check: check.name)
def test_conformance(check, tmp_path):
    check(tmp_path)


def test_the_suite_covers_every_loss_and_task():
    names = {check.name for check in plugin_checks("qa")}
    assert {"qa.exact_match:loss", "qa.multiple_choice:loss", "qa.llm_judge:loss", "qa.string_function:loss",
            "qa:task-options", "qa-solution:task-options"} <= names


def test_importing_tg_qa_loads_no_module_until_a_name_is_used():
    probe = (
        "import sys, tg_qa\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('tg_qa.'))\n"
        "assert loaded == [], loaded\n"
        "assert 'matplotlib' not in sys.modules\n"
        "trainer = tg_qa.PromptTrainer\n"
        "assert 'tg_qa.trainer' in sys.modules and vars(tg_qa)['PromptTrainer'] is trainer\n"
        "assert tg_qa.datasets.object_counting(seed=0).sizes() == (50, 100, 100)\n"
        "assert set(tg_qa.__all__) <= set(dir(tg_qa))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
