"""Poses: every docking keeps its best pose, the cache keeps it too, and the files open in RDKit."""

import numpy as np
import pytest
from rdkit import Chem

import tg_molecule
from tg_molecule.poses import write_pose_pdbqt, write_poses_sdf

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
CAFFEINE = "Cn1c(=O)c2c(ncn2C)n(C)c1=O"


@pytest.fixture(scope="module")
def docked(tmp_path_factory):
    """Aspirin and caffeine on DRD2, plus a SMILES that cannot be docked (no pose).

    Module-scoped, so it runs before the per-test sealed environment: it
    points the cache at a folder of its own.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TG_CACHE_DIR", str(tmp_path_factory.mktemp("poses-cache")))
        return [tg_molecule.evaluate(s, "DRD2", exhaustiveness=1) for s in (ASPIRIN, CAFFEINE, "C1CC((")]


@pytest.mark.slow
def test_evaluate_returns_the_best_pose_at_the_reported_score(docked):
    aspirin = docked[0]
    assert aspirin.pose.startswith("MODEL 1") and aspirin.pose.count("MODEL") == 1
    reported = float(aspirin.pose.split("REMARK VINA RESULT:")[1].split()[0])
    assert reported == pytest.approx(aspirin.vina, abs=1e-3)
    mol = aspirin.pose_mol()
    assert mol.GetNumConformers() == 1 and mol.GetNumHeavyAtoms() == 13
    # the docked species is the pH 7.4 form (carboxylate), rebuilt with its bond orders
    assert Chem.MolToSmiles(Chem.RemoveHs(mol)) == aspirin.details["protonated_smiles"]
    assert docked[2].pose is None and docked[2].pose_mol() is None


@pytest.mark.slow
def test_the_cache_keeps_the_pose(docked):
    first = tg_molecule.evaluate(ASPIRIN, "DRD2", exhaustiveness=1)  # each test has its own cache folder
    again = tg_molecule.evaluate(ASPIRIN, "DRD2", exhaustiveness=1)
    assert not first.cached and again.cached
    assert again.pose == first.pose == docked[0].pose  # and docking is deterministic


@pytest.mark.slow
def test_sdf_of_several_poses_opens_in_rdkit_with_the_reported_scores(docked, tmp_path):
    path = tmp_path / "poses.sdf"
    written = write_poses_sdf(path, docked, extra=[{"rank": 1}, {"rank": 2}, {"rank": 3}])
    assert written == 2  # the invalid SMILES has no pose
    records = list(Chem.SDMolSupplier(str(path), removeHs=False))
    assert [m.GetProp("_Name") for m in records] == [ASPIRIN, CAFFEINE]
    for mol, result in zip(records, docked, strict=False):
        assert float(mol.GetProp("vina")) == result.vina
        assert float(mol.GetProp("qed")) == result.qed
        assert mol.GetProp("target") == "DRD2"
        np.testing.assert_allclose(mol.GetConformer().GetPositions(),
                                   result.pose_mol().GetConformer().GetPositions(), atol=1e-3)
    assert [m.GetProp("rank") for m in records] == ["1", "2"]
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.slow
def test_one_pdbqt_per_pose(docked, tmp_path):
    paths = write_pose_pdbqt(tmp_path / "poses", docked)
    assert [p.name for p in paths] == ["pose-01-DRD2.pdbqt", "pose-02-DRD2.pdbqt"]
    assert paths[1].read_text() == docked[1].pose


def test_sdf_extra_properties_must_match_the_results():
    with pytest.raises(ValueError, match="extra has 1 entries for 2 results"):
        write_poses_sdf("unused.sdf", [tg_molecule.MoleculeResult("C", "DRD2")] * 2, extra=[{}])
