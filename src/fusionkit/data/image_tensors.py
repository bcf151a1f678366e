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
from pathlib import Path

import numpy as np

from fusionkit.data.images import load_image
from fusionkit.data.modality import ImageData
from fusionkit.errors import DataError


@functools.cache
def _transform(spec_json: str):
    import json

    from fusionkit.plugins import get_registry

    spec = json.loads(spec_json)
    return get_registry().get("transform", spec["type"]).build(spec["params"])


@functools.lru_cache(maxsize=8192)
def prepared_image(
    path: Path,
    channels: int,
    spatial_size: tuple[int, ...] | None,
    intensity: str = "zscore",
    enhance: str | None = None,
) -> np.ndarray:
    """One image as a (channels, *spatial_size) float32 array.

    ``intensity``: ``zscore`` (per image) or ``unit`` (scaled to [0, 1]); ``enhance``: the JSON
    of a transform section (``{"type": ..., "params": ...}``) applied before resizing.
    """
    from monai.transforms import NormalizeIntensity, Resize, ScaleIntensity

    array = load_image(path)
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
            prepared_image(Path(f), channels, spatial_size, intensity, enhance) for f in files
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
