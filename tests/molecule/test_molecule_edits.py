"""The menu of RDKit-checked edits the optimizer chooses from, and answers read as canonical SMILES."""

from tg_core import Variable
from tg_core.optimizer import Constraint
from tg_molecule.chemistry import parse_molecule
from tg_molecule.edits import EditMenuTGD, canonical_smiles, drawn_edit, edit_menu, valid_edits
from tg_molecule.goals import GoalSet

PHENOL = "Oc1ccccc1"


def test_every_edit_is_a_distinct_valid_molecule_that_passes_the_filters():
    filters = GoalSet().filters()
    menu = edit_menu(PHENOL, filters.check, size=10)
    assert len(menu) == 10
    smiles = [e.smiles for e in menu]
    assert len(set(smiles)) == 10 and PHENOL not in smiles
    assert all(parse_molecule(s).smiles == s and filters.check(s) is None for s in smiles)
    assert {"ring", "substituent", "swap", "remove"} <= {e.kind for e in menu}  # every kind is offered
    assert [e.qed for e in menu] == sorted((e.qed for e in menu), reverse=True)


def test_excluded_and_filtered_molecules_are_not_offered_and_garbage_gives_no_menu():
    first = edit_menu(PHENOL, size=5)
    again = edit_menu(PHENOL, size=5, exclude={first[0].smiles})
    assert first[0].smiles not in {e.smiles for e in again}
    no_fluorine = edit_menu(PHENOL, lambda s: "F refused" if "F" in s else None, size=20)
    assert no_fluorine and all("F" not in e.smiles for e in no_fluorine)
    assert edit_menu("C1CC((") == []


def test_no_edit_adds_a_bond_between_two_heteroatoms_and_n_rings_get_real_amides():
    """An ether or amide linker on a ring bonded through its N gave N-O ethers and hydrazides, a
    quarter of aspirin's edits (a drawn one was docked in a run); a carbonyl linker gives the amide."""
    from rdkit import Chem

    hetero_hetero = Chem.MolFromSmarts("[#7,#8,#16]-!@[#7,#8,#16]")
    edits = valid_edits("CC(=O)Oc1ccccc1C(=O)O")
    assert edits and not any(Chem.MolFromSmiles(e.smiles).HasSubstructMatch(hetero_hetero) for e in edits)
    assert "O=C(c1ccccc1O)N1CCCCC1" in {e.smiles for e in valid_edits(PHENOL)}  # piperidine amide
    assert valid_edits("CON(C)C")  # a heteroatom bond already there does not block every edit


def test_a_drawn_edit_is_seeded_spread_over_the_kinds_and_skips_what_is_tried_or_refused():
    """The loop's draw: the same seed gives the same molecule; seeds spread over every kind of edit
    (ring additions, three quarters of the list, do not crowd the others out); never a tried or refused one."""
    filters = GoalSet().filters()
    kind = {e.smiles: e.kind for e in valid_edits(PHENOL)}
    drawn = [drawn_edit(PHENOL, seed, filters.check) for seed in range(12)]
    assert drawn[:2] == [drawn_edit(PHENOL, seed, filters.check) for seed in range(2)]
    assert all(d in kind and filters.check(d) is None for d in drawn)
    assert {kind[d] for d in drawn} == {"ring", "substituent", "swap", "remove"}
    assert sum(kind[d] == "ring" for d in drawn) <= 6 < sum(k == "ring" for k in kind.values()) * 12 / len(kind)
    assert drawn_edit(PHENOL, 0, filters.check, exclude={drawn[0]}) != drawn[0]
    assert "F" not in drawn_edit(PHENOL, 3, lambda s: "F refused" if "F" in s else None)
    assert drawn_edit(PHENOL, 0, lambda s: "all refused") is None and drawn_edit("C1CC((", 0) is None


def test_answers_are_canonical_so_a_molecule_written_another_way_is_the_same():
    assert canonical_smiles(" `c1ccccc1O` ") == PHENOL
    assert canonical_smiles("not a molecule") == "not a molecule"


def test_the_menu_closes_the_optimizer_prompt_and_leaves_out_values_tried():
    variable = Variable(PHENOL, role_description="SMILES")
    tried = edit_menu(PHENOL, size=1)[0].smiles
    optimizer = EditMenuTGD([variable], engine="python:test_molecule_edits:never_called",
                            menu=lambda smiles, exclude: edit_menu(smiles, size=4, exclude=exclude),
                            constraints=[Constraint("a SMILES")])
    optimizer._avoid[id(variable)] = {tried}
    text = optimizer.prompt_for(variable, feedback="add a ring")[-1]["content"]
    assert text.rstrip().endswith("copying one of these SMILES exactly is the safest.")
    assert tried not in text and all(e.smiles in text for e in edit_menu(PHENOL, size=4, exclude={tried}))


def never_called(messages, **params):
    raise AssertionError("the prompt is built without asking the model")
