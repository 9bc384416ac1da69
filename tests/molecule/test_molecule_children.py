"""Bounded memory: at most N docking processes alive per process, least recently used stopped first."""

import os
from pathlib import Path

import pytest

import tg_molecule
from tg_molecule.docking_client import children

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
CAFFEINE = "Cn1c(=O)c2c(ncn2C)n(C)c1=O"


def docking_processes() -> list[int]:
    """Live docking processes whose parent is this process, read from /proc (not from the pool)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # ended while we looked
            continue
        state, ppid = stat.rpartition(")")[2].split()[:2]
        if int(ppid) == os.getpid() and state != "Z" and b"tg_molecule.docking_child" in cmdline:
            found.append(int(entry.name))
    return found


@pytest.fixture
def cap_of_two():
    tg_molecule.release_targets()
    previous = children.max_children
    tg_molecule.set_max_children(2)
    yield
    tg_molecule.set_max_children(previous)
    tg_molecule.release_targets()


@pytest.mark.slow
def test_docking_three_targets_with_a_cap_of_two_keeps_two_processes_alive(cap_of_two):
    alive = []
    for target in ("DRD2", "DRD3", "ADRB2"):
        assert tg_molecule.evaluate(ASPIRIN, target, exhaustiveness=1).ok
        alive.append(len(docking_processes()))
    assert alive == [1, 2, 2]
    # the least recently used (DRD2's) went first: DRD3's process is reused, not restarted
    before = set(docking_processes())
    tg_molecule.evaluate(CAFFEINE, "DRD3", exhaustiveness=1)
    assert set(docking_processes()) == before
    assert tg_molecule.release_targets("drd3") == 1
    assert len(docking_processes()) == 1
    assert tg_molecule.release_targets() == 1
    assert docking_processes() == [] and children.live() == 0
    assert tg_molecule.evaluate(CAFFEINE, "DRD2", exhaustiveness=1).ok  # restarts on demand


def test_the_cap_and_release_check_their_input():
    with pytest.raises(ValueError, match="max_children must be an integer >= 1, got 0"):
        tg_molecule.set_max_children(0)
    with pytest.raises(tg_molecule.UnknownTargetError, match="unknown target 'DRD9'"):
        tg_molecule.release_targets("DRD9")
