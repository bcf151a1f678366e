"""Genetic-algorithm enhancement throughput: images per second on real 28 x 28 ultrasound
(BreastMNIST, all 780 images), against the bare fitness arithmetic of the same search (the
same number of vectorised fitness evaluations of random curves, no GA bookkeeping), measured
in one run: the ratio is what pygad's selection, crossover and mutation add.

    python benchmarks/ga_throughput.py [--data ../shared/data/medmnist/breastmnist.npz]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from fusionkit.plugins import get_registry
from fusionkit.transforms.ga_enhance import BOUNDS, apply_curve, fitness, to_unit

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "medmnist" / "breastmnist.npz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT)
    parser.add_argument(
        "--smoke", action="store_true", help="five random 28x28 images: checks that it runs"
    )
    args = parser.parse_args()
    if args.smoke:
        rng = np.random.default_rng(0)
        images = [rng.integers(0, 256, (1, 28, 28)).astype(np.float32) for _ in range(5)]
    elif not args.data.is_file():
        raise SystemExit(f"{args.data}: not found (BreastMNIST is read from ../shared/data)")
    else:
        npz = np.load(args.data)
        images = [
            image[None].astype(np.float32)
            for split in ("train", "val", "test")
            for image in npz[f"{split}_images"]
        ]
    ga = get_registry().get("transform", "ga_enhance").build()
    start = time.perf_counter()
    for image in images:
        ga(image)
    seconds = time.perf_counter() - start
    p = ga.params
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for image in images:
        grey = to_unit(image[0])
        for _ in range(p.generations + 1):  # the initial population and each generation
            curves = rng.uniform(BOUNDS[:, 0], BOUNDS[:, 1], size=(p.population, 3))
            fitness(apply_curve(grey, curves), p.edge_threshold)
    bare = time.perf_counter() - start
    print(
        f"GA enhancement: {len(images)} images of 28x28 in {seconds:.1f} s = "
        f"{len(images) / seconds:.1f} images/s (population {p.population}, "
        f"{p.generations} generations)"
    )
    print(
        f"bare fitness arithmetic: {len(images) / bare:.1f} images/s; the GA takes "
        f"{seconds / bare:.2f}x its time"
    )


if __name__ == "__main__":
    main()
