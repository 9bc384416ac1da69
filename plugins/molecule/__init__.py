"""tg_molecule: RDKit drug-likeness and AutoDock Vina docking, molecules optimized by text.

``evaluate(smiles, target="DRD2", exhaustiveness=8, seed=0)`` scores one
molecule, ``dock_many(smiles_list, target, executor=None)`` a batch, and
``targets()`` lists the DOCKSTRING targets. Names are loaded on first use, so
importing the package (as ``tg plugins`` does) loads neither RDKit nor Vina.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "evaluate": "scoring",
    "dock_many": "scoring",
    "targets": "receptors",
    "MoleculeResult": "result",
    "DockingSettings": "settings",
    "MoleculeError": "errors",
    "UnknownTargetError": "errors",
    "DockingError": "errors",
    "Goals": "objective",
    "molecule_simulator": "objective",
    "molecule_loss": "objective",
    "make_executor": "executors",
    "release_targets": "docking_client",
    "set_max_children": "docking_client",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tg_molecule' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
