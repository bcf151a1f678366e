"""Expand a config into cells: scenario (modality subset) x method x fold, plus external test,
plus the final models (``output.final_models``: fitted on every subject, nothing to test).

A cell is the unit of work: it fits on its fold's training part only, predicts its test part,
and is written on its own, so a run can resume, re-render or be farmed out cell by cell.
What a method can take is read from its declared tags (`fusionkit.api.Tags`) and modality
kinds, never from its parameter names.
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
    parse_scenario,
    resolved,
    scenario_name,
)
from fusionkit.errors import ConfigError


@dataclass(frozen=True)
class Cell:
    """One fit-and-predict: a scenario, a method and a fold (or the external test set, or the
    final model fitted on all subjects)."""

    scenario: tuple[str, ...]
    method: str
    split: Literal["cv", "external", "final"]
    repeat: int = 0
    fold: int = 0

    @property
    def id(self) -> str:
        """A stable, file-name-safe identifier."""
        where = self.split if self.split != "cv" else f"r{self.repeat}f{self.fold}"
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
        """The evaluated cells of one scenario x method pair."""
        return [
            c
            for c in self.cells
            if c.scenario == scenario and c.method == method and c.split != "final"
        ]

    @property
    def evaluated(self) -> list[Cell]:
        """Cells that are scored (cross-validation and external test)."""
        return [c for c in self.cells if c.split != "final"]

    @property
    def finals(self) -> list[Cell]:
        """Final models: fitted on every subject, kept for `fusionkit predict`."""
        return [c for c in self.cells if c.split == "final"]


@functools.cache
def default_features(kind: str) -> EncoderSpec:
    """The encoder shallow methods see a modality kind through (resolved once per process)."""
    return resolved(EncoderSpec(type=DEFAULT_FEATURES[kind]))


def method_encoders(
    method: MethodSpec, config: ExperimentConfig, scenario: tuple[str, ...]
) -> dict[str, EncoderSpec] | str:
    """The encoder each modality of ``scenario`` goes through for ``method``, or why none can.

    A method whose tags say ``needs_embeddings`` or ``trains_encoders`` takes each modality
    through its ``encoders`` entry; any other (a classifier used as a method, a fusion of
    ``features: raw``) takes the modality's own features: ``data.modalities.<m>.features``, by
    default the ``raw`` encoder (a table's columns) or ``image_features`` (an image's
    handcrafted features).
    """
    component = method.component
    tags = component.tags(method.resolved_params)
    encoded = tags.needs_embeddings or tags.trains_encoders
    out: dict[str, EncoderSpec] = {}
    for m in scenario:
        modality = config.data.modalities[m]
        kind = modality.kind
        if not component.accepts(kind):
            accepted = ", ".join(sorted(component.modalities))
            return f"{component.kind} {method.type!r} does not accept {kind} data ({accepted})"
        if not encoded:
            spec = modality.features or default_features(kind)
        elif m in config.encoders:
            spec = config.encoders[m]
        else:
            return f"no encoder for {m!r} in `encoders`"
        if not spec.component.accepts(kind):
            what = f"encoder {spec.type!r}" if encoded else f"features {spec.type!r}"
            return f"{what} cannot take {kind} data"
        if (
            tags.trains_encoders
            and not spec.component.tags(spec.resolved_params).trainable_backbone
        ):
            return f"trains encoders end to end; encoder {spec.type!r} has no trainable network"
        out[m] = spec
    if config.evaluation.missing == "available" and len(scenario) > 1 and not tags.handles_missing:
        return "cannot take a subject missing a modality (evaluation.missing: available)"
    return out


def make_plan(config: ExperimentConfig, groups: int | None = None) -> Plan:
    """Every cell of a resolved config, in a deterministic order. ``groups``: the number of
    folds of a leave-one-group-out scheme (known once the cohort is read; 1 before)."""
    evaluation = config.evaluation
    if evaluation.scheme == "leave_out":
        splits = [(0, f) for f in range(groups or 1)]
    elif evaluation.scheme != "kfold":  # one split: a hold-out or a predefined one
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
    for i, final in enumerate(config.output.final_models):
        wanted = set(parse_scenario(final.scenario))
        scenario = next(s for s in plan.scenarios if set(s) == wanted)
        if not plan.cells_for(scenario, final.method):
            raise ConfigError(
                f"{config.source}: output.final_models[{i}]: {final.method} is not run on "
                f"{final.scenario} (see the plan's skipped pairs)"
            )
        plan.cells.append(Cell(scenario, final.method, "final"))
    return plan
