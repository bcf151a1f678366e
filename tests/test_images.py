"""Image loading: NIfTI, DICOM files and series, PNG / JPEG; corrupt files named in one line."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from nibabel.testing import data_path as NIBABEL_DATA
from PIL import Image
from pydicom.data import get_testdata_file

from fusionkit.data.images import load_image
from fusionkit.errors import DataError

CT_SMALL = get_testdata_file("CT_small.dcm", download=False)
MR_SMALL = get_testdata_file("MR_small.dcm", download=False)
RTPLAN = get_testdata_file("rtplan.dcm", download=False)


def test_nibabel_bundled_nifti_3d():
    path = Path(NIBABEL_DATA) / "anatomical.nii"
    array = load_image(path)
    expected = nib.load(path).get_fdata()
    assert array.shape == (1, *expected.shape[:3])
    assert np.allclose(array[0], np.squeeze(expected))


def test_pydicom_bundled_ct_and_mr():
    for file in (CT_SMALL, MR_SMALL):
        array = load_image(file)
        ds = pydicom.dcmread(file)
        assert array.shape[0] == 1
        assert sorted(array.shape[1:3]) == sorted(ds.pixel_array.shape)


def test_png_grey_and_rgb_and_jpeg(tmp_path):
    grey = (np.arange(20 * 30).reshape(20, 30) % 256).astype(np.uint8)
    Image.fromarray(grey).save(tmp_path / "g.png")
    Image.fromarray(np.stack([grey] * 3, -1)).save(tmp_path / "c.jpg", quality=95)
    g, c = load_image(tmp_path / "g.png"), load_image(tmp_path / "c.jpg")
    assert g.shape[0] == 1 and c.shape[0] == 3
    assert sorted(g.shape[1:]) == [20, 30]
    assert g.max() == grey.max()


def test_dicom_series_folder_is_ordered_by_position_not_file_name(tmp_path):
    base = pydicom.dcmread(CT_SMALL)
    folder = tmp_path / "series"
    folder.mkdir()
    # Names in the reverse order of the slices' positions along the normal.
    for k, name in enumerate(["c.dcm", "b.dcm", "a.dcm"]):
        ds = base.copy()
        ds.ImagePositionPatient = [0.0, 0.0, 10.0 * k]
        ds.InstanceNumber = 3 - k  # misleading on purpose
        pixels = np.full(base.pixel_array.shape, 100 * (k + 1), dtype=base.pixel_array.dtype)
        ds.PixelData = pixels.tobytes()
        ds.save_as(folder / name)
    (folder / "notes.txt").write_text("not a slice")
    array = load_image(folder)
    slope = float(getattr(base, "RescaleSlope", 1))
    intercept = float(getattr(base, "RescaleIntercept", 0))
    means = [array[0, :, :, k].mean() for k in range(3)]
    assert np.allclose(
        means, [100 * slope + intercept, 200 * slope + intercept, 300 * slope + intercept]
    )


def test_truncated_nifti_is_a_one_line_error(tmp_path):
    good = tmp_path / "good.nii.gz"
    nib.save(nib.Nifti1Image(np.random.default_rng(0).random((10, 10, 10)), np.eye(4)), good)
    raw = gzip.decompress(good.read_bytes())
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(gzip.compress(raw[: len(raw) // 2]))
    with pytest.raises(DataError) as info:
        load_image(bad)
    message = str(info.value)
    assert message.startswith(f"{bad}: cannot read as NIFTI")
    assert "\n" not in message


def test_text_file_named_png(tmp_path):
    fake = tmp_path / "scan.png"
    fake.write_text("this is not an image")
    with pytest.raises(DataError, match=f"^{fake}: cannot read as PNG"):
        load_image(fake)


def test_dicom_without_pixel_data():
    with pytest.raises(DataError, match=r"rtplan\.dcm: DICOM file has no pixel data$"):
        load_image(RTPLAN)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"nope\.nii\.gz: file not found"):
        load_image(tmp_path / "nope.nii.gz")


def test_nifti_via_copy_keeps_values(tmp_path):
    src = Path(NIBABEL_DATA) / "standard.nii.gz"
    dst = tmp_path / "x.nii.gz"
    shutil.copy(src, dst)
    assert np.array_equal(load_image(dst), load_image(src))


def test_a_cnn_reads_one_batch_of_images_at_a_time(tmp_path, monkeypatch):
    """Training and prediction load images lazily, batch by batch; a tiny image cache gives
    the same network as a large one."""
    from fusionkit.config import EncoderSpec, resolved
    from fusionkit.data import image_tensors
    from fusionkit.testing import sample_data
    from fusionkit.training.context import FitContext

    data, y = sample_data("image", tmp_path / "img", n=40)
    spec = {
        "spatial_size": [16, 16],
        "widen_factor": 0.125,
        "train": {"epochs": 2, "batch_size": 8},
    }

    def fit(cache_mb: str):
        monkeypatch.setenv("FUSIONKIT_IMAGE_CACHE_MB", cache_mb)
        image_tensors.clear_image_cache()
        encoder = resolved(EncoderSpec(type="resnet10", params=spec)).build()
        loads: list[int] = []
        original = encoder._prepared
        monkeypatch.setattr(encoder, "_prepared", lambda d: loads.append(len(d.ids)) or original(d))
        encoder.fit(data, y, FitContext(n_classes=3, threads=1))
        return encoder, loads

    encoder, loads = fit("1024")
    assert loads and max(loads) <= 8  # batches of 8 (validation too), never the whole set
    z = encoder.transform(data)
    small, _ = fit("0.001")  # a cache of about one image: everything is read again from disk
    assert len(image_tensors._CACHE) <= 1
    assert np.array_equal(small.transform(data), z)
