"""Expand a config into cells: scenario (modality subset) x method x fold, plus external test.

A cell is the unit of work: it fits on its fold's training part only, predicts its test part,
and is written on its own, so a run can resume, re-render or be farmed out cell by cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from fusionkit.config import ExperimentConfig, MethodSpec, scenario_name


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


def inapplicable(method: MethodSpec, config: ExperimentConfig, scenario: tuple[str, ...]) -> str:
    """Why ``method`` cannot run on ``scenario`` ("" when it can)."""
    component = method.component
    kinds = {config.data.modalities[m].kind for m in scenario}
    refused = sorted(k for k in kinds if not component.accepts(k))
    if refused:
        return f"{component.kind} {component.name!r} does not accept {', '.join(refused)} data"
    return ""


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
            reason = inapplicable(method, config, scenario)
            if reason:
                plan.skipped.append((scenario_name(scenario), method.label, reason))
                continue
            for repeat, fold in splits:
                plan.cells.append(Cell(scenario, method.label, "cv", repeat, fold))
            if external:
                plan.cells.append(Cell(scenario, method.label, "external"))
    return plan
