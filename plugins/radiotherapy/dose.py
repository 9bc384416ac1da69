"""Pencil-beam photon dose engine: the dose-influence matrix of a case.

Each coplanar beam is split into square beamlets on its isocentre plane. A
beamlet's dose at a voxel has two parts, each a depth term at the voxel's
radiological depth times the beamlet's square aperture blurred laterally:

* primary: matRad's generic 6 MV depth term (build-up, then attenuation
  with ``mu``) and a narrow Gaussian penumbra that widens with depth;
* scatter: a second term of the same form with a slow build-up
  (``scatter_beta``) and weak attenuation (``scatter_mu``), blurred by a
  broad Gaussian (``scatter_sigma``) that is tapered to zero at two sigmas.
  It is what makes the depth dose of a large field fall off more slowly
  than a narrow beam's and what puts a few percent of dose outside the
  field.

Both are multiplied by the inverse square of the distance to the source.
The scatter parameters were fitted by least squares, on a water box with
this engine, to the BJR Supplement 25 typical values of a 6 MV beam (10 x 10
cm field, SSD 100 cm: depth dose 86.5 / 67 / 38.5 % at 50 / 100 / 200 mm,
maximum near 15 mm) and to 2-3 % of the central-axis dose 20 mm outside the
field edge at 100 mm depth; tests/radiotherapy/test_rt_dose.py checks them.

The matrix (voxels x beamlets, Gy per unit fluence) does not depend on the
planning weights, so it is built once per case and beam set and cached on
disk under ``$TG_CACHE_DIR/radiotherapy``.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import asdict, dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy import ndimage
from scipy.special import erf

from tg_core import cache_dir

from .phantom import Case

log = logging.getLogger(__name__)

ENGINE_VERSION = "2"  # bump when the physics changes, so stale cached matrices are not reused
_CHUNK = 4096  # voxels evaluated at once against every beamlet in reach (bounds the temporaries)


def _default_angles() -> tuple[float, ...]:
    return tuple(round(i * 360.0 / 7, 4) for i in range(7))


@dataclass(frozen=True)
class BeamSettings:
    """Beam geometry and the pencil-beam model's parameters (lengths in mm).

    ``mu`` and ``beta`` are matRad's generic 6 MV primary depth-dose
    parameters; ``penumbra_fwhm`` is the lateral blur at the isocentre and
    ``penumbra_growth`` how fast the blur's sigma grows with depth (added in
    quadrature). The scatter term has weight ``scatter_weight`` relative to
    the primary, its own build-up and attenuation (``scatter_beta``,
    ``scatter_mu``) and a lateral Gaussian of ``scatter_sigma`` at the
    voxel's depth, tapered to zero at ``scatter_radius`` sigmas from the
    beamlet's centre (0 weight: primary only). Primary entries whose
    lateral profile is below ``cutoff`` are dropped to keep the matrix
    sparse.
    """

    gantry_angles: tuple[float, ...] = field(default_factory=_default_angles)
    beamlet_mm: float = 5.0
    sad: float = 1000.0
    mu: float = 0.005066
    beta: float = 0.3252
    penumbra_fwhm: float = 5.0
    penumbra_growth: float = 0.02
    target_margin: float = 5.0
    scatter_weight: float = 0.2819
    scatter_beta: float = 0.01742
    scatter_mu: float = 0.00206
    scatter_sigma: float = 20.0
    scatter_radius: float = 2.0
    cutoff: float = 1e-4

    def check(self) -> None:
        if not self.gantry_angles:
            raise ValueError("BeamSettings: gantry_angles is empty; give at least one beam")
        angles = np.asarray(self.gantry_angles, dtype=float)
        if not np.all(np.isfinite(angles)):
            raise ValueError(f"BeamSettings: gantry_angles must be finite degrees, got {self.gantry_angles!r}")
        positive = ("beamlet_mm", "sad", "mu", "beta", "penumbra_fwhm", "scatter_beta", "scatter_sigma", "scatter_radius")
        for name in positive:
            value = getattr(self, name)
            if not np.isfinite(value) or value <= 0:
                raise ValueError(f"BeamSettings: {name} must be positive, got {value!r}")
        if self.beta <= self.mu:
            raise ValueError("BeamSettings: beta (build-up) must exceed mu (attenuation)")
        for name in ("penumbra_growth", "target_margin", "scatter_weight", "scatter_mu"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"BeamSettings: {name} must be >= 0, got {value!r}")
        if self.scatter_beta == self.scatter_mu:
            raise ValueError("BeamSettings: scatter_beta must differ from scatter_mu")
        if not 0 < self.cutoff < 1:
            raise ValueError(f"BeamSettings: cutoff must be in (0, 1), got {self.cutoff!r}")

    def key(self) -> str:
        text = repr(sorted(asdict(self).items())) + ENGINE_VERSION
        return hashlib.sha256(text.encode()).hexdigest()[:20]


def _depth_term(d: np.ndarray, mu: float, beta: float) -> np.ndarray:
    """matRad's depth term beta/(beta - mu) (exp(-mu d) - exp(-beta d)): 0 at the surface."""
    return beta / (beta - mu) * (np.exp(-mu * d) - np.exp(-beta * d))


def depth_dose(depth_mm: np.ndarray, mu: float = 0.005066, beta: float = 0.3252) -> np.ndarray:
    """Primary depth term, normalised to 1 at its maximum (the build-up depth).

    Zero at the surface, a maximum at ln(beta/mu)/(beta - mu) (about 13 mm
    for 6 MV), then an exponential fall-off with depth.
    """
    d = np.asarray(depth_mm, dtype=float)
    d_max = np.log(beta / mu) / (beta - mu)
    return _depth_term(d, mu, beta) / _depth_term(d_max, mu, beta)


def scatter_depth_dose(depth_mm: np.ndarray, settings: BeamSettings) -> np.ndarray:
    """The scatter term per unit primary at its maximum: slow build-up, weak attenuation."""
    d = np.asarray(depth_mm, dtype=float)
    d_max = np.log(settings.beta / settings.mu) / (settings.beta - settings.mu)
    primary_peak = _depth_term(d_max, settings.mu, settings.beta)
    return settings.scatter_weight * _depth_term(d, settings.scatter_mu, settings.scatter_beta) / primary_peak


def _square_profile(offset: np.ndarray, half_width: float, sigma: np.ndarray) -> np.ndarray:
    """A square aperture of half-width ``half_width`` convolved with a Gaussian of ``sigma``."""
    s = np.sqrt(2.0) * sigma
    return 0.5 * (erf((offset + half_width) / s) - erf((offset - half_width) / s))


def _taper(r: np.ndarray, start: float = 0.8) -> np.ndarray:
    """1 up to ``start``, then a smooth step down to 0 at 1 (r in units of the kept radius)."""
    t = np.clip((r - start) / (1.0 - start), 0.0, 1.0)
    return 1.0 - t * t * (3.0 - 2.0 * t)


@dataclass
class _BeamFrame:
    direction: np.ndarray  # unit vector from source to isocentre, (z, y, x)
    lateral: np.ndarray  # in-plane axis of the beamlet grid
    axial: np.ndarray  # the patient axis (z)


def _frame(angle_deg: float) -> _BeamFrame:
    """Gantry 0 shines from anterior to posterior; angles turn through the patient's left."""
    t = np.deg2rad(angle_deg)
    return _BeamFrame(
        direction=np.array([0.0, np.cos(t), np.sin(t)]),
        lateral=np.array([0.0, -np.sin(t), np.cos(t)]),
        axial=np.array([1.0, 0.0, 0.0]),
    )


@dataclass(frozen=True)
class Beamlets:
    """Where each column of the matrix sits: its beam's gantry angle and its centre on the iso plane (mm)."""

    angle: np.ndarray
    v_mm: np.ndarray
    w_mm: np.ndarray

    def __len__(self) -> int:
        return int(self.angle.size)


class DoseEngine:
    """Builds the dose-influence matrix of a case for a set of beams."""

    def __init__(self, case: Case, beams: BeamSettings | None = None) -> None:
        self.case = case
        self.beams = beams or BeamSettings()

    # -------------------------------------------------------------- geometry

    def _positions(self, flat: np.ndarray) -> np.ndarray:
        """Voxel centres relative to the isocentre, (n, 3) in mm."""
        idx = np.stack(np.unravel_index(flat, self.case.shape), axis=1).astype(float)
        return idx * np.array(self.case.voxel_mm) - np.array(self.case.isocenter_mm)

    def _to_beam(self, pos: np.ndarray, frame: _BeamFrame) -> tuple[np.ndarray, ...]:
        """Distance from the source along the axis and coordinates projected on the iso plane."""
        sad = self.beams.sad
        along = sad + pos @ frame.direction
        v = (pos @ frame.lateral) * sad / along
        w = (pos @ frame.axial) * sad / along
        return along, v, w

    def _beamlet_grid(self, frame: _BeamFrame) -> tuple[np.ndarray, int, int]:
        """Beamlets covering the PTV's projection plus the margin: a mask over (iv, iw)."""
        b = self.beams.beamlet_mm
        _, v, w = self._to_beam(self._positions(self.case.indices("PTV")), frame)
        iv = np.rint(v / b).astype(int)
        iw = np.rint(w / b).astype(int)
        reach = int(np.ceil((max(self.case.voxel_mm) / 2 + self.beams.target_margin) / b))
        v0, w0 = iv.min() - reach, iw.min() - reach
        grid = np.zeros((iv.max() - v0 + reach + 1, iw.max() - w0 + reach + 1), dtype=bool)
        grid[iv - v0, iw - w0] = True
        disk = np.hypot(*np.mgrid[-reach : reach + 1, -reach : reach + 1]) <= reach + 0.5
        grid = ndimage.binary_fill_holes(ndimage.binary_dilation(grid, structure=disk))
        return grid, v0, w0

    def beamlets(self) -> Beamlets:
        """The beamlet of every matrix column, in the order ``build`` numbers them."""
        b = self.beams.beamlet_mm
        angles, vs, ws = [], [], []
        for angle in self.beams.gantry_angles:
            grid, v0, w0 = self._beamlet_grid(_frame(angle))
            iv, iw = np.nonzero(grid)
            angles.append(np.full(iv.size, float(angle)))
            vs.append((iv + v0) * b)
            ws.append((iw + w0) * b)
        return Beamlets(np.concatenate(angles), np.concatenate(vs), np.concatenate(ws))

    def radiological_depth(self, flat: np.ndarray, frame: _BeamFrame, v_range, w_range) -> np.ndarray:
        """Water-equivalent depth of voxels along their rays from the source.

        The case's relative electron density is sampled on a fan of rays
        (the beam's own divergent grid), summed along each ray, and read
        back at each voxel. Outside the grid is air (density 0).
        """
        case, sad = self.case, self.beams.sad
        # one ray per voxel width and two samples per voxel along it, but no finer than 2.5 mm and
        # 1 mm: on fine grids finer rays only cost memory (depth varies slowly across rays)
        lateral_step = max(min(case.voxel_mm), 2.5)
        step = max(min(case.voxel_mm) / 2, 1.0)
        half_diag = 0.5 * np.linalg.norm(np.array(case.shape) * np.array(case.voxel_mm))
        centre = 0.5 * (np.array(case.shape) - 1) * np.array(case.voxel_mm) - np.array(case.isocenter_mm)
        reach = half_diag + np.linalg.norm(centre) + step
        along = np.arange(sad - reach, sad + reach + step, step)
        vs = np.arange(v_range[0] - lateral_step, v_range[1] + 2 * lateral_step, lateral_step)
        ws = np.arange(w_range[0] - lateral_step, w_range[1] + 2 * lateral_step, lateral_step)
        scale = (along / sad).astype(np.float32)
        iso_index = np.array(case.isocenter_mm) / np.array(case.voxel_mm)
        index = np.empty((3, vs.size, ws.size, along.size), dtype=np.float32)
        for axis in range(3):  # grid index = iso + direction (L - sad) + (lateral v + axial w) L / sad
            per_mm = 1.0 / case.voxel_mm[axis]
            index[axis] = (
                iso_index[axis]
                + (frame.direction[axis] * per_mm * (along - sad)).astype(np.float32)[None, None, :]
                + ((frame.lateral[axis] * per_mm * vs).astype(np.float32)[:, None, None]
                   + (frame.axial[axis] * per_mm * ws).astype(np.float32)[None, :, None]) * scale[None, None, :]
            )
        density = ndimage.map_coordinates(case.density(), index.reshape(3, -1), order=1, mode="constant", cval=0.0)
        density = density.reshape(vs.size, ws.size, along.size)
        stretch = np.sqrt(1.0 + (vs[:, None] ** 2 + ws[None, :] ** 2) / sad**2)[:, :, None]
        # trapezoid rule from the first sample (outside the body): depth at each sample
        depth = (np.cumsum(density, axis=2, dtype=np.float64) - 0.5 * density - 0.5 * density[:, :, :1]) * step * stretch
        a, v, w = self._to_beam(self._positions(flat), frame)
        coords = np.stack([(v - vs[0]) / lateral_step, (w - ws[0]) / lateral_step, (a - along[0]) / step])
        return ndimage.map_coordinates(depth, coords, order=1, mode="nearest")

    # -------------------------------------------------------------- the matrix

    def _reach_mm(self) -> float:
        """How far from a beamlet's centre (on the iso plane) any of its dose can reach."""
        settings, case = self.beams, self.case
        diagonal = float(np.linalg.norm(np.array(case.shape) * np.array(case.voxel_mm)))
        sigma0 = settings.penumbra_fwhm / (2.0 * np.sqrt(2.0 * np.log(2.0)))
        magnify = settings.sad / max(settings.sad - diagonal, settings.sad / 10)
        primary = 4.0 * np.hypot(sigma0, settings.penumbra_growth * diagonal) * magnify
        if settings.scatter_weight == 0:
            return settings.beamlet_mm / 2 + primary
        # the scatter of one beamlet peaks below weight * (b / sigma)^2 / (2 pi) times its depth term
        # (at most about 1.5 times the primary's maximum); beyond the radius where that falls under
        # the cutoff nothing is kept
        sigma = settings.scatter_sigma * magnify
        peak = 1.5 * settings.scatter_weight * settings.beamlet_mm**2 / (2 * np.pi * settings.scatter_sigma**2)
        scatter = sigma * np.sqrt(2.0 * max(np.log(peak / settings.cutoff), 0.0))
        return settings.beamlet_mm / 2 + max(primary, scatter)

    def _reach_beamlets(self, primary_sigma: np.ndarray, scatter: np.ndarray, scatter_sigma: np.ndarray) -> int:
        """How many beamlets away from a voxel's own any entry above the cutoff can be."""
        settings = self.beams
        reach = 4.0 * float(primary_sigma.max()) + settings.beamlet_mm / 2
        if settings.scatter_weight > 0:
            reach = max(reach, settings.scatter_radius * float(scatter_sigma.max()))
        return int(np.ceil((settings.beamlet_mm / 2 + reach) / settings.beamlet_mm))

    def _beam_block(self, frame: _BeamFrame) -> sp.csr_matrix:
        """One beam's columns of the matrix (voxels x its beamlets)."""
        settings, case = self.beams, self.case
        b, sad = settings.beamlet_mm, settings.sad
        grid, v0, w0 = self._beamlet_grid(frame)
        columns = -np.ones((grid.shape[0] + 1, grid.shape[1] + 1), dtype=np.int32)  # last row/column: none
        columns[:-1, :-1][grid] = np.arange(int(grid.sum()))
        reach_mm = self._reach_mm()
        v_range = ((v0 - 0.5) * b - reach_mm, (v0 + grid.shape[0] - 0.5) * b + reach_mm)
        w_range = ((w0 - 0.5) * b - reach_mm, (w0 + grid.shape[1] - 0.5) * b + reach_mm)

        voxels = case.indices("body")
        along, v, w = self._to_beam(self._positions(voxels), frame)
        near = (v >= v_range[0]) & (v <= v_range[1]) & (w >= w_range[0]) & (w <= w_range[1])
        voxels, along, v, w = voxels[near], along[near], v[near], w[near]
        depth = self.radiological_depth(voxels, frame, v_range, w_range)
        to_iso = sad / along
        inverse_square = sad**2 / (along**2 + (v**2 + w**2) / to_iso**2)
        primary = depth_dose(depth, settings.mu, settings.beta) * inverse_square
        sigma0 = settings.penumbra_fwhm / (2.0 * np.sqrt(2.0 * np.log(2.0)))
        # the blur grows with depth at the voxel; dividing the physical width by the
        # magnification expresses it on the iso plane, where the beamlet grid lives
        primary_sigma = np.hypot(sigma0 / to_iso, settings.penumbra_growth * depth) * to_iso
        scatter = scatter_depth_dose(depth, settings) * inverse_square
        scatter_sigma = settings.scatter_sigma * to_iso

        reach_sq = (4.0 * primary_sigma + b / np.sqrt(2.0)) ** 2  # 4 sigma beyond the beamlet's corner
        scatter_reach_sq = (settings.scatter_radius * scatter_sigma) ** 2
        if settings.scatter_weight > 0:
            reach_sq = np.maximum(reach_sq, scatter_reach_sq)
        # only voxels that some beamlet reaches (the region above was sized for the worst case)
        reach = np.sqrt(reach_sq) + b / 2
        hit = (
            (v >= v0 * b - reach) & (v <= (v0 + grid.shape[0] - 1) * b + reach)
            & (w >= w0 * b - reach) & (w <= (w0 + grid.shape[1] - 1) * b + reach)
        )
        voxels, v, w, primary, primary_sigma, scatter, scatter_sigma, reach_sq, scatter_reach_sq = (
            a[hit] for a in (voxels, v, w, primary, primary_sigma, scatter, scatter_sigma, reach_sq, scatter_reach_sq)
        )
        rows, cols, vals = [], [], []
        for start in range(0, voxels.size, _CHUNK):
            part = slice(start, start + _CHUNK)
            offsets = np.arange(-self._reach_beamlets(primary_sigma[part], scatter[part], scatter_sigma[part]), 1)
            offsets = np.concatenate([offsets, -offsets[-2::-1]])
            gv = np.rint(v[part] / b).astype(np.int64)[:, None] + offsets - v0
            gw = np.rint(w[part] / b).astype(np.int64)[:, None] + offsets - w0
            ev = (v[part, None] - (gv + v0) * b).astype(np.float32)
            ew = (w[part, None] - (gw + w0) * b).astype(np.float32)
            gv = np.where((gv >= 0) & (gv < grid.shape[0]), gv, grid.shape[0])  # outside -> the empty row
            gw = np.where((gw >= 0) & (gw < grid.shape[1]), gw, grid.shape[1])
            column = columns[gv[:, :, None], gw[:, None, :]]
            # candidates: beamlets of this beam within the reach of the voxel; the dose is
            # evaluated on them only (a small share of the voxel x offset x offset box)
            distance_sq = ev[:, :, None] ** 2 + ew[:, None, :] ** 2
            i, a, c = np.nonzero((column >= 0) & (distance_sq <= reach_sq[part, None, None]))
            k = start + i
            sigma = primary_sigma[part, None].astype(np.float32)
            profile = _square_profile(ev, b / 2, sigma)[i, a] * _square_profile(ew, b / 2, sigma)[i, c]
            dose = primary[k] * profile
            keep = profile >= settings.cutoff
            if settings.scatter_weight > 0:
                sigma = scatter_sigma[part, None].astype(np.float32)
                # the Gaussian tapered to zero at the kept radius, so that no ring of beamlets
                # drops out all at once as the radius shrinks with depth
                taper = _taper(np.sqrt(distance_sq[i, a, c] / scatter_reach_sq[k]))
                dose += scatter[k] * taper * _square_profile(ev, b / 2, sigma)[i, a] * _square_profile(ew, b / 2, sigma)[i, c]
                keep |= taper > 0
            rows.append(k[keep])
            cols.append(column[i[keep], a[keep], c[keep]])
            vals.append(dose[keep])
        # entries come voxel by voxel in increasing order: the CSR arrays directly
        row_of_entry = voxels[np.concatenate(rows)]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(row_of_entry, minlength=case.n_voxels))])
        n_beamlets = int(grid.sum())
        return sp.csr_matrix((np.concatenate(vals), np.concatenate(cols), indptr), shape=(case.n_voxels, n_beamlets))

    def build(self) -> sp.csr_matrix:
        """The dose-influence matrix: one row per grid voxel, one column per beamlet."""
        self.beams.check()
        blocks = [self._beam_block(_frame(angle)) for angle in self.beams.gantry_angles]
        matrix = sp.hstack(blocks, format="csr")
        log.info("dose-influence matrix: %d voxels x %d beamlets, %d nonzeros", *matrix.shape, matrix.nnz)
        return matrix


# ---------------------------------------------------------------- disk cache


def dose_influence(case: Case, beams: BeamSettings | None = None, cache: bool = True) -> sp.csr_matrix:
    """The case's own matrix if it brought one, else the engine's, from the disk cache when possible."""
    if case.dose_influence is not None:
        return case.dose_influence
    beams = beams or BeamSettings()
    beams.check()
    path = cache_dir("radiotherapy") / f"dij-{case.fingerprint()}-{beams.key()}.npz"
    if cache and path.is_file():
        try:
            return sp.load_npz(path).tocsr()
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable cached dose matrix %s: %s", path, exc)
    matrix = DoseEngine(case, beams).build()
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp.npz")
        sp.save_npz(tmp, matrix, compressed=False)
        os.replace(tmp, path)
    return matrix
