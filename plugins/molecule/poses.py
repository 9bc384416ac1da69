"""Docked poses as files a chemist opens: an SDF of several molecules, a PDBQT per pose.

Vina gives a pose as PDBQT, which drops bond orders and most hydrogens;
meeko writes ``REMARK SMILES`` lines into the ligand it prepares, Vina keeps
them in its output, and ``RDKitMolCreate.from_pdbqt_mol`` uses them to
rebuild the full molecule at the docked coordinates. The SDF carries each
molecule's scores as SD properties, so a viewer (PyMOL, Maestro, RDKit)
shows the number next to the binding mode that earned it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rdkit import Chem

from .result import MoleculeResult

SD_PROPERTIES = ("target", "smiles", "input_smiles", "vina", "qed", "sa")


def pose_molecule(pdbqt: str) -> Chem.Mol:
    """The RDKit molecule (with hydrogens) of the first pose in ``pdbqt``."""
    from meeko import PDBQTMolecule, RDKitMolCreate

    molecules = RDKitMolCreate.from_pdbqt_mol(PDBQTMolecule(pdbqt, is_dlg=False, skip_typing=True))
    if not molecules or molecules[0] is None:
        raise ValueError("the pose has no SMILES remarks to rebuild the molecule from (not a meeko ligand?)")
    return molecules[0]


def write_poses_sdf(
    path: Path, results: Sequence[MoleculeResult], extra: Sequence[Mapping[str, Any]] | None = None
) -> int:
    """Write the pose of every result that has one; returns how many were written.

    Each record is named by its canonical SMILES and carries ``SD_PROPERTIES``
    plus the matching ``extra`` mapping (same order as ``results``), for
    instance the goals a molecule meets. Written to a temporary file first,
    so a reader never sees half a file.
    """
    extra = extra if extra is not None else [{}] * len(results)
    if len(extra) != len(results):
        raise ValueError(f"extra has {len(extra)} entries for {len(results)} results")
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    written = 0
    with Chem.SDWriter(str(tmp)) as writer:
        for result, more in zip(results, extra, strict=True):
            if result.pose is None:
                continue
            mol = pose_molecule(result.pose)
            mol.SetProp("_Name", result.smiles or result.input_smiles)
            for key, value in {**{k: getattr(result, k) for k in SD_PROPERTIES}, **more}.items():
                if value is not None:
                    mol.SetProp(key, _sd_text(value))
            writer.write(mol)
            written += 1
    tmp.replace(path)
    return written


def write_pose_pdbqt(folder: Path, results: Sequence[MoleculeResult], stem: str = "pose") -> list[Path]:
    """One ``{stem}-{rank}-{target}.pdbqt`` per result with a pose, ranked in the given order."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for rank, result in enumerate((r for r in results if r.pose is not None), start=1):
        path = folder / f"{stem}-{rank:02d}-{result.target}.pdbqt"
        path.write_text(result.pose, encoding="utf-8")
        paths.append(path)
    return paths


def _sd_text(value: Any) -> str:
    """Floats at full precision, so the file holds exactly the score that was reported."""
    return repr(value) if isinstance(value, float) else str(value)
