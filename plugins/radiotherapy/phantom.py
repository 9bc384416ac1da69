"""Patient cases: the synthetic prostate phantom and cases users bring as arrays.

A case is what the planner needs and nothing more: one boolean mask per
structure on a common voxel grid, the voxel size, the isocentre, optionally
a CT in Hounsfield units or a relative electron density grid (the dose
engine traces its rays through it), and optionally a dose-influence matrix
computed elsewhere (matRad, PortPy). Every array is checked here, once, so
that no plan is ever computed from garbage.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy import ndimage

STRUCTURES = ("PTV", "bladder", "rectum", "femoral heads", "body")
"""Structure names, in the order of the paper's weight text."""

ORGANS = ("bladder", "rectum", "femoral heads")

REGIONS = {
    "outside PTV": "the body outside the PTV (hot spots in normal tissue)",
    "ring 20-50 mm": "the body 20 to 50 mm from the PTV (how fast the dose falls off)",
}
"""Evaluation regions derived from the structures: goals can name them, the objective does not."""
RING_MM = (20.0, 50.0)

HU_TO_DENSITY = (
    (-1000.0, 0.001),  # air
    (-100.0, 0.95),  # fat
    (0.0, 1.0),  # water
    (40.0, 1.04),  # soft tissue
    (1200.0, 1.75),  # cortical bone
    (3000.0, 2.8),  # dense bone, contrast, metal: the table's end
)
"""CT number (HU) to density relative to water, interpolated linearly between these points.

Typical calibration points of a CT scanner for radiotherapy (air, fat,
water, soft tissue, bone); a clinic replaces them with its own scanner's
curve. Below -1000 HU and above 3000 HU the end values hold.
"""

HU_RANGE = (-1100.0, 4000.0)
"""CT numbers outside this range are not a calibrated CT (a wrong rescale slope or intercept)."""


def hu_to_density(hu: np.ndarray) -> np.ndarray:
    """Relative (electron) density of each voxel from its CT number, by ``HU_TO_DENSITY``."""
    points, densities = zip(*HU_TO_DENSITY, strict=True)
    return np.interp(np.asarray(hu, dtype=float), points, densities).astype(np.float32)


class CaseError(ValueError):
    """A case built from user arrays is unusable; the message names the array."""


@dataclass(frozen=True, eq=False)
class Case:
    """Structure masks on a voxel grid indexed ``[z, y, x]`` (z superior, y posterior, x left).

    ``isocenter_mm`` is in the grid's frame, where the centre of voxel
    ``[i, j, k]`` sits at ``(i * dz, j * dy, k * dx)`` mm. A ``dose_influence``
    matrix, when given, has one row per grid voxel (C order) and one column
    per beamlet, in Gy per unit fluence. ``ct_hu`` (CT numbers) and
    ``density_grid`` (relative to water; from the CT when it is given) are
    on the same grid; without them the body is water.
    """

    name: str
    masks: dict[str, np.ndarray]
    voxel_mm: tuple[float, float, float]
    isocenter_mm: tuple[float, float, float]
    dose_influence: sp.csr_matrix | None = None
    ct_hu: np.ndarray | None = None
    density_grid: np.ndarray | None = None
    dicom: Any = None  # dicom_rt.DicomFrame of a case read from DICOM: where it sits in patient coordinates
    _regions: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

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
        return float(self.region(structure).sum()) * self.voxel_cc

    def region(self, name: str) -> np.ndarray:
        """The mask of a structure or of an evaluation region (``REGIONS``), computed once."""
        if name in self.masks:
            return self.masks[name]
        if name not in REGIONS:
            raise KeyError(f"unknown structure or region {name!r}")
        if name not in self._regions:
            body, ptv = self.masks["body"], self.masks["PTV"]
            if name == "outside PTV":
                self._regions[name] = body & ~ptv
            else:
                distance = ndimage.distance_transform_edt(~ptv, sampling=self.voxel_mm)
                self._regions[name] = body & (distance >= RING_MM[0]) & (distance <= RING_MM[1])
        return self._regions[name]

    def density(self) -> np.ndarray:
        """Density relative to water per voxel, for the dose engine's rays; air outside the body.

        Outside the body contour (couch, air, CT artefacts) counts as air,
        as treatment planning systems do.
        """
        body = self.masks["body"]
        if self.density_grid is None:
            return body.astype(np.float32)
        return np.where(body, self.density_grid, 0.0).astype(np.float32)

    def fingerprint(self) -> str:
        """A digest of the geometry, so cached dose matrices follow the case, not its name."""
        digest = hashlib.sha256()
        digest.update(repr((self.shape, self.voxel_mm, self.isocenter_mm)).encode())
        for name in STRUCTURES:
            digest.update(name.encode())
            digest.update(np.packbits(self.masks[name]).tobytes())
        if self.density_grid is not None:
            digest.update(b"density")
            digest.update(np.ascontiguousarray(self.density_grid, dtype=np.float32).tobytes())
        return digest.hexdigest()[:20]


# ---------------------------------------------------------------- the synthetic prostate case


def _ellipsoid(z, y, x, centre, radii) -> np.ndarray:
    cz, cy, cx = centre
    rz, ry, rx = radii
    return ((z - cz) / rz) ** 2 + ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1.0


def prostate_phantom(grid_mm: float = 5.0) -> Case:
    """A pelvis whose organs at risk share the high-dose region with the target, as on a planning CT.

    A phantom with organs a few millimetres away from the target gives
    rectum mean doses of 4-6 Gy, far below the clinical 17-25 Gy, and no
    trade-off for an optimizer to find. Here the PTV is the prostate and the
    seminal vesicles with a 7 mm margin (5 mm posteriorly); the vesicles lie between the
    bladder base (in front, inside the fields) and the rectum (behind),
    whose anterior wall the PTV overlaps; the femoral heads sit laterally in
    the path of the lateral beams, the pubic bones in front. Lengths in mm,
    the isocentre at the prostate's centre.
    """
    if not np.isfinite(grid_mm) or not 1.0 <= grid_mm <= 10.0:
        raise CaseError(f"grid_mm must be between 1 and 10 mm, got {grid_mm!r}")
    h = float(grid_mm)
    # grid extent around the isocentre: z -90..130 (superior), y -120..120 (posterior), x -185..185 (left)
    zs = np.arange(-90.0, 130.0 + 1e-9, h)
    ys = np.arange(-120.0, 120.0 + 1e-9, h)
    xs = np.arange(-185.0, 185.0 + 1e-9, h)
    z, y, x = np.meshgrid(zs, ys, xs, indexing="ij")

    body = ((y / 115.0) ** 2 + (x / 180.0) ** 2 <= 1.0) & (z >= -85.0) & (z <= 125.0)
    ptv = _expanded(z, y, x, *PROSTATE)
    for centre in SEMINAL_VESICLES[0]:
        ptv |= _expanded(z, y, x, centre, SEMINAL_VESICLES[1])
    # rectum: an elliptic tube behind the prostate and vesicles; above them it bends backwards
    # towards the sigmoid
    rectum_y = RECTUM["y"] + RECTUM["bend"] * np.clip(z - RECTUM["bend_from"], 0.0, None)
    rectum = (((y - rectum_y) / RECTUM["ry"]) ** 2 + (x / RECTUM["rx"]) ** 2 <= 1.0)
    rectum &= (z >= RECTUM["z"][0]) & (z <= RECTUM["z"][1])
    bladder = _ellipsoid(z, y, x, *BLADDER)
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
    ct = _phantom_ct(z, y, x, masks, rectum_y)
    iso = (-zs[0], -ys[0], -xs[0])
    return Case(f"synthetic prostate, {h:g} mm grid", masks, (h, h, h), iso, ct_hu=ct, density_grid=hu_to_density(ct))


PTV_MARGIN_MM = (7.0, 5.0)
"""CTV-to-PTV margin: 7 mm, 5 mm posteriorly (towards the rectum), as is common for prostate IMRT."""


def _expanded(z, y, x, centre, radii) -> np.ndarray:
    """An ellipsoid grown by the PTV margin (the posterior half by the smaller one)."""
    margin, posterior = PTV_MARGIN_MM
    rz, ry, rx = radii
    front = _ellipsoid(z, y, x, centre, (rz + margin, ry + margin, rx + margin)) & (y <= centre[1])
    back = _ellipsoid(z, y, x, centre, (rz + margin, ry + posterior, rx + margin)) & (y > centre[1])
    return front | back

PROSTATE = ((0.0, 0.0, 0.0), (20.0, 17.0, 22.0))
"""Centre and radii (z, y, x) of the prostate: about 31 cc."""
SEMINAL_VESICLES = (((26.0, 13.0, -15.0), (26.0, 13.0, 15.0)), (9.0, 6.0, 15.0))
"""Centres of the two vesicles (superior-posterior of the prostate) and their radii."""
RECTUM = {"y": 32.0, "ry": 14.0, "rx": 17.0, "z": (-45.0, 60.0), "bend": 0.6, "bend_from": 30.0}
BLADDER = ((46.0, -12.0, 0.0), (34.0, 30.0, 40.0))
"""About 170 cc; its base reaches down to the prostate's top, in front of the vesicles, inside the fields."""


def _capsule(z, y, x, start, end, radius) -> np.ndarray:
    """Points within ``radius`` of the segment from ``start`` to ``end`` (z, y, x in mm)."""
    a, b = np.array(start, dtype=float), np.array(end, dtype=float)
    axis = b - a
    t = ((z - a[0]) * axis[0] + (y - a[1]) * axis[1] + (x - a[2]) * axis[2]) / float(axis @ axis)
    t = np.clip(t, 0.0, 1.0)
    return (z - a[0] - t * axis[0]) ** 2 + (y - a[1] - t * axis[1]) ** 2 + (x - a[2] - t * axis[2]) ** 2 <= radius**2


PHANTOM_HU = {"air": -1000.0, "soft tissue": 40.0, "femoral heads": 700.0, "pubic bones": 800.0, "rectal gas": -950.0}
"""CT numbers of the phantom: femoral heads and pubic bones as cancellous bone in a cortical shell
(averaged over a voxel), a pocket of gas in the rectal lumen."""


def _phantom_ct(z, y, x, masks, rectum_y) -> np.ndarray:
    """The phantom's CT: soft tissue, the femoral heads, the pubic bones and gas in the rectum."""
    body = masks["body"]
    ct = np.where(body, PHANTOM_HU["soft tissue"], PHANTOM_HU["air"])
    pubic = _capsule(z, y, x, (-5.0, -58.0, 0.0), (30.0, -58.0, 0.0), 10.0)  # the symphysis
    for side in (-1.0, 1.0):
        pubic |= _capsule(z, y, x, (22.0, -58.0, 8.0 * side), (12.0, -10.0, 72.0 * side), 9.0)  # superior ramus
        pubic |= _capsule(z, y, x, (-8.0, -55.0, 8.0 * side), (-25.0, -8.0, 55.0 * side), 7.0)  # inferior ramus
    soft_organs = masks["PTV"] | masks["bladder"] | masks["rectum"]
    ct[pubic & body & ~soft_organs] = PHANTOM_HU["pubic bones"]
    ct[masks["femoral heads"]] = PHANTOM_HU["femoral heads"]
    lumen = (((y - rectum_y - 4.0) / 6.0) ** 2 + (x / 8.0) ** 2 <= 1.0) & (z >= 5.0) & (z <= 25.0)
    ct[lumen & body] = PHANTOM_HU["rectal gas"]
    return ct.astype(np.float32)


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


def _grid(name: str, array: Any, shape: tuple[int, ...], low: float, high: float, unit: str) -> np.ndarray:
    try:
        grid = np.asarray(array, dtype=np.float32)
    except (TypeError, ValueError):
        raise CaseError(f"{name} must be a 3-D array of numbers") from None
    if grid.shape != shape:
        raise CaseError(f"{name} has shape {grid.shape} but the masks have {shape}")
    if not np.all(np.isfinite(grid)):
        raise CaseError(f"{name} holds values that are not finite numbers")
    if grid.min() < low or grid.max() > high:
        raise CaseError(
            f"{name} ranges from {grid.min():g} to {grid.max():g} {unit}; expected {low:g} to {high:g} {unit}"
            + (" (check the rescale slope and intercept)" if name == "ct_hu" else "")
        )
    return grid


def case_from_arrays(
    masks: Mapping[str, Any],
    voxel_mm: float | tuple[float, float, float],
    isocenter_mm: tuple[float, float, float] | None = None,
    dose_influence: Any = None,
    name: str = "user case",
    ct_hu: Any = None,
    density: Any = None,
) -> Case:
    """A case from structure masks (and optionally a CT or density grid, or a dose-influence matrix).

    ``masks`` needs exactly the structures of the paper's objective:
    PTV, bladder, rectum, femoral heads (both heads in one mask) and body.
    The isocentre defaults to the PTV's centre of mass. ``ct_hu`` is
    converted to density with ``HU_TO_DENSITY``; give ``density`` (relative
    to water) instead to use another calibration. Without either, the body
    is water.
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
    if ct_hu is not None and density is not None:
        raise CaseError("give ct_hu or density, not both: the density follows from the CT")
    shape = checked["body"].shape
    hu = None if ct_hu is None else _grid("ct_hu", ct_hu, shape, *HU_RANGE, "HU")
    grid = hu_to_density(hu) if hu is not None else None
    if density is not None:
        grid = _grid("density", density, shape, 0.0, 5.0, "relative to water")
    return Case(name, checked, size, iso, dij, ct_hu=hu, density_grid=grid)
