"""Handcrafted image features (``image_features``): intensity, texture and shape, by name.

Each image (2D or 3D, grey or colour) becomes a fixed vector of documented features, computed
with scikit-image inside a foreground mask (Otsu threshold of the grey image, largest connected
component):

- ``first_order`` (per colour channel): mean, sd, percentiles 10/25/50/75/90, skewness,
  kurtosis, entropy (bits) and a normalised ``bins``-bin histogram of the foreground;
- ``texture``: grey-level co-occurrence matrix (``graycomatrix``, ``levels`` grey levels,
  symmetric, normalised) at each of ``distances`` and 4 angles (0, 45, 90, 135 degrees), angles
  pooled; properties contrast, dissimilarity, homogeneity, energy, ASM, correlation
  (``graycoprops``). 3D volumes: matrices of all axial slices summed before the properties;
- ``lbp`` (optional): histogram of uniform local binary patterns (P = 8, R = 1), 2D or per slice;
- ``shape`` of the foreground (``regionprops``): area (pixels or voxels) and its fraction of the
  image, extent (fill of the bounding box), solidity (fill of the convex hull), major and minor
  principal axis lengths and their ratio (elongation; eccentricity in 2D).

Nothing is learnt from other subjects (``fit`` stores nothing but the feature names), so the
features are the same in every fold and are computed once per file (cached in memory). Several
images of a subject (views) are concatenated, their names prefixed ``view<k>_``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fusionkit.data.image_tensors import image_channels
from fusionkit.data.images import load_image
from fusionkit.data.modality import Distortion, ImageData
from fusionkit.hookspecs import hookimpl

GLCM_PROPS = ("contrast", "dissimilarity", "homogeneity", "energy", "ASM", "correlation")
Group = Literal["first_order", "texture", "shape", "lbp"]


class ImageFeatureParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    groups: list[Group] = Field(
        default_factory=lambda: ["first_order", "texture", "shape"], min_length=1
    )
    levels: int = Field(32, ge=4, le=256, description="Grey levels of the co-occurrence matrix.")
    distances: list[int] = Field(default_factory=lambda: [1, 2, 4], min_length=1)
    bins: int = Field(8, ge=2, le=64, description="Histogram bins of the first-order group.")
    channels: Literal["auto", "grey", "rgb"] = Field(
        "auto",
        description="Colour handling: auto is rgb when any of the first images is colour; grey "
        "images are then repeated to three channels (and colour ones averaged under grey).",
    )


def _mask(grey: np.ndarray) -> np.ndarray:
    """Foreground: above the Otsu threshold, largest connected component (all if degenerate)."""
    from skimage.filters import threshold_otsu
    from skimage.measure import label

    if np.ptp(grey) == 0:
        return np.ones(grey.shape, bool)
    labels = label(grey > threshold_otsu(grey))
    if labels.max() == 0:
        return np.ones(grey.shape, bool)
    largest = np.argmax(np.bincount(labels.ravel())[1:]) + 1
    return labels == largest


def _first_order(values: np.ndarray, bins: int, prefix: str) -> dict[str, float]:
    from scipy import stats

    lo, hi = float(values.min()), float(values.max())
    hist, _ = np.histogram(values, bins=bins, range=(lo, hi if hi > lo else lo + 1))
    p = hist / max(hist.sum(), 1)
    out = {
        f"{prefix}mean": float(values.mean()),
        f"{prefix}sd": float(values.std()),
        **{f"{prefix}p{q}": float(np.percentile(values, q)) for q in (10, 25, 50, 75, 90)},
        f"{prefix}skewness": float(np.nan_to_num(stats.skew(values))),
        f"{prefix}kurtosis": float(np.nan_to_num(stats.kurtosis(values))),
        f"{prefix}entropy": float(-np.sum(p[p > 0] * np.log2(p[p > 0]))),
    }
    out.update({f"{prefix}hist{k}": float(v) for k, v in enumerate(p)})
    return out


def _quantised(grey: np.ndarray, mask: np.ndarray, levels: int) -> np.ndarray:
    inside = grey[mask]
    lo, hi = np.percentile(inside, [1, 99]) if inside.size else (0.0, 1.0)
    q = np.clip((grey - lo) / max(hi - lo, 1e-6), 0, 1)
    return np.minimum((q * levels).astype(np.uint8), levels - 1)


def _texture(grey, mask, params: ImageFeatureParams) -> dict[str, float]:
    from skimage.feature import graycomatrix, graycoprops

    q = _quantised(grey, mask, params.levels)
    angles = [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4]
    slices = [q] if q.ndim == 2 else [q[..., k] for k in range(q.shape[-1]) if mask[..., k].any()]
    total = None
    for s in slices:
        m = graycomatrix(s, params.distances, angles, levels=params.levels, symmetric=True)
        total = m if total is None else total + m
    total = total.astype(float)
    total /= np.maximum(total.sum(axis=(0, 1), keepdims=True), 1)
    out = {}
    for prop in GLCM_PROPS:
        values = graycoprops(total, prop)  # (distances, angles)
        for i, d in enumerate(params.distances):
            out[f"glcm_{prop.lower()}_d{d}"] = float(np.nan_to_num(values[i].mean()))
    return out


def _lbp(grey, mask) -> dict[str, float]:
    from skimage.feature import local_binary_pattern

    grey = _quantised(grey, mask, 256)  # integer grey levels: LBP compares exact values
    slices = [grey] if grey.ndim == 2 else [grey[..., k] for k in range(grey.shape[-1])]
    masks = [mask] if grey.ndim == 2 else [mask[..., k] for k in range(grey.shape[-1])]
    counts = np.zeros(10)
    for s, m in zip(slices, masks, strict=True):
        codes = local_binary_pattern(s, 8, 1, method="uniform")
        counts += np.bincount(codes[m].astype(int), minlength=10)[:10]
    p = counts / max(counts.sum(), 1)
    return {f"lbp_{k}": float(v) for k, v in enumerate(p)}


def _shape(mask: np.ndarray) -> dict[str, float]:
    from skimage.measure import regionprops

    props = regionprops(mask.astype(np.uint8))[0]
    major = float(props.axis_major_length)
    minor = float(props.axis_minor_length)
    out = {
        "shape_area": float(props.area),
        "shape_area_fraction": float(props.area / mask.size),
        "shape_extent": float(props.extent),
        "shape_solidity": float(props.solidity),
        "shape_major_axis": major,
        "shape_minor_axis": minor,
        "shape_elongation": minor / major if major > 0 else 1.0,
    }
    if mask.ndim == 2:
        out["shape_eccentricity"] = float(props.eccentricity)
    return out


@functools.lru_cache(maxsize=16384)
def features_of(
    path: Path, params_json: str, channels: int | None = None, distortion: Distortion | None = None
) -> tuple[tuple[str, ...], np.ndarray]:
    """(names, values) of one image file (converted to ``channels``: 1 grey, 3 colour), with
    a test-time ``distortion`` if any."""
    params = ImageFeatureParams.model_validate_json(params_json)
    image = load_image(path)
    if distortion is not None:
        image = distortion(image)
    if channels is not None and image.shape[0] != channels:
        grey = image.mean(axis=0, keepdims=True)  # grey <-> colour as the CNN encoders do
        image = grey if channels == 1 else np.repeat(grey, channels, axis=0)
    grey = image.mean(axis=0)
    mask = _mask(grey)
    out: dict[str, float] = {}
    if "first_order" in params.groups:
        channels = [grey] if image.shape[0] == 1 else list(image)
        for c, channel in enumerate(channels):
            prefix = "fo_" if len(channels) == 1 else f"fo_c{c}_"
            out.update(_first_order(channel[mask], params.bins, prefix))
    if "texture" in params.groups:
        out.update(_texture(grey, mask, params))
    if "lbp" in params.groups:
        out.update(_lbp(grey, mask))
    if "shape" in params.groups:
        out.update(_shape(mask))
    return tuple(out), np.array(list(out.values()), dtype=np.float32)


class ImageFeatures:
    """Encoder interface over `features_of` (see module docstring)."""

    def __init__(self, params: ImageFeatureParams):
        self.params = params
        self._json = json.dumps(params.model_dump(mode="json"), sort_keys=True)

    def _subject(self, files, distortion=None) -> tuple[list[str], np.ndarray]:
        names, values = [], []
        for k, f in enumerate(files):
            n, v = features_of(Path(f), self._json, self.channels_, distortion)
            names += [f"view{k}_{x}" for x in n] if len(files) > 1 else list(n)
            values.append(v)
        return names, np.concatenate(values)

    def get_state(self) -> dict:
        names = list(self.feature_names_)
        return {"views": self.views_, "channels": self.channels_, "feature_names": names}

    def set_state(self, state: dict) -> None:
        self.views_, self.feature_names_ = int(state["views"]), list(state["feature_names"])
        self.channels_ = int(state["channels"])

    def fit(self, data: ImageData, y=None, ctx=None) -> ImageFeatures:
        self.channels_ = image_channels(data, self.params.channels)
        self.views_ = max((len(v) for v in data.files.values()), default=1)
        first = next(iter(data.files.values()))
        self.feature_names_ = self._subject([first[i % len(first)] for i in range(self.views_)])[0]
        return self

    def transform(self, data: ImageData) -> np.ndarray:
        rows = []
        for files in data.files.values():
            files = [files[i % len(files)] for i in range(self.views_)]
            rows.append(self._subject(files, data.distortion)[1])
        return np.stack(rows) if rows else np.zeros((0, len(self.feature_names_)), np.float32)


@hookimpl
def register_encoders(register):
    register(
        "image_features",
        ImageFeatures,
        params=ImageFeatureParams,
        description="Handcrafted intensity, GLCM texture and shape features (scikit-image).",
        modalities=("image",),
    )
