"""Small, learnable sample data for the conformance checks (and for plugin authors' tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fusionkit.data.modality import ImageData, ModalityData, TableData

N_CLASSES = 3


def toy_problem(seed: int = 0, n: int = 90, n_features: int = 6, n_classes: int = 3):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    X = rng.normal(size=(n, n_features))
    X[:, 0] += 3.0 * y  # one clearly informative column
    X[rng.random(X.shape) < 0.05] = np.nan  # missing cells must be handled, not crash
    return X, y


def sample_data(
    kind: str, folder: Path, n: int = 30, seed: int = 0
) -> tuple[ModalityData, np.ndarray]:
    """A small, learnable modality of ``kind`` (images written as PNG files into ``folder``)
    and its labels 0..2; a few values are missing in tables."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % N_CLASSES
    ids = [f"S{i:03d}" for i in range(n)]
    if kind == "image":
        from PIL import Image

        folder.mkdir(parents=True, exist_ok=True)
        files = {}
        for i, subject in enumerate(ids):
            pixels = rng.normal(0.3 + 0.2 * y[i], 0.05, size=(16, 16)).clip(0, 1)
            pixels[4:12, 4:12] += 0.2  # a bright square: a foreground to find
            path = folder / f"{subject}.png"
            Image.fromarray((pixels.clip(0, 1) * 255).astype(np.uint8)).save(path)
            files[subject] = (path,)
        return ImageData("image", files, folder), y
    if kind == "genotype":
        values = rng.integers(0, 3, size=(n, 8)).astype(float)
        values[:, 0] = np.minimum(y, 2)
        frame = pd.DataFrame(values, index=ids, columns=[f"rs{j}" for j in range(8)])
        frame.iloc[1, 2] = np.nan
        return TableData("genotype", frame, folder / "snp.csv"), y
    values = rng.normal(size=(n, 5))
    values[:, 0] += 2.0 * y
    frame = pd.DataFrame(values, index=ids, columns=[f"x{j}" for j in range(5)])
    frame.iloc[2, 1] = np.nan
    frame["sex"] = np.where(np.arange(n) % 2, "F", "M")
    return TableData("table", frame, folder / "ehr.csv", ["sex"]), y


def fusion_inputs(seed: int, encoders: dict[str, Any], folder: Path):
    """Training and test `FusionInput` of two table modalities; some subjects lack ``b``."""
    from fusionkit.fusion.base import FusionInput

    n = 60
    data_a, y = sample_data("table", folder / "a", n=n, seed=seed)
    data_b, _ = sample_data("genotype", folder / "b", n=n, seed=seed + 1)
    rng = np.random.default_rng(seed)
    features = {
        "a": rng.normal(size=(n, 4)).astype(np.float32) + y[:, None],
        "b": rng.normal(size=(n, 3)).astype(np.float32),
    }
    available = {"a": np.ones(n, bool), "b": np.arange(n) % 4 != 0}
    features["b"][~available["b"]] = np.nan

    def part(rows: np.ndarray) -> FusionInput:
        ids = [data_a.ids[r] for r in rows]
        have_b = available["b"][rows]
        return FusionInput(
            ids,
            {m: f[rows] for m, f in features.items()},
            {m: a[rows] for m, a in available.items()},
            {
                "a": data_a.subset(ids),
                "b": data_b.subset([i for i, h in zip(ids, have_b, strict=True) if h]),
            },
            encoders,
        )

    train, test = np.arange(0, 45), np.arange(45, n)
    return part(train), y[train], part(test), y[test]


def subset_inputs(inp, rows: np.ndarray):
    from fusionkit.fusion.base import FusionInput

    ids = [inp.ids[r] for r in rows]
    data = {}
    for m, d in inp.data.items():
        have = inp.available[m][rows]
        data[m] = d.subset([i for i, h in zip(ids, have, strict=True) if h])
    return FusionInput(
        ids,
        {m: f[rows] for m, f in inp.features.items()},
        {m: a[rows] for m, a in inp.available.items()},
        data,
        inp.encoders,
    )


def sample_file(kind: str, folder: Path, fmt: str = "csv") -> tuple[str, pd.Series]:
    """A file (or pattern) of ``kind`` under ``folder`` for ids S000..S011, and their labels;
    genotypes also as ``fmt`` ``plink``, ``pgen`` or ``vcf``."""
    data, y = sample_data(kind, folder / "images", n=12)
    labels = pd.Series(y, index=data.ids)
    if kind == "image":
        return "images/{subject_id}.png", labels
    frame = data.frame.copy()
    frame.index.name = "subject_id"
    if fmt == "plink":
        from fusionkit.readers.genotype_files import write_plink

        write_plink(frame, folder / "genotype")
        return "genotype.bed", labels
    if fmt == "pgen":
        from fusionkit.readers.genotype_files import write_pgen

        write_pgen(frame, folder / "genotype")
        return "genotype.pgen", labels
    if fmt == "vcf":
        from fusionkit.readers.genotype_files import write_vcf

        write_vcf(frame, folder / "genotype.vcf")
        return "genotype.vcf", labels
    frame.to_csv(folder / f"{kind}.csv")
    return f"{kind}.csv", labels
