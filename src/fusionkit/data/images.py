"""Load one image file (or DICOM series folder) as a channel-first float32 array.

NIfTI goes through MONAI's `LoadImage` with `NibabelReader`, single DICOM files with
`PydicomReader`, PNG / JPEG with `PILReader`: always an explicit reader, never MONAI's guess.
A DICOM series folder is stacked here with pydicom, slices ordered by their position along the
slice normal (MONAI's `PydicomReader` orders series by InstanceNumber, which scanners do not
always write in spatial order).
"""

from __future__ import annotations

import functools
import logging
import warnings
from pathlib import Path

import numpy as np

from fusionkit.errors import DataError

SUFFIXES = {
    ".nii": "nifti",
    ".nii.gz": "nifti",
    ".dcm": "dicom",
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
}


def image_format(path: Path) -> str:
    """``nifti``, ``dicom``, ``png`` or ``jpeg`` from the name; a folder is a DICOM series."""
    if path.is_dir():
        return "dicom"
    name = path.name.lower()
    for suffix, fmt in sorted(SUFFIXES.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(suffix):
            return fmt
    return "dicom"  # DICOM files often carry no suffix; pydicom will say if it is not one


def is_image_name(path: Path) -> bool:
    """Whether a file name has a suffix fusionkit reads as an image."""
    name = path.name.lower()
    return any(name.endswith(s) for s in SUFFIXES)


def load_image(path: str | Path) -> np.ndarray:
    """The image at ``path`` as float32, channel first: (C, H, W) or (C, H, W, D).

    Raises `DataError` naming the file if it is missing, corrupt or not an image.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    fmt = image_format(path)
    try:
        array = _dicom_series(path)[None] if path.is_dir() else _load_with_monai(path, fmt)
    except DataError:
        raise
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: cannot read as {fmt.upper()}: {reason}") from None
    array = np.asarray(array, dtype=np.float32)
    if array.ndim > 4 or (fmt == "nifti" and _nifti_is_4d(path)):
        raise DataError(
            f"{path}: image has more than 3 dimensions (a time series?); fusionkit takes one "
            "2D or 3D image per file"
        )
    if not np.all(np.isfinite(array)):
        raise DataError(f"{path}: image contains NaN or infinite values")
    return array


def _nifti_is_4d(path: Path) -> bool:
    import nibabel

    shape = nibabel.load(str(path)).shape
    return len(shape) > 3 and any(s > 1 for s in shape[3:])


def _load_with_monai(path: Path, fmt: str) -> np.ndarray:
    if fmt == "dicom":
        _require_pixel_data(path)
    return np.asarray(_loader(fmt)(str(path)))


@functools.cache
def _loader(fmt: str):
    """One MONAI `LoadImage` per format, with the reader named explicitly."""
    from monai.data import NibabelReader, PILReader, PydicomReader
    from monai.transforms import LoadImage

    reader = {"dicom": PydicomReader, "nifti": NibabelReader}.get(fmt, PILReader)
    # LoadImage also instantiates MONAI's fallback readers; one of them announces, on every
    # CPU-only machine, that a GPU DICOM decoder is unavailable. That is not news here.
    logging.getLogger("monai.data.nvimgcodec_pydicom_plugin").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*nvImageCodec.*")
        return LoadImage(reader=reader(), image_only=True, ensure_channel_first=True)


def _require_pixel_data(path: Path) -> None:
    import pydicom

    ds = pydicom.dcmread(path, stop_before_pixels=False)
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise DataError(f"{path}: DICOM file has no pixel data")


def _dicom_series(folder: Path) -> np.ndarray:
    """Stack a folder of single-slice DICOM files in spatial order: (H, W, D)."""
    import pydicom

    slices = []
    for file in sorted(p for p in folder.iterdir() if p.is_file()):
        try:
            ds = pydicom.dcmread(file)
        except Exception:
            continue  # not DICOM (e.g. a DICOMDIR index or a note): not part of the series
        if "PixelData" not in ds:
            continue
        slices.append(ds)
    if not slices:
        raise DataError(f"{folder}: no DICOM slices with pixel data in this folder")
    slices.sort(key=_slice_position)
    arrays = [_scaled(ds) for ds in slices]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise DataError(f"{folder}: DICOM slices have different sizes {sorted(shapes)}")
    return np.stack(arrays, axis=-1)


def _slice_position(ds) -> float:
    position = getattr(ds, "ImagePositionPatient", None)
    orientation = getattr(ds, "ImageOrientationPatient", None)
    if position is not None and orientation is not None:
        row, col = np.asarray(orientation[:3], float), np.asarray(orientation[3:], float)
        return float(np.dot(np.cross(row, col), np.asarray(position, float)))
    return float(getattr(ds, "InstanceNumber", 0) or 0)


def _scaled(ds) -> np.ndarray:
    array = ds.pixel_array.astype(np.float32)
    slope = float(getattr(ds, "RescaleSlope", 1) or 1)
    intercept = float(getattr(ds, "RescaleIntercept", 0) or 0)
    return array * slope + intercept
