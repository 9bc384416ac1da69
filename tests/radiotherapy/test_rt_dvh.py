"""DVH metrics against analytic dose distributions."""

import numpy as np
import pytest

from tg_radiotherapy import dvh


def linear_gradient(a: float, b: float, n: int = 1000, seed: int = 0) -> np.ndarray:
    """A dose rising linearly from a to b over a uniform volume: each voxel at its bin centre."""
    doses = a + (np.arange(n) + 0.5) * (b - a) / n
    return np.random.default_rng(seed).permutation(doses)


def test_uniform_dose_gives_the_same_dose_at_every_volume():
    doses = np.full(500, 42.0)
    for q in (0, 2, 50, 95, 98, 100):
        assert dvh.dose_at_volume(doses, q) == 42.0
    assert dvh.volume_at_dose(doses, 41.9) == 100.0
    assert dvh.volume_at_dose(doses, 42.0) == 100.0
    assert dvh.volume_at_dose(doses, 42.1) == 0.0
    assert dvh.mean_dose(doses) == 42.0 and dvh.max_dose(doses) == 42.0
    assert dvh.homogeneity_index(doses) == 0.0


@pytest.mark.parametrize("a,b", [(0.0, 70.0), (20.0, 60.0), (65.0, 75.0)])
def test_linear_gradient_gives_dq_equal_b_minus_q_times_range(a, b):
    doses = linear_gradient(a, b)
    for q in (1, 2, 5, 10, 25, 50, 75, 90, 95, 98, 99):
        expected = b - q * (b - a) / 100
        assert dvh.dose_at_volume(doses, q) == pytest.approx(expected, abs=1e-9)
        assert dvh.volume_at_dose(doses, expected) == pytest.approx(q, abs=1e-9)


def test_volume_at_dose_outside_the_dose_range():
    doses = linear_gradient(20.0, 60.0)
    assert dvh.volume_at_dose(doses, 10.0) == 100.0
    assert dvh.volume_at_dose(doses, 70.0) == 0.0


def test_homogeneity_index_of_a_linear_gradient():
    a, b = 60.0, 80.0
    expected = (0.98 - 0.02) * (b - a) / ((a + b) / 2)
    assert dvh.homogeneity_index(linear_gradient(a, b)) == pytest.approx(expected, rel=1e-9)


def test_paddick_conformity_index():
    target = np.concatenate([np.full(80, 71.0), np.full(20, 60.0)])  # 80 of 100 target voxels covered
    outside = np.concatenate([np.full(20, 70.5), np.full(900, 10.0)])  # 20 more voxels inside the isodose
    body = np.concatenate([target, outside])
    assert dvh.paddick_conformity(target, body, 70.2) == pytest.approx(80**2 / (100 * 100))
    assert dvh.paddick_conformity(np.full(10, 70.2), np.full(10, 70.2), 70.2) == 1.0


def test_named_metrics():
    doses = linear_gradient(0.0, 100.0)
    assert dvh.metric(doses, "D95") == pytest.approx(5.0)
    assert dvh.metric(doses, "D2.5") == pytest.approx(97.5)
    assert dvh.metric(doses, "V70") == pytest.approx(30.0)
    assert dvh.metric(doses, "Dmean") == pytest.approx(50.0)
    assert dvh.metric(doses, "Dmax") == pytest.approx(99.95)
    assert dvh.metric(doses, "Dmin") == pytest.approx(0.05)


def test_dose_to_an_absolute_volume():
    doses = linear_gradient(20.0, 60.0)  # 1000 voxels of 0.1 cc: 100 cc
    assert dvh.metric(doses, "D1cc", voxel_cc=0.1) == pytest.approx(60.0 - 0.01 * 40.0)
    assert dvh.metric(doses, "D25cc", voxel_cc=0.1) == pytest.approx(60.0 - 0.25 * 40.0)
    assert dvh.metric(doses, "D500cc", voxel_cc=0.1) == pytest.approx(doses.min())  # more than the structure
    with pytest.raises(ValueError, match="needs the voxel volume"):
        dvh.metric(doses, "D1cc")


@pytest.mark.parametrize("name", ["D", "V", "D101", "Dmedian", "mean", "d95", "V-5", "", "Dcc", "D1ml"])
def test_unknown_metric_names_are_rejected(name):
    with pytest.raises(ValueError, match="metric"):
        dvh.metric(np.ones(3), name)


def test_bad_dose_arrays_and_levels_are_rejected():
    with pytest.raises(ValueError, match="no voxel doses"):
        dvh.dose_at_volume([], 50)
    with pytest.raises(ValueError, match="finite"):
        dvh.dose_at_volume([1.0, np.nan], 50)
    with pytest.raises(ValueError, match="between 0 and 100"):
        dvh.dose_at_volume([1.0, 2.0], 101)
    with pytest.raises(ValueError, match="between 0 and 100"):
        dvh.dose_at_volume([1.0, 2.0], -1)
    with pytest.raises(ValueError, match="finite number of Gy"):
        dvh.volume_at_dose([1.0, 2.0], float("inf"))
