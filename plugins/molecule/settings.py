"""Docking settings, checked once where the caller passes them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

MAX_SEED = 2**31 - 1  # Vina's seed is a C int, and it receives seed + 1
DEFAULT_MAX_HEAVY_ATOMS = 60
DEFAULT_MAX_ROTATABLE_BONDS = 20
# Bumped whenever a change to the pipeline can change a score, so old cache
# entries stop matching instead of being served as current.
PIPELINE_VERSION = "obabel-pH7.4/etkdgv3/mmff94/meeko-0.8-rigid-rings/vina-1.2-9-poses/vina-seed+1/best-pose"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class DockingSettings:
    """How a molecule is docked. The score depends on the seed and exhaustiveness only.

    ``cpu`` (Vina threads per docking process) changes speed, not results: the
    Monte Carlo runs are seeded one by one, whatever thread runs them.
    ``timeout_s`` and ``memory_mb`` bound each docking process.
    """

    exhaustiveness: int = 8
    seed: int = 0
    cpu: int = 1
    timeout_s: float = 300.0
    memory_mb: int = 2048
    max_heavy_atoms: int = DEFAULT_MAX_HEAVY_ATOMS
    max_rotatable_bonds: int = DEFAULT_MAX_ROTATABLE_BONDS

    def __post_init__(self) -> None:
        checks = (
            ("exhaustiveness", _is_int(self.exhaustiveness) and 1 <= self.exhaustiveness <= 512,
             "an integer from 1 to 512"),
            ("seed", _is_int(self.seed) and 0 <= self.seed < MAX_SEED, f"an integer from 0 to {MAX_SEED - 1}"),
            ("cpu", _is_int(self.cpu) and self.cpu >= 1, "an integer >= 1"),
            ("timeout_s", isinstance(self.timeout_s, (int, float)) and self.timeout_s > 0,
             "a number of seconds > 0"),
            ("memory_mb", _is_int(self.memory_mb) and self.memory_mb >= 256, "an integer >= 256"),
            ("max_heavy_atoms", _is_int(self.max_heavy_atoms) and self.max_heavy_atoms >= 1,
             "an integer >= 1"),
            ("max_rotatable_bonds", _is_int(self.max_rotatable_bonds) and self.max_rotatable_bonds >= 0,
             "an integer >= 0"),
        )
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(f"{name} must be {expected}, got {getattr(self, name)!r}")

    def cache_fields(self) -> dict[str, Any]:
        """The settings a docking score depends on."""
        return {"exhaustiveness": self.exhaustiveness, "seed": self.seed, "pipeline": PIPELINE_VERSION}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
