"""The typed records a run produces: a cell's result, its fitted model, an encoder's output.

Tasks return these by value (from whichever executor ran them); only the driver writes them,
through the run's [`RunStore`][fusionkit.experiment.store.RunStore].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

PLAIN = "plain"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TrainingHistory(_Record):
    """Per-epoch losses of a deep model's training, and the epoch whose weights were kept."""

    train_loss: list[float]
    val_loss: list[float]
    val_accuracy: list[float]
    best_epoch: int


class Predictions(_Record):
    """Test subjects, their true class index and every class probability."""

    ids: list[str]
    y_true: list[int]
    proba: list[list[float]]


class ModalityOutputs(_Record):
    """A fusion's view per modality: each modality's own class probabilities for the test
    subjects (`api.DecidesPerModality`; None where a subject lacks it), its share of the
    combined decision, and per-subject weights (`api.WeighsModalities`)."""

    proba: dict[str, list[list[float] | None]] = {}
    weights: dict[str, float] = {}
    gates: dict[str, list[float | None]] = {}


class CellResult(_Record):
    """One evaluated cell: a fitted cell scored on its test part under an evaluation variant.

    ``key`` is the identity of the fitted cell (data, config, component versions, seed,
    threads); ``variant`` names the evaluation (``plain``: the test part as it is). Together
    they say whether a stored result is still current.
    """

    id: str
    key: str
    variant: str = PLAIN
    scenario: list[str]
    method: str
    split: Literal["cv", "external"]
    repeat: int
    fold: int
    n_train: int
    n_test: int
    metrics: dict[str, float | None]
    per_class: dict[str, dict[str, float | None]]
    predictions: Predictions
    history: TrainingHistory | None = None
    seconds: float
    modalities: ModalityOutputs | None = None
    choice: dict[str, Any] | None = None  # `api.ChoosesMethod`: the method chosen, inner scores


@dataclass
class FittedCell:
    """A cell's fitted method, with what is needed to use it again on new subjects.

    ``meta`` is plain data: the cell, its key, scenario, method (label and spec), classes, and
    per modality its kind, columns and the encoder task whose kept model feeds it.
    """

    meta: dict[str, Any]
    model: Any  # an `api.Fusion`
    history: TrainingHistory | None = None


@dataclass
class EncoderOutput:
    """A fitted encoder task: embeddings of the subjects, and the fitted encoder itself."""

    name: str
    key: str
    ids: np.ndarray
    z: np.ndarray
    names: list[str]
    seconds: float
    n_train: int
    encoder: Any = field(repr=False, default=None)  # an `api.Encoder`


@dataclass
class CellOutcome:
    """What a cell task returns: the fitted cell, its plain result (None for a final model,
    which has no test part) and its results under the run's perturbation settings."""

    fitted: FittedCell
    result: CellResult | None
    variants: list[CellResult] = field(default_factory=list)
    failed: dict[str, Any] = field(default_factory=dict)  # setting -> `api.Failure`
