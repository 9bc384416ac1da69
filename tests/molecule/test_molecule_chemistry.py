"""Checks, properties, targets and settings: everything that happens before any 3D work."""

import subprocess
import sys

import pytest

import tg_molecule
from tg_molecule.chemistry import parse_molecule, properties
from tg_molecule.errors import MoleculeError
from tg_molecule.settings import DockingSettings

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"


def test_aspirin_properties_match_published_rdkit_values():
    parsed = parse_molecule("OC(=O)c1ccccc1OC(C)=O")
    values = properties(parsed.mol)
    assert parsed.smiles == ASPIRIN  # one identity, whatever the input spelling
    assert values["qed"] == pytest.approx(0.550, abs=0.001)
    assert values["sa"] == pytest.approx(1.58, abs=0.01)
    assert values["mw"] == pytest.approx(180.16, abs=0.01)
    assert (values["hbd"], values["hba"], values["heavy_atoms"]) == (1, 3, 13)
    assert values["lipinski_pass"] and values["veber_pass"]


def test_rule_of_five_violations_are_counted():
    # a long lipophilic chain: logP > 5 and MW > 500 (two violations), too flexible for Veber
    values = properties(parse_molecule("CCCCCCCCCCCCCCCCCC(=O)OCCCCCCCCCCCCCCCCCC", max_rotatable_bonds=40).mol)
    assert values["lipinski_violations"] == 2
    assert not values["lipinski_pass"] and not values["veber_pass"]


BAD_MOLECULES = [
    ("invalid", "C1CC((", "invalid SMILES"),
    ("valence", "C(C)(C)(C)(C)C", "valence"),
    ("empty", "", "empty SMILES"),
    ("blank", "   ", "empty SMILES"),
    ("mixture", "CC(=O)Oc1ccccc1C(=O)O.CN1C(=O)CN=C(c2ccccc2)c2cc(Cl)ccc21",
     "mixture of 2 drug-sized molecules (CC(=O)Oc1ccccc1C(=O)O, CN1C(=O)CN=C"),
    ("metal", "N.N.Cl[Pt]Cl", "3 disconnected fragments and none is organic"),
    ("platinum", "N[Pt](N)(Cl)Cl", "unsupported element(s) Pt"),
    ("covalent-sodium", "CC(=O)O[Na]", "unsupported element(s) Na"),
    ("boron", "OB(O)c1ccccc1", "unsupported element(s) B"),
    ("radical", "C[CH2]", "radical"),
    ("charged", "C[S+](C)C", "charged species that cannot be neutralized (S+1)"),
    ("huge", "C" * 150, "150 heavy atoms (at most 60)"),
    ("flexible", "C" * 40, "37 rotatable bonds (at most 30)"),
    ("too-long", "C" * 2000, "too long"),
    ("two-words", "CCO CCN", "whitespace"),
]


@pytest.mark.parametrize("smiles, expected", [b[1:] for b in BAD_MOLECULES], ids=[b[0] for b in BAD_MOLECULES])
def test_bad_molecules_are_clear_errors_before_any_3d_work(smiles, expected):
    with pytest.raises(MoleculeError) as info:
        parse_molecule(smiles)
    assert expected in str(info.value)


@pytest.mark.parametrize("smiles, expected", [b[1:] for b in BAD_MOLECULES], ids=[b[0] for b in BAD_MOLECULES])
def test_evaluate_reports_bad_molecules_without_raising_or_docking(smiles, expected):
    result = tg_molecule.evaluate(smiles, "DRD2", exhaustiveness=1)
    assert expected in result.error
    assert result.vina is None and not result.ok
    assert "ERROR: " + result.error in result.to_text()


def test_non_text_smiles_is_a_type_error():
    with pytest.raises(TypeError, match="SMILES must be text"):
        tg_molecule.evaluate(None)


def test_charges_are_neutralized_as_dockstring_does_with_a_note():
    parsed = parse_molecule("CC(=O)[O-]")
    assert parsed.smiles == "CC(=O)O"
    assert "neutralized" in parsed.notes[0]
    assert parse_molecule("C[N+](C)(C)C").smiles == "C[N+](C)(C)C"  # permanent charge on N is dockable
    assert parse_molecule("O=[N+]([O-])c1ccccc1").notes == ()  # nitro stays as written


@pytest.mark.parametrize("smiles, parent, removed", [
    ("CN1CCC[C@H]1c1cccnc1.Cl", "CN1CCC[C@H]1c1cccnc1", "Cl"),  # hydrochloride
    ("Cl.Cl.CN1CCN(CC1)C1=Nc2cc(Cl)ccc2Nc2ccccc12", "CN1CCN(C2=Nc3cc(Cl)ccc3Nc3ccccc32)CC1", "Cl, Cl"),
    ("Cc1ccc(S(=O)(=O)O)cc1.CN1CCC[C@H]1c1cccnc1", "CN1CCC[C@H]1c1cccnc1", "Cc1ccc(S(=O)(=O)O)cc1"),
    ("OC(=O)CC(O)(CC(O)=O)C(O)=O.CN1CCC[C@H]1c1cccnc1", "CN1CCC[C@H]1c1cccnc1", "O=C(O)CC(O)(CC(=O)O)C(=O)O"),
    ("OC(=O)/C=C\\C(O)=O.CN1CCC[C@H]1c1cccnc1", "CN1CCC[C@H]1c1cccnc1", "O=C(O)/C=C\\C(=O)O"),  # maleate
    ("O.O.CC(=O)Nc1ccc(O)cc1", "CC(=O)Nc1ccc(O)cc1", "O, O"),  # a hydrate
    ("CCO.Cn1c(=O)c2c(ncn2C)n(C)c1=O", "Cn1c(=O)c2c(ncn2C)n(C)c1=O", "CCO"),  # an ethanol solvate
])
def test_salts_and_solvates_are_stripped_to_the_parent_with_a_note(smiles, parent, removed):
    parsed = parse_molecule(smiles)
    assert parsed.smiles == parent
    assert parsed.notes[0] == f"salt or solvate stripped to its largest organic fragment {parent} (removed {removed})"
    assert parsed.mol.GetNumAtoms() == parse_molecule(parent).mol.GetNumAtoms()


def test_a_stripped_sodium_salt_is_neutralized_and_its_result_says_so():
    from tg_molecule.scoring import describe

    result = describe("CC(=O)Oc1ccccc1C(=O)[O-].[Na+]", "DRD2", DockingSettings())  # all but the docking
    assert result.error is None and result.smiles == ASPIRIN
    assert result.qed == pytest.approx(0.550, abs=0.001)
    assert [n.split(":")[0] for n in result.notes] == [
        "salt or solvate stripped to its largest organic fragment CC(=O)Oc1ccccc1C(=O)[O-] (removed [Na+])",
        "charges neutralized before protonation at pH 7.4",
    ]
    assert "Note: salt or solvate stripped" in result.to_text()


def test_the_rotatable_bond_cap_admits_dockstring_dataset_molecules():
    from dockstring.dataset import random_dataset_tuples

    for _, smiles, _ in random_dataset_tuples:
        parse_molecule(smiles)  # the largest: tuple 4, 57 heavy atoms and 24 rotatable bonds


def test_docking_limits_scale_with_the_molecule_unless_given():
    small, large = DockingSettings().for_molecule(13, 2), DockingSettings().for_molecule(57, 24)
    assert (small.timeout_s, small.memory_mb) == (300.0, 2048)  # aspirin: the old fixed limits
    # tuple 4 peaked at 2094 MB of address space at exhaustiveness 1 (98 s): well inside, both ways
    assert large.memory_mb >= 4096 and large.timeout_s >= 2000
    assert DockingSettings(exhaustiveness=1).for_molecule(57, 24).timeout_s >= 300
    two_threads = DockingSettings(cpu=2).for_molecule(57, 24)
    assert two_threads.memory_mb > large.memory_mb and two_threads.timeout_s < large.timeout_s
    given = DockingSettings(timeout_s=5, memory_mb=512).for_molecule(57, 24)
    assert (given.timeout_s, given.memory_mb) == (5.0, 512)


def test_caps_are_settings():
    assert parse_molecule("C" * 30, max_rotatable_bonds=30).smiles == "C" * 30
    with pytest.raises(MoleculeError, match="14 heavy atoms \\(at most 10\\)"):
        parse_molecule("Cn1c(=O)c2c(ncn2C)n(C)c1=O", max_heavy_atoms=10)


def test_targets_are_the_58_dockstring_targets():
    import tg_molecule.scoring  # noqa: F401  (a submodule import must not shadow the function)

    names = tg_molecule.targets()
    assert len(names) == 58
    assert {"DRD2", "ABL1", "THRB"} <= set(names)


@pytest.mark.parametrize("target, message", [
    ("DRD9", "unknown target 'DRD9' (did you mean DRD"),
    ("", "unknown target ''"),
    ("nope", "the 58 DOCKSTRING targets are: ABL1"),
])
def test_unknown_target_is_a_clear_error(target, message):
    with pytest.raises(tg_molecule.UnknownTargetError) as info:
        tg_molecule.evaluate(ASPIRIN, target)
    assert message in str(info.value)


def test_target_names_are_case_insensitive():
    assert tg_molecule.evaluate("", "drd2").target == "DRD2"


@pytest.mark.parametrize("settings, message", [
    ({"exhaustiveness": 0}, "exhaustiveness must be an integer from 1 to 512, got 0"),
    ({"exhaustiveness": -3}, "exhaustiveness must be an integer from 1 to 512, got -3"),
    ({"exhaustiveness": 2.5}, "exhaustiveness must be"),
    ({"seed": -1}, "seed must be"),
    ({"cpu": 0}, "cpu must be"),
    ({"timeout_s": 0}, "timeout_s must be"),
    ({"timeout_s": True}, "timeout_s must be"),
    ({"memory_mb": 10}, "memory_mb must be"),
])
def test_bad_settings_raise_value_errors_naming_the_setting(settings, message):
    with pytest.raises(ValueError) as info:
        tg_molecule.evaluate(ASPIRIN, "DRD2", **settings)
    assert message in str(info.value)


def test_bad_settings_for_batches_raise_before_any_work():
    with pytest.raises(ValueError, match="exhaustiveness must be"):
        tg_molecule.dock_many([ASPIRIN], "DRD2", exhaustiveness=0)
    with pytest.raises(ValueError, match="workers must be an integer >= 1, got 0"):
        tg_molecule.dock_many([ASPIRIN], "DRD2", workers=0)


def test_cache_key_depends_on_score_relevant_settings_only():
    base = DockingSettings().cache_fields()
    assert DockingSettings(timeout_s=5).cache_fields() == base
    assert DockingSettings(seed=1).cache_fields() != base
    assert DockingSettings(cpu=2).cache_fields() == base  # threads change speed, not scores
    assert DockingSettings(exhaustiveness=4).cache_fields() != base


def test_importing_the_plugin_loads_no_chemistry():
    code = (
        "import sys, tg_molecule, tg_molecule.plugin as p; p.tg_tasks(); p.tg_simulators(); "
        "print(sorted(m for m in ('rdkit', 'vina', 'meeko', 'openbabel', 'dockstring') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr
