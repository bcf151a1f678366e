"""Images of a subject -> one channel-first array of fixed size, ready for a network.

Each image is loaded (`fusionkit.data.images.load_image`), converted to the wanted channel
count, optionally enhanced by a transform plugin (e.g. ``ga_enhance``), resized with MONAI's
`Resize`, then either z-scored per image with `NormalizeIntensity` or scaled to [0, 1] with
`ScaleIntensity` (both per-image operations: nothing is learnt from other subjects, so nothing
can leak; a training-set mean is subtracted later, by the encoder). A subject's several images
(views, slices) are stacked as channels; a subject with fewer images than the others repeats its
own. Arrays are cached in memory, so folds and methods load and enhance each file once.
"""

from __future__ import annotations

import functools
import os
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from fusionkit.data.images import load_image
from fusionkit.data.modality import Distortion, ImageData
from fusionkit.errors import DataError


@functools.cache
def _transform(spec_json: str):
    import json

    from fusionkit.plugins import get_registry

    spec = json.loads(spec_json)
    return get_registry().get("transform", spec["type"]).build(spec["params"])


def _cache_budget() -> int:
    return int(float(os.environ.get("FUSIONKIT_IMAGE_CACHE_MB", "1024")) * 2**20)


_CACHE: OrderedDict[tuple, np.ndarray] = OrderedDict()
_CACHED = [0]  # bytes held


def prepared_image(*args) -> np.ndarray:
    """`load_prepared` through a least-recently-used cache of at most
    ``FUSIONKIT_IMAGE_CACHE_MB`` (default 1024) MiB: folds and epochs reuse what fits, the rest
    is read again from disk, so memory stays bounded whatever the cohort's size."""
    key = tuple(args)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    array = load_prepared(*args)
    array.setflags(write=False)
    _CACHE[key] = array
    _CACHED[0] += array.nbytes
    budget = _cache_budget()
    while _CACHED[0] > budget and len(_CACHE) > 1:
        _, old = _CACHE.popitem(last=False)
        _CACHED[0] -= old.nbytes
    return array


def clear_image_cache() -> None:
    """Forget every cached image array."""
    _CACHE.clear()
    _CACHED[0] = 0


prepared_image.cache_clear = clear_image_cache  # type: ignore[attr-defined]


def load_prepared(
    path: Path,
    channels: int,
    spatial_size: tuple[int, ...] | None,
    intensity: str = "zscore",
    enhance: str | None = None,
    distortion: Distortion | None = None,
) -> np.ndarray:
    """One image as a (channels, *spatial_size) float32 array.

    ``intensity``: ``zscore`` (per image) or ``unit`` (scaled to [0, 1]); ``enhance``: the JSON
    of a transform section (``{"type": ..., "params": ...}``) applied before resizing;
    ``distortion``: a test-time perturbation of the image as loaded (robustness).
    """
    from monai.transforms import NormalizeIntensity, Resize, ScaleIntensity

    array = load_image(path)
    if distortion is not None:
        array = distortion(array)
    if array.shape[0] != channels:
        grey = array.mean(axis=0, keepdims=True)
        array = grey if channels == 1 else np.repeat(grey, channels, axis=0)
    if enhance is not None:
        array = np.asarray(_transform(enhance)(array), dtype=np.float32)
    if spatial_size is not None:
        if len(spatial_size) != array.ndim - 1:
            raise DataError(
                f"{path}: image has {array.ndim - 1} spatial dimensions but spatial_size "
                f"has {len(spatial_size)}"
            )
        array = np.asarray(Resize(spatial_size, mode="area")(array))
    if intensity == "unit":
        return np.asarray(ScaleIntensity(minv=0.0, maxv=1.0)(array), dtype=np.float32)
    return np.asarray(NormalizeIntensity(channel_wise=True)(array), dtype=np.float32)


def image_channels(data: ImageData, mode: str) -> int:
    """1 (grey) or 3 (colour); ``auto``: 3 if any of the first images is colour."""
    if mode == "grey":
        return 1
    if mode == "rgb":
        return 3
    firsts = [files[0] for files in list(data.files.values())[:32]]
    return 3 if any(load_image(f).shape[0] >= 3 for f in firsts) else 1


def stack_subjects(
    data: ImageData,
    channels: int,
    spatial_size: tuple[int, ...] | None,
    views: int,
    intensity: str = "zscore",
    enhance: str | None = None,
) -> np.ndarray:
    """(subjects, views * channels, *spatial) for every subject of ``data``, in its order."""
    out = []
    shape = None
    for subject, files in data.files.items():
        arrays = [
            prepared_image(Path(f), channels, spatial_size, intensity, enhance, data.distortion)
            for f in files
        ]
        arrays = [arrays[i % len(arrays)] for i in range(views)]
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1 or (shape is not None and arrays[0].shape != shape):
            found = sorted(shapes | ({shape} if shape else set()))
            raise DataError(
                f"{files[0]}: images of subject {subject} differ in size from the others "
                f"{found}; set the encoder's params.spatial_size"
            )
        shape = arrays[0].shape
        out.append(np.concatenate(arrays, axis=0))
    return np.stack(out) if out else np.zeros((0,), np.float32)


class SubjectImages:
    """The images of some subjects, read lazily: indexable like a float32 tensor of shape
    (subjects, channels, *spatial). Indexing (a slice, a tensor or list of positions) loads and
    prepares just those subjects — a batch; `subset` selects subjects without loading any. So a
    network trains and predicts with one batch of images in memory at a time (plus the bounded
    cache of `prepared_image`), whatever the cohort's size."""

    def __init__(self, data: ImageData, prepare: Callable[[ImageData], np.ndarray]):
        self.data = data
        self.prepare = prepare
        self._ids = list(data.files)
        self._item: tuple[int, ...] | None = None

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def shape(self) -> tuple[int, ...]:
        if self._item is None:
            self._item = tuple(self._load(self._ids[:1]).shape[1:]) if self._ids else (0,)
        return (len(self._ids), *self._item)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def _load(self, ids: list[str]):
        import torch

        arrays = self.prepare(self.data.subset(ids))
        if self._item is not None and len(ids) and tuple(arrays.shape[1:]) != self._item:
            raise DataError(
                f"{self.data.files[ids[0]][0]}: image size {tuple(arrays.shape[1:])} differs "
                f"from the others {self._item}; set the encoder's params.spatial_size"
            )
        return torch.as_tensor(np.ascontiguousarray(arrays), dtype=torch.float32)

    def __getitem__(self, index):
        if isinstance(index, slice):
            ids = self._ids[index]
        else:
            positions = np.asarray(index.cpu() if hasattr(index, "cpu") else index).reshape(-1)
            ids = [self._ids[int(p)] for p in positions]
        return self._load(ids)

    def subset(self, positions) -> SubjectImages:
        """Some subjects, still unloaded (e.g. the fit and validation parts of a training part)."""
        ids = [self._ids[int(p)] for p in np.asarray(positions).reshape(-1)]
        part = SubjectImages(self.data.subset(ids), self.prepare)
        part._item = self._item
        return part

    def mean(self, chunk: int = 64) -> np.ndarray:
        """The mean image, accumulated chunk by chunk (float64)."""
        total = None
        for start in range(0, len(self), chunk):
            block = self.prepare(self.data.subset(self._ids[start : start + chunk]))
            part = block.sum(axis=0, dtype=np.float64)
            total = part if total is None else total + part
        return (total / max(len(self), 1)).astype(np.float32)
