"""Write the worked examples' study data: the built-in ADNI-style cohort as consortia ship it.

    python docs/examples/study_data.py runs/study-data

Writes, under the folder given:

- ``cohort.csv``: subject_id, diagnosis, site, scan_date (the day of each subject's MRI) and
  split (train / val / test, stratified 60 / 20 / 20);
- ``adnimerge.csv``: the clinical table with one row per visit (VISCODE bl, m06, m12, m24 and
  EXAMDATE); the cognitive scores drift between visits, and the visit nearest the scan holds
  the values measured with it;
- ``genotypes/snp.bed``, ``.bim``, ``.fam`` (PLINK 1 binary) and ``genotypes/snp.vcf`` (VCF):
  the same genotypes twice.

Everything is generated from a seed (no download); the same seed writes the same files.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from fusionkit.data.synthetic.adni_like import generate
from fusionkit.readers.genotype_files import write_plink, write_vcf

VISITS = {"bl": 0, "m06": 182, "m12": 365, "m24": 730}  # days after the baseline visit
SCORES = [  # what changes from visit to visit
    *("mmse", "moca", "cdr_sb", "adas_cog13", "faq", "trail_b_seconds"),
    *("ravlt_immediate", "ravlt_learning", "ravlt_forgetting"),
]


def write(out: Path, seed: int = 0, n_subjects: int = 240) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        generate(tmp, seed=seed, n_subjects=n_subjects, n_external=30, n_snps=200, n_causal=15)
        cohort = pd.read_csv(Path(tmp) / "cohort.csv", dtype={"subject_id": str})
        ehr = pd.read_csv(Path(tmp) / "ehr.csv", dtype={"subject_id": str})
        snp = pd.read_csv(Path(tmp) / "snp.csv", dtype={"subject_id": str})

    baseline = pd.Timestamp("2006-01-01") + pd.to_timedelta(
        rng.integers(0, 4 * 365, len(cohort)), unit="D"
    )
    scanned_at = rng.choice(list(VISITS), len(cohort))  # the visit each MRI was taken with
    offset = np.array([VISITS[v] for v in scanned_at]) + rng.integers(-30, 31, len(cohort))
    cohort["scan_date"] = (baseline + pd.to_timedelta(offset, unit="D")).strftime("%Y-%m-%d")
    train, rest = train_test_split(
        cohort.index, test_size=0.4, stratify=cohort.diagnosis, random_state=seed
    )
    val, test = train_test_split(
        rest, test_size=0.5, stratify=cohort.diagnosis[rest], random_state=seed
    )
    cohort["split"] = ""
    for name, rows in (("train", train), ("val", val), ("test", test)):
        cohort.loc[rows, "split"] = name
    cohort.to_csv(out / "cohort.csv", index=False)

    visits = []
    starts = dict(zip(cohort.subject_id, baseline, strict=True))
    scans = dict(zip(cohort.subject_id, scanned_at, strict=True))
    for code, days in VISITS.items():
        rows = ehr.copy()
        drifted = rows.subject_id.map(scans) != code  # measured away from the scan: noisier
        for column in SCORES:
            noise = rng.normal(0.0, rows[column].std(), len(rows)).round(1)
            rows[column] = rows[column].where(~drifted, (rows[column] + noise).round(2))
        rows.insert(1, "VISCODE", code)
        when = rows.subject_id.map(starts) + pd.Timedelta(days=days)
        rows.insert(2, "EXAMDATE", when.dt.strftime("%Y-%m-%d"))
        visits.append(rows)
    table = pd.concat(visits).sort_values(["subject_id", "EXAMDATE"], kind="stable")
    table.to_csv(out / "adnimerge.csv", index=False)

    genotypes = snp.set_index("subject_id")
    (out / "genotypes").mkdir(exist_ok=True)
    write_plink(genotypes, out / "genotypes" / "snp")
    write_vcf(genotypes, out / "genotypes" / "snp.vcf")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    write(Path(sys.argv[1]))
    print(f"study data written to {sys.argv[1]}")
