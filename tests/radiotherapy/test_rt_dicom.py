"""DICOM RT: the phantom written as CT + RTSTRUCT with pydicom, read back, planned, its RTDOSE read back."""

import csv
import json

import numpy as np
import pytest

pydicom = pytest.importorskip("pydicom")

from tg_core.cli import main  # noqa: E402
from tg_radiotherapy.dicom_rt import (  # noqa: E402
    DicomError,
    load_roles,
    read_dicom_case,
    read_rtdose,
    write_case_dicom,
    write_dvh_csv,
    write_rtdose,
)
from tg_radiotherapy.phantom import STRUCTURES, case_from_arrays, prostate_phantom  # noqa: E402
from tg_radiotherapy.planning import Planner  # noqa: E402

PAPER = dict.fromkeys(STRUCTURES, 100.0)
ENGINE = "python:test_rt_task:reply"


@pytest.fixture(scope="module")
def phantom():
    return prostate_phantom(8.0)


@pytest.fixture(scope="module")
def folder(phantom, tmp_path_factory):
    return write_case_dicom(phantom, tmp_path_factory.mktemp("dicom") / "patient")


def test_the_phantom_survives_a_round_trip_through_ct_and_rtstruct(phantom, folder):
    files = sorted(p.name for p in folder.iterdir())
    assert len(files) == phantom.shape[0] + 1 and "RS.dcm" in files
    assert pydicom.dcmread(folder / "RS.dcm").Modality == "RTSTRUCT"
    case = read_dicom_case(folder)
    assert case.shape == phantom.shape and case.voxel_mm == phantom.voxel_mm
    for structure in STRUCTURES:  # contours rasterised back onto the CT grid, voxel for voxel
        assert np.array_equal(case.masks[structure], phantom.masks[structure]), structure
    np.testing.assert_array_equal(case.ct_hu, phantom.ct_hu)
    np.testing.assert_allclose(case.isocenter_mm, np.argwhere(phantom.masks["PTV"]).mean(axis=0) * 8.0)
    assert case.dicom.origin_xyz == (-185.0, -120.0, -90.0)


@pytest.mark.slow
def test_a_plan_on_the_dicom_case_written_as_rtdose_reads_back(phantom, folder, tmp_path):
    case = read_dicom_case(folder)
    plan = Planner(case=case, cache=False).plan(PAPER)
    # the same arrays with the isocentre at the PTV's centre, as the DICOM reader places it
    same = case_from_arrays(phantom.masks, phantom.voxel_mm, ct_hu=phantom.ct_hu)
    reference = Planner(case=same, cache=False).plan(PAPER)
    np.testing.assert_allclose(plan.dose, reference.dose, atol=1e-6 * reference.dose.max())
    path = write_rtdose(plan, tmp_path / "dose.dcm")
    ds = pydicom.dcmread(path)
    assert ds.Modality == "RTDOSE" and ds.DoseUnits == "GY" and ds.FrameOfReferenceUID == case.dicom.frame_of_reference_uid
    dose, origin, spacing = read_rtdose(path)
    np.testing.assert_allclose(dose, plan.dose, atol=1e-6 * plan.dose.max())
    assert origin == case.dicom.origin_xyz and spacing == case.voxel_mm


def test_the_dvh_as_csv(phantom, tmp_path):
    plan = Planner(case=phantom, cache=False).plan(PAPER)
    with write_dvh_csv(plan, tmp_path / "dvh.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:3] == ["dose_gy", "PTV volume_pct", "bladder volume_pct"]
    assert float(rows[1][1]) == 100.0 and float(rows[-1][1]) < 1.0  # all of the PTV at 0 Gy, almost none at the max
    column = rows[0].index("rectum volume_pct")
    level = next(i for i, r in enumerate(rows[1:], start=1) if float(r[0]) >= plan.metrics["rectum"]["D50"])
    assert float(rows[level][column]) == pytest.approx(50.0, abs=2.0)


def test_structure_names_map_to_roles_by_an_editable_table(folder, tmp_path):
    roles = load_roles()
    roles["body"] = ["External"]
    with pytest.raises(DicomError, match=r"no structure matches the role 'body' \(patterns External\); structures: .*PTV"):
        read_dicom_case(folder, roles)
    table = tmp_path / "roles.toml"
    table.write_text('[roles]\nPTV = ["ptv*"]\nbladder = ["BLADDER"]\nrectum = ["rect*"]\n'
                     '"femoral heads" = ["femoral*"]\nbody = ["bod?"]\n')
    assert read_dicom_case(folder, table).volume_cc("rectum") > 0
    table.write_text('[roles]\nPTV = ["PTV"]\n')
    with pytest.raises(DicomError, match="missing: bladder, rectum, femoral heads, body"):
        load_roles(table)


def test_folders_without_a_ct_or_rtstruct_are_refused(folder, tmp_path):
    with pytest.raises(DicomError, match="does not exist"):
        read_dicom_case(tmp_path / "nowhere")
    (tmp_path / "notes.txt").write_text("not DICOM")
    with pytest.raises(DicomError, match="holds no CT image"):
        read_dicom_case(tmp_path)
    only_ct = tmp_path / "only-ct"
    only_ct.mkdir()
    for path in sorted(folder.glob("CT.*")):
        (only_ct / path.name).write_bytes(path.read_bytes())
    with pytest.raises(DicomError, match="holds 0 RTSTRUCT files"):
        read_dicom_case(only_ct)


@pytest.mark.slow
def test_tg_run_radiotherapy_on_a_dicom_folder(folder, tmp_path, capsys):
    runs = tmp_path / "runs"
    code = main(["run", "radiotherapy", "--dicom", str(folder), "--steps", "1", "--no-examples", "--engine", ENGINE,
                 "--runs-dir", str(runs)])
    assert code == 0, capsys.readouterr().err
    (run,) = runs.iterdir()
    dose, _, _ = read_rtdose(run / "dose.dcm")
    summary = json.loads((run / "summary.json").read_text())
    assert dose.max() == pytest.approx(summary["final_metrics"]["body"]["Dmax"], rel=1e-6)
    assert (run / "dvh.csv").read_text().startswith("dose_gy,PTV volume_pct")


@pytest.mark.parametrize(
    "options,message",
    [
        (["--dicom", "/nonexistent/patient"], "--dicom /nonexistent/patient: DICOM folder /nonexistent/patient does not exist"),
        (["--dicom-roles", "roles.toml"], "--dicom-roles needs --dicom DIR"),
    ],
)
def test_bad_dicom_options_are_refused_before_a_run_folder(tmp_path, capsys, options, message):
    runs = tmp_path / "runs"
    assert main(["run", "radiotherapy", *options, "--engine", ENGINE, "--runs-dir", str(runs)]) == 2
    assert message in capsys.readouterr().err
    assert not runs.exists()
