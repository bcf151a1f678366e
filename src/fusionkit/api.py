"""The written contracts of fusionkit's components: one Protocol per kind, and declared tags.

A plugin's factory returns an object of one of these shapes; the engine calls nothing else.
What a component *can do* is declared when it registers, as [`Tags`][fusionkit.api.Tags]
(like scikit-learn's estimator tags); the planner reads those declarations, never parameter
names or attributes.

Fitted state is kept in safe formats (see [`fusionkit.persist`][fusionkit.persist]): encoders
and fusions hand it over as a plain ``get_state()`` dict (numbers, text, numpy arrays, torch
tensors, scikit-learn/XGBoost estimators) and take it back with ``set_state(state)`` on a fresh
object built by the same factory with the same params, like torch's ``state_dict``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from pathlib import Path

    from fusionkit.data.modality import ModalityData
    from fusionkit.readers.base import ReadContext
    from fusionkit.training.context import FitContext


@dataclass(frozen=True)
class Tags:
    """What a component can do, declared at registration (fixed, or a function of its params).

    - ``needs_embeddings`` (fusion): takes each modality through its encoder (``encoders.*``);
      false: through the modality's own features (``data.modalities.<m>.features``).
    - ``trains_encoders`` (fusion): trains the modalities' encoders itself, end to end, from
      their data (``FusionInput.data``); each encoder must have ``trainable_backbone``.
    - ``handles_missing`` (fusion, classifier): a subject may lack some modalities of the
      scenario (``evaluation.missing: available``); false: such scenarios are skipped.
    - ``remote`` (executor): tasks run where the driver's data files may not be readable; the
      driver sends its prepared run (cohort tables, folds) with the tasks, by value.
    - ``removes_modalities`` (perturbation): takes modalities away from test subjects; not
      evaluated for a method that cannot take a missing modality (``handles_missing`` false),
      which the run reports instead of imputing the gap behind its back.
    - ``perturbs_data`` (perturbation): changes the modalities' data (``FusionInput.data``),
      not their features: the engine re-encodes each modality whose data object the
      perturbation replaced, through the cell's fitted encoder (see `Perturbation`).
    - ``cross_fittable`` (encoder): its outputs mean the same whichever subjects it was fitted
      on (class probabilities, not a learnt latent space), so with ``evaluation.cross_fit``
      its training subjects are encoded out of fold, by copies that never saw them.
    - ``tasks`` (method): the prediction tasks it can serve (``config.task``); the planner
      skips it, with the reason, under any other.
    - ``trainable_backbone`` (encoder): a
      [`TorchEncoder`][fusionkit.encoders.torch_base.TorchEncoder] whose network can be
      trained inside another model (end-to-end fusion).
    """

    needs_embeddings: bool = False
    trains_encoders: bool = False
    handles_missing: bool = True
    trainable_backbone: bool = False
    remote: bool = False
    perturbs_data: bool = False
    removes_modalities: bool = False
    cross_fittable: bool = False
    tasks: frozenset[str] = frozenset({"classification"})


TagsDecl = Tags | Callable[[Any], Tags]


@dataclass(frozen=True)
class Target:
    """A task's reading of the target column: one value per kept subject (``y``), which of
    the table's subjects are kept (``kept``: those with a target), and warnings to show."""

    y: np.ndarray
    kept: np.ndarray
    warnings: list[str] = field(default_factory=list)


@runtime_checkable
class PredictionTask(Protocol):
    """``register_tasks``: what is predicted and how it is scored (``config.task``).

    The factory is called with the task's params and ``data=`` the config's data section. The
    engine asks the task, never assumes: how the target column is read and checked, what folds
    are stratified on, how wide a network's head is, which metrics exist and which way each is
    better, which one the answer is given in, how predictions are scored, what chance scores,
    the statistic of a (paired) subject bootstrap, and the task's own figures.
    """

    name: str
    estimator: str  # the scikit-learn estimator kind shallow methods are: "classifier", ...
    metrics: tuple[str, ...]

    @property
    def output_size(self) -> int:
        """Outputs of a network's head (classification: one per class)."""
        ...

    def target(self, values: Sequence[object], ids: Sequence[str], source: Path) -> Target:
        """Read and check the target column; `DataError` naming file, subject and column."""
        ...

    def strata(self, y: np.ndarray) -> np.ndarray:
        """What folds are stratified on (a class, a quantile bin, an event indicator)."""
        ...

    def higher_is_better(self, metric: str) -> bool: ...

    def headline(self, metrics: Sequence[str]) -> str:
        """The metric the answer is given in, among those computed."""
        ...

    def score(self, y: np.ndarray, prediction: np.ndarray) -> tuple[dict, dict]:
        """(metrics, per-target metrics) of predictions against ``y``."""
        ...

    def chance(self, y_train: np.ndarray, y_test: np.ndarray, metric: str) -> float:
        """What ``metric`` scores without the features (e.g. guessing the training frequencies)."""
        ...

    def statistic(
        self, y: np.ndarray, predictions: list[np.ndarray], metric: str
    ) -> Callable[[np.ndarray], np.ndarray]:
        """Index resamples -> metric (or paired difference), for `scipy.stats.bootstrap`."""
        ...

    def figures(self, top: list, compared: list, folder: Path) -> dict:
        """The task's own report figures of (label, y, prediction) models; what was written."""
        ...


@dataclass
class FusionInput:
    """One side (training or test subjects) of a cell, modality by modality."""

    ids: list[str]
    features: dict[str, np.ndarray]
    available: dict[str, np.ndarray]
    data: dict[str, Any] = field(default_factory=dict)
    encoders: dict[str, Any] = field(default_factory=dict)

    @property
    def modalities(self) -> list[str]:
        return list(self.features)

    def take(self, positions: Sequence[int] | np.ndarray) -> FusionInput:
        """The subjects at ``positions`` (in that order), modality by modality."""
        rows = np.asarray(positions, dtype=int)
        ids = [self.ids[i] for i in rows]
        data = {}
        for m, d in self.data.items():
            present = [s for s, has in zip(ids, self.available[m][rows], strict=True) if has]
            data[m] = d.subset(present) if d is not None else None
        return FusionInput(
            ids,
            {m: f[rows] for m, f in self.features.items()},
            {m: a[rows] for m, a in self.available.items()},
            data,
            dict(self.encoders),
        )

    def indicators(self) -> np.ndarray:
        """(n, modalities) 0/1 availability matrix."""
        return np.stack([self.available[m] for m in self.modalities], axis=1).astype(np.float32)

    def concatenated(self, indicators: bool, fill: float = np.nan) -> np.ndarray:
        """All modalities' features side by side; missing blocks ``fill``; optional indicators."""
        blocks = []
        for m in self.modalities:
            block = self.features[m].astype(np.float32, copy=True)
            block[~self.available[m]] = fill
            blocks.append(block)
        if indicators:
            blocks.append(self.indicators())
        return np.concatenate(blocks, axis=1)


"""What ``register(..., tags=...)`` takes: tags, or a function of the validated params."""


@runtime_checkable
class Reader(Protocol):
    """``register_readers``: one modality's file(s) -> `TableData` or `ImageData`."""

    def read(self, path: str, ctx: ReadContext) -> ModalityData:
        """Read ``path`` (relative to ``ctx.root``); raise `DataError` naming file and field."""
        ...


@runtime_checkable
class Encoder(Protocol):
    """``register_encoders``: a modality's data -> one embedding row per subject.

    ``fit`` sees only the training part of a fold; ``transform`` embeds any subjects.
    An image encoder reads pixels with ``data.read(path)`` (`ImageData.read`), which applies
    the test-time distortion of a robustness evaluation (or applies ``data.distortion`` itself,
    as the built-ins do inside their caches); reading the files directly would miss it (the
    run then reports the evaluation as failed).
    Optional: a ``feature_names_`` list naming the output columns (shown in the report).
    """

    def fit(self, data: ModalityData, y: np.ndarray, ctx: FitContext) -> Self:
        """Learn from the training subjects in ``data`` (labels ``y``, 0..n_classes-1)."""
        ...

    def transform(self, data: ModalityData) -> np.ndarray:
        """(subjects, features) float array, rows in ``data.ids`` order."""
        ...

    def get_state(self) -> dict[str, Any]:
        """The fitted state (see module docstring)."""
        ...

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a fitted state on an object built by the same factory and params."""
        ...


@runtime_checkable
class Fusion(Protocol):
    """``register_fusions``: per-modality inputs with availability masks -> class probabilities."""

    def fit(self, inputs: FusionInput, y: np.ndarray, ctx: FitContext) -> Self:
        """Fit on a cell's training subjects only."""
        ...

    def predict_proba(self, inputs: FusionInput) -> np.ndarray:
        """(subjects, ctx.n_classes) probabilities, rows summing to 1."""
        ...

    def get_state(self) -> dict[str, Any]:
        """The fitted state (see module docstring)."""
        ...

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a fitted state on an object built by the same factory and params."""
        ...


@runtime_checkable
class ChecksData(Protocol):
    """Optional, for encoders: say before any training whether they can take a modality's data
    (e.g. a CNN whose ``spatial_size`` has 2 values given 3D images). Returns one line per
    problem; the run stops with them (exit 2) before the first encoder trains."""

    def check_data(self, data: ModalityData) -> list[str]: ...


@runtime_checkable
class HasHistory(Protocol):
    """Optional, for fusions trained epoch by epoch: after ``fit``, ``history_`` holds the
    per-epoch losses (`fusionkit.training.loop.History`); the report plots them."""

    history_: Any


@runtime_checkable
class DecidesPerModality(Protocol):
    """Optional, for fusions that decide per modality and combine (decision-level fusion):
    the engine stores both with each plain test result, and writes ``modality_outputs.csv``
    and ``modality_weights.csv``."""

    def modality_proba(self, inputs: FusionInput) -> dict[str, np.ndarray]:
        """Each modality's own (subjects, n_classes) probabilities; NaN rows where a subject
        lacks the modality."""
        ...

    def modality_weights(self) -> dict[str, float]:
        """The share of the combined decision each modality carries (summing to 1); empty
        where the combination has no such share."""
        ...


@runtime_checkable
class WeighsModalities(Protocol):
    """Optional, for fusions weighing the modalities per subject (``gated``): the engine
    stores the weights with each plain test result (``modality_outputs.csv``, column
    ``gate``; their mean per fold in ``modality_weights.csv``)."""

    def modality_gates(self, inputs: FusionInput) -> dict[str, np.ndarray]:
        """(subjects,) weight of each modality per subject, summing to 1 over the modalities
        the subject has; NaN where it lacks one."""
        ...


@runtime_checkable
class ChoosesMethod(Protocol):
    """Optional, for fusions that pick among candidate methods on the training part (``auto``):
    after ``fit``, ``choice_`` holds ``{"chosen": label, "scores": {label: inner score}}``;
    the engine stores it with the cell's result (``choices.csv``, the report)."""

    choice_: dict[str, Any]


@runtime_checkable
class Classifier(Protocol):
    """``register_classifiers``: the scikit-learn estimator API; factories take ``(params, *,
    seed)``. Kept with skops (XGBoost's own objects included)."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> Self: ...

    def predict_proba(self, X: np.ndarray) -> np.ndarray: ...

    def get_params(self, deep: bool = True) -> dict[str, Any]: ...


@runtime_checkable
class Transform(Protocol):
    """``register_transforms``: a channel-first image array -> an image array of the same shape."""

    def __call__(self, image: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class Dataset(Protocol):
    """``register_datasets``: writes a cohort's files into ``dest``."""

    def materialize(self, dest: Path) -> dict: ...


def conforming(obj: Any, protocol: type, what: str) -> Any:
    """``obj`` if it has every method of ``protocol``; else a `TypeError` naming the missing."""
    if isinstance(obj, protocol):
        return obj
    names = [n for n in vars(protocol) if not n.startswith("_") and callable(vars(protocol)[n])]
    missing = [n for n in names if not callable(getattr(obj, n, None))]
    raise TypeError(
        f"{what} does not implement fusionkit.api.{protocol.__name__} (missing: "
        f"{', '.join(missing)}; see docs/plugins.md)"
    )


@runtime_checkable
class Perturbation(Protocol):
    """``register_perturbations``: a change to a fold's *test* inputs at evaluation time, at
    named settings ``<name>=<level>`` (``drop_modality=img``, ``missing_rate=0.3``). Fitted
    models are reused, nothing is refitted; a setting that changes nothing gives the plain
    result exactly.

    A perturbation either changes features and availability itself (``drop_modality``), or
    declares ``Tags(perturbs_data=True)`` and replaces ``inputs.data[m]`` of the modalities it
    changes with new objects (``table_noise``): the engine then re-encodes those modalities
    through the cell's fitted encoders (a method training its encoders end to end reads the
    new data itself). Image data carries a `Distortion` that image encoders apply when they
    read pixels (`ImageData.read`)."""

    def settings(self, modalities: Mapping[str, str]) -> list[str]:
        """The settings to evaluate for a scenario with these modalities (name -> kind,
        ``table`` or ``image``); may be empty."""
        ...

    def apply(self, inputs: FusionInput, setting: str, rng: np.random.Generator) -> FusionInput:
        """The perturbed test inputs (a new object; ``inputs`` is left as it is)."""
        ...


@runtime_checkable
class FitsOnTraining(Protocol):
    """Optional, for perturbations whose size is set by the data (noise in units of a feature's
    SD): ``fit`` is called with the cell's *training* inputs before ``apply``, so no scale is
    ever taken from the test subjects."""

    def fit(self, train: FusionInput) -> None: ...


@dataclass(frozen=True)
class Task:
    """A named, deterministic unit of work: ``fn(*args)``, its result returned by value.

    ``fn`` must be a module-level function (importable in another process or machine) and
    ``args`` picklable data; the task must not write to the run directory.
    """

    name: str
    fn: Callable[..., Any]
    args: tuple = ()
    kind: str = "task"  # "encoder" or "cell": executors may give kinds other resources
    threads: int = 1  # CPU threads the task computes with (``runtime.threads``)


@dataclass(frozen=True)
class Failure:
    """A task that raised: one line for the user, the traceback for ``--debug``."""

    message: str
    traceback: str = ""
    input_error: bool = field(default=False, compare=False)


Then = Callable[[str, Any], Sequence[Task]]
"""Called by an executor with each finished task's result; returns follow-up tasks."""


@runtime_checkable
class Executor(Protocol):
    """``register_executors``: runs tasks somewhere and yields ``(name, result or Failure)``
    as each finishes, in any order. Only the driver writes files."""

    def run(self, tasks: Sequence[Task], then: Then | None = None) -> Iterator[tuple[str, Any]]:
        """Run ``tasks``; for each finished one call ``then(name, result)`` (in the driver)
        and run the tasks it returns too (e.g. the cells whose encoders are now done), then
        yield ``(name, result)``."""
        ...

    def close(self, abort: bool = False) -> None:
        """Release workers; called once at the end of a run. ``abort`` (Ctrl-C, an error):
        stop running tasks now instead of letting them finish."""
        ...
