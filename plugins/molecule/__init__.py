"""tg_molecule: RDKit drug-likeness and AutoDock Vina docking, molecules optimized by text.

``evaluate(smiles, target="DRD2", exhaustiveness=8, seed=0)`` scores one
molecule (with its best pose), ``dock_many(smiles_list, target, executor=None)``
a batch, ``evaluate_candidates(smiles_list, GoalSet(...), executor=...)``
proposals against a goal set (filters first, so an invalid or refused one
costs no docking), and ``targets()`` lists the DOCKSTRING targets. Each
process keeps at most ``set_max_children(n)`` docking processes (default 4,
about 530 MB each); ``release_targets()`` stops the idle ones. Names load on
first use, so importing the package (as ``tg plugins`` does) loads neither
RDKit nor Vina.
"""

from tg_core.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "evaluate": "scoring",
    "dock_many": "scoring",
    "targets": "receptors",
    "MoleculeResult": "result",
    "DockingSettings": "settings",
    "MoleculeError": "errors",
    "UnknownTargetError": "errors",
    "DockingError": "errors",
    "GoalSet": "goals",
    "GoalStatus": "goals",
    "goals_table": "goals",
    "read_goal_file": "goals",
    "Filters": "filters",
    "Window": "filters",
    "Candidate": "candidates",
    "evaluate_candidates": "candidates",
    "molecule_simulator": "functions",
    "molecule_loss": "functions",
    "make_executor": "executors",
    "release_targets": "docking_client",
    "set_max_children": "docking_client",
    "write_poses_sdf": "poses",
    "write_pose_pdbqt": "poses",
})
