"""A menu of small, RDKit-checked edits of a molecule, for the optimizer to choose from.

A 1.5B model asked for "a better ligand than phenol" writes a SMILES that
parses about one time in eight (issue 11); copying one line of a list is a
task it does reliably. So the optimizer is shown edits a medicinal chemist
would try first (a substituent on a ring, a ring added directly or through
a linker, a ring carbon swapped for nitrogen, a CH2 for O or NH, an atom
removed), each built on the molecule graph with RDKit, checked by the same
``parse_molecule`` and filters as a proposal, and shown with its QED and
molecular weight. The model picks one (or adapts one); the program still
checks whatever it sends.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tg_core import TGD, Variable
from tg_core.optimizer import Proposals

from .errors import MoleculeError

# Substituents put on an atom bearing a hydrogen: (name, SMILES of the group, its attachment atom first).
SUBSTITUENTS = (("F", "F"), ("Cl", "Cl"), ("OH", "O"), ("NH2", "N"), ("CH3", "C"), ("OMe", "OC"),
                ("CF3", "C(F)(F)F"), ("CN", "C#N"))
# Rings added to an atom bearing a hydrogen, directly or through a linker (attachment atom first).
RINGS = (("phenyl", "c1ccccc1"), ("4-fluorophenyl", "c1ccc(F)cc1"), ("2-pyridyl", "c1ccccn1"),
         ("piperazin-1-yl", "N1CCNCC1"), ("4-methylpiperazin-1-yl", "N1CCN(C)CC1"),
         ("morpholin-4-yl", "N1CCOCC1"), ("piperidin-1-yl", "N1CCCCC1"), ("cyclohexyl", "C1CCCCC1"))
LINKERS = (("", ""), ("CH2", "C"), ("carbonyl", "C(=O)"), ("amide", "C(=O)N"), ("ether", "O"))
# A single bond between two heteroatoms outside a ring (N-O, N-N, O-O): an ether or amide linker on a
# ring bonded through its N, or an OH put on an N, makes one; a chemist would not propose these.
HETERO_HETERO = "[#7,#8,#16]-!@[#7,#8,#16]"
MENU_SIZE = 10
PER_KIND = 3  # at most this many of one kind of edit, so the menu shows every kind


@dataclass(frozen=True)
class Edit:
    """One checked edit: what was done, the molecule it gives, and that molecule's QED and weight."""

    kind: str
    description: str
    smiles: str
    qed: float
    mw: float


def _attach(mol: Any, atom: int, group: str) -> Any | None:
    """``mol`` with ``group`` (SMILES, attachment atom first) bonded to ``atom`` in place of one H."""
    from rdkit import Chem

    piece = Chem.MolFromSmiles(group)
    if piece is None:
        return None
    combined = Chem.RWMol(Chem.CombineMols(mol, piece))
    combined.AddBond(atom, mol.GetNumAtoms(), Chem.BondType.SINGLE)
    return combined


def _sites(mol: Any) -> list[int]:
    """Atoms that carry a hydrogen, one per symmetry class (para and meta of phenol are two sites)."""
    from rdkit import Chem

    ranks = list(Chem.CanonicalRankAtoms(mol, breakTies=False))
    seen, sites = set(), []
    for atom in mol.GetAtoms():
        if atom.GetTotalNumHs() and ranks[atom.GetIdx()] not in seen:
            seen.add(ranks[atom.GetIdx()])
            sites.append(atom.GetIdx())
    return sites


def _where(mol: Any, atom: int) -> str:
    a = mol.GetAtomWithIdx(atom)
    return f"{'aromatic ' if a.GetIsAromatic() else ''}{a.GetSymbol()} atom {atom + 1}"


def raw_edits(mol: Any) -> Iterable[tuple[str, str, Any]]:
    """Every edit as (kind, description, edited RWMol), unchecked."""
    from rdkit import Chem

    sites = _sites(mol)
    for atom in sites:
        for name, group in SUBSTITUENTS:
            yield "substituent", f"add {name} on {_where(mol, atom)}", _attach(mol, atom, group)
    for atom in sites:
        for ring_name, ring in RINGS:
            for linker_name, linker in LINKERS:
                article = "an" if linker_name[:1] in "aeiou" else "a"
                via = f" through {article} {linker_name} linker" if linker_name else ""
                group = linker + ring  # the linker's first atom bonds to the molecule, its last to the ring
                yield ("ring", f"add a {ring_name} ring{via} on {_where(mol, atom)}", _attach(mol, atom, group))
    for atom in mol.GetAtoms():
        if atom.GetSymbol() == "C" and atom.GetIsAromatic() and atom.GetTotalNumHs() == 1:
            edited = Chem.RWMol(mol)
            edited.GetAtomWithIdx(atom.GetIdx()).SetAtomicNum(7)
            edited.GetAtomWithIdx(atom.GetIdx()).SetNoImplicit(False)
            yield "swap", f"swap aromatic C atom {atom.GetIdx() + 1} for N", edited
        elif atom.GetSymbol() == "C" and not atom.GetIsAromatic() and atom.GetDegree() == 2 \
                and atom.GetTotalNumHs() == 2:
            for element, name in ((8, "O"), (7, "NH")):
                edited = Chem.RWMol(mol)
                edited.GetAtomWithIdx(atom.GetIdx()).SetAtomicNum(element)
                yield "swap", f"swap CH2 atom {atom.GetIdx() + 1} for {name}", edited
    for atom in mol.GetAtoms():
        if atom.GetDegree() == 1 and mol.GetNumHeavyAtoms() > 2:
            edited = Chem.RWMol(mol)
            edited.RemoveAtom(atom.GetIdx())
            yield "remove", f"remove the terminal {atom.GetSymbol()} atom {atom.GetIdx() + 1}", edited


def valid_edits(smiles: str, exclude: Iterable[str] = (), max_heavy_atoms: int | None = None,
                max_rotatable_bonds: int | None = None) -> list[Edit]:
    """Every distinct edit of ``smiles`` that RDKit sanitizes and ``parse_molecule`` accepts, highest QED
    first, except the molecule itself, the canonical SMILES in ``exclude`` and edits that add a bond
    between two heteroatoms (``HETERO_HETERO``); none for an unparsable one."""
    from .settings import DockingSettings

    defaults = DockingSettings()
    excluded = set(exclude)
    edits = _edits_of(smiles, max_heavy_atoms or defaults.max_heavy_atoms,
                      max_rotatable_bonds or defaults.max_rotatable_bonds)
    return [e for e in edits if e.smiles not in excluded]


@functools.lru_cache(maxsize=32)
def _edits_of(smiles: str, max_heavy_atoms: int, max_rotatable_bonds: int) -> tuple[Edit, ...]:
    """The enumeration behind ``valid_edits``, kept per molecule: a step asks for the edits of its best
    molecule once per optimizer prompt and once per draw, and each enumeration takes RDKit about 0.4 s."""
    from rdkit import Chem, rdBase
    from rdkit.Chem import QED, Descriptors

    from .chemistry import parse_molecule

    try:
        parsed_start = parse_molecule(smiles, max_heavy_atoms, max_rotatable_bonds)
    except MoleculeError:
        return ()
    seen = {parsed_start.smiles}
    hetero_hetero = Chem.MolFromSmarts(HETERO_HETERO)
    allowed = len(parsed_start.mol.GetSubstructMatches(hetero_hetero))
    found: list[Edit] = []
    for kind, description, edited in raw_edits(parsed_start.mol):
        if edited is None:
            continue
        try:
            with rdBase.BlockLogs():
                Chem.SanitizeMol(edited)
            parsed = parse_molecule(Chem.MolToSmiles(edited), max_heavy_atoms, max_rotatable_bonds)
        except Exception:  # noqa: BLE001 - MoleculeError, or RDKit's own types for a bad valence
            continue
        if parsed.smiles in seen or len(parsed.mol.GetSubstructMatches(hetero_hetero)) > allowed:
            continue
        seen.add(parsed.smiles)
        found.append(Edit(kind, description, parsed.smiles, QED.qed(parsed.mol), Descriptors.MolWt(parsed.mol)))
    return tuple(sorted(found, key=lambda e: -e.qed))


def edit_menu(
    smiles: str,
    check: Callable[[str], str | None] | None = None,
    size: int = MENU_SIZE,
    exclude: Iterable[str] = (),
    max_heavy_atoms: int | None = None,
    max_rotatable_bonds: int | None = None,
) -> list[Edit]:
    """Up to ``size`` distinct valid edits of ``smiles``, highest QED first, at most ``PER_KIND`` per kind.

    Each edited molecule is sanitized and checked by ``parse_molecule``, then
    by ``check`` (the run's filters: a reason means refused); ``exclude``
    holds canonical SMILES not to offer (the molecule itself, values tried).
    An unparsable ``smiles`` gives no menu.
    """
    found = valid_edits(smiles, exclude, max_heavy_atoms, max_rotatable_bonds)
    menu: list[Edit] = []
    refused: set[str] = set()
    counts: dict[str, int] = {}
    shown: set[str] = set()
    for first in (True, False):  # first every kind and group once; then the best of any fill the menu
        for edit in found:
            what = edit.description.split(" on ")[0]
            if len(menu) >= size:
                break
            if edit in menu or edit.smiles in refused or (first and (counts.get(edit.kind, 0) >= PER_KIND
                                                                       or what in shown)):
                continue
            if check is not None and check(edit.smiles):  # filters last: the slowest check
                refused.add(edit.smiles)
                continue
            counts[edit.kind] = counts.get(edit.kind, 0) + 1
            shown.add(what)
            menu.append(edit)
    return sorted(menu, key=lambda e: -e.qed)


def drawn_edit(
    smiles: str,
    seed: int,
    check: Callable[[str], str | None] | None = None,
    exclude: Iterable[str] = (),
    max_heavy_atoms: int | None = None,
    max_rotatable_bonds: int | None = None,
) -> str | None:
    """One valid edit of ``smiles`` picked with ``seed``, or ``None`` when no edit passes: the loop's draw.

    A kind of edit is picked first, then an edit of that kind, so the many
    ring additions do not crowd out the few swaps and removals; an edit the
    filters (``check``) refuse is put aside and another is picked. It costs
    no model call, only the docking the loop then runs, so it stands in for
    an answer of the model that handed back a molecule already tried.
    """
    import random

    rng = random.Random(seed)
    by_kind: dict[str, list[Edit]] = {}
    for edit in valid_edits(smiles, exclude, max_heavy_atoms, max_rotatable_bonds):
        by_kind.setdefault(edit.kind, []).append(edit)
    while by_kind:
        kind = rng.choice(sorted(by_kind))
        edit = by_kind[kind].pop(rng.randrange(len(by_kind[kind])))
        if not by_kind[kind]:
            del by_kind[kind]
        if check is None or not check(edit.smiles):
            return edit.smiles
    return None


def canonical_smiles(value: str) -> str:
    """An answer as the canonical SMILES of its molecule (quotes and backticks dropped), or as
    given when it does not parse: the same molecule written another way counts as already tried."""
    from .chemistry import parse_molecule

    text = value.strip().strip("`'\"").strip()
    try:
        return parse_molecule(text).smiles
    except (MoleculeError, TypeError):
        return text


class EditMenuTGD(TGD):
    """TGD that shows, after its request, a menu of checked edits of the molecule being improved.

    ``menu(smiles, exclude)`` gives the edits (``exclude``: canonical SMILES
    already tried, not worth offering). Answers are canonicalized, so a
    molecule written another way counts as already tried.
    """

    def __init__(self, parameters: Iterable[Variable], menu: Callable[[str, set[str]], list[Edit]] | None = None,
                 **options: Any) -> None:
        options.setdefault("canonical", canonical_smiles)
        super().__init__(parameters, **options)
        self.menu = menu
        self._avoid: dict[int, set[str]] = {}

    async def apropose(self, variable: Variable, k: int = 1, avoid: Iterable[str] = (), seed: int = 0,
                       explore: bool = False, scored: Sequence[tuple[str, str]] = (),
                       reask_tried: bool = True) -> Proposals:
        avoid = list(avoid)
        self._avoid[id(variable)] = {canonical_smiles(v) for v in avoid}
        return await super().apropose(variable, k, avoid=avoid, seed=seed, explore=explore, scored=scored,
                                      reask_tried=reask_tried)

    def prompt_for(self, variable: Variable, feedback: str | None = None,
                   scored: Sequence[tuple[str, str]] = ()) -> list[dict[str, Any]]:
        messages = super().prompt_for(variable, feedback, scored)
        edits = self.menu(variable.value, self._avoid.get(id(variable), set())) if self.menu is not None else []
        if edits and isinstance(messages[-1]["content"], str):
            from . import prompts

            listing = "\n".join(prompts.EDIT_ITEM.format(description=e.description, smiles=e.smiles, qed=e.qed,
                                                         mw=e.mw) for e in edits)
            messages[-1] = {**messages[-1],
                            "content": messages[-1]["content"] + "\n\n" + prompts.EDIT_MENU.format(edits=listing)}
        return messages
