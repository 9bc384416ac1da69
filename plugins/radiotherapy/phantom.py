"""Patient cases: the synthetic prostate phantom and cases users bring as arrays.

A case is what the planner needs and nothing more: one boolean mask per
structure on a common voxel grid, the voxel size, the isocentre, and
optionally a dose-influence matrix computed elsewhere (matRad, PortPy).
Every array is checked here, once, so that no plan is ever computed from
garbage.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

STRUCTURES = ("PTV", "bladder", "rectum", "femoral heads", "body")
"""Structure names, in the order of the paper's weight text."""

ORGANS = ("bladder", "rectum", "femoral heads")


class CaseError(ValueError):
    """A case built from user arrays is unusable; the message names the array."""


@dataclass(frozen=True, eq=False)
class Case:
    """Structure masks on a voxel grid indexed ``[z, y, x]`` (z superior, y posterior, x left).

    ``isocenter_mm`` is in the grid's frame, where the centre of voxel
    ``[i, j, k]`` sits at ``(i * dz, j * dy, k * dx)`` mm. A ``dose_influence``
    matrix, when given, has one row per grid voxel (C order) and one column
    per beamlet, in Gy per unit fluence.
    """

    name: str
    masks: dict[str, np.ndarray]
    voxel_mm: tuple[float, float, float]
    isocenter_mm: tuple[float, float, float]
    dose_influence: sp.csr_matrix | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.masks["body"].shape

    @property
    def n_voxels(self) -> int:
        return int(np.prod(self.shape))

    @property
    def voxel_cc(self) -> float:
        return float(np.prod(self.voxel_mm)) / 1000.0

    def indices(self, structure: str) -> np.ndarray:
        """Flat (C-order) voxel indices of a structure."""
        return np.flatnonzero(self.masks[structure])

    def volume_cc(self, structure: str) -> float:
        return float(self.masks[structure].sum()) * self.voxel_cc

    def density(self) -> np.ndarray:
        """Relative electron density per voxel (water 1) for the dose engine's ray tracing."""
        return self.masks["body"].astype(np.float32)

    def fingerprint(self) -> str:
        """A digest of the geometry, so cached dose matrices follow the case, not its name."""
        digest = hashlib.sha256()
        digest.update(repr((self.shape, self.voxel_mm, self.isocenter_mm)).encode())
        for name in STRUCTURES:
            digest.update(name.encode())
            digest.update(np.packbits(self.masks[name]).tobytes())
        return digest.hexdigest()[:20]


# ---------------------------------------------------------------- the synthetic prostate case


def _ellipsoid(z, y, x, centre, radii) -> np.ndarray:
    cz, cy, cx = centre
    rz, ry, rx = radii
    return ((z - cz) / rz) ** 2 + ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1.0


def prostate_phantom(grid_mm: float = 5.0) -> Case:
    """A pelvis with a prostate PTV whose organs at risk press on it.

    A phantom with organs a few millimetres away from the target gives
    rectum mean doses of 4-6 Gy, far below the clinical 17-24 Gy, and no
    trade-off for an optimizer to find. Here the rectum's anterior wall
    indents the PTV's posterior side, the bladder base rests on the PTV's
    superior side, and the femoral heads sit laterally in the path of the
    lateral beams, as on a planning CT.
    """
    if not np.isfinite(grid_mm) or not 1.0 <= grid_mm <= 10.0:
        raise CaseError(f"grid_mm must be between 1 and 10 mm, got {grid_mm!r}")
    h = float(grid_mm)
    # grid extent in mm around the isocentre (the PTV centre): z -80..110, y -120..120, x -185..185
    zs = np.arange(-80.0, 110.0 + 1e-9, h)
    ys = np.arange(-120.0, 120.0 + 1e-9, h)
    xs = np.arange(-185.0, 185.0 + 1e-9, h)
    z, y, x = np.meshgrid(zs, ys, xs, indexing="ij")

    body = ((y / 115.0) ** 2 + (x / 180.0) ** 2 <= 1.0) & (z >= -75.0) & (z <= 105.0)
    ptv = _ellipsoid(z, y, x, (0.0, 0.0, 0.0), (28.0, 24.0, 30.0))
    # rectum: an elliptic tube (40 x 30 mm) behind the PTV, its anterior wall 8 mm inside
    # the PTV; above the prostate it bends backwards towards the sigmoid
    rectum_y = 31.0 + 0.5 * np.clip(z - 25.0, 0.0, None)
    rectum = (((y - rectum_y) / 15.0) ** 2 + (x / 20.0) ** 2 <= 1.0) & (z >= -50.0) & (z <= 45.0)
    # bladder: its base rests on the PTV's superior-anterior side, 4 mm deep
    bladder = _ellipsoid(z, y, x, (48.0, -12.0, 0.0), (30.0, 30.0, 40.0))
    femoral_heads = _ellipsoid(z, y, x, (5.0, 5.0, -92.0), (24.0, 24.0, 24.0)) | _ellipsoid(
        z, y, x, (5.0, 5.0, 92.0), (24.0, 24.0, 24.0)
    )
    masks = {
        "PTV": ptv & body,
        "bladder": bladder & body,
        "rectum": rectum & body,
        "femoral heads": femoral_heads & body,
        "body": body,
    }
    iso = (-zs[0], -ys[0], -xs[0])
    return Case(f"synthetic prostate, {h:g} mm grid", masks, (h, h, h), iso)


# ---------------------------------------------------------------- cases from user arrays


def _voxel_size(voxel_mm: Any) -> tuple[float, float, float]:
    try:
        size = np.broadcast_to(np.asarray(voxel_mm, dtype=float), (3,))
    except (TypeError, ValueError):
        raise CaseError(
            f"voxel_mm must be a positive number or three numbers (z, y, x) in mm, got {voxel_mm!r}"
        ) from None
    if not np.all(np.isfinite(size)) or np.any(size <= 0):
        raise CaseError(f"voxel_mm must be positive and finite, got {voxel_mm!r}")
    return tuple(float(s) for s in size)


def _mask(name: str, array: Any) -> np.ndarray:
    mask = np.asarray(array)
    if mask.ndim != 3:
        raise CaseError(f"structure {name!r}: a mask must be a 3-D array [z, y, x], got {mask.ndim} dimensions")
    if mask.dtype != bool:
        if not np.issubdtype(mask.dtype, np.number) or not np.all(np.isin(mask, (0, 1))):
            raise CaseError(f"structure {name!r}: a mask must be boolean or hold only 0 and 1")
        mask = mask.astype(bool)
    if not mask.any():
        raise CaseError(f"structure {name!r}: the mask is empty")
    return mask


def _dose_influence(matrix: Any, n_voxels: int) -> sp.csr_matrix:
    try:
        dij = sp.csr_matrix(matrix, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CaseError(f"dose_influence: not a 2-D matrix ({exc})") from None
    if dij.shape[0] != n_voxels:
        raise CaseError(
            f"dose_influence has {dij.shape[0]} rows but the masks' grid has {n_voxels} voxels; "
            "it needs one row per voxel (C order) and one column per beamlet"
        )
    if dij.shape[1] == 0:
        raise CaseError("dose_influence has no columns (beamlets)")
    if not np.all(np.isfinite(dij.data)) or np.any(dij.data < 0):
        raise CaseError("dose_influence must hold finite, non-negative doses per unit fluence")
    return dij


def case_from_arrays(
    masks: Mapping[str, Any],
    voxel_mm: float | tuple[float, float, float],
    isocenter_mm: tuple[float, float, float] | None = None,
    dose_influence: Any = None,
    name: str = "user case",
) -> Case:
    """A case from structure masks (and optionally a dose-influence matrix).

    ``masks`` needs exactly the structures of the paper's objective:
    PTV, bladder, rectum, femoral heads (both heads in one mask) and body.
    The isocentre defaults to the PTV's centre of mass.
    """
    if not isinstance(masks, Mapping):
        raise CaseError(f"masks must be a dict of structure name to 3-D array, got {type(masks).__name__}")
    missing = [s for s in STRUCTURES if s not in masks]
    unknown = [s for s in masks if s not in STRUCTURES]
    if missing or unknown:
        raise CaseError(
            f"masks must hold exactly {', '.join(STRUCTURES)}"
            + (f"; missing: {', '.join(missing)}" if missing else "")
            + (f"; unknown: {', '.join(map(str, unknown))}" if unknown else "")
        )
    checked = {s: _mask(s, masks[s]) for s in STRUCTURES}
    shapes = {s: m.shape for s, m in checked.items()}
    if len(set(shapes.values())) != 1:
        listing = ", ".join(f"{s} {shape}" for s, shape in shapes.items())
        raise CaseError(f"all masks must have the same shape; got {listing}")
    outside = checked["PTV"] & ~checked["body"]
    if outside.any():
        raise CaseError(f"{int(outside.sum())} PTV voxels lie outside the body mask")
    size = _voxel_size(voxel_mm)
    if isocenter_mm is None:
        centre = np.argwhere(checked["PTV"]).mean(axis=0) * np.array(size)
        iso = tuple(float(c) for c in centre)
    else:
        iso_array = np.asarray(isocenter_mm, dtype=float)
        if iso_array.shape != (3,) or not np.all(np.isfinite(iso_array)):
            raise CaseError(f"isocenter_mm must be three finite numbers (z, y, x), got {isocenter_mm!r}")
        iso = tuple(float(c) for c in iso_array)
    n_voxels = int(np.prod(checked["body"].shape))
    dij = None if dose_influence is None else _dose_influence(dose_influence, n_voxels)
    return Case(name, checked, size, iso, dij)
