"""How much each modality of the synthetic ADNI-like cohort says on its own.

Generates the default cohort (or reads --data DIR) and prints the 5-fold cross-validated balanced
accuracy and macro-F1 of simple classifiers on each modality alone (EHR numeric columns, all
SNPs, MRI volumes downsampled 2x), beside the majority-class baseline. Also times generation.

    python benchmarks/synthetic_information.py [--data DIR] [--seed 0]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fusionkit.data.synthetic.adni_like import generate


def modality_tables(root: Path) -> dict[str, pd.DataFrame]:
    ehr = pd.read_csv(root / "ehr.csv").set_index("subject_id").select_dtypes("number")
    snp = pd.read_csv(root / "snp.csv").set_index("subject_id")
    files = sorted((root / "images").glob("*.nii.gz"))
    img = pd.DataFrame(
        [np.asarray(nib.load(f).dataobj, float)[::2, ::2, ::2].ravel() for f in files],
        index=[f.name.removesuffix(".nii.gz") for f in files],
    )
    return {"ehr": ehr, "snp": snp, "img": img}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="An existing adni-like folder.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--smoke", action="store_true", help="a 60-subject cohort: checks that it runs"
    )
    args = parser.parse_args()
    root = args.data
    if root is None:
        root = Path(tempfile.mkdtemp()) / "adni"
        start = time.perf_counter()
        small = {"n_subjects": 60, "n_external": 0, "image_shape": (8, 8, 8)} if args.smoke else {}
        generate(root, seed=args.seed, **small)
        seconds = time.perf_counter() - start
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 2**20
        print(f"generated default cohort in {seconds:.1f} s, {size:.1f} MiB on disk: {root}")
    labels = pd.read_csv(root / "cohort.csv").set_index("subject_id")["diagnosis"]
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    print(f"{'modality':<9}{'n':>5}{'features':>10}{'majority':>10}{'bal.acc':>9}{'F1':>7}")
    for name, table in modality_tables(root).items():
        y = labels.loc[table.index]
        model = make_pipeline(
            SimpleImputer(strategy="median"),
            StandardScaler(),
            LogisticRegression(C=0.05, max_iter=3000, class_weight="balanced"),
        )
        scores = cross_validate(
            model, table.to_numpy(), y, cv=cv, scoring=("balanced_accuracy", "f1_macro")
        )
        print(
            f"{name:<9}{len(y):>5}{table.shape[1]:>10}{y.value_counts(normalize=True).max():>10.3f}"
            f"{scores['test_balanced_accuracy'].mean():>9.3f}{scores['test_f1_macro'].mean():>7.3f}"
        )


if __name__ == "__main__":
    main()
