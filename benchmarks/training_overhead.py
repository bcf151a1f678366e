"""What fusionkit's training loop costs over a bare PyTorch loop, measured in one run.

Trains the same MLP (the ADNI-study 200-100-75 layers) on the same synthetic table, with the
same optimiser, batch size and epochs, three ways: a bare PyTorch loop; fusionkit's `train`
without a validation part; and fusionkit's `train` with a validation part evaluated every epoch
(early stopping disabled by a large patience, so all run the same number of epochs). Prints
median seconds of `--repeats` runs and the ratios, plus the peak resident memory of the process.

    python benchmarks/training_overhead.py [--n 4000] [--features 50] [--epochs 20] [--threads 2]
"""

from __future__ import annotations

import argparse
import itertools
import resource
import statistics
import time

import numpy as np
import torch
from torch import nn

from fusionkit.training.context import FitContext
from fusionkit.training.loop import TrainParams, classification_loss, model_logits, train


def mlp(n_in: int, n_classes: int) -> nn.Module:
    sizes = [n_in, 200, 100, 75]
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        layers += [nn.Linear(a, b), nn.ReLU(), nn.Dropout(0.2)]
    return nn.Sequential(*layers, nn.Linear(75, n_classes))


def bare(x, y, epochs: int, batch: int, seed: int) -> float:
    torch.manual_seed(seed)
    model = mlp(x.shape[1], 3)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=generator)
        for i in range(0, len(x), batch):
            index = order[i : i + batch]
            optimiser.zero_grad()
            loss = nn.functional.cross_entropy(model(x[index]), y[index])
            loss.backward()
            optimiser.step()
    return time.perf_counter() - start


def ours(x, y, epochs: int, batch: int, seed: int, threads: int, validate: bool) -> float:
    torch.manual_seed(seed)
    model = mlp(x.shape[1], 3)
    params = TrainParams(epochs=epochs, batch_size=batch, patience=10_000, class_weights=False)
    ctx = FitContext(seed=seed, n_classes=3, threads=threads)
    n_val = len(x) // 5 if validate else 0
    fit = (x[n_val:], y[n_val:]) if validate else (x, y)
    val = (x[:n_val], y[:n_val]) if validate else None
    start = time.perf_counter()
    train(model, classification_loss(), fit, val, params, ctx, logits_fn=model_logits)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--smoke", action="store_true", help="200 rows, 2 epochs, once: checks that it runs"
    )
    args = parser.parse_args()
    if args.smoke:
        args.n, args.epochs, args.repeats = 200, 2, 1
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    y = torch.as_tensor(rng.integers(0, 3, args.n))
    x = torch.as_tensor(rng.normal(size=(args.n, args.features)), dtype=torch.float32)
    x[:, 0] += y.float()
    times = {"bare PyTorch loop": [], "fusionkit train": [], "fusionkit train + validation": []}
    for r in range(args.repeats):
        times["bare PyTorch loop"].append(bare(x, y, args.epochs, args.batch, r))
        times["fusionkit train"].append(
            ours(x, y, args.epochs, args.batch, r, args.threads, validate=False)
        )
        # with validation the loop trains on 80 % of the rows: scale to the same number of steps
        t = ours(x, y, args.epochs, args.batch, r, args.threads, validate=True)
        times["fusionkit train + validation"].append(t / 0.8)
    base = statistics.median(times["bare PyTorch loop"])
    print(
        f"{args.n} rows x {args.features} features, MLP 200-100-75, {args.epochs} epochs, "
        f"batch {args.batch}, {args.threads} threads, median of {args.repeats}"
    )
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:30s} {median:7.2f} s   ratio to bare {median / base:5.2f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak resident memory of this process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
