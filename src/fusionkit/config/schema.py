"""The experiment config's schema: pydantic models of every section, and scenario names.

``extra="forbid"`` everywhere: a misspelled key is an error, never silently ignored. The
plugin-typed sections are `fusionkit.config.specs`; their params are validated by the plugins'
own models when the config is resolved (`fusionkit.config.resolution`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from fusionkit.config.specs import (
    _IDENT,
    DatasetSpec,
    EncoderSpec,
    ExecutorSpec,
    MethodSpec,
    PerturbationSpec,
    ReaderSpec,
    TaskSpec,
    _Model,
)
from fusionkit.registry import ModalityKind
from fusionkit.tasks.classification_metrics import METRICS

Metric = Literal[METRICS]  # the classification task's metrics (one home: its module)
DEFAULT_READERS = {"table": "table", "genotype": "genotype", "image": "image"}


# -- sections ------------------------------------------------------------------------------------
DEFAULT_FEATURES = {"table": "raw", "genotype": "raw", "image": "image_features"}


class ModalityConfig(_Model):
    """One modality: its kind, where its files are, and the reader that loads them."""

    kind: ModalityKind = Field(description="table, genotype or image.")
    path: str = Field(description="File, or a pattern such as images/{subject_id}.nii.gz.")
    reader: ReaderSpec | None = Field(None, description="Default: the reader named as the kind.")
    id_column: str | None = Field(None, description="Default: data.id_column.")
    required: bool = Field(False, description="A subject missing this modality is an error.")
    features: EncoderSpec | None = Field(
        None,
        description="How shallow methods see this modality (`features: raw`); default: the "
        "`raw` encoder for tables and genotypes, `image_features` for images.",
    )

    @model_validator(mode="after")
    def _default_reader(self) -> ModalityConfig:
        if self.reader is None:
            self.reader = ReaderSpec(type=DEFAULT_READERS[self.kind])
        return self


class ExternalConfig(_Model):
    """An external test cohort with the same layout as the main one, under another root."""

    root: str = Field(description="Folder of the external cohort (relative to data.root).")
    cohort: str | None = Field(None, description="Default: data.cohort.")


class DataConfig(_Model):
    """Where the cohort comes from: a built-in dataset or your own files."""

    dataset: DatasetSpec | None = Field(None, description="Built-in dataset generated on use.")
    root: str | None = Field(None, description="Folder that relative paths start from.")
    cohort: str = Field("cohort.csv", description="Table with the id and label columns.")
    id_column: str = Field("subject_id", description="Subject id column of every table.")
    label_column: str = Field("diagnosis", description="Label column of the cohort table.")
    group_column: str | None = Field(
        None, description="Subjects sharing a value here (e.g. a patient) stay in one fold."
    )
    date_column: str | None = Field(
        None,
        description="Each subject's reference date in the cohort table (YYYY-MM-DD, e.g. the "
        "MRI scan date): a longitudinal table with visit: nearest keeps the visit nearest it. "
        "Never a feature.",
    )
    classes: list[str] = Field(
        min_length=2, description="Class names, in the order of tables and plots."
    )
    label_map: dict[str, str] | None = Field(None, description="Raw label value -> class name.")
    modalities: dict[str, ModalityConfig] = Field(
        min_length=1, description="Each modality by name: its kind, files and reader."
    )
    external: ExternalConfig | None = Field(None, description="An external test cohort.")

    @field_validator("label_map", mode="before")
    @classmethod
    def _label_keys_as_text(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {label_text(k): v for k, v in value.items()}

    @field_validator("classes")
    @classmethod
    def _unique_classes(cls, value: list[str]) -> list[str]:
        if dupes := sorted({c for c in value if value.count(c) > 1}):
            raise ValueError(f"classes listed twice: {', '.join(dupes)}")
        return value

    @field_validator("modalities")
    @classmethod
    def _modality_names(cls, value: dict[str, ModalityConfig]) -> dict[str, ModalityConfig]:
        for name in value:
            if not re.match(_IDENT, name):
                raise ValueError(f"modality name {name!r} must be lower_snake_case (no '+')")
        return value


class SplitNames(_Model):
    """The values of ``evaluation.split_column`` that name each part."""

    train: str = Field("train", description="Fitted on.")
    val: str = Field("val", description="Early stopping and model selection.")
    test: str = Field("test", description="Scored once.")


class EvaluationConfig(_Model):
    """How estimates are made: cross-validation, hold-out, external test, metrics."""

    cv_folds: int = Field(5, ge=2, description="Folds of k-fold cross-validation.")
    cv_repeats: int = Field(1, ge=1, description="Repeats, each with other folds (seed + r).")
    stratify: bool = Field(True, description="Keep class proportions in every fold.")
    holdout: float | None = Field(None, gt=0, lt=1, description="Test fraction; replaces k-fold.")
    split_column: str | None = Field(
        None,
        description="A predefined split: this column of the cohort table says, per subject, "
        "train, val or test (split_names); replaces k-fold and hold-out.",
    )
    split_names: SplitNames = Field(
        default_factory=SplitNames, description="The split column's values."
    )
    leave_out_column: str | None = Field(
        None,
        description="Leave one group out: each value of this cohort column (e.g. site) is the "
        "test part of one fold, trained on all the others; replaces k-fold.",
    )
    validation_fraction: float = Field(
        0.2, gt=0, lt=0.5, description="Carved out of each training part for early stopping."
    )
    external: bool = Field(True, description="Also test on data.external when it is given.")
    missing: Literal["complete_case", "available"] = Field(
        "complete_case",
        description="complete_case: a scenario uses the subjects with all its modalities; "
        "available: every subject with any (methods that cannot are skipped).",
    )
    cross_fit: int = Field(
        0,
        ge=0,
        description="k >= 2: a cross-fittable encoder (one giving class probabilities) encodes "
        "its training subjects with k inner-fold copies that never saw them, so a fusion "
        "trains on outputs as honest as the test subjects'; 0: off.",
    )
    metrics: list[Metric] = Field(
        default_factory=lambda: list(METRICS),
        min_length=1,
        description="Metrics computed (macro-averaged); the report leads with f1_macro.",
    )
    robustness: list[PerturbationSpec] = Field(
        default_factory=list,
        description="Test-time perturbations evaluated on every fitted cell: robustness.csv.",
    )
    contribution: bool = Field(
        False,
        description="Shapley value of each modality per method, from the cells of every "
        "modality subset (needs scenarios: all): contribution.csv and a report section.",
    )

    @field_validator("split_column")
    @classmethod
    def _one_scheme(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("holdout") is not None:
            raise ValueError("a predefined split replaces evaluation.holdout; set only one")
        return value

    @field_validator("leave_out_column")
    @classmethod
    def _one_leave_out(cls, value: str | None, info: ValidationInfo) -> str | None:
        others = [k for k in ("holdout", "split_column") if info.data.get(k) is not None]
        if value is not None and others:
            raise ValueError(f"leaving groups out replaces evaluation.{others[0]}; set only one")
        return value

    @property
    def scheme_column(self) -> str | None:
        """The cohort column the scheme reads (``split_column`` or ``leave_out_column``)."""
        return self.split_column or self.leave_out_column

    @property
    def scheme(self) -> str:
        """``kfold``, ``holdout``, ``predefined`` or ``leave_out``."""
        if self.split_column is not None:
            return "predefined"
        if self.leave_out_column is not None:
            return "leave_out"
        return "holdout" if self.holdout is not None else "kfold"


def _refuse_removed(value: Any, key: str, message: str) -> Any:
    """A setting of an earlier version: an error saying what replaced it (not 'unknown key')."""
    if isinstance(value, dict) and key in value:
        raise ValueError(message)
    return value


class RuntimeConfig(_Model):
    """Compute settings. ``executor`` and ``device`` change speed; ``threads`` (torch threads
    per process) also changes the rounding of parallel sums, so it is part of a result's
    identity: finished work computed with another thread count is recomputed."""

    threads: int = Field(2, ge=1, description="Torch threads per process.")
    executor: ExecutorSpec = Field(
        default_factory=lambda: ExecutorSpec(type="local"),
        description="Where tasks run: local, processes ({workers: N}; `--jobs N`), or a plugin.",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="auto: CUDA when PyTorch sees a GPU, else the CPU."
    )

    _removed = model_validator(mode="before")(
        lambda value: _refuse_removed(
            value,
            "jobs",
            "runtime.jobs was replaced by runtime.executor: "
            "{type: processes, params: {workers: N}} (or `fusionkit run --jobs N`)",
        )
    )


class FinalModel(_Model):
    """A scenario x method pair refitted on every subject after cross-validation."""

    scenario: str = Field(description="e.g. ehr+snp")
    method: str = Field(description="A method's name (its `name`, or its type).")


class OutputConfig(_Model):
    dir: str = Field("runs/{name}", description="Run directory; {name} is the experiment name.")
    final_models: list[FinalModel] = Field(
        default_factory=list,
        description="Pairs refitted on all subjects and kept for `fusionkit predict`.",
    )

    _removed = model_validator(mode="before")(
        lambda value: _refuse_removed(
            value,
            "checkpoints",
            "output.checkpoints was removed: every cell's fitted model is kept in models/; "
            "list output.final_models for `fusionkit predict`",
        )
    )


class ExperimentConfig(_Model):
    """A whole experiment: data, encoders, scenarios, methods, evaluation and output."""

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Names the run directory."
    )
    description: str = Field("", description="Free text, kept in the manifest.")
    seed: int = Field(0, ge=0, description="One seed for folds and models.")
    task: TaskSpec = Field(
        default_factory=lambda: TaskSpec(type="classification"),
        description="What is predicted and how it is scored (`fusionkit plugins`); "
        "classification: a class per subject (data.classes).",
    )
    data: DataConfig = Field(description="The cohort and its modalities.")
    encoders: dict[str, EncoderSpec] = Field(
        default_factory=dict, description="The deep model of each modality, by modality name."
    )
    scenarios: Annotated[list[str], Field(min_length=1)] | Literal["all"] = Field(
        "all", description="Modality subsets to compare (ehr+snp); all: every subset."
    )
    methods: list[MethodSpec] = Field(
        min_length=1, description="Fusion strategies and shallow classifiers to compare."
    )
    evaluation: EvaluationConfig = Field(
        default_factory=EvaluationConfig, description="Folds, metrics, robustness, contribution."
    )
    runtime: RuntimeConfig = Field(
        default_factory=RuntimeConfig, description="Threads, device, where tasks run."
    )
    output: OutputConfig = Field(
        default_factory=OutputConfig, description="Run directory and final models."
    )
    _source: Path | None = PrivateAttr(None)
    _overrides: tuple[str, ...] = PrivateAttr(())

    @property
    def source(self) -> Path | None:
        """The YAML file this config was loaded from."""
        return self._source

    @property
    def overrides(self) -> tuple[str, ...]:
        """The ``--set`` overrides applied on top of the file."""
        return self._overrides

    def scenario_list(self) -> list[tuple[str, ...]]:
        """Scenarios as modality tuples in data.modalities order ("all": every non-empty subset)."""
        order = list(self.data.modalities)
        if self.scenarios == "all":
            return [
                combo
                for size in range(1, len(order) + 1)
                for combo in itertools.combinations(order, size)
            ]
        return [tuple(m for m in order if m in parse_scenario(s)) for s in self.scenarios]

    def run_dir(self, override: str | Path | None = None) -> Path:
        """The run directory (``--out`` wins over output.dir)."""
        return Path(override) if override else Path(self.output.dir.format(name=self.name))


def label_text(value: object) -> str:
    """A raw label as text, so CSV numbers match ``label_map`` keys.

    >>> [label_text(v) for v in (0.0, 0.5, "AD ")]
    ['0', '0.5', 'AD']
    """
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_scenario(text: str) -> list[str]:
    """``"ehr+img"`` -> ``["ehr", "img"]``.

    >>> parse_scenario("ehr + img")
    ['ehr', 'img']
    """
    return [part.strip() for part in text.split("+")]


def scenario_name(modalities: Sequence[str]) -> str:
    """``("ehr", "img")`` -> ``"ehr+img"``.

    >>> scenario_name(("ehr", "snp", "img"))
    'ehr+snp+img'
    """
    return "+".join(modalities)
