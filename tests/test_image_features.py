"""Handcrafted image features: named, separating what they should, invariant where they should."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from fusionkit.data.modality import ImageData
from fusionkit.encoders.image_features import ImageFeatureParams, ImageFeatures


def disc(size=48, shift=(0, 0), brightness=150, texture=0.0, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    inside = (x - size / 2 - shift[0]) ** 2 + (y - size / 2 - shift[1]) ** 2 < (size / 4) ** 2
    image = np.where(inside, brightness, 10).astype(float)
    image += inside * texture * ((x // 2 + y // 2) % 2) * 60  # a checkerboard inside the disc
    image += rng.normal(0, 2, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def encode(tmp_path: Path, arrays: dict[str, np.ndarray], **params) -> tuple[list, np.ndarray]:
    files = {}
    for name, array in arrays.items():
        path = tmp_path / f"{name}.png"
        Image.fromarray(array).save(path)
        files[name] = (path,)
    data = ImageData("image", files, tmp_path)
    encoder = ImageFeatures(ImageFeatureParams(**params)).fit(data)
    return encoder.feature_names_, encoder.transform(data)


def column(names, values, name):
    return values[:, names.index(name)]


def test_named_features_of_every_group(tmp_path):
    names, values = encode(
        tmp_path, {"a": disc()}, groups=["first_order", "texture", "shape", "lbp"]
    )
    assert values.shape == (1, len(names))
    for expected in (
        "fo_mean",
        "fo_entropy",
        "glcm_contrast_d1",
        "glcm_correlation_d4",
        "shape_solidity",
        "shape_eccentricity",
        "lbp_0",
    ):
        assert expected in names
    assert np.isfinite(values).all()


def test_a_brighter_class_is_separated_by_intensity(tmp_path):
    dim = {f"dim{i}": disc(brightness=100, seed=i) for i in range(4)}
    bright = {f"bright{i}": disc(brightness=200, seed=i) for i in range(4)}
    names, values = encode(tmp_path, {**dim, **bright})
    mean = column(names, values, "fo_mean")
    assert mean[:4].max() < mean[4:].min()


def test_a_textured_class_is_separated_by_glcm_contrast(tmp_path):
    smooth = {f"s{i}": disc(texture=0.0, seed=i) for i in range(4)}
    rough = {f"r{i}": disc(texture=1.0, seed=i) for i in range(4)}
    names, values = encode(tmp_path, {**smooth, **rough})
    contrast = column(names, values, "glcm_contrast_d1")
    assert contrast[:4].max() < contrast[4:].min()


def test_translation_does_not_change_the_features(tmp_path):
    names, values = encode(
        tmp_path, {"centre": disc(texture=1.0), "moved": disc(texture=1.0, shift=(6, -5))}
    )
    for name in ("fo_mean", "fo_p50", "shape_area", "shape_solidity", "glcm_contrast_d1"):
        a, b = column(names, values, name)
        assert a == pytest.approx(b, rel=0.05), name


def test_pydicom_ct_and_a_3d_volume(tmp_path):
    ct = Path(get_testdata_file("CT_small.dcm", download=False))
    volume = np.zeros((16, 16, 12))
    volume[4:12, 4:12, 3:9] = 100 + np.random.default_rng(0).normal(0, 5, (8, 8, 6))
    nifti = tmp_path / "v.nii.gz"
    nib.save(nib.Nifti1Image(volume, np.eye(4)), nifti)
    for path in (ct, nifti):
        data = ImageData("image", {"x": (path,)}, path)
        encoder = ImageFeatures(ImageFeatureParams()).fit(data)
        values = encoder.transform(data)
        assert values.shape == (1, len(encoder.feature_names_)) and np.isfinite(values).all()
    assert "shape_eccentricity" not in encoder.feature_names_  # 2D only


def test_several_views_are_concatenated_with_prefixes(tmp_path):
    paths = []
    for k in range(3):
        paths.append(tmp_path / f"v{k}.png")
        Image.fromarray(disc(seed=k)).save(paths[-1])
    data = ImageData("image", {"s": tuple(paths)}, tmp_path)
    encoder = ImageFeatures(ImageFeatureParams(groups=["first_order"])).fit(data)
    assert encoder.feature_names_[0] == "view0_fo_mean"
    assert encoder.transform(data).shape == (1, 3 * len(encoder.feature_names_) // 3)
