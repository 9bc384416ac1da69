"""Conformance checks every tg-core plugin passes (as scikit-learn's ``check_estimator``).

A plugin author runs them on their own plugin, in their test suite::

    import pytest
    from tg_core.testing import plugin_checks

    @pytest.mark.parametrize("check", plugin_checks("myplugin"), ids=lambda c: c.name)
    def test_conformance(check, tmp_path):
        check(tmp_path)

or all at once with ``check_plugin("myplugin", tmp_path)``. What is checked: the
plugin is registered and its hooks answer; its names are namespaced
``plugin.name``; each simulator builds from keyword defaults (and with
``executor=``), runs its first example, turns garbage input into feedback text
rather than an exception, gives the same output twice, and pickles without its
executor; each loss builds from defaults; each task's ``--help`` works and bad
options (``--steps`` below its minimum, an unknown option) are refused before a
run folder exists.
"""

from __future__ import annotations

import contextlib
import io
import pickle
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .function import Function
from .plugins import CONTRIBUTION_HOOKS, CORE, SINGULAR, PluginRecord, get_plugins
from .simulator import SimulatorFunction
from .variable import Variable

GARBAGE = "\x00((( not a valid input ### \u2028 ]]"


@dataclass(frozen=True)
class Check:
    """One named conformance check; call it with a scratch folder."""

    name: str
    run: Callable[[Path], None]

    def __call__(self, tmp_path: Path) -> None:
        self.run(Path(tmp_path))


def _record(plugin: str) -> PluginRecord:
    record = get_plugins().records.get(plugin)
    assert record is not None, f"plugin {plugin!r} is not registered (entry-point group tg_core)"
    assert record.error is None, f"plugin {plugin!r} is broken: {record.error}"
    assert not record.missing, f"plugin {plugin!r} misses {record.missing}: {record.install_hint}"
    return record


def _check_hooks(plugin: str) -> None:
    record = _record(plugin)
    assert record.description, f"plugin {plugin!r}: tg_plugin_info gives no description"
    if plugin == CORE:
        return
    for kind in ("simulators", "losses"):
        for name in record.contributions.get(kind, []):
            assert name.startswith(f"{plugin}."), (
                f"plugin {plugin!r}: {SINGULAR[kind]} {name!r} is not namespaced '{plugin}.NAME'"
            )


def _factory(kind: str, name: str) -> Callable[..., Any]:
    return get_plugins()._merged(CONTRIBUTION_HOOKS[kind])[name]


def _inputs(values: tuple[str, ...]) -> list[Variable]:
    return [Variable(v, role_description=f"input {i}") for i, v in enumerate(values)]


def _check_simulator(name: str) -> None:
    simulator = _factory("simulators", name)()
    assert isinstance(simulator, SimulatorFunction), (
        f"simulator {name!r}: factory() returned {type(simulator).__name__}, not a SimulatorFunction"
    )
    assert simulator.examples, f"simulator {name!r}: give SimulatorFunction(examples=[...]) a valid input"
    example = simulator.examples[0]
    first = simulator(*_inputs(example))
    assert first.value.strip(), f"simulator {name!r}: empty report for its example {example!r}"
    again = simulator(*_inputs(example))
    assert again.value == first.value, f"simulator {name!r}: two runs of {example!r} differ"
    try:
        bad = simulator(*_inputs(tuple(GARBAGE for _ in example)))
    except Exception as exc:  # the check's whole point: report, never raise
        raise AssertionError(f"simulator {name!r}: garbage input raised {type(exc).__name__}: {exc}") from exc
    assert bad.value.strip(), f"simulator {name!r}: garbage input gave no feedback text"


def _check_simulator_executor(name: str) -> None:
    with ThreadPoolExecutor(1) as pool:
        simulator = _factory("simulators", name)(executor=pool)
        assert simulator.executor is pool, f"simulator {name!r}: factory(executor=...) did not keep it"
        copy = pickle.loads(pickle.dumps(simulator))
    assert copy.executor is None, f"simulator {name!r}: the pickled copy carries an executor"


def _check_loss(name: str) -> None:
    loss = _factory("losses", name)()
    assert isinstance(loss, Function), f"loss {name!r}: factory() returned {type(loss).__name__}"


def _run_cli(argv: list[str]) -> int:
    from .cli import main

    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        try:
            return main(argv)
        except SystemExit as exc:
            return int(exc.code or 0)


def _check_task(task_name: str, tmp_path: Path) -> None:
    task = get_plugins().tasks()[task_name]
    assert _run_cli(["run", task_name, "--help"]) == 0, f"task {task_name!r}: --help failed"
    runs = tmp_path / f"runs-{task_name}"
    for bad in (["--steps", str(task.min_steps - 1)], ["--no-such-option-xyz"]):
        code = _run_cli(["run", task_name, *bad, "--runs-dir", str(runs)])
        assert code == 2, f"task {task_name!r}: {' '.join(bad)} gave exit code {code}, not 2"
        assert not runs.exists(), f"task {task_name!r}: {' '.join(bad)} created a run folder"


def plugin_checks(plugin: str) -> list[Check]:
    """Every conformance check that applies to ``plugin``, one per contribution."""
    record = get_plugins().records.get(plugin)
    checks = [Check(f"{plugin}:hooks", lambda _: _check_hooks(plugin))]
    if record is None:
        return checks
    for name in record.contributions.get("simulators", []):
        checks.append(Check(f"{name}:simulator", lambda _, n=name: _check_simulator(n)))
        checks.append(Check(f"{name}:executor-and-pickle", lambda _, n=name: _check_simulator_executor(n)))
    for name in record.contributions.get("losses", []):
        checks.append(Check(f"{name}:loss", lambda _, n=name: _check_loss(n)))
    for name in record.contributions.get("tasks", []):
        checks.append(Check(f"{name}:task-options", lambda tmp, n=name: _check_task(n, tmp)))
    return checks


def check_plugin(plugin: str, tmp_path: Path) -> None:
    """Run every check on ``plugin``; raise ``AssertionError`` listing every failure."""
    failures = []
    for check in plugin_checks(plugin):
        try:
            check(tmp_path)
        except AssertionError as exc:
            failures.append(f"{check.name}: {exc}")
    if failures:
        raise AssertionError(f"plugin {plugin!r} fails {len(failures)} check(s):\n" + "\n".join(failures))
