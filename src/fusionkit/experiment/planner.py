"""Expand a config into cells: scenario (modality subset) x method x fold, plus external test,
plus the final models (``output.final_models``: fitted on every subject, nothing to test).

A cell is the unit of work: it fits on its fold's training part only, predicts its test part,
and is written on its own, so a run can resume, re-render or be farmed out cell by cell. The
plan is made once (`fusionkit.experiment.state.prepare`) and each planned cell carries what
every later stage needs: its method spec, the encoder task of each modality for its fold, which
of them it reads from the store, and its evaluation variants. What a method can take is read
from its declared tags (`fusionkit.api.Tags`) and modality kinds, never from its parameter
names.
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
    PerturbationSpec,
    parse_scenario,
    resolved,
    scenario_name,
    spec_data,
)
from fusionkit.errors import ConfigError
from fusionkit.experiment.identity import digest


def fold_name(repeat: int, fold: int) -> str:
    """How a fold is named in cell ids, encoder tasks and seeds: ``r{repeat}f{fold}``."""
    return f"r{repeat}f{fold}"


@dataclass(frozen=True)
class EncoderTask:
    """Fit one encoder on one fold's training part and embed the subjects."""

    modality: str
    spec: EncoderSpec
    fold: str  # a fold's name, or "all" (the whole cohort)

    @property
    def name(self) -> str:
        return f"{self.modality}-{self.spec.type}-{digest(spec_data(self.spec))[:8]}-{self.fold}"


@dataclass(frozen=True)
class Cell:
    """One fit-and-predict: a scenario, a method and a fold (or the external test set, or the
    final model fitted on all subjects), with what the plan knows of it: the method's spec,
    the encoder task of each modality, and the evaluation variants it is scored under."""

    scenario: tuple[str, ...]
    method: str
    split: Literal["cv", "external", "final"]
    repeat: int = 0
    fold: int = 0
    spec: MethodSpec | None = field(default=None, compare=False, repr=False)
    encoders: tuple[EncoderTask, ...] = field(default=(), compare=False, repr=False)
    variants: tuple[str, ...] = field(default=(), compare=False, repr=False)

    @property
    def fold_name(self) -> str:
        """The fold the cell trains in: its own for cross-validation, ``all`` otherwise."""
        return fold_name(self.repeat, self.fold) if self.split == "cv" else "all"

    @property
    def id(self) -> str:
        """A stable, file-name-safe identifier."""
        where = self.split if self.split != "cv" else self.fold_name
        return f"{scenario_name(self.scenario)}__{self.method}__{where}"

    @property
    def stored(self) -> tuple[EncoderTask, ...]:
        """The encoder outputs the cell reads from the store (none for a method training its
        encoders end to end)."""
        return () if self.spec is None or self.spec.tags.trains_encoders else self.encoders


@dataclass
class Plan:
    """The cells of a run, the scenario x method pairs left out (with the reason), and the
    evaluation variants' perturbations by type."""

    scenarios: list[tuple[str, ...]]
    methods: list[str]
    folds: int
    external: bool
    cells: list[Cell] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    specs: dict[str, MethodSpec] = field(default_factory=dict)
    perturbations: list[PerturbationSpec] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_id: dict[str, Cell] = {}
        self._pairs: dict[tuple, list[Cell]] = {}
        self._tasks: dict[str, EncoderTask] = {}

    def add(self, cell: Cell) -> None:
        self.cells.append(cell)
        self._by_id[cell.id] = cell
        self._tasks.update((t.name, t) for t in cell.stored)
        if cell.split != "final":
            self._pairs.setdefault((cell.scenario, cell.method), []).append(cell)

    def cell(self, cell_id: str) -> Cell:
        """The planned cell of that id."""
        return self._by_id[cell_id]

    def cells_for(self, scenario: tuple[str, ...], method: str) -> list[Cell]:
        """The evaluated cells of one scenario x method pair."""
        return self._pairs.get((tuple(scenario), method), [])

    @property
    def evaluated(self) -> list[Cell]:
        """Cells that are scored (cross-validation and external test)."""
        return [c for c in self.cells if c.split != "final"]

    @property
    def finals(self) -> list[Cell]:
        """Final models: fitted on every subject, kept for `fusionkit predict`."""
        return [c for c in self.cells if c.split == "final"]

    @property
    def encoder_tasks(self) -> dict[str, EncoderTask]:
        """Every encoder output some cell reads, by task name."""
        return self._tasks

    def perturbation(self, variant: str) -> PerturbationSpec:
        """The perturbation behind an evaluation variant such as ``missing_rate=0.3``."""
        kind = variant.partition("=")[0]
        spec = next((s for s in self.perturbations if s.type == kind), None)
        if spec is None:
            raise ValueError(f"unknown evaluation variant {variant!r}")
        return spec


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
    tags = method.tags
    if config.task.type not in tags.tasks:
        serves = ", ".join(sorted(tags.tasks))
        return f"does not serve the {config.task.type} task (it serves: {serves})"
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
        if tags.trains_encoders and not spec.tags.trainable_backbone:
            return f"trains encoders end to end; encoder {spec.type!r} has no trainable network"
        out[m] = spec
    if config.evaluation.missing == "available" and len(scenario) > 1 and not tags.handles_missing:
        return "cannot take a subject missing a modality (evaluation.missing: available)"
    return out


def perturbation_specs(config: ExperimentConfig) -> list[PerturbationSpec]:
    """``evaluation.robustness``, plus modality permutations when ``contribution`` is on."""
    specs = list(config.evaluation.robustness)
    if config.evaluation.contribution and all(s.type != "permute_modality" for s in specs):
        specs.append(resolved(PerturbationSpec(type="permute_modality")))
    return specs


def robustness_notes(config: ExperimentConfig) -> list[str]:
    """The methods a configured perturbation is not evaluated for, and why."""
    notes = []
    for method in config.methods:
        if method.tags.handles_missing:
            continue
        for spec in config.evaluation.robustness:
            if spec.tags.removes_modalities:
                notes.append(
                    f"{method.label}: not evaluated under {spec.type} (it cannot take a "
                    "missing modality: Tags.handles_missing is false)"
                )
    return notes


def make_plan(config: ExperimentConfig, folds: int | None = None) -> Plan:
    """Every cell of a resolved config, in a deterministic order. ``folds``: the number of
    folds of a leave-one-group-out scheme (known once the cohort is read; 1 before)."""
    evaluation = config.evaluation
    if evaluation.scheme == "leave_out":
        splits = [(0, f) for f in range(folds or 1)]
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
        specs={m.label: m for m in config.methods},
        perturbations=perturbation_specs(config),
    )
    settings: dict[tuple, tuple[str, ...]] = {}  # each perturbation built once per kind set

    def variants(method: MethodSpec, scenario: tuple[str, ...]) -> tuple[str, ...]:
        kinds = {m: config.data.modalities[m].kind for m in scenario}
        key = (method.tags.handles_missing, tuple(sorted(kinds.items())))
        if key not in settings:
            settings[key] = tuple(
                name
                for spec in plan.perturbations
                if method.tags.handles_missing or not spec.tags.removes_modalities
                for name in spec.build().settings(kinds)
            )
        return settings[key]

    for scenario in plan.scenarios:
        for method in config.methods:
            specs = method_encoders(method, config, scenario)
            if isinstance(specs, str):
                plan.skipped.append((scenario_name(scenario), method.label, specs))
                continue
            scored = variants(method, scenario)
            where = [("cv", r, f) for r, f in splits] + ([("external", 0, 0)] if external else [])
            for split, repeat, fold in where:
                name = fold_name(repeat, fold) if split == "cv" else "all"
                tasks = tuple(EncoderTask(m, spec, name) for m, spec in specs.items())
                plan.add(Cell(scenario, method.label, split, repeat, fold, method, tasks, scored))
    for i, final in enumerate(config.output.final_models):
        wanted = set(parse_scenario(final.scenario))
        scenario = next(s for s in plan.scenarios if set(s) == wanted)
        if not plan.cells_for(scenario, final.method):
            raise ConfigError(
                f"{config.source}: output.final_models[{i}]: {final.method} is not run on "
                f"{final.scenario} (see the plan's skipped pairs)"
            )
        method = plan.specs[final.method]
        specs = method_encoders(method, config, scenario)
        assert isinstance(specs, dict)  # planned above
        tasks = tuple(EncoderTask(m, spec, "all") for m, spec in specs.items())
        plan.add(Cell(scenario, final.method, "final", spec=method, encoders=tasks))
    return plan
