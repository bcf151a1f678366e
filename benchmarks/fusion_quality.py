"""Does fusion earn its place? Each fusion strategy against the best single modality.

    python benchmarks/fusion_quality.py [oasis] [demo] [breast] [--cross-fit K] [--methods a,b]
    (default: all datasets, --cross-fit 3 (0 shows what it is for), every method;
    --methods: only those fusions, besides the single-modality baselines; --smoke: the breast
    split with feature_level only, 2 folds, tiny networks: checks that the script runs)

- ``oasis``: OASIS-1 (../shared/data), the subjects having MRI slices (196), clinical table and
  slices: the hard case of a strong narrow table and a weak wide image embedding; networks
  (an MLP, a 2D ResNet-18) as encoders;
- ``oasis_features``: the same, fused from label-free encoders (clinical columns, handcrafted
  image features);
- ``oasis_mixed``: the clinical columns as they are, the slices through the CNN;
- ``oasis_autoencoder``: the clinical columns, and an autoencoder trained on the slices;
- ``demo``: the synthetic ADNI-like demo cohort (EHR, SNP, MRI), complete cases;
- ``breast``: scikit-learn's bundled breast-cancer table split into two modalities (the 10
  "mean" columns vs the 20 "se"/"worst" columns).

Every dataset runs through ``fusionkit run`` (5-fold CV, seed 42, honest early stopping on a
validation part of each training part). For each fusion method on the full scenario it prints
macro-F1 (mean ± sd over folds), the same method on the best single modality, and the
difference with the best single-modality pair (any method), with the 95 % interval and p-value
of the corrected resampled t-test over the paired folds (`fusionkit.experiment.stats`).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "oasis1"

FUSIONS = [
    {"name": "deep_concat", "type": "deep_concat"},
    {
        "name": "deep_concat_projected",
        "type": "deep_concat",
        "params": {"width": 16, "modality_dropout": 0.3},
    },
    {"name": "feature_level", "type": "feature_level", "params": {"features": "encoded"}},
    {
        "name": "decision_stacking",
        "type": "decision_level",
        "params": {"features": "encoded", "combine": "stacking"},
    },
    {
        "name": "ensemble_selection",
        "type": "decision_level",
        "params": {"features": "encoded", "combine": "ensemble_selection"},
    },
    {
        "name": "deep_concat_staged",
        "type": "deep_concat",
        "params": {"end_to_end": True, "staged": {"fine_tune_epochs": 20}},
        "networks": True,
    },
    {
        "name": "deep_concat_staged_ogm_ge",
        "type": "deep_concat",
        "params": {
            "end_to_end": True,
            "staged": {"fine_tune_epochs": 20},
            "balance": {"method": "ogm_ge"},
        },
        "networks": True,
    },
    {"name": "gated", "type": "gated"},
    {"name": "gated_ogm_ge", "type": "gated", "params": {"balance": {"method": "ogm_ge"}}},
    {"name": "attention", "type": "attention"},
    {"name": "low_rank_tensor", "type": "low_rank_tensor"},
    {
        "name": "auto",
        "type": "auto",
        "params": {
            "features": "encoded",
            "candidates": [
                {"type": "feature_level", "params": {"features": "encoded"}},
                {
                    "name": "ensemble_selection",
                    "type": "decision_level",
                    "params": {"features": "encoded", "combine": "ensemble_selection"},
                },
                {"type": "gated"},
                {"type": "deep_concat"},
            ],
        },
    },
]
SHALLOW = [
    "logistic_regression",
    {"type": "xgboost", "params": {"n_estimators": 150, "max_depth": 3}},
]


def oasis(tmp: Path) -> tuple[dict, str]:
    cohort = pd.read_csv(SHARED / "oasis_cross-sectional.csv")
    images = {p.name.split("_MR1")[0] + "_MR1" for p in (SHARED / "images").glob("*.jpg")}
    cohort[cohort.ID.isin(images)].to_csv(tmp / "with_slices.csv", index=False)
    config = yaml.safe_load((ROOT / "benchmarks/configs/oasis1.yaml").read_text())
    config["data"]["root"] = str(SHARED)
    config["data"]["cohort"] = str(tmp / "with_slices.csv")
    del config["data"]["modalities"]["mri_measures"]
    del config["encoders"]["mri_measures"]
    config["scenarios"] = ["clinical", "slices", "clinical+slices"]
    return config, "clinical+slices"


def oasis_features(tmp: Path) -> tuple[dict, str]:
    """OASIS-1 as above, the fusions fed by label-free encoders: the clinical columns (`raw`)
    and handcrafted features of the slices (`image_features`)."""
    config, full = oasis(tmp)
    config["encoders"] = {"clinical": {"type": "raw"}, "slices": {"type": "image_features"}}
    return config, full


def oasis_mixed(tmp: Path) -> tuple[dict, str]:
    """OASIS-1 as above: the clinical columns as they are, the slices through the CNN."""
    config, full = oasis(tmp)
    config["encoders"]["clinical"] = {"type": "raw"}
    return config, full


def oasis_autoencoder(tmp: Path) -> tuple[dict, str]:
    """OASIS-1 as above, label-free: the clinical columns and a convolutional autoencoder
    trained on each fold's training slices (self-supervised)."""
    config, full = oasis(tmp)
    config["encoders"] = {
        "clinical": {"type": "raw"},
        "slices": {"type": "image_autoencoder", "params": {"spatial_size": [64, 64]}},
    }
    return config, full


def demo(tmp: Path) -> tuple[dict, str]:
    config = yaml.safe_load((ROOT / "configs/ehr_img_snp.yaml").read_text())
    del config["data"]["external"]
    config["output"] = {}
    return config, "ehr+snp+img"


def breast(tmp: Path) -> tuple[dict, str]:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    frame = data.frame.rename(columns=lambda c: c.replace(" ", "_"))
    frame.insert(0, "subject_id", [f"B{i:03d}" for i in range(len(frame))])
    frame["diagnosis"] = np.where(data.target == 1, "benign", "malignant")
    means = [c for c in frame.columns if c.startswith("mean_")]
    rest = [c for c in frame.columns if c.endswith("_error") or c.startswith("worst_")]
    frame[["subject_id", "diagnosis"]].to_csv(tmp / "cohort.csv", index=False)
    frame[["subject_id", *means]].to_csv(tmp / "means.csv", index=False)
    frame[["subject_id", *rest]].to_csv(tmp / "others.csv", index=False)
    mlp = {"type": "mlp", "params": {"hidden": [32, 16], "train": {"epochs": 80, "patience": 10}}}
    config = {
        "name": "breast_split",
        "seed": 42,
        "data": {
            "root": str(tmp),
            "classes": ["benign", "malignant"],
            "modalities": {
                "means": {"kind": "table", "path": "means.csv"},
                "others": {"kind": "table", "path": "others.csv"},
            },
        },
        "encoders": {"means": mlp, "others": mlp},
        "scenarios": "all",
    }
    return config, "means+others"


DATASETS = {
    "oasis": oasis,
    "oasis_features": oasis_features,
    "oasis_mixed": oasis_mixed,
    "oasis_autoencoder": oasis_autoencoder,
    "demo": demo,
    "breast": breast,
}


def _fusions(config: dict, only: list[str] | None) -> list[dict]:
    """The benchmark's fusions (``only`` those named); the ones training the encoders'
    networks end to end only where every encoder is a network."""
    from fusionkit.plugins import get_registry

    registry = get_registry()
    networks = True
    for spec in config["encoders"].values():
        component = registry.get("encoder", spec["type"])
        params = component.params.model_validate(spec.get("params", {}))
        networks &= component.tags(params).trainable_backbone
    chosen = [f for f in FUSIONS if only is None or f["name"] in only]
    return [
        {k: v for k, v in f.items() if k != "networks"}
        for f in chosen
        if networks or not f.get("networks")
    ]


def run(
    name: str, cross_fit: int, only: list[str] | None = None, smoke: bool = False
) -> pd.DataFrame:
    from fusionkit.config import config_from_data
    from fusionkit.experiment.runner import run_experiment
    from fusionkit.experiment.stats import corrected_difference
    from fusionkit.plugins import get_registry

    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        config, full = DATASETS[name](tmp)
        fusions = _fusions(config, only)
        config["methods"] = SHALLOW + fusions
        folds = 2 if smoke else 5
        if smoke:  # tiny networks: the script runs, the numbers mean nothing
            for spec in config["encoders"].values():
                spec.setdefault("params", {})["train"] = {"epochs": 2}
        config["evaluation"] = {
            "cv_folds": folds,
            "missing": "complete_case",
            "cross_fit": cross_fit,
        }
        if cross_fit:  # networks hand over class probabilities, cross-fitted on training subjects
            for spec in config["encoders"].values():
                fields = get_registry().get("encoder", spec["type"]).params.model_fields
                if "output" in fields:
                    spec.setdefault("params", {})["output"] = "probabilities"
        config["runtime"] = {"threads": 2}
        path = tmp / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        start = time.perf_counter()
        outcome = run_experiment(config_from_data(config, path), tmp / "run")
        seconds = time.perf_counter() - start
    results = outcome.tables.results
    f1 = results[(results.metric == "f1_macro") & (results.split == "cv")]
    scores = f1.pivot_table(index=["scenario", "method"], columns="fold", values="value")
    singles = scores[~scores.index.get_level_values(0).str.contains("+", regex=False)]
    best = singles.mean(axis=1).idxmax()
    rows = []
    for method in [m["name"] for m in fusions]:
        if (full, method) not in scores.index:
            continue
        fused = scores.loc[(full, method)]
        own = (
            singles.xs(method, level=1).mean(axis=1)
            if method in singles.index.get_level_values(1)
            else None
        )
        diff = corrected_difference(fused.to_numpy(), scores.loc[best].to_numpy(), folds)
        rows.append(
            {
                "dataset": name,
                "method": method,
                "fusion": f"{fused.mean():.3f} ± {fused.std():.3f}",
                "own best single": f"{own.max():.3f} ({own.idxmax()})" if own is not None else "",
                "vs best single": str(diff),
                "seconds": round(
                    sum(r.seconds for r in outcome.tables.cell_results if r.method == method), 1
                ),
            }
        )
    table = pd.DataFrame(rows)
    print(
        f"\n{name} (cross_fit {cross_fit}): best single modality {best[0]} x {best[1]} = "
        f"{scores.loc[best].mean():.3f}; run {seconds:.0f} s ({outcome.cells_run} cells)"
    )
    print(table.drop(columns=["dataset"]).to_string(index=False))
    return table


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "datasets", nargs="*", metavar="DATASET", help=f"any of {', '.join(DATASETS)} (all)"
    )
    parser.add_argument("--cross-fit", type=int, default=3, help="evaluation.cross_fit (0: off)")
    parser.add_argument("--methods", default=None, help="only these fusions (comma-separated)")
    parser.add_argument("--smoke", action="store_true", help="a tiny run that checks the script")
    args = parser.parse_args()
    if unknown := [d for d in args.datasets if d not in DATASETS]:
        parser.error(f"unknown dataset {unknown[0]!r} (known: {', '.join(DATASETS)})")
    if args.smoke:
        run("breast", 0, ["feature_level"], smoke=True)
        return
    only = args.methods.split(",") if args.methods else None
    for name in args.datasets or list(DATASETS):
        if name.startswith("oasis") and not SHARED.is_dir():
            print(f"oasis: skipped, {SHARED} is absent")
            continue
        run(name, args.cross_fit, only)


if __name__ == "__main__":
    main()
