"""A prepared run, made once: config, cohorts, scheme and folds, the plan, fingerprints, and
the identity key of every planned cell and encoder task.

Everything later stages need is here and is never re-derived: which cells run with which
encoders and variants (the plan), what each result's identity is (``keys``, ``encoder_keys``),
which fold a name means (``fold``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fusionkit.api import PredictionTask, conforming
from fusionkit.config import ExperimentConfig
from fusionkit.data.cohort import Cohort, load_cohort
from fusionkit.data.splits import Fold
from fusionkit.experiment.identity import cell_key, digest, encoder_key, fingerprint
from fusionkit.experiment.planner import EncoderTask, Plan, fold_name, make_plan
from fusionkit.experiment.scheme import Scheme
from fusionkit.training.context import FitContext, resolve_device


@dataclass
class RunState:
    """A prepared run (see module docstring)."""

    config: ExperimentConfig
    run_dir: Path | None  # None in a worker: workers never write the run directory
    task: PredictionTask
    cohort: Cohort
    external: Cohort | None
    scheme: Scheme
    folds: list[Fold]
    plan: Plan
    ctx: FitContext
    fingerprints: dict[str, str]
    folds_key: str
    keys: dict[str, str] = field(default_factory=dict)  # cell id -> identity
    encoder_keys: dict[str, str] = field(default_factory=dict)  # encoder task -> identity
    # perturbed data re-encoded by an encoder task, shared by the methods of a scenario
    # (`cells.perturbed`); a cache of this process, not part of any identity
    reencoded: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._folds = {fold_name(f.repeat, f.fold): f for f in self.folds}

    def fold(self, name: str) -> Fold | None:
        """The fold of that name; None for ``all`` (the whole cohort)."""
        return self._folds.get(name)

    def cross_fit(self, task: EncoderTask) -> int:
        """Inner folds for an encoder's training subjects' outputs (0: it encodes them itself)."""
        k = self.config.evaluation.cross_fit
        return k if k >= 2 and task.spec.tags.cross_fittable else 0


def prepare(config: ExperimentConfig, run_dir: Path | None, verify: bool = True) -> RunState:
    """Load cohorts and folds, check them, make the plan; raises `DataError` before anything is
    written."""
    task = conforming(config.task.build(data=config.data), PredictionTask, "task")
    cohort = load_cohort(config, verify=verify, task=task)
    scheme = Scheme(config.evaluation)
    scheme.check(cohort)
    folds = scheme.folds(cohort, config.seed, task)
    plan = make_plan(config, len(folds))
    external = (
        load_cohort(config, external=True, verify=verify, task=task) if plan.external else None
    )
    validation = folds[0].validation if scheme.kind == "predefined" else None
    fingerprints = {name: fingerprint(data) for name, data in cohort.modalities.items()}
    fingerprints["labels"] = digest([cohort.ids, cohort.y.tolist()])
    if external is not None:
        for name, data in external.modalities.items():
            fingerprints[f"external/{name}"] = fingerprint(data)
        fingerprints["external/labels"] = digest([external.ids, external.y.tolist()])
    folds_key = digest([[f.test.tolist() for f in folds], fingerprints["labels"]])
    evaluation = config.evaluation
    ctx = FitContext(
        seed=config.seed,
        n_classes=task.output_size,
        threads=config.runtime.threads,
        device=resolve_device(config.runtime.device),
        validation_fraction=evaluation.validation_fraction,
        stratify=evaluation.stratify,
        validation_ids=(
            frozenset(cohort.ids[i] for i in validation) if validation is not None else None
        ),
    )
    state = RunState(
        config, run_dir, task, cohort, external, scheme, folds, plan, ctx, fingerprints, folds_key
    )
    state.keys = {c.id: cell_key(config, c, folds_key, fingerprints) for c in plan.cells}
    state.encoder_keys = {
        name: encoder_key(config, task, folds_key, fingerprints, state.cross_fit(task))
        for name, task in plan.encoder_tasks.items()
    }
    return state
