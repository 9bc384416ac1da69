"""Docking settings, checked once where the caller passes them."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

MAX_SEED = 2**31 - 1  # Vina's seed is a C int, and it receives seed + 1
DEFAULT_MAX_HEAVY_ATOMS = 60
DEFAULT_MAX_ROTATABLE_BONDS = 30  # DOCKSTRING's dataset holds molecules with 24
# Bumped whenever a change to the pipeline can change a score, so old cache
# entries stop matching instead of being served as current.
PIPELINE_VERSION = "obabel-pH7.4/etkdgv3/mmff94/meeko-0.8-rigid-rings/vina-1.2-9-poses/vina-seed+1/best-pose"


# Limits of one docking process, scaled with the molecule (``DockingSettings.for_molecule``).
# Vina runs ``exhaustiveness`` Monte Carlo searches of 105 * (50 + atoms + 10 * (torsions + 6))
# steps each (its own heuristic), and a step costs about atoms**2 (intramolecular pairs): so
# the work of one search is WORK = (50 + heavy + 10 * (rotatable + 6)) * heavy**2. Measured at
# exhaustiveness 1, cpu 1 on DRD2 and four other targets (8 molecules, 13 to 57 heavy atoms):
# about 5e-5 s per unit of WORK (within 2x), and a peak address space of about 1 GB (Vina
# maps, libraries) plus 8.7e-4 MB per unit per search running at once (DOCKSTRING's tuple 4,
# 57 heavy atoms and 24 rotatable bonds: 1.32e6 units, 98 s, 2094 MB peak, over the old
# fixed 2048 MB limit: std::bad_alloc).
MIN_TIMEOUT_S = 300.0
MIN_MEMORY_MB = 2048
SECONDS_PER_WORK = 5e-5
MB_PER_WORK = 8.7e-4
BASE_MEMORY_MB = 1024
TIMEOUT_MARGIN = 4  # a busy machine (the measurements above ran beside six other jobs)
MEMORY_MARGIN = 2
MEMORY_STEP_MB = 1024  # few distinct limits, so few docking processes per target


def search_work(heavy_atoms: int, rotatable_bonds: int) -> int:
    """Vina's work for one Monte Carlo search of a ligand, in the units above."""
    return (50 + heavy_atoms + 10 * (rotatable_bonds + 6)) * heavy_atoms**2


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class DockingSettings:
    """How a molecule is docked. The score depends on the seed and exhaustiveness only.

    ``cpu`` (Vina threads per docking process) changes speed, not results: the
    Monte Carlo runs are seeded one by one, whatever thread runs them.
    ``timeout_s`` and ``memory_mb`` bound each docking; left at None, they
    scale with the molecule (``for_molecule``), so a large flexible ligand
    gets the time and memory it needs while a runaway is still stopped.
    """

    exhaustiveness: int = 8
    seed: int = 0
    cpu: int = 1
    timeout_s: float | None = None
    memory_mb: int | None = None
    max_heavy_atoms: int = DEFAULT_MAX_HEAVY_ATOMS
    max_rotatable_bonds: int = DEFAULT_MAX_ROTATABLE_BONDS

    def __post_init__(self) -> None:
        checks = (
            ("exhaustiveness", _is_int(self.exhaustiveness) and 1 <= self.exhaustiveness <= 512,
             "an integer from 1 to 512"),
            ("seed", _is_int(self.seed) and 0 <= self.seed < MAX_SEED, f"an integer from 0 to {MAX_SEED - 1}"),
            ("cpu", _is_int(self.cpu) and self.cpu >= 1, "an integer >= 1"),
            ("timeout_s", self.timeout_s is None or (isinstance(self.timeout_s, (int, float))
                                                     and not isinstance(self.timeout_s, bool)
                                                     and self.timeout_s > 0),
             "a number of seconds > 0 (or None: scaled with the molecule)"),
            ("memory_mb", self.memory_mb is None or (_is_int(self.memory_mb) and self.memory_mb >= 256),
             "an integer >= 256 (or None: scaled with the molecule)"),
            ("max_heavy_atoms", _is_int(self.max_heavy_atoms) and self.max_heavy_atoms >= 1,
             "an integer >= 1"),
            ("max_rotatable_bonds", _is_int(self.max_rotatable_bonds) and self.max_rotatable_bonds >= 0,
             "an integer >= 0"),
        )
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(f"{name} must be {expected}, got {getattr(self, name)!r}")

    def for_molecule(self, heavy_atoms: int, rotatable_bonds: int) -> DockingSettings:
        """These settings with the limits left unset filled in for this molecule's size."""
        work = search_work(heavy_atoms, rotatable_bonds)
        at_once = min(self.cpu, self.exhaustiveness)
        timeout_s = self.timeout_s
        if timeout_s is None:
            rounds = math.ceil(self.exhaustiveness / at_once)
            timeout_s = max(MIN_TIMEOUT_S, round(TIMEOUT_MARGIN * SECONDS_PER_WORK * work * rounds))
        memory_mb = self.memory_mb
        if memory_mb is None:
            needed = BASE_MEMORY_MB + MEMORY_MARGIN * MB_PER_WORK * work * at_once
            memory_mb = max(MIN_MEMORY_MB, MEMORY_STEP_MB * math.ceil(needed / MEMORY_STEP_MB))
        return replace(self, timeout_s=float(timeout_s), memory_mb=int(memory_mb))

    def cache_fields(self) -> dict[str, Any]:
        """The settings a docking score depends on."""
        return {"exhaustiveness": self.exhaustiveness, "seed": self.seed, "pipeline": PIPELINE_VERSION}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
