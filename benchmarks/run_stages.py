"""Where a run's time goes: preparing (reading and checking the data, planning), encoder tasks,
cells (fit + plain evaluation), evaluations of the kept models under each perturbation, and
writing the outputs (tables, manifest, report and figures), measured in one run.

    python benchmarks/run_stages.py [CONFIG] [--smoke]

Default CONFIG: configs/ehr_img_snp.yaml (the demo), run fresh into a temporary folder. Each
stage's share of the wall time is printed; encoder, cell and evaluation times are the sums the
run records per task (one process: they add up to the run's wall time, less the outputs).
``--smoke``: the demo's config on a 60-subject cohort with tiny networks (checks the script).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def smoke_config(folder: Path) -> Path:
    """A small run with every kind of evaluation the demo has: EHR and SNP of 60 subjects,
    three methods, 3 folds, robustness and contribution."""
    config = yaml.safe_load((ROOT / "configs/ehr_img_snp.yaml").read_text())
    config["data"]["dataset"]["params"].update(n_subjects=60, n_external=20, n_snps=30)
    del config["data"]["modalities"]["img"]
    tiny = {"hidden": [8], "pretrain_epochs": 2, "train": {"epochs": 2}}
    config["encoders"] = {
        m: {"type": "denoising_autoencoder", "params": tiny} for m in ("ehr", "snp")
    }
    config["methods"] = [
        m
        for m in config["methods"]
        if m["type"] in ("logistic_regression", "feature_level", "decision_level")
    ]
    config["evaluation"]["cv_folds"] = 3
    config["output"] = {}
    path = folder / "smoke.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", type=Path, default=ROOT / "configs/ehr_img_snp.yaml")
    parser.add_argument("--smoke", action="store_true", help="a small cohort: checks the script")
    args = parser.parse_args()

    from fusionkit.config import load_config
    from fusionkit.experiment.runner import prepare_run, run_prepared

    with tempfile.TemporaryDirectory() as tmp:
        path = smoke_config(Path(tmp)) if args.smoke else args.config
        config = load_config(path)
        start = time.perf_counter()
        state = prepare_run(config, Path(tmp) / "run")
        prepared = time.perf_counter()
        outcome = run_prepared(state, fresh=True, started=start)
        wall = time.perf_counter() - start
    tables = outcome.tables
    encoders = sum(s for k, s in outcome.timings.items() if k.startswith("encoder:"))
    cells = sum(r.seconds for r in tables.cell_results)
    per_kind: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for r in tables.variant_results:
        kind = r.variant.partition("=")[0]
        per_kind[kind] += r.seconds
        counts[kind] += 1
    evaluations = sum(per_kind.values())
    outputs = wall - (prepared - start) - encoders - cells - evaluations
    rows = [
        ("prepare (data, plan)", prepared - start, ""),
        ("encoder tasks", encoders, f"{outcome.encoder_trainings} trainings"),
        ("cells: fit + plain evaluation", cells, f"{len(tables.cell_results)} cells"),
        *(
            (f"evaluations: {kind}", seconds, f"{counts[kind]} evaluations")
            for kind, seconds in per_kind.items()
        ),
        ("outputs (tables, report) + rest", outputs, ""),
    ]
    print(
        f"{config.name}: {wall:.1f} s wall; {len(tables.variant_results)} evaluations of kept "
        f"models under perturbations took {evaluations:.1f} s ({evaluations / wall:.0%})"
    )
    for name, seconds, what in rows:
        print(f"  {name:<34} {seconds:7.1f} s  {seconds / wall:5.1%}  {what}")


if __name__ == "__main__":
    main()
