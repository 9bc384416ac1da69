import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tg_core as tg
from tg_core import hookimpl
from tg_core.plugins import Plugins, get_plugins

EXAMPLE = Path(__file__).resolve().parents[1] / "plugin_example"
BIN = Path(sys.executable).parent


@pytest.fixture
def plugins():
    return Plugins()


def test_builtin_plugins_are_discovered_through_entry_points():
    records = get_plugins(reload=True).records
    assert {"core", "code", "molecule", "radiotherapy", "qa"} <= set(records)
    assert records["core"].contributions["tasks"] == ["text"]
    assert records["core"].version == tg.__version__


def test_plugin_with_missing_dependency_is_listed_with_install_hint(plugins):
    class NeedsMissing:
        @hookimpl
        def tg_plugin_info(self):
            return {"name": "heavy", "requires": ["surely_not_installed_module_xyz", "json"], "extra": "heavy"}

    record = plugins.register(NeedsMissing(), "heavy")
    assert record.missing == ["surely_not_installed_module_xyz"]
    assert record.install_hint == "pip install 'tg-core[heavy]'"
    assert not record.available


def test_plugin_implementing_unknown_hook_is_rejected(plugins):
    class Typo:
        @hookimpl
        def tg_taskz(self):
            return []

    with pytest.raises(tg.PluginError, match="'typo' is malformed"):
        plugins.register(Typo(), "typo")
    assert "typo" not in plugins.records


def test_plugin_asking_for_undeclared_argument_is_rejected(plugins):
    class BadArgs:
        @hookimpl
        def tg_tasks(self, config):
            return []

    with pytest.raises(tg.PluginError, match="malformed"):
        plugins.register(BadArgs(), "badargs")


def test_broken_entry_point_does_not_break_discovery(plugins, monkeypatch):
    broken = importlib.metadata.EntryPoint("broken", "no_such_module_abc.plugin", "tg_core")
    real = importlib.metadata.entry_points

    def fake(group=None, **kw):
        found = list(real(group=group, **kw))
        return found + [broken] if group == "tg_core" else found

    monkeypatch.setattr(importlib.metadata, "entry_points", fake)
    plugins.load_entrypoints()
    assert plugins.records["broken"].error.startswith("ModuleNotFoundError")
    assert "core" in plugins.records


def test_blocked_plugins_are_skipped(plugins):
    plugins.load_entrypoints(blocked={"qa", "code"})
    assert "qa" not in plugins.records and "core" in plugins.records


def test_installed_third_party_plugin_is_discovered(tmp_path):
    target = tmp_path / "site"
    source = shutil.copytree(EXAMPLE, tmp_path / "src")  # building writes next to the sources
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert install.returncode == 0, install.stderr
    env = {**os.environ, "PYTHONPATH": str(target)}
    listing = subprocess.run([str(BIN / "tg"), "plugins"], capture_output=True, text=True, env=env, timeout=120)
    assert listing.returncode == 0, listing.stderr
    assert "example 0.3.1  [ok]" in listing.stdout
    assert "engines: echo" in listing.stdout and "tasks: example-hello" in listing.stdout
    code = (
        "import tg_core\n"
        "e = tg_core.get_engine('echo:m', cache=False)\n"
        "print(e.generate([{'role': 'user', 'content': 'hi'}]))\n"
    )
    engine = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert engine.stdout.strip() == "HI", engine.stderr
    conformance = subprocess.run(
        [sys.executable, "-c", "import sys, tg_core.testing as t; t.check_plugin('example', sys.argv[1])", str(tmp_path / "scratch")],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert conformance.returncode == 0, conformance.stderr
    run = subprocess.run([str(BIN / "tg"), "run", "example-hello", "--greeting", "hey", "--engine", "echo:m", "--runs-dir",
                          str(tmp_path / "runs")], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    report = Path(run.stdout.strip().removeprefix("report: "))
    assert report.read_text() == "# example\n\nhey\n"


def _contributor(simulators=None, engines=None, tasks=None):
    class Contributor:
        @hookimpl
        def tg_plugin_info(self):
            return {"name": "c", "description": "contributes", "requires": []}

        @hookimpl
        def tg_simulators(self):
            return simulators or {}

        @hookimpl
        def tg_engines(self):
            return engines or {}

        @hookimpl
        def tg_tasks(self):
            return tasks or []

    return Contributor()


def test_two_plugins_contributing_one_name_are_refused_with_both_named(plugins):
    plugins.register(_contributor(simulators={"shared.sim": lambda: None}), "first")
    with pytest.raises(tg.PluginError, match=r"plugin 'second' contributes the simulator 'shared.sim', which plugin 'first'"):
        plugins.register(_contributor(simulators={"shared.sim": lambda: None}), "second")
    assert "second" not in plugins.records
    assert plugins.simulators()["shared.sim"] is not None


def test_a_core_engine_prefix_is_replaced_only_explicitly(plugins):
    with pytest.raises(tg.PluginError, match=r"engine 'local', which plugin 'core'.*tg_core.override"):
        plugins.register(_contributor(engines={"local": lambda model, **o: None}), "quiet")

    def mine(model, **options):
        return tg.FunctionEngine(lambda messages, **params: "mine", model=model)

    plugins.register(_contributor(engines={"local": tg.override(mine)}), "loud")
    assert plugins.engine_factories()["local"] is mine


def test_a_core_task_is_replaced_only_explicitly(plugins):
    plugins.register(importlib.import_module("tg_core.builtin"), "core")
    text = tg.Task("text", "other text task", lambda p: None, lambda a, r: {})
    with pytest.raises(tg.PluginError, match=r"task 'text', which plugin 'core'"):
        plugins.register(_contributor(tasks=[text]), "quiet")
    mine = tg.Task("text", "my text task", lambda p: None, lambda a, r: {}, overrides=True)
    plugins.register(_contributor(tasks=[mine]), "loud")
    assert plugins.tasks()["text"].description == "my text task"


def test_get_simulator_and_get_loss_build_by_name():
    sim = tg.get_simulator("molecule.docking")
    assert isinstance(sim, tg.SimulatorFunction)
    with pytest.raises(tg.PluginError, match=r"no simulator named 'nope.sim'; known: .*molecule.docking"):
        tg.get_simulator("nope.sim")
    with pytest.raises(TypeError, match=r"simulator 'molecule.docking': .*no_such_option"):
        tg.get_simulator("molecule.docking", no_such_option=1)
    with pytest.raises(tg.PluginError, match="no loss named"):
        tg.get_loss("nope.loss")


def test_lazy_exports_load_on_first_use_and_cache(tmp_path, monkeypatch):
    package = tmp_path / "lazypkg"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from tg_core.lazy import lazy_exports\n"
        "__getattr__, __dir__, __all__ = lazy_exports(__name__, {'heavy_fn': 'heavy'}, submodules=['heavy'])\n"
    )
    (package / "heavy.py").write_text("LOADS = []\nLOADS.append(1)\ndef heavy_fn():\n    return 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import lazypkg

    assert "lazypkg.heavy" not in sys.modules and lazypkg.__all__ == ["heavy_fn"]
    assert "heavy_fn" in dir(lazypkg)
    assert lazypkg.heavy_fn() == 42
    assert "heavy_fn" in vars(lazypkg)  # cached: the next access is a plain attribute
    assert lazypkg.heavy.LOADS == [1]
    with pytest.raises(AttributeError, match="module 'lazypkg' has no attribute 'nope'"):
        _ = lazypkg.nope


def test_core_plugin_conforms(tmp_path):
    from tg_core.testing import check_plugin

    check_plugin("core", tmp_path)


def test_a_function_with_neither_forward_nor_aforward_fails_at_once():
    class Empty(tg.Function):
        pass

    with pytest.raises(NotImplementedError, match="Empty must define forward or aforward"):
        Empty()(tg.Variable("x", role_description="input"))
