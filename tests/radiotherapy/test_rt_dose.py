"""The pencil-beam engine against its formulas, on a water box with one beam."""

import numpy as np
import pytest

from tg_core import cache_dir
from tg_radiotherapy.dose import BeamSettings, DoseEngine, depth_dose, dose_influence
from tg_radiotherapy.phantom import STRUCTURES, case_from_arrays

H = 4.0  # mm
ZS = np.arange(-68.0, 68.1, H)
YS = np.arange(-106.0, 106.1, H)  # the beam enters the water at y = -100 mm
XS = np.arange(-68.0, 68.1, H)


def water_box(density=None):
    z, y, x = np.meshgrid(ZS, YS, XS, indexing="ij")
    body = (np.abs(y) < 100) & (np.abs(z) < 66) & (np.abs(x) < 66)
    masks = {s: np.zeros(body.shape, dtype=bool) for s in STRUCTURES}
    masks["body"] = body
    masks["PTV"] = (np.abs(x) <= 40) & (np.abs(z) <= 40) & (np.abs(y) <= 20)
    masks["rectum"] = (np.abs(x) <= 8) & (np.abs(z) <= 8) & (y > 40) & (y < 60)
    masks["bladder"] = (np.abs(x) <= 8) & (z > 48) & (z < 60) & (np.abs(y) < 8)
    masks["femoral heads"] = (np.abs(z) <= 8) & (np.abs(np.abs(x) - 55) < 6) & (np.abs(y) < 8)
    return case_from_arrays(masks, voxel_mm=H, isocenter_mm=(-ZS[0], -YS[0], -XS[0]), density=density)


ONE_BEAM = BeamSettings(gantry_angles=(0.0,))
PRIMARY_ONLY = BeamSettings(gantry_angles=(0.0,), scatter_weight=0.0)


@pytest.fixture(scope="module")
def box():
    return water_box()


@pytest.fixture(scope="module")
def open_field(box):
    """Primary dose of every beamlet at unit fluence: a wide open field along +y."""
    matrix = DoseEngine(box, PRIMARY_ONLY).build()
    return (matrix @ np.ones(matrix.shape[1])).reshape(box.shape)


def test_depth_dose_builds_up_to_one_then_attenuates():
    mu, beta = 0.005066, 0.3252
    d_max = np.log(beta / mu) / (beta - mu)
    assert depth_dose(0.0) == 0.0
    assert depth_dose(d_max) == pytest.approx(1.0)
    assert 12.5 < d_max < 13.5
    assert depth_dose(d_max - 2) < 1 and depth_dose(d_max + 2) < 1
    assert depth_dose(200.0) / depth_dose(100.0) == pytest.approx(np.exp(-mu * 100), rel=1e-12)


def test_central_axis_primary_dose_follows_depth_dose_and_inverse_square(open_field):
    axis = open_field[len(ZS) // 2, :, len(XS) // 2]
    inside = (YS > -100) & (YS < 100)
    depth = YS + 100.0
    expected = depth_dose(depth) * (1000.0 / (1000.0 + YS)) ** 2
    beyond_buildup = inside & (depth > 10)
    np.testing.assert_allclose(axis[beyond_buildup], expected[beyond_buildup], rtol=0.02)
    assert np.all(axis[~inside] == 0)
    surface = axis[np.flatnonzero(inside)[0]]
    assert surface < 0.75 * axis[inside].max()  # build-up: the skin dose is well below the maximum


def edge_width(profile, positions):
    """Distance between the 80% and 20% points of a field edge (positive x side)."""
    centre = profile[len(profile) // 2]
    side = positions >= 0
    p, x = profile[side] / centre, positions[side]
    return np.interp(0.2, p[::-1], x[::-1]) - np.interp(0.8, p[::-1], x[::-1])


def central_axis(case):
    matrix = DoseEngine(case, PRIMARY_ONLY).build()
    return (matrix @ np.ones(matrix.shape[1])).reshape(case.shape)[len(ZS) // 2, :, len(XS) // 2]


@pytest.mark.parametrize("density", [1.6, 0.0])
def test_a_slab_of_bone_or_gas_shifts_the_depth_dose_by_its_extra_radiological_depth(open_field, density):
    """20 mm of bone (1.6) add 12 mm of water-equivalent depth behind it; 20 mm of gas (0) remove 20 mm.

    The primary dose on the axis of an open field is the depth term times the
    inverse square, so the shift is exact there (the scatter's lateral spread
    also changes with the distance from the source).
    """
    slab = (YS >= -58) & (YS <= -42)  # five 4 mm voxels: 20 mm
    grid = np.ones((len(ZS), len(YS), len(XS)), dtype=np.float32)
    grid[:, slab, :] = density
    shift_mm = (density - 1.0) * 20.0
    with_slab = central_axis(water_box(density=grid))
    water = central_axis(water_box())
    distance = 1000.0 + YS  # from the source; the slab changes the depth, not the inverse square
    behind = (YS > -30) & (YS < 60)
    expected = np.interp(YS[behind] + shift_mm, YS, water * distance**2) / distance[behind] ** 2
    np.testing.assert_allclose(with_slab[behind], expected, rtol=2e-3)
    assert np.all(with_slab[behind] < water[behind]) if density > 1 else np.all(with_slab[behind] > water[behind])


def test_penumbra_widens_with_depth(open_field):
    shallow = open_field[len(ZS) // 2, np.searchsorted(YS, -86), :]  # 14 mm deep
    deep = open_field[len(ZS) // 2, np.searchsorted(YS, 70), :]  # 170 mm deep
    assert edge_width(deep, XS) > edge_width(shallow, XS) + 2.0


# ------------------------------------------------ a 6 MV 10 x 10 cm field at SSD 100 cm (BJR Supplement 25)

SSD_XS = np.arange(-100.0, 100.1, 1.0)  # 1 mm across the field edge, for the penumbra
SSD_YS = np.arange(-10.0, 210.1, 2.0)
SSD_ZS = np.array([-55.0, -27.5, 0.0, 27.5, 55.0])  # the dose is read at z = 0 only
FIELD_MM = 100.0


def ssd_100_box():
    """Water from y = -1 mm (half a voxel before the first voxel centre) down, its surface at the isocentre."""
    z, y, x = np.meshgrid(SSD_ZS, SSD_YS, SSD_XS, indexing="ij")
    masks = {s: np.zeros(z.shape, dtype=bool) for s in STRUCTURES}
    masks["body"] = y >= 0
    masks["PTV"] = (np.abs(x) <= FIELD_MM / 2) & (y >= 20) & (y <= 40)  # only to place the beamlets
    for s in ("rectum", "bladder", "femoral heads"):
        masks[s] = (np.abs(x) <= 4) & (z == 0) & (y >= 100) & (y <= 110)
    return case_from_arrays(masks, voxel_mm=(27.5, 2.0, 1.0), isocenter_mm=(-SSD_ZS[0], -SSD_YS[0] - 1.0, -SSD_XS[0]))


@pytest.fixture(scope="module")
def field_10x10():
    """Dose on the z = 0 plane of the 10 x 10 cm field (21 x 21 beamlets of 100/21 mm), by depth and x."""
    box = ssd_100_box()
    engine = DoseEngine(box, BeamSettings(gantry_angles=(0.0,), beamlet_mm=FIELD_MM / 21))
    beamlets = engine.beamlets()
    inside = (np.abs(beamlets.v_mm) <= FIELD_MM / 2) & (np.abs(beamlets.w_mm) <= FIELD_MM / 2)
    assert inside.sum() == 21 * 21
    dose = (engine.build() @ inside.astype(float)).reshape(box.shape)[len(SSD_ZS) // 2]
    return dose, SSD_YS + 1.0  # the depth of each row


def at_depth(field, depth_mm):
    dose, depths = field
    return np.array([np.interp(depth_mm, depths, dose[:, k]) for k in range(dose.shape[1])])


def test_depth_dose_of_a_10x10_field_matches_standard_6mv_data(field_10x10):
    dose, depths = field_10x10
    axis = dose[:, len(SSD_XS) // 2]
    fine = np.linspace(1.0, 210.0, 2091)
    curve = np.interp(fine, depths, axis)
    assert 10.0 <= fine[curve.argmax()] <= 20.0  # depth of maximum
    pdd = {d: 100 * np.interp(d, fine, curve) / curve.max() for d in (50, 100, 200)}
    assert pdd[50] == pytest.approx(86.5, abs=3.0)
    assert pdd[100] == pytest.approx(67.0, abs=3.0)
    assert pdd[200] == pytest.approx(38.5, abs=3.0)


@pytest.mark.parametrize("depth", [50.0, 100.0, 200.0])
def test_dose_20_mm_outside_the_field_edge_is_a_few_percent(field_10x10, depth):
    profile = at_depth(field_10x10, depth)
    edge = FIELD_MM / 2 * (1000.0 + depth) / 1000.0  # the field widens with the beam's divergence
    outside = np.interp(edge + 20.0, SSD_XS, profile) / profile[len(SSD_XS) // 2]
    assert 0.01 <= outside <= 0.05


@pytest.mark.parametrize("depth,width", [(20.0, 3.9), (100.0, 6.4), (180.0, 10.0)])
def test_penumbra_80_20_widths_are_those_of_a_6mv_beam(field_10x10, depth, width):
    profile = at_depth(field_10x10, depth)
    assert edge_width(profile, SSD_XS) == pytest.approx(width, abs=1.0)


def test_without_scatter_nothing_reaches_20_mm_beyond_the_edge(box):
    matrix = DoseEngine(box, BeamSettings(gantry_angles=(0.0,), scatter_weight=0.0)).build()
    dose = (matrix @ np.ones(matrix.shape[1])).reshape(box.shape)
    row = dose[len(ZS) // 2, np.searchsorted(YS, 0.0)]
    assert np.all(row[np.abs(XS) > 64] == 0)


def test_dose_matrix_is_cached_on_disk_by_case_and_beams(box, monkeypatch, tmp_path):
    monkeypatch.setenv("TG_CACHE_DIR", str(tmp_path))
    first = dose_influence(box, ONE_BEAM)
    files = list((tmp_path / "radiotherapy").glob("dij-*.npz"))
    assert len(files) == 1

    def no_rebuild(self):
        raise AssertionError("the cached matrix should have been used")

    monkeypatch.setattr(DoseEngine, "build", no_rebuild)
    second = dose_influence(box, ONE_BEAM)
    assert (first != second).nnz == 0
    with pytest.raises(AssertionError, match="cached"):
        dose_influence(box, BeamSettings(gantry_angles=(0.0,), penumbra_fwhm=6.0))


def test_an_unreadable_cache_file_is_rebuilt(box, monkeypatch, tmp_path):
    monkeypatch.setenv("TG_CACHE_DIR", str(tmp_path))
    path = cache_dir("radiotherapy") / f"dij-{box.fingerprint()}-{ONE_BEAM.key()}.npz"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a matrix")
    assert dose_influence(box, ONE_BEAM).nnz > 0


@pytest.mark.parametrize(
    "settings,message",
    [
        (BeamSettings(gantry_angles=()), "gantry_angles"),
        (BeamSettings(beamlet_mm=0), "beamlet_mm"),
        (BeamSettings(mu=0.5, beta=0.3), "beta"),
        (BeamSettings(scatter_weight=-1), "scatter_weight"),
        (BeamSettings(scatter_sigma=0), "scatter_sigma"),
        (BeamSettings(gantry_angles=(0.0, float("nan"))), "gantry_angles"),
        (BeamSettings(cutoff=2), "cutoff"),
    ],
)
def test_bad_beam_settings_are_rejected(box, settings, message):
    with pytest.raises(ValueError, match=message):
        dose_influence(box, settings, cache=False)
