"""Finding and registering plugins (pluggy, entry-point group ``tg_core``).

Built-in plugins are declared as entry points in tg-core's own metadata and
load exactly like third-party ones. A plugin whose optional dependencies are
missing still loads (its module imports only tg_core) and is listed with the
command that installs them; one that fails to import is listed with its error.
Set ``TG_DISABLE_PLUGIN_AUTOLOAD=1`` to load none, ``TG_BLOCK_PLUGINS=a,b`` to
skip some.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import hookspecs
from .errors import PluginError
from .hookspecs import Override

log = logging.getLogger(__name__)

CONTRIBUTION_HOOKS = {"engines": "tg_engines", "simulators": "tg_simulators", "losses": "tg_losses"}
CORE = "core"
SINGULAR = {"engines": "engine", "simulators": "simulator", "losses": "loss", "tasks": "task"}


def _explicit(value: Any) -> bool:
    return isinstance(value, Override) or getattr(value, "overrides", False) is True


def _core_engine_prefixes() -> set[str]:
    from .engines.registry import CORE_FACTORIES

    return set(CORE_FACTORIES)


@dataclass
class PluginRecord:
    name: str
    version: str = ""
    description: str = ""
    requires: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    install_hint: str = ""
    error: str | None = None
    contributions: dict[str, list[str]] = field(default_factory=dict)

    @property
    def available(self) -> bool:
        return self.error is None and not self.missing


def _module_missing(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is None
    except (ImportError, ValueError):
        return True


class Plugins:
    def __init__(self) -> None:
        self.manager = pluggy.PluginManager(hookspecs.PROJECT)
        self.manager.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}
        self._owners: dict[tuple[str, str], str] = {}
        self._overrides: dict[tuple[str, str], str] = {}

    def register(self, plugin: Any, name: str, version: str = "", extra: str | None = None) -> PluginRecord:
        """Register a plugin object; unknown hooks or arguments are rejected here."""
        try:
            self.manager.register(plugin, name=name)
            self.manager.check_pending()
        except (ValueError, pluggy.PluginValidationError) as exc:
            if self.manager.is_registered(plugin):
                self.manager.unregister(plugin)
            raise PluginError(f"plugin {name!r} is malformed: {exc}") from exc
        try:
            contributions = self._contributions_of(plugin)
            self._check_clashes(name, contributions)
        except PluginError:
            self.manager.unregister(plugin)
            raise
        impl = getattr(plugin, "tg_plugin_info", None)
        info = impl() if impl else {}
        requires = list(info.get("requires", []))
        extra = info.get("extra", extra)
        record = PluginRecord(
            name=name,
            version=version,
            description=info.get("description", ""),
            requires=requires,
            missing=[m for m in requires if _module_missing(m)],
            install_hint=info.get("install_hint") or (f"pip install 'tg-core[{extra}]'" if extra else ""),
        )
        record.contributions = {kind: sorted(items) for kind, items in contributions.items() if items}
        for kind, items in contributions.items():
            for key, value in items.items():
                if _explicit(value):  # an override claims no name: the core may register after it
                    self._overrides[(kind, key)] = name
                else:
                    self._owners.setdefault((kind, key), name)
        self.records[name] = record
        return record

    @staticmethod
    def _contributions_of(plugin: Any) -> dict[str, dict[str, Any]]:
        """What the plugin contributes, by kind and name (tasks by task name)."""
        found: dict[str, dict[str, Any]] = {}
        for kind, hook in CONTRIBUTION_HOOKS.items():
            impl = getattr(plugin, hook, None)
            found[kind] = dict(impl() or {}) if impl else {}
        impl = getattr(plugin, "tg_tasks", None)
        found["tasks"] = {t.name: t for t in (impl() or [])} if impl else {}
        return found

    def _check_clashes(self, name: str, contributions: dict[str, dict[str, Any]]) -> None:
        """Refuse a name another plugin contributes; a core name only with an explicit override."""
        core_engines = _core_engine_prefixes()
        for kind, items in contributions.items():
            for key, value in items.items():
                owner = CORE if kind == "engines" and key in core_engines else self._owners.get((kind, key))
                if owner is None or owner == name:
                    continue
                if owner == CORE and _explicit(value):
                    continue
                hint = (
                    " (to replace the core's on purpose, mark it with tg_core.override(...) or "
                    "Task(..., overrides=True))" if owner == CORE else ""
                )
                raise PluginError(
                    f"plugin {name!r} contributes the {SINGULAR[kind]} {key!r}, which plugin {owner!r} "
                    f"already contributes; rename one of them{hint}"
                )

    def load_entrypoints(self, blocked: set[str] | frozenset[str] = frozenset()) -> None:
        for ep in importlib.metadata.entry_points(group=hookspecs.PROJECT):
            if ep.name in blocked or ep.name in self.records:
                continue
            dist = ep.dist
            version = dist.version if dist else ""
            builtin = dist is not None and dist.name == "tg-core"
            try:
                module = ep.load()
            except Exception as exc:  # a broken plugin must not break discovery
                log.warning("plugin %s failed to load: %s", ep.name, exc)
                hint = f"pip install 'tg-core[{ep.name}]'" if builtin else f"pip install --force-reinstall {dist.name if dist else ep.value}"
                self.records[ep.name] = PluginRecord(
                    name=ep.name, version=version, error=f"{type(exc).__name__}: {exc}", install_hint=hint
                )
                continue
            try:
                self.register(module, ep.name, version, extra=ep.name if builtin else None)
            except PluginError as exc:
                self.records[ep.name] = PluginRecord(name=ep.name, version=version, error=str(exc))

    # -------------------------------------------------------------- lookups

    def _merged(self, hook_name: str) -> dict[str, Any]:
        """Every plugin's answer merged by name; explicit overrides go on top."""
        merged: dict[str, Any] = {}
        overrides: dict[str, Any] = {}
        for contribution in getattr(self.manager.hook, hook_name)():
            for key, value in (contribution or {}).items():
                if isinstance(value, Override):
                    overrides[key] = value.value
                else:
                    merged[key] = value
        return {**merged, **overrides}

    def engine_factories(self) -> dict[str, Any]:
        return self._merged("tg_engines")

    def simulators(self) -> dict[str, Any]:
        return self._merged("tg_simulators")

    def losses(self) -> dict[str, Any]:
        return self._merged("tg_losses")

    def tasks(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for tasks in self.manager.hook.tg_tasks():
            for task in tasks or []:
                if task.overrides or task.name not in found:
                    found[task.name] = task
        return found

    def owner_of_task(self, task_name: str) -> PluginRecord | None:
        return self.owner_of("tasks", task_name)

    def owner_of(self, kind: str, name: str) -> PluginRecord | None:
        owner = self._overrides.get((kind, name)) or self._owners.get((kind, name))
        return self.records.get(owner) if owner else None

    def build(self, kind: str, name: str, options: dict[str, Any]) -> Any:
        """Call the factory a plugin contributed as ``kind`` (simulators, losses) under ``name``."""
        factories = self._merged(CONTRIBUTION_HOOKS[kind])
        if name not in factories:
            known = ", ".join(sorted(factories)) or "none (is TG_DISABLE_PLUGIN_AUTOLOAD set?)"
            raise PluginError(f"no {SINGULAR[kind]} named {name!r}; known: {known}")
        owner = self.owner_of(kind, name)
        if owner is not None and owner.missing:
            raise PluginError(
                f"{SINGULAR[kind]} {name!r} needs {', '.join(owner.missing)}, which are not installed: "
                f"{owner.install_hint}"
            )
        try:
            return factories[name](**options)
        except TypeError as exc:
            raise TypeError(f"{SINGULAR[kind]} {name!r}: {exc}") from exc


_default: Plugins | None = None


def get_simulator(name: str, **options: Any) -> Any:
    """Build the simulator a plugin contributes as ``name`` (``"molecule.docking"``)."""
    return get_plugins().build("simulators", name, options)


def get_loss(name: str, **options: Any) -> Any:
    """Build the loss a plugin contributes as ``name`` (``"qa.exact_match"``)."""
    return get_plugins().build("losses", name, options)


def reset_plugins() -> None:
    """Forget the discovered plugins (tests use it so one test's plugins never leak into another)."""
    global _default
    _default = None


def get_plugins(reload: bool = False) -> Plugins:
    """The process's plugins, discovered on first use (never on import)."""
    global _default
    if _default is None or reload:
        plugins = Plugins()
        if not os.environ.get("TG_DISABLE_PLUGIN_AUTOLOAD"):
            blocked = {b.strip() for b in os.environ.get("TG_BLOCK_PLUGINS", "").split(",") if b.strip()}
            plugins.load_entrypoints(blocked)
        _default = plugins
    return _default
