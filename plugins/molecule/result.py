"""What evaluating one molecule gives: scores, properties, or a clear error."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class MoleculeResult:
    """One molecule on one target. ``smiles`` (canonical) is its identity; ``error`` says why
    there is no score. ``to_text`` is what an LLM reads, ``as_dict`` what logs and CSVs keep.

    ``pose`` is the best docked pose as PDBQT text (Vina's first model, with
    meeko's SMILES remarks): plain text, so results pickle, cache and log as
    they are; ``pose_mol()`` rebuilds it as an RDKit molecule.
    """

    input_smiles: str
    target: str
    smiles: str | None = None
    vina: float | None = None
    qed: float | None = None
    sa: float | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    cached: bool = False
    details: dict[str, Any] = field(default_factory=dict)
    pose: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.vina is not None

    def pose_mol(self) -> Any:
        """The best pose as an RDKit molecule with hydrogens and docked coordinates, or None."""
        if self.pose is None:
            return None
        from .poses import pose_molecule

        return pose_molecule(self.pose)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_text(self) -> str:
        lines = [f"Molecule: {self.smiles or self.input_smiles}", f"Target: {self.target}"]
        if self.vina is not None:
            lines.append(f"Vina docking score: {self.vina:.2f} kcal/mol (lower is stronger binding)")
        if self.error:
            lines.append(f"ERROR: {self.error}")
        if self.qed is not None:
            lines.append(f"QED drug-likeness: {self.qed:.3f} (0 to 1, higher is better)")
        if self.sa is not None:
            lines.append(f"SA synthetic accessibility: {self.sa:.2f} (1 easy to 10 hard)")
        p = self.properties
        if p:
            lines.append(
                f"MW {p['mw']:.1f}, logP {p['logp']:.2f}, TPSA {p['tpsa']:.1f}, H-bond donors "
                f"{p['hbd']}, acceptors {p['hba']}, rotatable bonds {p['rotatable_bonds']}, heavy "
                f"atoms {p['heavy_atoms']}"
            )
            lipinski = "passes" if p["lipinski_pass"] else "fails"
            veber = "passes" if p["veber_pass"] else "fails"
            lines.append(
                f"Lipinski rule of five: {lipinski} ({p['lipinski_violations']} violations); "
                f"Veber rules: {veber}"
            )
        lines.extend(f"Note: {note}" for note in self.notes)
        return "\n".join(lines)
