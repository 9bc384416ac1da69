"""The hooks a tg-core plugin may implement.

A plugin is a module (or object) registered under the entry-point group
``tg_core``; built-in plugins are registered that way too. Every hook is
optional and called with keyword arguments (none take any today).

Semantics, the same for every contribution hook: every plugin answers and
the answers are merged by name (``tg_task_loader`` alone is ``firstresult``:
one plugin handles datasets). Names are
namespaced ``plugin.name`` (``molecule.docking``), so two plugins rarely want
the same one; when they do, the second plugin is refused at registration
with both plugins named, and ``tg plugins`` shows it as broken. A plugin may
replace a name the core itself defines (an engine prefix such as ``local``,
the task ``text``) only explicitly: wrap the factory in :func:`override`
(``{"local": override(my_factory)}``) or build the task with
``Task(..., overrides=True)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from collections.abc import Callable

    from .tasks import Task

PROJECT = "tg_core"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@dataclass(frozen=True)
class Override:
    """A contribution that replaces a core name on purpose (see :func:`override`)."""

    value: Any


def override(factory: Any) -> Override:
    """Mark ``factory`` as replacing the core's entry of the same name."""
    return Override(factory)


# ---------------------------------------------------------------- description


@hookspec
def tg_plugin_info() -> dict[str, Any]:
    """Describe the plugin for ``tg plugins``.

    Return a dict with ``name``, ``description`` and ``requires`` (import names
    of the optional dependencies the plugin needs, checked without importing
    them) and ``extra`` (the pip extra that installs them) or ``install_hint``.
    Called once, when the plugin is registered.
    """


# ---------------------------------------------------------------- contributions


@hookspec
def tg_engines() -> dict[str, Callable[..., Any]]:
    """Engines by spec prefix: ``{"myserver": factory}``.

    ``get_engine("myserver:model-x", **options)`` then calls
    ``factory("model-x", **options)``, which returns an ``Engine``. Called at
    registration (to list and check names) and on each ``get_engine`` with a
    prefix that is not the core's. Every plugin answers; names merge.
    """


@hookspec
def tg_simulators() -> dict[str, Callable[..., Any]]:
    """Simulator factories by namespaced name: ``{"plugin.name": factory}``.

    ``factory(**options)`` returns a ``SimulatorFunction``; every option is a
    keyword with a default, and ``executor=`` is accepted. The function's
    ``examples`` are inputs known to be valid. ``tg_core.get_simulator(name,
    **options)`` is the consumer. Called at registration and on lookup;
    every plugin answers; names merge.
    """


@hookspec
def tg_losses() -> dict[str, Callable[..., Any]]:
    """Loss factories by namespaced name: ``{"plugin.name": factory}``.

    ``factory(engine=None, **options)`` returns a ``Function`` that judges a
    simulator's report (or a model's answer). ``tg_core.get_loss(name,
    **options)`` is the consumer. Called at registration and on lookup;
    every plugin answers; names merge.
    """


@hookspec(firstresult=True)
def tg_task_loader() -> Callable[..., Any] | None:
    """The loader behind TextGrad's ``tg.tasks.load_task(name, evaluation_api, **options)``.

    Return ``loader(name, evaluation_api=None, **options) -> (train, val, test,
    eval_fn)``; it handles every name and file (and refuses what it cannot
    load, saying why). Called on each ``load_task``; the first plugin that
    answers wins, since datasets are one plugin's domain knowledge.
    """


@hookspec
def tg_tasks() -> list[Task]:
    """Runnable tasks for ``tg run TASK``.

    Called at registration and when the CLI is built; every plugin answers;
    task names merge.
    """
