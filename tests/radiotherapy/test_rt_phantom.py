"""The synthetic prostate case and cases built from user arrays."""

import numpy as np
import pytest
from scipy import ndimage

from tg_radiotherapy.phantom import (
    STRUCTURES,
    CaseError,
    case_from_arrays,
    hu_to_density,
    prostate_phantom,
)


@pytest.fixture(scope="module")
def phantom():
    return prostate_phantom(4.0)


def centre_mm(case, structure):
    return np.argwhere(case.masks[structure]).mean(axis=0) * np.array(case.voxel_mm) - np.array(case.isocenter_mm)


def test_volumes_are_those_of_a_prostate_case(phantom):
    volumes = {s: phantom.volume_cc(s) for s in STRUCTURES}
    assert 60 < volumes["PTV"] < 130
    assert 50 < volumes["rectum"] < 100
    assert 150 < volumes["bladder"] < 400
    assert 80 < volumes["femoral heads"] < 160
    for s in STRUCTURES[:-1]:
        assert not (phantom.masks[s] & ~phantom.masks["body"]).any(), s


def test_the_ptv_holds_the_vesicles_between_bladder_and_rectum_and_overlaps_both(phantom):
    ptv, rectum, bladder = (phantom.masks[s] for s in ("PTV", "rectum", "bladder"))
    for organ in (rectum, bladder):  # organ walls reach into the PTV, as on a planning CT
        assert 0.02 * organ.sum() < (ptv & organ).sum() < 0.10 * organ.sum()
    z_mm = np.arange(phantom.shape[0]) * phantom.voxel_mm[0] - phantom.isocenter_mm[0]
    vesicles = ptv & (z_mm > 30)[:, None, None]  # the PTV above the prostate: the vesicles with margin
    assert vesicles.sum() * phantom.voxel_cc > 5
    v, r, b = centre_mm_of(phantom, vesicles), centre_mm(phantom, "rectum"), centre_mm_of(phantom, bladder & (z_mm < 40)[:, None, None])
    assert b[1] < v[1] < r[1]  # y grows posteriorly: bladder base, vesicles, rectum
    ptv_top = z_mm[np.flatnonzero(ptv.any(axis=(1, 2)))].max()
    bladder_base = z_mm[np.flatnonzero(bladder.any(axis=(1, 2)))].min()
    assert bladder_base < ptv_top - 15  # the bladder base lies inside the fields
    shell = ndimage.binary_dilation(ptv, iterations=3) & ~ptv  # within 12 mm of the PTV
    assert (shell & rectum).sum() > 0.15 * rectum.sum()


def test_femoral_heads_are_lateral_and_symmetric(phantom):
    heads = phantom.masks["femoral heads"]
    labels, count = ndimage.label(heads)
    assert count == 2
    centres = [np.argwhere(labels == i).mean(axis=0) * phantom.voxel_mm[2] for i in (1, 2)]
    assert abs(abs(centres[0][2] - centres[1][2]) - 184) < 8


@pytest.mark.parametrize("grid", [0.5, 11, float("nan")])
def test_bad_phantom_grid_is_rejected(grid):
    with pytest.raises(CaseError, match="grid_mm"):
        prostate_phantom(grid)


def small_masks(shape=(10, 12, 14)):
    body = np.zeros(shape, dtype=bool)
    body[1:-1, 1:-1, 1:-1] = True
    masks = {s: np.zeros(shape, dtype=bool) for s in STRUCTURES}
    masks["body"] = body
    masks["PTV"][4:6, 5:7, 6:8] = True
    masks["rectum"][4:6, 7:9, 6:8] = True
    masks["bladder"][6:8, 4:6, 6:8] = True
    masks["femoral heads"][4:6, 5:7, 2:4] = True
    masks["femoral heads"][4:6, 5:7, 10:12] = True
    return masks


def test_a_user_case_from_arrays():
    masks = small_masks()
    masks["PTV"] = masks["PTV"].astype(np.uint8)
    case = case_from_arrays(masks, voxel_mm=(3, 2, 2))
    assert case.shape == (10, 12, 14) and case.voxel_mm == (3.0, 2.0, 2.0)
    assert case.isocenter_mm == pytest.approx((4.5 * 3, 5.5 * 2, 6.5 * 2))
    assert case.masks["PTV"].dtype == bool


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda m: m.update(rectum=np.ones((10, 12, 13), bool)), "same shape"),
        (lambda m: m.pop("bladder"), "missing: bladder"),
        (lambda m: m.update(prostate=m["PTV"]), "unknown: prostate"),
        (lambda m: m.update(PTV=m["PTV"][0]), "3-D"),
        (lambda m: m.update(rectum=m["rectum"] * 2.0), "only 0 and 1"),
        (lambda m: m.update(bladder=np.zeros((10, 12, 14), bool)), "bladder.*empty"),
        (lambda m: m["PTV"].__setitem__((0, 0, 0), True), "outside the body"),
    ],
)
def test_bad_user_masks_are_rejected_with_the_reason(change, message):
    masks = small_masks()
    change(masks)
    with pytest.raises(CaseError, match=message):
        case_from_arrays(masks, voxel_mm=2)


@pytest.mark.parametrize("voxel", [0, -1, (1, 2), "big", float("inf")])
def test_bad_voxel_size_is_rejected(voxel):
    with pytest.raises(CaseError, match="voxel_mm"):
        case_from_arrays(small_masks(), voxel_mm=voxel)


def test_bad_isocentre_and_dose_matrix_are_rejected():
    masks = small_masks()
    with pytest.raises(CaseError, match="isocenter_mm"):
        case_from_arrays(masks, voxel_mm=2, isocenter_mm=(1, 2))
    with pytest.raises(CaseError, match="1680 voxels"):
        case_from_arrays(masks, voxel_mm=2, dose_influence=np.ones((100, 4)))
    with pytest.raises(CaseError, match="non-negative"):
        case_from_arrays(masks, voxel_mm=2, dose_influence=-np.ones((1680, 4)))
    with pytest.raises(CaseError, match="non-negative"):
        case_from_arrays(masks, voxel_mm=2, dose_influence=np.full((1680, 4), np.nan))
    with pytest.raises(CaseError, match="masks must be a dict"):
        case_from_arrays([1, 2], voxel_mm=2)


# ---------------------------------------------------------------- CT numbers and density


def test_hu_to_density_passes_through_the_calibration_points():
    hu = np.array([-1000.0, -100.0, 0.0, 40.0, 1200.0, -2000.0, 5000.0, 620.0])
    density = hu_to_density(hu)
    np.testing.assert_allclose(density[:5], [0.001, 0.95, 1.0, 1.04, 1.75], rtol=1e-6)
    assert density[5] == pytest.approx(0.001) and density[6] == pytest.approx(2.8)  # the table's ends hold
    assert 1.04 < density[7] < 1.75


def test_the_phantom_has_bone_and_rectal_gas_with_realistic_ct_numbers(phantom):
    ct, body = phantom.ct_hu, phantom.masks["body"]
    assert ct.shape == phantom.shape and np.all(ct[~body] == -1000)
    heads = phantom.masks["femoral heads"]
    assert np.all(ct[heads] == 700)
    bone = (ct >= 500) & ~heads
    pubic = centre_mm_of(phantom, bone)
    x_mm = np.arange(phantom.shape[2]) * phantom.voxel_mm[2] - phantom.isocenter_mm[2]
    symphysis = centre_mm_of(phantom, bone & (np.abs(x_mm) < 15)[None, None, :])
    ptv = centre_mm(phantom, "PTV")
    assert symphysis[1] < ptv[1] - 45 and abs(pubic[2]) < 5  # the symphysis lies anterior; left-right symmetric
    assert 20 < bone.sum() * phantom.voxel_cc < 120
    gas = ct < -500
    assert np.all(gas[body] <= phantom.masks["rectum"][body])  # gas only in the rectal lumen
    assert 1 < (gas & body).sum() * phantom.voxel_cc < 10
    density = phantom.density()
    assert density[heads].min() == pytest.approx(float(hu_to_density(700.0)))
    assert density[gas & body].max() < 0.1 and np.all(density[~body] == 0)


def centre_mm_of(case, mask):
    return np.argwhere(mask).mean(axis=0) * np.array(case.voxel_mm) - np.array(case.isocenter_mm)


def test_a_user_case_carries_a_ct_or_a_density_grid():
    masks = small_masks()
    ct = np.full(masks["body"].shape, 40.0)
    ct[4:6, 5:7, 2:4] = 1200.0
    case = case_from_arrays(masks, voxel_mm=2, ct_hu=ct)
    assert case.density()[4, 5, 2] == pytest.approx(1.75) and case.density()[0, 0, 0] == 0.0
    water = case_from_arrays(masks, voxel_mm=2)
    assert water.density()[4, 5, 2] == 1.0
    assert case.fingerprint() != water.fingerprint()  # cached dose matrices follow the density
    dense = case_from_arrays(masks, voxel_mm=2, density=np.full(ct.shape, 1.2))
    assert dense.density()[5, 5, 5] == pytest.approx(1.2) and dense.ct_hu is None


@pytest.mark.parametrize(
    "grids,message",
    [
        ({"ct_hu": np.zeros((3, 3, 3))}, r"ct_hu has shape \(3, 3, 3\) but the masks have \(10, 12, 14\)"),
        ({"ct_hu": np.full((10, 12, 14), np.nan)}, "ct_hu holds values that are not finite"),
        ({"ct_hu": np.full((10, 12, 14), 30000.0)}, "ct_hu ranges from 30000 to 30000 HU.*rescale"),
        ({"density": np.full((10, 12, 14), -1.0)}, "density ranges from -1"),
        ({"ct_hu": np.zeros((10, 12, 14)), "density": np.ones((10, 12, 14))}, "ct_hu or density, not both"),
        ({"ct_hu": "dense"}, "ct_hu must be a 3-D array of numbers"),
    ],
)
def test_bad_ct_or_density_grids_are_rejected(grids, message):
    with pytest.raises(CaseError, match=message):
        case_from_arrays(small_masks(), voxel_mm=2, **grids)
