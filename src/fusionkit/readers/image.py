"""Reader for images found by a path pattern (``images/{subject_id}.nii.gz``) or a column of paths.

A subject may have several images of one modality (views, slices): a pattern may contain glob
wildcards, e.g. ``slices/{subject_id}_[acs].jpg``. Files are checked when the cohort is built
(``verify: full`` loads every image once), so a corrupt file stops the run before training.
"""

from __future__ import annotations

import glob
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from fusionkit.data.images import load_image
from fusionkit.data.modality import ImageData, as_id
from fusionkit.errors import DataError
from fusionkit.hookspecs import hookimpl
from fusionkit.readers.base import ReadContext
from fusionkit.readers.table import read_table_file

PLACEHOLDER = "{subject_id}"


class ImageParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path_column: str | None = Field(
        None, description="If set, `path` is a table with the id and this column of file paths."
    )
    verify: Literal["full", "exists"] = Field(
        "full",
        description="full: load every image once when the cohort is built (unreadable, "
        "constant, 4D or 2D-among-3D images are errors); exists: only check the files exist.",
    )


def checked_shapes(images: list[Path]) -> frozenset[tuple[int, ...]]:
    """Load every image once: unreadable, constant, or of another dimensionality than the
    others (2D among 3D) is an error naming the file. Returns the spatial shapes found."""
    dims: dict[int, Path] = {}
    counts: dict[int, int] = {}
    shapes = set()
    for image in images:
        array = load_image(image)  # raises DataError naming the file
        if float(array.max()) == float(array.min()):
            raise DataError(
                f"{image}: constant image (every value is {float(array.min()):g}); remove it, or "
                "set the reader's params.verify: exists to skip content checks"
            )
        dims.setdefault(array.ndim - 1, image)
        counts[array.ndim - 1] = counts.get(array.ndim - 1, 0) + 1
        shapes.add(tuple(int(s) for s in array.shape[1:]))
    if len(dims) > 1:
        common = max(counts, key=counts.__getitem__)
        odd = next(d for d in dims if d != common)
        raise DataError(
            f"{dims[odd]}: {odd}D image, but the modality's other images are {common}D "
            f"(e.g. {dims[common]})"
        )
    return frozenset(shapes)


def _pattern_regex(pattern: str, greedy: bool) -> re.Pattern[str]:
    out = ""
    for part in re.split(r"(\{subject_id\}|\*\*|\*|\?|\[[^\]]*\])", pattern):
        if part == PLACEHOLDER:
            out += "(?P<id>.+)" if greedy else "(?P<id>.+?)"
        elif part == "**":
            out += ".*"
        elif part == "*":
            out += "[^/]*"
        elif part == "?":
            out += "[^/]"
        elif part.startswith("[") and part.endswith("]") and len(part) > 2:
            out += part
        else:
            out += re.escape(part)
    return re.compile(out + r"\Z")


class ImageReader:
    """Image files per subject: NIfTI, DICOM (file or series folder), PNG / JPEG; 2D or 3D."""

    kind = "image"

    def __init__(self, params: ImageParams):
        self.params = params
        self.missing_files: list[Path] = []

    def read(self, path: str, ctx: ReadContext) -> ImageData:
        if self.params.path_column:
            files = self._from_table(ctx.root / path, ctx)
            source = ctx.root / path
        elif PLACEHOLDER in path:
            files = self._from_pattern(path, ctx)
            source = ctx.root / path
        else:
            raise DataError(
                f"{ctx.root / path}: image path of modality {ctx.modality!r} needs "
                f"{PLACEHOLDER} in it, or params.path_column"
            )
        if not files:
            where = ctx.root / path if not self.params.path_column else source
            raise DataError(f"{where}: no image file matches (modality {ctx.modality!r})")
        shapes = frozenset()
        if self.params.verify == "full" and ctx.verify:
            shapes = checked_shapes([image for images in files.values() for image in images])
        return ImageData(self.kind, files, source, list(self.missing_files), shapes)

    def _from_pattern(self, pattern: str, ctx: ReadContext) -> dict[str, tuple[Path, ...]]:
        root = ctx.root
        # "**/*" lets ids hold folders (class-folder cohorts: "CT/img_0001").
        wildcard = glob.escape(str(root)) + "/" + pattern.replace(PLACEHOLDER, "**/*")
        regexes = (_pattern_regex(pattern, greedy=True), _pattern_regex(pattern, greedy=False))
        files: dict[str, list[Path]] = {}
        for found in sorted(glob.glob(wildcard, recursive=True)):
            rel = Path(found).relative_to(root).as_posix()
            ids = [m.group("id") for rx in regexes if (m := rx.match(rel))]
            known = [i for i in ids if i in ctx.known_ids]
            subject = known[0] if known else (ids[0] if ids else None)
            if subject is not None:
                files.setdefault(subject, []).append(Path(found))
        return {k: tuple(v) for k, v in sorted(files.items())}

    def _from_table(self, table: Path, ctx: ReadContext) -> dict[str, tuple[Path, ...]]:
        frame = read_table_file(table, ctx.id_column, unique_ids=False)
        column = self.params.path_column
        if column not in frame.columns:
            raise DataError(f"{table}: column {column!r} (params.path_column) not found")
        files: dict[str, tuple[Path, ...]] = {}
        for subject, value in zip(as_id(frame.index), frame[column], strict=True):
            if isinstance(value, str) and value.strip():
                image = Path(value.strip())
                image = image if image.is_absolute() else table.parent / image
                if image.exists():
                    files[subject] = (*files.get(subject, ()), image)
                else:
                    self.missing_files.append(image)
        return files


@hookimpl
def register_readers(register):
    register(
        "image",
        ImageReader,
        params=ImageParams,
        description="Images per subject by path pattern or path column (NIfTI, DICOM, PNG, JPEG).",
        modalities=("image",),
    )
