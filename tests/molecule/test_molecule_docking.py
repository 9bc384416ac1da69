"""Real docking on DRD2 at low exhaustiveness: scores, determinism, cache, failures, limits."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import tg_molecule
from tg_molecule import cache, scoring
from tg_molecule.ligand import prepare_ligand
from tg_molecule.protonation import protonate

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
CAFFEINE = "Cn1c(=O)c2c(ncn2C)n(C)c1=O"


@pytest.mark.slow
def test_small_ligands_dock_with_plausible_scores_at_ph_7_4():
    aspirin = tg_molecule.evaluate(ASPIRIN, "DRD2", exhaustiveness=1)
    caffeine = tg_molecule.evaluate(CAFFEINE, "DRD2", exhaustiveness=1)
    for result in (aspirin, caffeine):
        assert result.ok and result.error is None, result.error
        assert -8.0 < result.vina < -4.0  # small ligands on DRD2; dockstring gives -6.2 and -5.6
    assert aspirin.details["protonated_smiles"] == "CC(=O)Oc1ccccc1C(=O)[O-]"
    assert aspirin.qed == pytest.approx(0.550, abs=0.001)
    assert "Vina docking score: " in aspirin.to_text()


@pytest.mark.slow
def test_docking_is_deterministic_for_a_seed_across_processes_and_threads():
    first = tg_molecule.evaluate(CAFFEINE, exhaustiveness=1, seed=0, cpu=1, use_cache=False)
    # another cpu count is another docking process, which computes its maps again
    second = tg_molecule.evaluate(CAFFEINE, exhaustiveness=1, seed=0, cpu=2, use_cache=False)
    assert first.vina == second.vina
    assert first.details["protonated_smiles"] == second.details["protonated_smiles"]


def test_a_repeat_is_a_cache_hit_on_disk_keyed_by_canonical_smiles(monkeypatch):
    first = tg_molecule.evaluate(ASPIRIN, exhaustiveness=1)
    assert not first.cached
    assert cache.cache_path().is_file()
    assert str(cache.cache_path()).startswith(os.environ["TG_CACHE_DIR"])

    def no_docking(*args, **kwargs):
        raise AssertionError("a cached molecule was docked again")

    monkeypatch.setattr(scoring, "dock_outcome", no_docking)
    again = tg_molecule.evaluate("OC(=O)c1ccccc1OC(C)=O", exhaustiveness=1)  # same molecule, other spelling
    assert again.cached and again.vina == first.vina and again.smiles == first.smiles
    with pytest.raises(AssertionError, match="docked again"):  # other settings: not the same entry
        tg_molecule.evaluate(ASPIRIN, exhaustiveness=1, seed=3)


def test_protonation_matches_dockstrings_obabel_command(monkeypatch):
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    from dockstring.utils import protonate_smiles

    for smiles in (ASPIRIN, "OC1(CCN(CCCC(=O)c2ccc(F)cc2)CC1)c1ccc(Cl)cc1", "NCCc1ccc(O)c(O)c1"):
        assert protonate(smiles) == protonate_smiles(smiles, pH=7.4)


def test_embedding_failure_is_a_clear_cached_error():
    trans_fused = "C1C[C@H]2C[C@@H]2C1"  # a cyclopropane trans-fused to a cyclohexane cannot exist
    result = tg_molecule.evaluate(trans_fused, exhaustiveness=1)
    assert result.smiles == trans_fused
    assert "3D embedding of 'C1C[C@H]2C[C@@H]2C1' failed" in result.error
    assert "stereochemistry" in result.error
    assert not result.details["retryable"]
    assert cache.lookup("DRD2", trans_fused, tg_molecule.DockingSettings(exhaustiveness=1).cache_fields())
    assert "ATOM" in prepare_ligand("C1C[C@H]2C[C@H]2C1", seed=0).pdbqt  # the cis isomer embeds


@pytest.mark.slow
def test_a_docking_past_its_timeout_is_stopped_and_the_next_one_works():
    slow = tg_molecule.evaluate(ASPIRIN, exhaustiveness=8, timeout_s=0.2)
    assert "timed out after 0.2 s" in slow.error
    assert slow.details["retryable"]
    assert cache.lookup("DRD2", ASPIRIN, tg_molecule.DockingSettings(exhaustiveness=8).cache_fields()) is None
    assert tg_molecule.evaluate(ASPIRIN, exhaustiveness=1).ok


def test_a_docking_process_over_its_memory_limit_fails_alone():
    starved = tg_molecule.evaluate(ASPIRIN, exhaustiveness=1, memory_mb=256)
    assert "memory" in starved.error and "256 MB" in starved.error
    assert starved.details["retryable"]
    assert tg_molecule.evaluate(ASPIRIN, exhaustiveness=1).ok


@pytest.mark.slow
def test_vina_chatter_stays_out_of_the_terminal(tmp_path):
    code = f"import tg_molecule; print(tg_molecule.evaluate({CAFFEINE!r}, exhaustiveness=1).vina)"
    env = dict(os.environ, TG_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""  # Vina's "Search space volume" warning went to the debug log
    assert float(out.stdout) < -4
