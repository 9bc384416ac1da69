"""Registration of tg_molecule with tg-core.

Hooks import their modules when called; none of them loads RDKit or Vina,
which load only when a molecule is evaluated.
"""

from typing import Any

from tg_core import Task, hookimpl


@hookimpl
def tg_plugin_info() -> dict[str, Any]:
    return {
        "name": "molecule",
        "description": "RDKit QED/SA and AutoDock Vina docking on DOCKSTRING targets",
        "requires": ["rdkit", "vina", "meeko", "gemmi", "scipy", "dockstring", "openbabel"],
        "extra": "molecule",
    }


@hookimpl
def tg_simulators() -> dict[str, Any]:
    from .functions import molecule_simulator

    return {"molecule.docking": molecule_simulator}


@hookimpl
def tg_losses() -> dict[str, Any]:
    from .functions import molecule_loss

    return {"molecule.goals": molecule_loss}


@hookimpl
def tg_tasks() -> list[Task]:
    from .task import add_arguments, run_molecule, validate

    return [Task("molecule", "optimize molecules for Vina docking, selectivity and drug-likeness goals by text",
                 add_arguments, run_molecule, validate=validate, default_steps=5)]
