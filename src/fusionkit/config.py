"""The experiment config: pydantic models, YAML loading, ``--set`` overrides and error lines.

Loading is two passes. First the YAML is checked against the models below (``extra="forbid"``:
a misspelled key is an error, never silently ignored). Then every ``{type: NAME, params: {...}}``
section is resolved through the plugin registry and its ``params`` validated by the plugin's own
model, recursively. Every problem becomes one line naming the file and the dotted path::

    configs/x.yaml: methods[2].params.n_estimators: input should be greater than 0

Nothing here imports torch: a config is checked in well under a second.
"""

from __future__ import annotations

import difflib
import itertools
import re
import types
import typing
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from fusionkit.errors import ConfigError
from fusionkit.registry import MODALITY_KINDS, Component, ModalityKind, Registry

Loc = tuple[str | int, ...]
METRICS = (
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "specificity",
    "f1_macro",
    "auroc",
)
Metric = Literal[
    "accuracy", "balanced_accuracy", "precision", "recall", "specificity", "f1_macro", "auroc"
]
DEFAULT_READERS = {"table": "table", "genotype": "genotype", "image": "image"}
_IDENT = r"^[a-z][a-z0-9_]*$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- plugin-typed sections -----------------------------------------------------------------------
class Spec(_Model):
    """A plugin-typed section ``{type: NAME, params: {...}}``; a bare ``NAME`` is shorthand."""

    kinds: ClassVar[tuple[str, ...]] = ()
    type: str = Field(description="The registered component's name (`fusionkit plugins`).")
    params: dict[str, Any] = Field(
        default_factory=dict, description="The component's own params (`fusionkit plugins NAME`)."
    )
    _component: Component | None = PrivateAttr(None)
    _params: BaseModel | None = PrivateAttr(None)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"type": value} if isinstance(value, str) else value

    @field_validator("params", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    @property
    def component(self) -> Component:
        """The registered component this section names (resolved on first use if the spec
        was built in code rather than read by `load_config`)."""
        if self._component is None:
            resolved(self)
        assert self._component is not None
        return self._component

    @property
    def resolved_params(self) -> BaseModel:
        """The params, validated by the component's own params model."""
        if self._params is None:
            resolved(self)
        assert self._params is not None
        return self._params

    def build(self, **kwargs: Any) -> Any:
        """Call the component's factory with the validated params."""
        return self.component.build(self.resolved_params, **kwargs)


class ReaderSpec(Spec):
    kinds = ("reader",)


class EncoderSpec(Spec):
    kinds = ("encoder",)


class ClassifierSpec(Spec):
    kinds = ("classifier",)


class TransformSpec(Spec):
    kinds = ("transform",)


class DatasetSpec(Spec):
    kinds = ("dataset",)


class ExecutorSpec(Spec):
    kinds = ("executor",)


class PerturbationSpec(Spec):
    kinds = ("perturbation",)


class MethodSpec(Spec):
    """A method: a fusion strategy, or a classifier (a shallow baseline on raw features)."""

    kinds = ("fusion", "classifier")
    name: str | None = Field(None, pattern=_IDENT, description="Name in tables; default: type.")

    @property
    def label(self) -> str:
        """The method's name in plans, tables and file names."""
        return self.name or self.type


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


# -- loading ------------------------------------------------------------------------------------
def load_config(
    path: str | Path, overrides: Sequence[str] = (), registry: Registry | None = None
) -> ExperimentConfig:
    """Read, override, validate and resolve a YAML config; `ConfigError` lists every problem."""
    path = Path(path)
    raw = read_yaml(path)
    for expr in overrides:
        apply_override(raw, expr)
    if registry is None:
        from fusionkit.plugins import get_registry

        registry = get_registry()
    try:
        config = ExperimentConfig.model_validate(raw)
    except ValidationError as exc:
        schema = [f"{where}: {msg}" for where, msg in validation_problems(exc, ExperimentConfig)]
        specs = [f"{format_loc(loc)}: {msg}" for loc, msg in spec_problems(raw, registry)]
        # every problem in one pass: the components' own checks too, where they can run
        raise ConfigError(f"{path}: {p}" for p in dict.fromkeys(schema + specs)) from None
    problems = [f"{path}: {format_loc(loc)}: {msg}" for loc, msg in check(config, registry)]
    if problems:
        raise ConfigError(problems)
    config._source = path
    config._overrides = tuple(overrides)
    return config


def resolved(spec: Spec, registry: Registry | None = None) -> Spec:
    """Resolve a spec built in code (not read from YAML) through the registry."""
    if registry is None:
        from fusionkit.plugins import get_registry

        registry = get_registry()
    problems = [f"{format_loc(loc)}: {msg}" for loc, msg in resolve(spec, (), registry)]
    if problems:
        raise ConfigError(problems)
    return spec


def spec_data(spec: Spec) -> dict[str, Any]:
    """A resolved spec as plain data: its type and every param, defaults included."""
    return {"type": spec.type, "params": spec.resolved_params.model_dump(mode="json")}


def build_spec_data(kind: str, data: dict[str, Any], registry: Registry | None = None) -> Any:
    """Build the component that `spec_data` described (e.g. when a kept model is loaded)."""
    if registry is None:
        from fusionkit.plugins import get_registry

        registry = get_registry()
    if not registry.has(kind, data["type"]):
        raise ConfigError(registry.unknown_message(kind, data["type"]) + " (plugin not installed?)")
    component = registry.get(kind, data["type"])
    return component.build(resolve_params(component, data["params"], registry))


def resolve_params(
    component: Component, params: dict[str, Any] | None, registry: Registry | None = None
) -> BaseModel:
    """A component's params validated by its model, nested specs (a fusion's classifier)
    resolved through the registry; `ConfigError` lists the problems."""
    if registry is None:
        from fusionkit.plugins import get_registry

        registry = get_registry()
    try:
        validated = component.params.model_validate(params or {})
    except ValidationError as exc:
        raise ConfigError(
            f"{component.name}: {where}: {msg}"
            for where, msg in validation_problems(exc, component.params)
        ) from None
    problems = [
        f"{format_loc(loc)}: {msg}" for loc, msg in _resolve_nested(validated, (), registry)
    ]
    if problems:
        raise ConfigError(problems)
    return validated


def spec_identity(spec: Spec) -> list[list[str]]:
    """Kind, name, distribution and version of the component a spec names and of every
    component nested in its params (a fusion's classifier, an encoder's transform)."""
    out = [spec.component.identity()]

    def walk(value: Any) -> None:
        if isinstance(value, Spec):
            out.extend(spec_identity(value))
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk(spec.resolved_params)
    return out


def config_from_data(data: dict[str, Any], source: str | None = None) -> ExperimentConfig:
    """A resolved config from `ExperimentConfig.model_dump` output (what tasks carry by value)."""
    from fusionkit.plugins import get_registry

    config = ExperimentConfig.model_validate(data)
    problems = [f"{format_loc(loc)}: {msg}" for loc, msg in check(config, get_registry())]
    if problems:
        raise ConfigError(problems)
    config._source = Path(source) if source else None
    return config


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping from ``path``; one-line `ConfigError` if missing, unreadable or malformed."""
    if not path.exists():
        raise ConfigError(f"{path}: file not found")
    if not path.is_file():
        raise ConfigError(f"{path}: not a file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    return data


_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def apply_override(raw: dict[str, Any], expr: str) -> None:
    """Apply one ``--set a.b[0].c=value`` override in place; the value is parsed as YAML.

    >>> raw = {"methods": [{"type": "svm"}]}
    >>> apply_override(raw, "methods[0].params.C=0.5")
    >>> raw
    {'methods': [{'type': 'svm', 'params': {'C': 0.5}}]}
    """
    key, sep, text = expr.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {expr}: expected KEY=VALUE, e.g. seed=1 or methods[0].name=rf")
    parts: list[str | int] = [
        int(index) if index else name for name, index in _TOKEN.findall(key.strip())
    ]
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        value = text
    node: Any = raw
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = format_loc(tuple(parts[: depth + 1]))
        if isinstance(part, int):
            if not isinstance(node, list) or not -len(node) <= part < len(node):
                raise ConfigError(f"--set {expr}: {where}: no such list item")
        elif not isinstance(node, dict):
            raise ConfigError(f"--set {expr}: {where}: parent is not a mapping")
        if last:
            node[part] = value
        else:
            if isinstance(node, dict) and part not in node:
                node[part] = {}
            node = node[part]


def spec_problems(raw: dict[str, Any], registry: Registry) -> Iterator[tuple[Loc, str]]:
    """Registry problems (unknown types, plugin params) of the component specs in a raw config
    that failed schema validation elsewhere: each spec that is well-formed itself is resolved,
    so `validate` reports schema and registry problems in one pass."""

    def one(model: type[Spec], value: Any, loc: Loc, kind: str | None = None):
        try:
            spec = model.model_validate(value)
        except ValidationError:
            return  # reported by the schema validation
        yield from resolve(spec, loc, registry, kind)

    data = raw.get("data") if isinstance(raw.get("data"), dict) else {}
    modalities = data.get("modalities") if isinstance(data.get("modalities"), dict) else {}
    kinds = {}
    for name, modality in modalities.items():
        if not isinstance(modality, dict):
            continue
        kind = modality.get("kind") if modality.get("kind") in MODALITY_KINDS else None
        kinds[name] = kind
        for part, model in (("reader", ReaderSpec), ("features", EncoderSpec)):
            if modality.get(part) is not None:
                yield from one(model, modality[part], ("data", "modalities", name, part), kind)
    if data.get("dataset") is not None:
        yield from one(DatasetSpec, data["dataset"], ("data", "dataset"))
    encoders = raw.get("encoders") if isinstance(raw.get("encoders"), dict) else {}
    for name, value in encoders.items():
        yield from one(EncoderSpec, value, ("encoders", name), kinds.get(name))
    for section, model in (("methods", MethodSpec),):
        values = raw.get(section)
        for i, value in enumerate(values if isinstance(values, list) else []):
            yield from one(model, value, (section, i))
    evaluation = raw.get("evaluation") if isinstance(raw.get("evaluation"), dict) else {}
    robustness = evaluation.get("robustness")
    for i, value in enumerate(robustness if isinstance(robustness, list) else []):
        yield from one(PerturbationSpec, value, ("evaluation", "robustness", i))
    runtime = raw.get("runtime") if isinstance(raw.get("runtime"), dict) else {}
    if runtime.get("executor") is not None:
        yield from one(ExecutorSpec, runtime["executor"], ("runtime", "executor"))


def check(config: ExperimentConfig, registry: Registry) -> Iterator[tuple[Loc, str]]:
    """Cross-field and registry checks that the models alone cannot do."""
    modalities = config.data.modalities
    if config.data.dataset is not None:
        yield from resolve(config.data.dataset, ("data", "dataset"), registry)
    for name, modality in modalities.items():
        assert modality.reader is not None
        loc = ("data", "modalities", name, "reader")
        yield from resolve(modality.reader, loc, registry, modality.kind)
        if modality.features is not None:
            loc = ("data", "modalities", name, "features")
            yield from resolve(modality.features, loc, registry, modality.kind)
    for name, encoder in config.encoders.items():
        if name not in modalities:
            yield ("encoders", name), _unknown_modality(name, modalities)
        else:
            yield from resolve(encoder, ("encoders", name), registry, modalities[name].kind)
    if config.scenarios != "all":
        seen: set[frozenset[str]] = set()
        for i, text in enumerate(config.scenarios):
            parts = parse_scenario(text)
            for part in parts:
                if part not in modalities:
                    yield ("scenarios", i), _unknown_modality(part, modalities)
            key = frozenset(parts)
            if len(key) != len(parts):
                yield ("scenarios", i), f"modality repeated in {text!r}"
            elif key in seen:
                yield ("scenarios", i), f"scenario {text!r} is listed twice"
            seen.add(key)
    yield from resolve(config.runtime.executor, ("runtime", "executor"), registry)
    for i, spec in enumerate(config.evaluation.robustness):
        yield from resolve(spec, ("evaluation", "robustness", i), registry)
    labels: dict[str, int] = {}
    for i, method in enumerate(config.methods):
        yield from resolve(method, ("methods", i), registry)
        if method.label in labels:
            yield (
                ("methods", i),
                f"duplicate method name {method.label!r} (also methods[{labels[method.label]}]);"
                " give each a distinct `name`",
            )
        labels.setdefault(method.label, i)
    scenarios = {frozenset(s) for s in config.scenario_list()}
    for i, final in enumerate(config.output.final_models):
        loc = ("output", "final_models", i)
        parts = parse_scenario(final.scenario)
        if frozenset(parts) not in scenarios:
            yield loc + ("scenario",), f"scenario {final.scenario!r} is not one of the run's"
        if final.method not in labels:
            known = ", ".join(labels)
            yield loc + ("method",), f"unknown method {final.method!r} (known: {known})"
    if config.data.label_map is not None:
        for raw_value, target in config.data.label_map.items():
            if target not in config.data.classes:
                yield ("data", "label_map", raw_value), f"{target!r} is not one of data.classes"


def _unknown_modality(name: str, modalities: dict[str, Any]) -> str:
    close = difflib.get_close_matches(name, list(modalities), n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(modalities)}"
    return f"unknown modality {name!r} ({hint})"


def resolve(
    spec: Spec, loc: Loc, registry: Registry, modality_kind: str | None = None
) -> Iterator[tuple[Loc, str]]:
    """Find the component a spec names and validate its params, recursing into nested specs."""
    component = next(
        (registry.get(kind, spec.type) for kind in spec.kinds if registry.has(kind, spec.type)),
        None,
    )
    if component is None:
        label = "method" if len(spec.kinds) > 1 else spec.kinds[0]
        yield loc + ("type",), registry.unknown_message(spec.kinds, spec.type, label)
        return
    if modality_kind is not None and not component.accepts(modality_kind):
        yield (
            loc + ("type",),
            f"{component.kind} {spec.type!r} does not accept {modality_kind} modalities"
            f" (it accepts: {', '.join(sorted(component.modalities))})",
        )
    try:
        params = component.params.model_validate(spec.params)
    except ValidationError as exc:
        for where, msg in validation_problems(exc, component.params):
            yield loc + ("params",) + tuple(_split_loc(where)), msg
        return
    spec._component, spec._params = component, params
    yield from _resolve_nested(params, loc + ("params",), registry)


def _resolve_nested(value: Any, loc: Loc, registry: Registry) -> Iterator[tuple[Loc, str]]:
    if isinstance(value, Spec):
        yield from resolve(value, loc, registry)
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _resolve_nested(getattr(value, name), loc + (name,), registry)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _resolve_nested(item, loc + (i,), registry)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _resolve_nested(item, loc + (key,), registry)


# -- error lines --------------------------------------------------------------------------------
def format_loc(loc: Sequence[str | int]) -> str:
    """``("methods", 2, "params", "n")`` -> ``"methods[2].params.n"``.

    >>> format_loc(("methods", 2, "params", "n_estimators"))
    'methods[2].params.n_estimators'
    """
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _split_loc(text: str) -> list[str | int]:
    return [int(index) if index else name for name, index in _TOKEN.findall(text)]


def validation_problems(exc: ValidationError, model: type[BaseModel]) -> list[tuple[str, str]]:
    """(dotted path, message) per problem; union branches merged, unknown keys get suggestions."""
    merged: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False):
        loc, fields = _model_loc(model, error["loc"])
        message = _message(error, fields)
        messages = merged.setdefault(format_loc(loc), [])
        if message not in messages:
            messages.append(message)
    return [(where, "; or ".join(msgs)) for where, msgs in merged.items()]


def _message(error: dict[str, Any], fields: list[str]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(error["loc"][-1])
        close = difflib.get_close_matches(key, fields, n=1)
        return "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
    if kind == "missing":
        return "required field is missing"
    msg = str(error["msg"])
    msg = msg.removeprefix("Value error, ")
    return msg[:1].lower() + msg[1:]


def _model_loc(model: Any, loc: Sequence[str | int]) -> tuple[Loc, list[str]]:
    """Walk ``loc`` through the model's annotations, dropping pydantic's union-branch tags.

    Returns the cleaned location and the field names allowed where it ends (for suggestions).
    """
    clean: list[str | int] = []
    current: Any = model
    fields: list[str] = []
    for i, part in enumerate(loc):
        current = _unwrap(current)
        last = i == len(loc) - 1
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = list(current.model_fields)
            if part in current.model_fields:
                clean.append(part)
                current = current.model_fields[part].annotation
            elif last:
                clean.append(part)  # an unknown key
            continue  # else: a union tag or validator name; skip it
        origin = typing.get_origin(current)
        if origin in (Union, types.UnionType) and isinstance(part, str):
            continue  # a union-branch tag such as "literal['sqrt','log2']" or "float"
        if origin in (list, tuple, Sequence) and isinstance(part, int):
            clean.append(part)
            args = typing.get_args(current)
            current = args[0] if args else Any
        elif origin is dict:
            clean.append(part)
            args = typing.get_args(current)
            current = args[1] if len(args) == 2 else Any
        elif isinstance(part, int) or current is Any or last:
            clean.append(part)
            current = Any
    return tuple(clean), fields


def _unwrap(annotation: Any) -> Any:
    """Optional[X] / X | None -> X; a union of several models -> the first model."""
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        containers = [a for a in args if typing.get_origin(a) in (list, dict)]
        if len(args) == 1:
            return _unwrap(args[0])
        if models:
            return models[0]
        if containers:
            return containers[0]
    if typing.get_origin(annotation) is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    return annotation
