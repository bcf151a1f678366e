"""Everything a run needs, loaded once: config, cohorts, folds, fingerprints, method encoders."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from fusionkit.config import ExperimentConfig, MethodSpec, Spec
from fusionkit.data.cohort import (
    Cohort,
    check_class_sizes,
    check_leave_out,
    check_predefined_split,
    load_cohort,
)
from fusionkit.data.modality import ImageData, ModalityData
from fusionkit.data.splits import Fold, make_folds
from fusionkit.experiment.planner import Plan, make_plan
from fusionkit.training.context import FitContext, resolve_device


def digest(payload: Any) -> str:
    """A short, stable hash of a JSON-able payload."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def spec_payload(spec: Spec) -> dict:
    """A spec as validated data: its type and every param, defaults included."""
    return {"type": spec.type, "params": spec.resolved_params.model_dump(mode="json")}


def fingerprint(data: ModalityData) -> str:
    """Content hash of a modality: table values, or image file names and bytes.

    Independent of where the files live, so a moved or regenerated identical dataset keeps its
    finished cells.
    """
    h = hashlib.sha256()
    if isinstance(data, ImageData):
        for subject, files in data.files.items():
            for f in files:
                h.update(f"{subject}|{Path(f).name}|".encode())
                with open(f, "rb") as handle:
                    h.update(hashlib.file_digest(handle, "sha256").digest())
    else:
        h.update(pd.util.hash_pandas_object(data.frame, index=True).to_numpy().tobytes())
        h.update("|".join(map(str, data.frame.columns)).encode())
    return h.hexdigest()[:16]


@dataclass
class RunState:
    """A prepared run (see module docstring)."""

    config: ExperimentConfig
    run_dir: Path | None  # None in a worker: workers never write the run directory
    cohort: Cohort
    external: Cohort | None
    folds: list[Fold]
    plan: Plan
    ctx: FitContext
    fingerprints: dict[str, str]
    folds_key: str

    def method(self, label: str) -> MethodSpec:
        return next(m for m in self.config.methods if m.label == label)

    def fold(self, key: str) -> Fold | None:
        """The fold named ``r{repeat}f{fold}``; None for ``all`` (the whole cohort)."""
        return next((f for f in self.folds if f"r{f.repeat}f{f.fold}" == key), None)


def prepare(config: ExperimentConfig, run_dir: Path | None, verify: bool = True) -> RunState:
    """Load cohorts and folds and check them; raises `DataError` before anything is written."""
    cohort = load_cohort(config, verify=verify)
    evaluation = config.evaluation
    if evaluation.scheme == "predefined":
        check_predefined_split(cohort, evaluation)
    elif evaluation.scheme == "leave_out":
        check_leave_out(cohort, evaluation)
    elif evaluation.holdout is None:
        check_class_sizes(cohort, evaluation.cv_folds)
    else:  # a hold-out is the first part of a round(1 / holdout)-fold split
        parts = max(2, round(1 / evaluation.holdout))
        check_class_sizes(cohort, parts, "1 / evaluation.holdout =")
    folds = make_folds(cohort.y, cohort.groups, evaluation, config.seed, cohort.splits)
    plan = make_plan(config, len(folds))
    external = load_cohort(config, external=True, verify=verify) if plan.external else None
    validation = folds[0].validation if evaluation.scheme == "predefined" else None
    fingerprints = {name: fingerprint(data) for name, data in cohort.modalities.items()}
    fingerprints["labels"] = digest([cohort.ids, cohort.y.tolist()])
    if external is not None:
        for name, data in external.modalities.items():
            fingerprints[f"external/{name}"] = fingerprint(data)
        fingerprints["external/labels"] = digest([external.ids, external.y.tolist()])
    folds_key = digest([[f.test.tolist() for f in folds], fingerprints["labels"]])
    ctx = FitContext(
        seed=config.seed,
        n_classes=len(cohort.classes),
        threads=config.runtime.threads,
        device=resolve_device(config.runtime.device),
        validation_fraction=evaluation.validation_fraction,
        stratify=evaluation.stratify,
        validation_ids=(
            frozenset(cohort.ids[i] for i in validation) if validation is not None else None
        ),
    )
    return RunState(config, run_dir, cohort, external, folds, plan, ctx, fingerprints, folds_key)
