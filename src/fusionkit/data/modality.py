"""What a reader returns: one modality's data for a set of subjects, keyed by subject id."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass
class TableData:
    """A table or genotype modality: one row per subject id, NaN where a value is missing.

    ``frame`` is indexed by subject id; numeric columns are float, categorical columns hold
    strings (they are encoded later, inside the pipeline, on training data only). ``notes`` and
    ``warnings`` are what the reader has to tell about how it read the file (e.g. which visit
    each subject's row comes from); the cohort shows them with its own.
    """

    kind: str
    frame: pd.DataFrame
    source: Path
    categorical: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return list(self.frame.index)

    @property
    def columns(self) -> list[str]:
        return list(self.frame.columns)

    def subset(self, ids: list[str]) -> TableData:
        """The rows of ``ids`` (in that order)."""
        return TableData(self.kind, self.frame.loc[ids], self.source, list(self.categorical))


@dataclass(frozen=True)
class Distortion:
    """A test-time change to every image of a modality (``image_noise``, ``image_blur``...):
    ``fn(array, level, rng)`` on the channel-first array as loaded. ``rng`` is seeded by
    ``seed`` and the image's own content, so each image gets its own draw, the same wherever
    the data lies and whichever encoder reads it."""

    fn: Callable[[np.ndarray, float, np.random.Generator], np.ndarray]
    level: float
    seed: int

    def __call__(self, array: np.ndarray) -> np.ndarray:
        content = zlib.crc32(np.ascontiguousarray(array).tobytes())
        rng = np.random.default_rng([self.seed, content])
        return np.asarray(self.fn(array, self.level, rng), dtype=np.float32)


@dataclass
class ImageData:
    """An image modality: for each subject id, one or more image files (views, slices).

    Encoders read pixels with `read` (which applies the test-time ``distortion`` of a
    robustness evaluation, if any), never from the files directly.
    """

    kind: str
    files: dict[str, tuple[Path, ...]]
    source: Path
    missing_files: list[Path] = field(default_factory=list)
    # spatial shapes of the images, when the reader loaded them (``verify: full``); else empty
    shapes: frozenset[tuple[int, ...]] = frozenset()
    distortion: Distortion | None = None

    def read(self, path: str | Path) -> np.ndarray:
        """One of this modality's image files, channel first, as the encoders must see it."""
        from fusionkit.data.images import load_image

        array = load_image(path)
        return self.distortion(array) if self.distortion is not None else array

    @property
    def spatial_dims(self) -> int | None:
        """2 or 3 when the images were checked (all have the same), else None."""
        return len(next(iter(self.shapes))) if self.shapes else None

    @property
    def ids(self) -> list[str]:
        return list(self.files)

    def subset(self, ids: list[str]) -> ImageData:
        """The files of ``ids`` (in that order)."""
        files = {i: self.files[i] for i in ids}
        return ImageData(
            self.kind, files, self.source, shapes=self.shapes, distortion=self.distortion
        )

    def n_images(self) -> int:
        return int(sum(len(v) for v in self.files.values()))


ModalityData = TableData | ImageData


def as_id(values: pd.Series | np.ndarray | list) -> list[str]:
    """Subject ids as strings, so '0012' in one file and 12 in another never silently match."""
    return [str(v).strip() for v in values]
