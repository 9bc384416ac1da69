"""SMILES checks and drug-likeness properties (RDKit), all before any 3D work.

Every rejection says what is wrong and what to write instead, because the
message becomes textual feedback for the optimizer. The size caps exist
because one huge molecule (a 150-atom chain) can hold a Vina process for
minutes and several GB; they are checked on the 2D graph, in milliseconds.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rdkit import Chem, RDConfig, rdBase
from rdkit.Chem import QED, Crippen, Descriptors, Lipinski, rdMolDescriptors
from rdkit.Chem.MolStandardize import rdMolStandardize

from .errors import MoleculeError
from .settings import DEFAULT_MAX_HEAVY_ATOMS, DEFAULT_MAX_ROTATABLE_BONDS

# AutoDock Vina's ligand atom types cover these elements only (boron, silicon
# and metals make Vina or the force fields fail later, with obscure errors).
ALLOWED_ELEMENTS = ("H", "C", "N", "O", "F", "P", "S", "Cl", "Br", "I")
# Charges that protonation at pH 7.4 produces and Vina handles: on N and O.
CHARGEABLE_ELEMENTS = ("N", "O")
MAX_SMILES_LENGTH = 1000
# A fragment this large that is not a known counter-ion is a molecule of its
# own: two of them are a mixture, not a salt (aspirin with diazepam is refused;
# nicotine hydrochloride and maleate are docked as nicotine).
MIN_DRUG_HEAVY_ATOMS = 10
# Organic acids, bases and solvents of pharmaceutical salts and solvates (the
# most used ones, Stahl and Wermuth's handbook); smaller fragments (acetate,
# mesylate, maleate, ethanol) fall under MIN_DRUG_HEAVY_ATOMS anyway.
COUNTER_IONS = (
    "Cc1ccc(S(=O)(=O)O)cc1", "O=S(=O)(O)c1ccccc1", "O=S(=O)(O)c1ccc2ccccc2c1",
    "CC1(C)C2CCC1(CS(=O)(=O)O)C(=O)C2", "O=S(=O)(O)CCS(=O)(=O)O", "OC(=O)CC(O)(CC(=O)O)C(=O)O",
    "OC(=O)C(O)C(O)C(=O)O", "OC(=O)/C=C/C(=O)O", "OC(=O)CCC(=O)O", "OC(=O)CC(O)C(=O)O",
    "OCC(O)C(O)C(O)C(O)C(=O)O", "O=C(O)c1ccccc1", "O=C(O)c1cc2ccccc2c(Cc2c(O)c(C(=O)O)cc3ccccc23)c1O",
    "OC(=O)C(F)(F)F", "CC(O)C(=O)O", "CS(C)=O", "CN(C)C=O", "CCOC(C)=O", "C1CCOC1", "C1COCCO1",
    "Cc1ccccc1", "CCOCC", "CC(C)=O", "CC(C)O", "CCO", "CO", "CC#N", "ClCCl", "ClC(Cl)Cl",
)


@dataclass(frozen=True)
class ParsedMolecule:
    """A checked molecule: ``smiles`` (canonical, neutralized) is its identity."""

    mol: Chem.Mol
    smiles: str
    notes: tuple[str, ...] = field(default_factory=tuple)


def parse_molecule(
    smiles: str,
    max_heavy_atoms: int = DEFAULT_MAX_HEAVY_ATOMS,
    max_rotatable_bonds: int = DEFAULT_MAX_ROTATABLE_BONDS,
) -> ParsedMolecule:
    """Parse, sanitize, neutralize and check one SMILES, or raise ``MoleculeError``."""
    if not isinstance(smiles, str):
        raise TypeError(f"SMILES must be text (str), got {type(smiles).__name__}")
    text = smiles.strip()
    if not text:
        raise MoleculeError("empty SMILES: give the SMILES string of one molecule")
    if len(text) > MAX_SMILES_LENGTH:
        raise MoleculeError(
            f"SMILES of {len(text)} characters is too long (at most {MAX_SMILES_LENGTH}); "
            "give a drug-sized molecule"
        )
    if any(c.isspace() for c in text):
        raise MoleculeError(f"SMILES {_short(text)} contains whitespace: give one SMILES string only")
    mol, notes = _strip_fragments(_sanitized(text), text)
    _check_elements(mol, text)
    _check_radicals(mol, text)
    with rdBase.BlockLogs():  # the uncharger logs "Running Uncharger" for every molecule
        neutral = rdMolStandardize.Uncharger().uncharge(mol)
    _check_charges(neutral, text)
    _check_size(neutral, text, max_heavy_atoms, max_rotatable_bonds)
    canonical = Chem.MolToSmiles(neutral)
    if canonical != Chem.MolToSmiles(mol):
        notes += (f"charges neutralized before protonation at pH 7.4: {Chem.MolToSmiles(mol)} -> {canonical}",)
    return ParsedMolecule(neutral, canonical, notes)


def _short(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _sanitized(text: str) -> Chem.Mol:
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(text, sanitize=False)
    if mol is None:
        raise MoleculeError(
            f"invalid SMILES {_short(text)}: RDKit cannot parse it (check brackets, ring-closure "
            "digits and atom symbols)"
        )
    if mol.GetNumAtoms() == 0:
        raise MoleculeError(f"SMILES {_short(text)} has no atoms: give the SMILES string of one molecule")
    try:
        with rdBase.BlockLogs():
            Chem.SanitizeMol(mol)
    except Exception as exc:  # RDKit raises several unrelated types (valence, kekulization)
        raise MoleculeError(f"invalid SMILES {_short(text)}: {exc}") from None
    with rdBase.BlockLogs():
        return Chem.RemoveHs(mol)


def _strip_fragments(mol: Chem.Mol, text: str) -> tuple[Chem.Mol, tuple[str, ...]]:
    """The parent of a salt or solvate, or ``MoleculeError`` for a mixture of molecules.

    Counter-ions and solvents are fragments without carbon (HCl, Na+, water),
    those in ``COUNTER_IONS`` (tosylate, citrate, ...) and any other fragment
    below ``MIN_DRUG_HEAVY_ATOMS``; what is left must hold at most one
    drug-sized molecule. The parent is RDKit's ``LargestFragmentChooser``'s
    pick among the remaining fragments.
    """
    fragments = Chem.GetMolFrags(mol, asMols=True)
    if len(fragments) == 1:
        return mol, ()
    organic = [f for f in fragments if any(a.GetAtomicNum() == 6 for a in f.GetAtoms())]
    if not organic:
        raise MoleculeError(
            f"SMILES {_short(text)} has {len(fragments)} disconnected fragments and none is organic "
            "(an inorganic salt or a metal complex): give one organic molecule"
        )
    parents = [f for f in organic if _identity(f) not in _counter_ions()] or organic
    drug_sized = [f for f in parents if f.GetNumHeavyAtoms() >= MIN_DRUG_HEAVY_ATOMS]
    if len(drug_sized) > 1:
        raise MoleculeError(
            f"SMILES {_short(text)} is a mixture of {len(drug_sized)} drug-sized molecules "
            f"({', '.join(Chem.MolToSmiles(f) for f in drug_sized)}): dock one molecule at a time"
        )
    combined = functools.reduce(Chem.CombineMols, parents)
    with rdBase.BlockLogs():
        parent = rdMolStandardize.LargestFragmentChooser(preferOrganic=True).choose(combined)
    kept = Chem.MolToSmiles(parent)
    removed = [Chem.MolToSmiles(f) for f in fragments]
    if kept in removed:
        removed.remove(kept)
    note = f"salt or solvate stripped to its largest organic fragment {kept} (removed {', '.join(removed)})"
    return parent, (note,)


def _identity(fragment: Chem.Mol) -> str:
    """A fragment's neutral, stereo-free SMILES: maleate and fumarate, acetate and acetic acid match."""
    with rdBase.BlockLogs():
        neutral = rdMolStandardize.Uncharger().uncharge(fragment)
    return Chem.MolToSmiles(neutral, isomericSmiles=False)


@functools.lru_cache(maxsize=1)
def _counter_ions() -> frozenset[str]:
    return frozenset(_identity(Chem.MolFromSmiles(s)) for s in COUNTER_IONS)


def _check_elements(mol: Chem.Mol, text: str) -> None:
    found = sorted({a.GetSymbol() for a in mol.GetAtoms()} - set(ALLOWED_ELEMENTS))
    if found:
        raise MoleculeError(
            f"SMILES {_short(text)} contains unsupported element(s) {', '.join(found)} (metals, boron "
            f"and silicon cannot be docked): use only {' '.join(ALLOWED_ELEMENTS)}"
        )


def _check_radicals(mol: Chem.Mol, text: str) -> None:
    radicals = [a.GetIdx() for a in mol.GetAtoms() if a.GetNumRadicalElectrons()]
    if radicals:
        raise MoleculeError(
            f"SMILES {_short(text)} is a radical (unpaired electrons on atom(s) "
            f"{', '.join(map(str, radicals))}): give a closed-shell molecule, e.g. write "
            "[CH3] as C"
        )


def _check_charges(neutral: Chem.Mol, text: str) -> None:
    charged = sorted(
        {f"{a.GetSymbol()}{a.GetFormalCharge():+d}" for a in neutral.GetAtoms()
         if a.GetFormalCharge() and a.GetSymbol() not in CHARGEABLE_ELEMENTS}
    )
    if charged:
        raise MoleculeError(
            f"SMILES {_short(text)} is a charged species that cannot be neutralized "
            f"({', '.join(charged)}): only N and O may carry a charge; give the neutral form"
        )


def _check_size(mol: Chem.Mol, text: str, max_heavy_atoms: int, max_rotatable_bonds: int) -> None:
    heavy = mol.GetNumHeavyAtoms()
    if heavy == 0:
        raise MoleculeError(f"SMILES {_short(text)} has no heavy atoms: give a drug-like molecule")
    if heavy > max_heavy_atoms:
        raise MoleculeError(
            f"SMILES {_short(text)} is too large to dock: {heavy} heavy atoms (at most "
            f"{max_heavy_atoms}); propose a smaller, drug-sized molecule"
        )
    rotatable = rdMolDescriptors.CalcNumRotatableBonds(mol)
    if rotatable > max_rotatable_bonds:
        raise MoleculeError(
            f"SMILES {_short(text)} is too flexible to dock: {rotatable} rotatable bonds (at most "
            f"{max_rotatable_bonds}); use rings or shorter chains"
        )


# ---------------------------------------------------------------- properties


@functools.lru_cache(maxsize=1)
def _sascorer() -> Any:
    """RDKit ships the SA score as a Contrib script, not a module: load it by path."""
    path = Path(RDConfig.RDContribDir) / "SA_Score" / "sascorer.py"
    spec = importlib.util.spec_from_file_location("tg_molecule_sascorer", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"RDKit's SA score script is missing: {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sa_score(mol: Chem.Mol) -> float:
    """Synthetic accessibility, 1 (easy) to 10 (hard), Ertl and Schuffenhauer 2009."""
    return float(_sascorer().calculateScore(mol))


def properties(mol: Chem.Mol) -> dict[str, Any]:
    """QED, SA and the rule-of-five and Veber descriptors of a checked molecule."""
    mw = Descriptors.MolWt(mol)
    logp = Crippen.MolLogP(mol)
    hbd = Lipinski.NumHDonors(mol)
    hba = Lipinski.NumHAcceptors(mol)
    tpsa = rdMolDescriptors.CalcTPSA(mol)
    rotatable = rdMolDescriptors.CalcNumRotatableBonds(mol)
    lipinski_violations = sum((mw > 500, logp > 5, hbd > 5, hba > 10))
    return {
        "qed": QED.qed(mol),
        "sa": sa_score(mol),
        "mw": mw,
        "logp": logp,
        "tpsa": tpsa,
        "hbd": hbd,
        "hba": hba,
        "rotatable_bonds": rotatable,
        "heavy_atoms": mol.GetNumHeavyAtoms(),
        "lipinski_violations": lipinski_violations,
        "lipinski_pass": lipinski_violations <= 1,
        "veber_pass": rotatable <= 10 and tpsa <= 140,
    }


# ---------------------------------------------------------------- similarity

MORGAN_RADIUS = 2
MORGAN_BITS = 2048


@functools.lru_cache(maxsize=1)
def _morgan() -> Any:
    from rdkit.Chem import rdFingerprintGenerator

    return rdFingerprintGenerator.GetMorganGenerator(radius=MORGAN_RADIUS, fpSize=MORGAN_BITS)


def similarity(first: Chem.Mol, second: Chem.Mol) -> float:
    """Tanimoto similarity of Morgan fingerprints (radius 2, 2048 bits: ECFP4-like), 0 to 1."""
    from rdkit import DataStructs

    return DataStructs.TanimotoSimilarity(_morgan().GetFingerprint(first), _morgan().GetFingerprint(second))
