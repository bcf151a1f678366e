"""MedMNIST ``.npz`` files (``train_images``, ``train_labels``, ``val_...``, ``test_...``) as
real files fusionkit reads: one PNG per image and a cohort table whose ``split`` column keeps
the official train / val / test split (`evaluation.split_column: split`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fusionkit.errors import DataError
from fusionkit.files import write_atomic

SPLITS = ("train", "val", "test")


def convert(npz_path: Path, dest: Path) -> dict:
    """Write ``dest/images/<split><index>.png`` and ``dest/cohort.csv`` (subject_id, label,
    split); returns subjects per split. A file without the MedMNIST keys is a `DataError`."""
    from PIL import Image

    try:
        npz = np.load(npz_path)
    except (OSError, ValueError) as exc:
        raise DataError(f"{npz_path}: cannot read as .npz: {str(exc).splitlines()[0]}") from None
    needed = [f"{s}_{part}" for s in SPLITS for part in ("images", "labels")]
    missing = [k for k in needed if k not in npz.files]
    if missing:
        raise DataError(f"{npz_path}: not a MedMNIST file (missing {', '.join(missing)})")
    (dest / "images").mkdir(parents=True, exist_ok=True)
    rows, counts = ["subject_id,label,split"], {}
    for split in SPLITS:
        images = npz[f"{split}_images"]
        labels = npz[f"{split}_labels"].reshape(len(images), -1)
        if labels.shape[1] != 1:
            raise DataError(f"{npz_path}: {split}_labels has several labels per image")
        for i, (image, label) in enumerate(zip(images, labels[:, 0], strict=True)):
            subject = f"{split}{i:05d}"
            Image.fromarray(np.asarray(image, dtype=np.uint8)).save(
                dest / "images" / f"{subject}.png"
            )
            rows.append(f"{subject},{int(label)},{split}")
        counts[split] = len(images)
    write_atomic(dest / "cohort.csv", ("\n".join(rows) + "\n").encode())
    return counts
