"""How a run's cost grows with the cohort, and what the executors buy, measured in one run.

The same comparison — EHR, SNP and MRI, every modality subset, logistic regression and a random
forest (MRI through its handcrafted features), 5-fold CV — on synthetic ADNI-style cohorts of
500, 1,000, 2,000 and 5,000 subjects. Each size runs in a fresh process, so peak memory is its
own. Prints wall time and peak resident memory per stage (cohort: reading and checking the
data, after it was generated; encoders; cells, from the first finished cell; report: tables,
plots, manifest), the ratios to the
500-subject run, and the speed-up of ``processes`` and ``ray`` over ``local`` at one size.
Targets: 5,000 / 500 time <= 11x (about linear), peak memory <= 2x.

    python benchmarks/scaling.py [--sizes 500 1000 2000 5000] [--executor-size 1000]
                                 [--plot docs/images/scaling.png]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

STAGES = ("cohort", "encoders", "cells", "report")


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one(size: int, executor: str, workdir: Path, tag: str, smoke: bool = False) -> dict:
    """Generate (not timed), then run once; wall seconds and peak MiB per stage."""
    import yaml

    from fusionkit.config import load_config
    from fusionkit.data.synthetic.adni_like import generate
    from fusionkit.experiment.runner import run_experiment

    data = workdir / f"cohort_{size}"
    if not data.exists():
        small = {"image_shape": (8, 10, 8), "n_snps": 50} if smoke else {}
        generate(data, seed=0, n_subjects=size, n_external=0, **small)
    config = {
        "name": f"scaling_{size}",
        "seed": 0,
        "data": {
            "root": str(data),
            "classes": ["CN", "MCI", "AD"],
            "modalities": {
                "ehr": {"kind": "table", "path": "ehr.csv"},
                "snp": {"kind": "genotype", "path": "snp.csv"},
                "img": {"kind": "image", "path": "images/{subject_id}.nii.gz"},
            },
        },
        "methods": [
            "logistic_regression",
            {"type": "random_forest", "params": {"n_estimators": 10 if smoke else 100}},
        ],
        "evaluation": {"cv_folds": 3 if smoke else 5, "external": False},
        "runtime": {"threads": 1, "executor": executor},
    }
    path = workdir / f"scaling_{size}_{executor}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    stage = {"name": "cohort"}
    marks = {"cohort": time.perf_counter()}
    peaks = dict.fromkeys(STAGES, 0.0)
    running = True

    def sample() -> None:
        while running:
            peaks[stage["name"]] = max(peaks[stage["name"]], _rss_mib())
            time.sleep(0.02)

    def progress(name: str, done: int, total: int, latest: str = "") -> None:
        # cells start as their encoders finish; the cell stage counts from the first result
        now = time.perf_counter()
        if name == "encoders" and stage["name"] == "cohort":
            stage["name"], marks["encoders"] = "encoders", now
        if name == "cells" and done >= 1 and stage["name"] in ("cohort", "encoders"):
            marks.setdefault("encoders", now)
            stage["name"], marks["cells"] = "cells", now
        if name == "cells" and done == total and total:
            stage["name"], marks["report"] = "report", now

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    outcome = run_experiment(
        load_config(path), workdir / f"run_{size}_{executor}_{tag}", progress=progress
    )
    end = time.perf_counter()
    running = False
    sampler.join()
    bounds = [marks[s] for s in STAGES] + [end]
    seconds = {s: bounds[i + 1] - bounds[i] for i, s in enumerate(STAGES)}
    return {
        "size": size,
        "executor": executor,
        "seconds": seconds,
        "total": end - marks["cohort"],
        "peak_mib": peaks,
        "peak": max(peaks.values()),
        "cells": outcome.cells_run,
        "failures": len(outcome.failures),
    }


def _child(size: int, executor: str, workdir: Path, tag: str, smoke: bool = False) -> dict:
    command = [
        sys.executable,
        __file__,
        "--one",
        str(size),
        "--executor",
        executor,
        "--workdir",
        str(workdir),
        "--tag",
        tag,
        *(["--smoke"] if smoke else []),
    ]
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000, 5000])
    parser.add_argument("--executor-size", type=int, default=1000)
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument(
        "--executors", nargs="+", default=["local", "processes", "ray"], help="compared at one size"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="40 and 60 subjects, small images, local only: checks that it runs",
    )
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--executor", default="local", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--tag", default="sizes", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.smoke and args.one is None:
        args.sizes, args.executor_size, args.executors = [40, 60], 40, ["local"]
    if args.one is not None:
        print(json.dumps(one(args.one, args.executor, args.workdir, args.tag, args.smoke)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        rows = [_child(size, "local", workdir, "sizes", args.smoke) for size in args.sizes]
        executors = {
            name: _child(args.executor_size, name, workdir, "executors", args.smoke)
            for name in args.executors
        }
    base = rows[0]
    print(
        f"{'subjects':>8}  "
        + "  ".join(f"{s:>9}" for s in STAGES)
        + f"  {'total s':>8}  {'ratio':>6}  {'peak MiB':>8}  {'ratio':>6}"
    )
    for r in rows:
        print(
            f"{r['size']:>8}  "
            + "  ".join(f"{r['seconds'][s]:>8.1f}s" for s in STAGES)
            + f"  {r['total']:>8.1f}  {r['total'] / base['total']:>6.2f}  {r['peak']:>8.0f}"
            f"  {r['peak'] / base['peak']:>6.2f}"
        )
    last = rows[-1]
    dominant = max(STAGES, key=lambda s: last["seconds"][s])
    print(
        f"peak MiB per stage at {last['size']}: "
        + ", ".join(f"{s} {last['peak_mib'][s]:.0f}" for s in STAGES)
    )
    print(
        f"dominant stage at {last['size']} subjects: {dominant} "
        f"({last['seconds'][dominant] / last['total']:.0%} of the time)"
    )
    ratio_t, ratio_m = last["total"] / base["total"], last["peak"] / base["peak"]
    print(
        f"{last['size']} / {base['size']}: time {ratio_t:.2f}x (target <= 11x: "
        f"{'met' if ratio_t <= 11 else 'missed'}), peak memory {ratio_m:.2f}x (target <= 2x: "
        f"{'met' if ratio_m <= 2 else 'missed'})"
    )
    local = executors["local"]["total"]
    for name, r in executors.items():
        print(
            f"executor {name:<9} at {args.executor_size} subjects: {r['total']:.1f} s, "
            f"speed-up over local {local / r['total']:.2f}x, failures {r['failures']}"
        )
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
        sizes = [r["size"] for r in rows]
        bottom = [0.0] * len(rows)
        for s in STAGES:
            values = [r["seconds"][s] for r in rows]
            left.bar([str(x) for x in sizes], values, bottom=bottom, label=s)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        left.set(xlabel="subjects", ylabel="seconds", title="wall time per stage")
        left.legend()
        right.plot(sizes, [r["peak"] for r in rows], marker="o")
        right.set(xlabel="subjects", ylabel="MiB", title="peak resident memory", ylim=(0, None))
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
