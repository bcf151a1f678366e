"""``manifest.json``: what a run used and did: the config, versions, data fingerprints,
components with the plugin that provided each, cells, encoder reuse, timings, notes."""

from __future__ import annotations

import platform
from importlib import metadata
from typing import TYPE_CHECKING

from fusionkit import __version__
from fusionkit.config import spec_identity
from fusionkit.experiment.planner import robustness_notes
from fusionkit.experiment.store import write_json
from fusionkit.outputs.tables import RunTables

if TYPE_CHECKING:
    from fusionkit.experiment.state import RunState


def versions() -> dict[str, str]:
    out = {"fusionkit": __version__, "python": platform.python_version()}
    for package in ("torch", "monai", "scikit-learn", "xgboost", "numpy", "pandas", "pydantic"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


def encoder_summary(
    state: RunState, store
) -> tuple[dict[str, int], dict[str, list[str]], dict[str, float]]:
    """Encoder trainings vs uses, named output columns per modality/encoder, seconds per task.

    Each distinct encoder task's stored file is read once (its metadata only).
    """
    tasks = [t for c in state.plan.cells for t in c.stored]
    unique = {t.name: t for t in tasks}
    counts = {
        "trainings": len(unique),
        "uses": len(tasks),
        "saved_by_cache": len(tasks) - len(unique),
    }
    names: dict[str, list[str]] = {}
    seconds: dict[str, float] = {}
    for name, task in unique.items():
        took, columns = store.encoder_meta(name)
        if took is not None:
            seconds[f"encoder:{name}"] = round(took, 3)
        if columns:
            names.setdefault(f"{task.modality}/{task.spec.type}", columns)
    return counts, names, seconds


def components(state: RunState) -> list[dict[str, str]]:
    """Every component the run uses, with the distribution and version that provided it."""
    config = state.config
    specs = [config.task, *config.methods, *config.encoders.values(), config.runtime.executor]
    specs += state.plan.perturbations
    for modality in config.data.modalities.values():
        specs += [s for s in (modality.reader, modality.features) if s is not None]
    for c in state.plan.cells:
        specs += [t.spec for t in c.encoders]
    seen = {tuple(i) for s in specs for i in spec_identity(s)}
    keys = ("kind", "name", "distribution", "version")
    return [dict(zip(keys, i, strict=True)) for i in sorted(seen)]


def write_manifest(state: RunState, tables: RunTables, encoders: tuple, invocation: dict) -> None:
    """``manifest.json`` of the run; ``encoders``: `encoder_summary`; ``invocation``: what
    this invocation did (counts, failures, seconds)."""
    counts, names, seconds = encoders
    cell_seconds = {f"cell:{p.id}": round(p.seconds, 3) for p in tables.cell_results}
    write_json(
        state.run_dir / "manifest.json",
        {
            "config": state.config.model_dump(mode="json"),
            "config_file": str(state.config.source),
            "overrides": list(state.config.overrides),
            "seed": state.config.seed,
            "versions": versions(),
            "data_fingerprints": state.fingerprints,
            "cohort_notes": state.cohort.notes + state.cohort.warnings,
            "contribution_notes": tables.contribution_notes,
            "robustness_notes": robustness_notes(state.config),
            "cells": {"planned": len(state.plan.evaluated), "finished": len(tables.cell_results)},
            "final_models": [c.id for c in state.plan.finals],
            "components": components(state),
            "skipped": [list(s) for s in state.plan.skipped],
            "encoders": counts,
            "feature_names": names,
            "timings_seconds": dict(sorted({**seconds, **cell_seconds}.items())),
            "this_invocation": invocation,
        },
    )
