"""Dose-volume histogram metrics on plain arrays of voxel doses.

Dx and Vx are read off the cumulative DVH with linear interpolation, as
matRad and PortPy do. Each voxel is taken to stand for an equal share of the
volume spread around its dose, so the k-th highest of N doses marks the point
(k - 1/2)/N of the volume. With that convention a dose that rises linearly
from a to b over a uniform volume gives exactly Dq = b - q (b - a)/100, and
Vx is the inverse of Dx.
"""

from __future__ import annotations

import re

import numpy as np
from numpy.typing import ArrayLike


def _doses(doses: ArrayLike, who: str) -> np.ndarray:
    values = np.asarray(doses, dtype=float).ravel()
    if values.size == 0:
        raise ValueError(f"{who}: no voxel doses (is the structure empty?)")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{who}: voxel doses must be finite numbers")
    return values


def _percent(value: float, who: str) -> float:
    value = float(value)
    if not np.isfinite(value) or not 0.0 <= value <= 100.0:
        raise ValueError(f"{who}: volume must be a percentage between 0 and 100, got {value!r}")
    return value


def dose_at_volume(doses: ArrayLike, percent: float) -> float:
    """Dx: the dose received by at least ``percent`` % of the volume (Gy)."""
    percent = _percent(percent, "dose_at_volume")
    descending = np.sort(_doses(doses, "dose_at_volume"))[::-1]
    n = descending.size
    position = percent / 100.0 * n + 0.5  # 1-based rank on the cumulative DVH
    if position <= 1.0:
        return float(descending[0])
    if position >= n:
        return float(descending[-1])
    k = int(np.floor(position))
    frac = position - k
    return float(descending[k - 1] + frac * (descending[k] - descending[k - 1]))


def _volumes(ascending: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Vx (%) at each level, on the cumulative DVH of sorted doses."""
    n = ascending.size
    k = n - np.searchsorted(ascending, levels, side="left")  # voxels at or above each level
    inner = (k > 0) & (k < n)
    kin = k[inner]
    upper, lower = ascending[n - kin], ascending[n - kin - 1]  # k-th and (k+1)-th highest doses
    out = np.where(k >= n, 100.0, 0.0)
    out[inner] = 100.0 * (kin - 0.5 + (upper - levels[inner]) / (upper - lower)) / n
    return out


def volume_at_dose(doses: ArrayLike, gy: float) -> float:
    """Vx: the percentage of the volume receiving at least ``gy`` Gy."""
    gy = float(gy)
    if not np.isfinite(gy):
        raise ValueError(f"volume_at_dose: dose level must be a finite number of Gy, got {gy!r}")
    return float(_volumes(np.sort(_doses(doses, "volume_at_dose")), np.array([gy]))[0])


def mean_dose(doses: ArrayLike) -> float:
    return float(_doses(doses, "mean_dose").mean())


def max_dose(doses: ArrayLike) -> float:
    return float(_doses(doses, "max_dose").max())


def homogeneity_index(doses: ArrayLike) -> float:
    """ICRU 83: (D2 - D98) / D50; 0 for a perfectly uniform target dose."""
    d50 = dose_at_volume(doses, 50.0)
    if d50 <= 0:
        raise ValueError("homogeneity_index: D50 is zero, the index is undefined")
    return (dose_at_volume(doses, 2.0) - dose_at_volume(doses, 98.0)) / d50


def paddick_conformity(target_doses: ArrayLike, body_doses: ArrayLike, prescription: float) -> float:
    """Paddick's conformity index TV_PIV^2 / (TV x PIV); 1 when the isodose hugs the target.

    ``body_doses`` are all voxels (including the target's) that could fall
    inside the prescription isodose; voxels are equal in volume.
    """
    target = _doses(target_doses, "paddick_conformity (target)")
    body = _doses(body_doses, "paddick_conformity (body)")
    covered = float(np.count_nonzero(target >= prescription))
    isodose = float(np.count_nonzero(body >= prescription))
    if isodose == 0:
        return 0.0
    return covered**2 / (target.size * isodose)


def cumulative_dvh(doses: ArrayLike, levels: ArrayLike) -> np.ndarray:
    """Vx (%) at each of many dose levels, for plotting."""
    return _volumes(np.sort(_doses(doses, "cumulative_dvh")), np.asarray(levels, dtype=float))


_METRIC = re.compile(
    r"^(?:(?P<stat>Dmean|Dmax|Dmin)|D(?P<cc>\d+(?:\.\d+)?)cc|D(?P<d>\d+(?:\.\d+)?)|V(?P<v>\d+(?:\.\d+)?))$"
)


def parse_metric(name: str) -> tuple[str, float | None]:
    """('Dmean'|'Dmax'|'Dmin', None), ('D', percent), ('Dcc', cc) or ('V', Gy); ValueError otherwise."""
    match = _METRIC.match(name) if isinstance(name, str) else None
    if match is None:
        raise ValueError(
            f"unknown metric {name!r}: use Dmean, Dmax, Dmin, D<percent> (e.g. D95), D<cc>cc (e.g. D1cc) "
            "or V<Gy> (e.g. V70)"
        )
    if match["stat"]:
        return match["stat"], None
    if match["cc"] is not None:
        cc = float(match["cc"])
        if cc <= 0:
            raise ValueError(f"metric {name}: the volume must be positive")
        return "Dcc", cc
    if match["d"] is not None:
        return "D", _percent(float(match["d"]), f"metric {name}")
    return "V", float(match["v"])


def dose_at_cc(doses: ArrayLike, cc: float, voxel_cc: float) -> float:
    """D<cc>cc: the minimum dose of the hottest ``cc`` cubic centimetres (the whole structure if smaller)."""
    values = _doses(doses, "dose_at_cc")
    if not voxel_cc > 0:
        raise ValueError(f"dose_at_cc: voxel volume must be positive, got {voxel_cc!r}")
    return dose_at_volume(values, min(100.0, 100.0 * cc / (values.size * voxel_cc)))


def metric(doses: ArrayLike, name: str, voxel_cc: float | None = None) -> float:
    """A named DVH metric: Gy for dose metrics, percent of the volume for V metrics.

    D<cc>cc metrics need the volume of one voxel (``voxel_cc``).
    """
    kind, level = parse_metric(name)
    if kind == "Dmean":
        return mean_dose(doses)
    if kind == "Dmax":
        return max_dose(doses)
    if kind == "Dmin":
        return float(_doses(doses, "Dmin").min())
    if kind == "D":
        return dose_at_volume(doses, level)
    if kind == "Dcc":
        if voxel_cc is None:
            raise ValueError(f"metric {name} needs the voxel volume (voxel_cc)")
        return dose_at_cc(doses, level, voxel_cc)
    return volume_at_dose(doses, level)
