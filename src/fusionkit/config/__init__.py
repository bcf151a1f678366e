"""The experiment config: schema, loading with ``--set`` overrides, resolution, error lines.

- `fusionkit.config.schema`: the pydantic models of every section (``extra="forbid"``).
- `fusionkit.config.specs`: plugin-typed sections ``{type: NAME, params: {...}}``.
- `fusionkit.config.loading`: YAML, ``--set``, `load_config` (two passes, every problem at once).
- `fusionkit.config.resolution`: one walker over plugin-typed sections, registry resolution
  and the cross-field checks.
- `fusionkit.config.problems`: every problem as one line naming the file and the dotted path::

    configs/x.yaml: methods[2].params.n_estimators: input should be greater than 0

Nothing here imports torch: a config is checked in well under a second.
"""

from fusionkit.config.loading import apply_override, config_from_data, load_config, read_yaml
from fusionkit.config.problems import Loc, format_loc, validation_problems
from fusionkit.config.resolution import (
    build_spec_data,
    check,
    plugin_sections,
    resolve_params,
    spec_data,
    spec_identity,
    spec_problems,
)
from fusionkit.config.schema import (
    DEFAULT_FEATURES,
    DEFAULT_READERS,
    METRICS,
    DataConfig,
    EvaluationConfig,
    ExperimentConfig,
    ExternalConfig,
    FinalModel,
    Metric,
    ModalityConfig,
    OutputConfig,
    RuntimeConfig,
    SplitNames,
    label_text,
    parse_scenario,
    scenario_name,
)
from fusionkit.config.specs import (
    ClassifierSpec,
    DatasetSpec,
    EncoderSpec,
    ExecutorSpec,
    MethodSpec,
    PerturbationSpec,
    ReaderSpec,
    Spec,
    TaskSpec,
    TransformSpec,
    resolve,
    resolved,
)

__all__ = [
    "DEFAULT_FEATURES",
    "DEFAULT_READERS",
    "METRICS",
    "ClassifierSpec",
    "DataConfig",
    "DatasetSpec",
    "EncoderSpec",
    "EvaluationConfig",
    "ExecutorSpec",
    "ExperimentConfig",
    "ExternalConfig",
    "FinalModel",
    "Loc",
    "MethodSpec",
    "Metric",
    "ModalityConfig",
    "OutputConfig",
    "PerturbationSpec",
    "ReaderSpec",
    "RuntimeConfig",
    "Spec",
    "SplitNames",
    "TaskSpec",
    "TransformSpec",
    "apply_override",
    "build_spec_data",
    "check",
    "config_from_data",
    "format_loc",
    "label_text",
    "load_config",
    "parse_scenario",
    "plugin_sections",
    "read_yaml",
    "resolve",
    "resolve_params",
    "resolved",
    "scenario_name",
    "spec_data",
    "spec_identity",
    "spec_problems",
    "validation_problems",
]
