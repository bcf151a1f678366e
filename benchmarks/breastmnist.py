"""BreastMNIST (real breast ultrasound, 28 x 28, official split): ResNet-18 / ResNet-50, with and
without genetic-algorithm enhancement, against the published MedMNIST v2 baselines.

Trains on the official training split only, stops early on the official validation split
(best validation accuracy), and reports test ACC and AUC once — no tuning on the test split.
Also measures the GA enhancement's throughput (images per second).

    python benchmarks/breastmnist.py [--data ../shared/data/medmnist/breastmnist.npz]
        [--epochs 30] [--archs resnet18 resnet50] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.metrics import accuracy_score, roc_auc_score

from fusionkit.config import EncoderSpec, resolved
from fusionkit.data.modality import ImageData
from fusionkit.plugins import get_registry
from fusionkit.training.context import FitContext

PUBLISHED = {"resnet18": (0.863, 0.901), "resnet50": (0.812, 0.857)}  # MedMNIST v2, 28 px: ACC, AUC
DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "medmnist" / "breastmnist.npz"


def write_split(npz, split: str, folder: Path) -> tuple[ImageData, np.ndarray]:
    images, labels = npz[f"{split}_images"], npz[f"{split}_labels"].ravel().astype(int)
    files = {}
    for i, image in enumerate(images):
        path = folder / split / f"{i:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path)
        files[f"{split}{i:04d}"] = (path,)
    return ImageData("image", files, folder / split), labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--archs", nargs="+", default=["resnet18", "resnet50"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not args.data.is_file():
        raise SystemExit(f"{args.data}: not found (BreastMNIST is read from ../shared/data)")
    npz = np.load(args.data)
    folder = Path(tempfile.mkdtemp(prefix="breastmnist-"))
    train, y_train = write_split(npz, "train", folder)
    val, y_val = write_split(npz, "val", folder)
    test, y_test = write_split(npz, "test", folder)
    registry = get_registry()

    ga = registry.get("transform", "ga_enhance").build()
    from fusionkit.data.images import load_image

    every = [f for data in (train, val, test) for files in data.files.values() for f in files]
    arrays = [load_image(f) for f in every]
    start = time.perf_counter()
    for array in arrays:
        ga(array)
    ga_rate = len(arrays) / (time.perf_counter() - start)
    print(
        f"GA enhancement: {len(arrays)} images of 28x28 at {ga_rate:.1f} images/s "
        f"(population {ga.params.population}, {ga.params.generations} generations)"
    )

    ctx = FitContext(seed=args.seed, n_classes=2, threads=args.threads)
    rows = []
    for arch in args.archs:
        for enhance in (None, {"type": "ga_enhance"}):
            params = {
                "spatial_size": [28, 28],
                "channels": "grey",
                "intensity": "zscore",
                "augment": {
                    "affine_prob": 0.5,
                    "rotate_degrees": 10,
                    "shear": 0.05,
                    "scale": 0.1,
                    "flip_prob": 0.5,
                },
                "train": {
                    "epochs": args.epochs,
                    "batch_size": 64,
                    "lr": 1e-3,
                    "patience": 8,
                    "select_by": "accuracy",
                },
            }
            if enhance:
                params["enhance"] = enhance
            encoder = resolved(EncoderSpec(type=arch, params=params)).build()
            start = time.perf_counter()
            encoder.fit(train, y_train, ctx, validation=(val, y_val))
            seconds = time.perf_counter() - start
            proba = encoder.predict_proba(test)
            acc = accuracy_score(y_test, proba.argmax(1))
            auc = roc_auc_score(y_test, proba[:, 1])
            epochs = len(encoder.history_.train_loss)
            rows.append((arch, "GA" if enhance else "none", acc, auc, epochs, seconds))
            print(
                f"{arch:9s} enhancement={'GA' if enhance else 'none':5s} test ACC {acc:.3f} "
                f"AUC {auc:.3f}  ({epochs} epochs, best {encoder.history_.best_epoch + 1}, "
                f"{seconds:.0f} s)",
                flush=True,
            )
    print()
    print(
        "| network | enhancement | test ACC | test AUC | published ACC | published AUC |"
        " epochs | train time |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for arch, enh, acc, auc, epochs, seconds in rows:
        pa, pu = PUBLISHED.get(arch, (float("nan"), float("nan")))
        print(
            f"| {arch} | {enh} | {acc:.3f} | {auc:.3f} | {pa:.3f} | {pu:.3f} | {epochs} |"
            f" {seconds:.0f} s |"
        )


if __name__ == "__main__":
    main()
