"""The real OASIS-1 cohort (../shared/data/oasis1), through benchmarks/configs/oasis1.yaml."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT, SHARED_DATA

OASIS = SHARED_DATA / "oasis1"
pytestmark = pytest.mark.skipif(
    not (OASIS / "oasis_cross-sectional.csv").exists(),
    reason="real data not present: ../shared/data/oasis1 (see shared/data/README.md)",
)


def test_oasis_three_modalities_196_subjects_with_images():
    from fusionkit.config import load_config
    from fusionkit.data.cohort import load_cohort

    config = load_config(ROOT / "benchmarks" / "configs" / "oasis1.yaml")
    cohort = load_cohort(config)
    assert set(cohort.modalities) == {"clinical", "mri_measures", "slices"}
    complete = cohort.complete(["clinical", "mri_measures", "slices"])
    assert int(complete.sum()) == 196
    assert cohort.class_counts(complete) == {"CN": 98, "very_mild": 70, "mild_plus": 28}
    slices = cohort.modalities["slices"]
    assert all(len(v) == 3 for v in slices.files.values())  # axial, coronal, sagittal
    assert "CDR" not in cohort.modalities["clinical"].frame.columns
