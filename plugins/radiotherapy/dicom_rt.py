"""DICOM RT in and out: a CT series and an RTSTRUCT as a case; the planned dose as RTDOSE; the DVH as CSV.

Reading: CT slices are stacked by position into Hounsfield units (rescale
slope and intercept applied); each RTSTRUCT contour is rasterised onto its
CT slice (a voxel belongs to a structure when its centre lies inside the
polygon; contours on one slice combine by exclusive or, so holes stay
holes); structure names are mapped to the planner's roles by a table the
user can edit (``data/dicom_roles.toml``). Patient coordinates (LPS: x to the
patient's left, y posterior, z superior) are the case's (x, y, z) axes, so
the case's arrays are indexed ``[slice, row, column]``.

Writing: ``write_case_dicom`` exports a case as a CT series and an
RTSTRUCT (the phantom, for tests and for viewing in any DICOM viewer);
``write_rtdose`` writes a plan's dose on the case grid; ``write_dvh_csv``
the cumulative DVHs.
"""

from __future__ import annotations

import csv
import datetime as dt
import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .phantom import STRUCTURES, Case, CaseError, case_from_arrays

if TYPE_CHECKING:
    from .planning import Plan

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
RTSTRUCT_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
RTDOSE_STORAGE = "1.2.840.10008.5.1.4.1.1.481.2"
DEFAULT_ROLES = "dicom_roles.toml"


class DicomError(ValueError):
    """A DICOM folder or file that cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class DicomFrame:
    """Where a case sits in patient coordinates: the (x, y, z) mm of voxel [0, 0, 0] and the frame's UIDs."""

    origin_xyz: tuple[float, float, float]
    frame_of_reference_uid: str
    study_uid: str
    patient_id: str


# ---------------------------------------------------------------- the roles table


def load_roles(path: str | Path | None = None) -> dict[str, list[str]]:
    """Role -> name patterns, from a TOML file (the built-in table when ``path`` is None)."""
    where = str(path) if path is not None else DEFAULT_ROLES
    try:
        if path is None:
            text = resources.files("tg_radiotherapy").joinpath("data", DEFAULT_ROLES).read_text("utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except OSError as exc:
        raise DicomError(f"roles file {where}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise DicomError(f"roles file {where} is not valid TOML: {exc}") from None
    roles = data.get("roles")
    if not isinstance(roles, Mapping):
        raise DicomError(f"roles file {where}: needs a [roles] table of role = [name patterns]")
    unknown = sorted(set(roles) - set(STRUCTURES))
    missing = [s for s in STRUCTURES if s not in roles]
    if unknown or missing:
        raise DicomError(
            f"roles file {where}: roles must be exactly {', '.join(STRUCTURES)}"
            + (f"; unknown: {', '.join(unknown)}" if unknown else "") + (f"; missing: {', '.join(missing)}" if missing else "")
        )
    for role, patterns in roles.items():
        if not isinstance(patterns, list) or not patterns or not all(isinstance(p, str) and p for p in patterns):
            raise DicomError(f"roles file {where}: {role} needs a list of structure name patterns")
    return {role: list(roles[role]) for role in STRUCTURES}


def _matches(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name.strip().lower(), p.lower()) for p in patterns)


# ---------------------------------------------------------------- reading


def _read_folder(folder: Path) -> tuple[list[Any], Any]:
    import pydicom
    from pydicom.errors import InvalidDicomError

    if not folder.is_dir():
        raise DicomError(f"DICOM folder {folder} does not exist")
    slices, structures = [], []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            ds = pydicom.dcmread(path)
        except (InvalidDicomError, OSError, ValueError):
            continue  # not DICOM: READMEs, DICOMDIR helpers, thumbnails
        modality = getattr(ds, "Modality", "")
        if modality == "CT":
            slices.append(ds)
        elif modality == "RTSTRUCT":
            structures.append(ds)
    if not slices:
        raise DicomError(f"DICOM folder {folder} holds no CT image")
    if len(structures) != 1:
        raise DicomError(f"DICOM folder {folder} holds {len(structures)} RTSTRUCT files; it needs exactly one")
    return slices, structures[0]


def _ct_volume(slices: list[Any], folder: Path) -> tuple[np.ndarray, tuple[float, float, float], tuple[float, float, float]]:
    """HU [slice, row, column], voxel size (dz, dy, dx) and the (x, y, z) of voxel [0, 0, 0]."""
    for ds in slices:
        orientation = [float(v) for v in ds.ImageOrientationPatient]
        if not np.allclose(orientation, [1, 0, 0, 0, 1, 0], atol=1e-4):
            raise DicomError(f"{folder}: CT slice {ds.SOPInstanceUID} is not an axial head-first-supine slice "
                             f"(ImageOrientationPatient {orientation}); only those are supported")
    slices = sorted(slices, key=lambda ds: float(ds.ImagePositionPatient[2]))
    z = np.array([float(ds.ImagePositionPatient[2]) for ds in slices])
    steps = np.diff(z)
    if z.size > 1 and (np.any(steps <= 0) or not np.allclose(steps, steps[0], rtol=1e-3, atol=1e-3)):
        raise DicomError(f"{folder}: CT slices are not evenly spaced (positions {z.min():g} to {z.max():g} mm)")
    dz = float(steps[0]) if z.size > 1 else float(getattr(slices[0], "SliceThickness", 1.0))
    dy, dx = (float(v) for v in slices[0].PixelSpacing)
    hu = np.stack([ds.pixel_array * float(getattr(ds, "RescaleSlope", 1)) + float(getattr(ds, "RescaleIntercept", 0))
                   for ds in slices]).astype(np.float32)
    x0, y0, _ = (float(v) for v in slices[0].ImagePositionPatient)
    return hu, (dz, dy, dx), (x0, y0, float(z[0]))


def _rasterise(contours: list[np.ndarray], shape: tuple[int, int, int], spacing, origin) -> np.ndarray:
    """Voxels whose centres lie inside the contours; contours on one slice combine by exclusive or."""
    from matplotlib.path import Path as Polygon

    dz, dy, dx = spacing
    x0, y0, z0 = origin
    mask = np.zeros(shape, dtype=bool)
    for points in contours:
        k = int(round((float(np.mean(points[:, 2])) - z0) / dz))
        if not 0 <= k < shape[0] or len(points) < 3:
            continue
        cols = (points[:, 0] - x0) / dx
        rows = (points[:, 1] - y0) / dy
        c0, c1 = max(int(np.floor(cols.min())), 0), min(int(np.ceil(cols.max())), shape[2] - 1)
        r0, r1 = max(int(np.floor(rows.min())), 0), min(int(np.ceil(rows.max())), shape[1] - 1)
        if c0 > c1 or r0 > r1:
            continue
        rr, cc = np.mgrid[r0 : r1 + 1, c0 : c1 + 1]
        inside = Polygon(np.column_stack([cols, rows])).contains_points(np.column_stack([cc.ravel(), rr.ravel()]))
        mask[k, r0 : r1 + 1, c0 : c1 + 1] ^= inside.reshape(rr.shape)
    return mask


def _structure_contours(rtstruct: Any) -> dict[str, list[np.ndarray]]:
    names = {int(roi.ROINumber): str(roi.ROIName) for roi in getattr(rtstruct, "StructureSetROISequence", [])}
    contours: dict[str, list[np.ndarray]] = {name: [] for name in names.values()}
    for item in getattr(rtstruct, "ROIContourSequence", []):
        name = names.get(int(item.ReferencedROINumber))
        if name is None:
            continue
        for contour in getattr(item, "ContourSequence", []):
            data = np.asarray([float(v) for v in contour.ContourData]).reshape(-1, 3)
            contours[name].append(data)
    return contours


def read_dicom_case(folder: str | Path, roles: str | Path | Mapping[str, Sequence[str]] | None = None) -> Case:
    """A case from a folder with a CT series and one RTSTRUCT; ``roles`` maps structure names to roles.

    ``roles`` is a roles file, a mapping role -> name patterns, or None for
    the built-in table. Every role needs at least one matching structure.
    """
    folder = Path(folder)
    table = dict(roles) if isinstance(roles, Mapping) else load_roles(roles)
    slices, rtstruct = _read_folder(folder)
    hu, spacing, origin = _ct_volume(slices, folder)
    contours = _structure_contours(rtstruct)
    masks = {}
    for role in STRUCTURES:
        names = [n for n in contours if _matches(n, table.get(role, []))]
        if not names:
            raise DicomError(
                f"{folder}: no structure matches the role {role!r} (patterns {', '.join(table.get(role, []))}); "
                f"structures: {', '.join(sorted(contours)) or 'none'}; edit the roles table (--dicom-roles)"
            )
        masks[role] = _rasterise([c for n in names for c in contours[n]], hu.shape, spacing, origin)
    try:
        case = case_from_arrays(masks, voxel_mm=spacing, ct_hu=hu, name=f"DICOM {slices[0].get('PatientID', folder.name)}")
    except CaseError as exc:
        raise DicomError(f"{folder}: {exc}") from None
    frame = DicomFrame(origin, str(slices[0].get("FrameOfReferenceUID", "")), str(slices[0].get("StudyInstanceUID", "")),
                       str(slices[0].get("PatientID", "")))
    return replace(case, dicom=frame)


# ---------------------------------------------------------------- writing


def _frame_of(case: Case) -> DicomFrame:
    from pydicom.uid import generate_uid

    if case.dicom is not None:
        return case.dicom
    iso = case.isocenter_mm
    return DicomFrame((-iso[2], -iso[1], -iso[0]), generate_uid(), generate_uid(), "PHANTOM")


def _dataset(sop_class: str, frame: DicomFrame, modality: str, series_uid: str) -> Any:
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.PatientID, ds.PatientName = frame.patient_id, frame.patient_id
    ds.StudyInstanceUID, ds.SeriesInstanceUID = frame.study_uid, series_uid
    ds.FrameOfReferenceUID = frame.frame_of_reference_uid
    ds.StudyDate = ds.SeriesDate = dt.date.today().strftime("%Y%m%d")
    ds.Manufacturer = "tg-core radiotherapy"
    return ds


def _image_geometry(ds: Any, case: Case, frame: DicomFrame) -> None:
    dz, dy, dx = case.voxel_mm
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [dy, dx]
    ds.Rows, ds.Columns = case.shape[1], case.shape[2]
    ds.SliceThickness = dz
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"


def _polygons(mask: np.ndarray) -> list[np.ndarray]:
    """Closed outlines (column, row) of a 2-D mask, midway between inside and outside voxel centres."""
    from contourpy import contour_generator

    padded = np.pad(mask.astype(float), 1)
    lines = contour_generator(z=padded).lines(0.5)
    return [line[:-1] - 1.0 for line in lines if len(line) > 3]


def write_case_dicom(case: Case, folder: str | Path) -> Path:
    """The case as a CT series (one file per slice) and an RTSTRUCT of its five structures."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence as DicomSequence
    from pydicom.uid import generate_uid

    if case.ct_hu is None:
        raise CaseError("write_case_dicom: the case has no CT (ct_hu)")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    frame = _frame_of(case)
    x0, y0, z0 = frame.origin_xyz
    dz, dy, dx = case.voxel_mm
    series = generate_uid()
    images = []
    for k in range(case.shape[0]):
        ds = _dataset(CT_STORAGE, frame, "CT", series)
        _image_geometry(ds, case, frame)
        ds.ImagePositionPatient = [x0, y0, z0 + k * dz]
        ds.InstanceNumber = k + 1
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        ds.PixelData = np.clip(np.rint(case.ct_hu[k] + 1024), 0, 65535).astype(np.uint16).tobytes()
        ds.save_as(folder / f"CT.{k + 1:04d}.dcm", enforce_file_format=True)
        images.append(ds.SOPInstanceUID)

    rs = _dataset(RTSTRUCT_STORAGE, frame, "RTSTRUCT", generate_uid())
    rs.StructureSetLabel = case.name[:16]
    rois, contours = DicomSequence(), DicomSequence()
    for number, name in enumerate(STRUCTURES, start=1):
        roi = Dataset()
        roi.ROINumber, roi.ROIName, roi.ReferencedFrameOfReferenceUID = number, name, frame.frame_of_reference_uid
        rois.append(roi)
        item = Dataset()
        item.ReferencedROINumber = number
        item.ContourSequence = DicomSequence()
        mask = case.masks[name]
        for k in np.flatnonzero(mask.any(axis=(1, 2))):
            for polygon in _polygons(mask[k]):
                contour = Dataset()
                contour.ContourGeometricType = "CLOSED_PLANAR"
                contour.NumberOfContourPoints = len(polygon)
                xyz = np.column_stack([x0 + polygon[:, 0] * dx, y0 + polygon[:, 1] * dy, np.full(len(polygon), z0 + k * dz)])
                contour.ContourData = [round(float(v), 4) for v in xyz.ravel()]
                image = Dataset()
                image.ReferencedSOPClassUID, image.ReferencedSOPInstanceUID = CT_STORAGE, images[k]
                contour.ContourImageSequence = DicomSequence([image])
                item.ContourSequence.append(contour)
        contours.append(item)
    rs.StructureSetROISequence, rs.ROIContourSequence = rois, contours
    rs.save_as(folder / "RS.dcm", enforce_file_format=True)
    return folder


def write_rtdose(plan: Plan, path: str | Path) -> Path:
    """The plan's dose (Gy) on the case grid as an RTDOSE file (32-bit, with its grid scaling)."""
    from pydicom.uid import generate_uid

    case = plan.case
    frame = _frame_of(case)
    ds = _dataset(RTDOSE_STORAGE, frame, "RTDOSE", generate_uid())
    _image_geometry(ds, case, frame)
    x0, y0, z0 = frame.origin_xyz
    dz = case.voxel_mm[0]
    ds.ImagePositionPatient = [x0, y0, z0]
    ds.NumberOfFrames = case.shape[0]
    ds.FrameIncrementPointer = (0x3004, 0x000C)
    ds.GridFrameOffsetVector = [k * dz for k in range(case.shape[0])]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 32, 32, 31, 0
    ds.DoseUnits, ds.DoseType, ds.DoseSummationType = "GY", "PHYSICAL", "PLAN"
    top = float(plan.dose.max())
    scaling = top / (2**32 - 1) if top > 0 else 1.0
    ds.DoseGridScaling = f"{scaling:.10e}"[:16]
    scaling = float(ds.DoseGridScaling)
    ds.PixelData = np.clip(np.rint(plan.dose / scaling), 0, 2**32 - 1).astype(np.uint32).tobytes()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def read_rtdose(path: str | Path) -> tuple[np.ndarray, tuple[float, float, float], tuple[float, float, float]]:
    """Dose in Gy [frame, row, column], the (x, y, z) of its first voxel and the voxel size (dz, dy, dx)."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(path)
    except (InvalidDicomError, OSError) as exc:
        raise DicomError(f"RTDOSE {path}: cannot be read ({exc})") from None
    if getattr(ds, "Modality", "") != "RTDOSE":
        raise DicomError(f"{path} is not an RTDOSE file (Modality {getattr(ds, 'Modality', 'missing')!r})")
    dose = ds.pixel_array.astype(float) * float(ds.DoseGridScaling)
    if dose.ndim == 2:
        dose = dose[None]
    offsets = [float(v) for v in ds.GridFrameOffsetVector]
    dz = offsets[1] - offsets[0] if len(offsets) > 1 else float(getattr(ds, "SliceThickness", 1.0))
    dy, dx = (float(v) for v in ds.PixelSpacing)
    x0, y0, z0 = (float(v) for v in ds.ImagePositionPatient)
    return dose, (x0, y0, z0 + offsets[0]), (dz, dy, dx)


def write_dvh_csv(plan: Plan, path: str | Path, step_gy: float = 0.1) -> Path:
    """Cumulative DVHs: one row per dose level, one column per structure (percent of its volume)."""
    from . import dvh

    top = float(plan.dose.max())
    levels = np.arange(0.0, top + step_gy, step_gy)
    names = list(plan.metrics)
    curves = [dvh.cumulative_dvh(plan.doses(name), levels) for name in names]
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["dose_gy", *(f"{name} volume_pct" for name in names)])
        for i, level in enumerate(levels):
            writer.writerow([f"{level:.2f}", *(f"{curve[i]:.3f}" for curve in curves)])
    return path
