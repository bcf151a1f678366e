"""Expand a config into cells: scenario (modality subset) x method x fold, plus external test.

A cell is the unit of work: it fits on its fold's training part only, predicts its test part,
and is written on its own, so a run can resume, re-render or be farmed out cell by cell.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Literal

from fusionkit.config import (
    DEFAULT_FEATURES,
    EncoderSpec,
    ExperimentConfig,
    MethodSpec,
    resolved,
    scenario_name,
)


@dataclass(frozen=True)
class Cell:
    """One fit-and-predict: a scenario, a method and a fold (or the external test set)."""

    scenario: tuple[str, ...]
    method: str
    split: Literal["cv", "external"]
    repeat: int = 0
    fold: int = 0

    @property
    def id(self) -> str:
        """A stable, file-name-safe identifier."""
        where = "external" if self.split == "external" else f"r{self.repeat}f{self.fold}"
        return f"{scenario_name(self.scenario)}__{self.method}__{where}"


@dataclass
class Plan:
    """The cells of a run, and the scenario x method pairs left out (with the reason)."""

    scenarios: list[tuple[str, ...]]
    methods: list[str]
    folds: int
    external: bool
    cells: list[Cell] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)

    def cells_for(self, scenario: tuple[str, ...], method: str) -> list[Cell]:
        """The cells of one scenario x method pair."""
        return [c for c in self.cells if c.scenario == scenario and c.method == method]


@functools.cache
def default_features(kind: str) -> EncoderSpec:
    """The encoder shallow methods see a modality kind through (resolved once per process)."""
    return resolved(EncoderSpec(type=DEFAULT_FEATURES[kind]))


def method_encoders(
    method: MethodSpec, config: ExperimentConfig, scenario: tuple[str, ...]
) -> dict[str, EncoderSpec] | str:
    """The encoder each modality of ``scenario`` goes through for ``method``, or why none can.

    A classifier used as a method, and a fusion with ``features: raw``, take each modality's
    own features: ``data.modalities.<m>.features``, by default the ``raw`` encoder (a table's
    columns) or ``image_features`` (handcrafted features of an image); otherwise each modality
    goes through its ``encoders`` entry.
    """
    component = method.component
    if component.kind == "classifier":
        choice = "raw"
    else:
        choice = getattr(method.resolved_params, "features", "encoded")
    out: dict[str, EncoderSpec] = {}
    for m in scenario:
        modality = config.data.modalities[m]
        kind = modality.kind
        if choice == "raw":
            spec = modality.features or default_features(kind)
        elif m in config.encoders:
            spec = config.encoders[m]
        else:
            return f"no encoder for {m!r} in `encoders`"
        if not spec.component.accepts(kind):
            what = f"features {spec.type!r}" if choice == "raw" else f"encoder {spec.type!r}"
            return f"{what} cannot take {kind} data"
        end_to_end = getattr(method.resolved_params, "end_to_end", False)
        if end_to_end and not hasattr(spec.component.factory, "make_backbone"):
            return f"end_to_end needs a network to train; encoder {spec.type!r} is not one"
        out[m] = spec
    return out


def make_plan(config: ExperimentConfig) -> Plan:
    """Every cell of a resolved config, in a deterministic order."""
    evaluation = config.evaluation
    if evaluation.holdout is not None:
        splits = [(0, 0)]
    else:
        splits = [(r, f) for r in range(evaluation.cv_repeats) for f in range(evaluation.cv_folds)]
    external = evaluation.external and config.data.external is not None
    plan = Plan(
        scenarios=config.scenario_list(),
        methods=[m.label for m in config.methods],
        folds=len(splits),
        external=external,
    )
    for scenario in plan.scenarios:
        for method in config.methods:
            reason = method_encoders(method, config, scenario)
            if isinstance(reason, str):
                plan.skipped.append((scenario_name(scenario), method.label, reason))
                continue
            for repeat, fold in splits:
                plan.cells.append(Cell(scenario, method.label, "cv", repeat, fold))
            if external:
                plan.cells.append(Cell(scenario, method.label, "external"))
    return plan
