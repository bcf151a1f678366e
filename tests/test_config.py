"""Config validation: each bad config gets its exact one-line message and exit code 2."""

from __future__ import annotations

import copy

import pytest
import yaml

from fusionkit.config import ExperimentConfig, apply_override, load_config
from fusionkit.errors import ConfigError
from fusionkit.experiment.planner import make_plan


def mutate(config: dict, path: str, value) -> dict:
    """Set (or with value=DELETE remove) a dotted path in a copy of config."""
    config = copy.deepcopy(config)
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node = config
    for part in parents:
        node = node[part]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return config


DELETE = object()

# (mutation path, value, expected message after "<file>: ")
BAD_CONFIGS = [
    ("seeed", 3, "seeed: unknown key (did you mean 'seed'?)"),
    ("seed", -1, "seed: input should be greater than or equal to 0"),
    ("name", DELETE, "name: required field is missing"),
    (
        "methods.1.params.n_estimators",
        0,
        "methods[1].params.n_estimators: input should be greater than 0",
    ),
    (
        "methods.1.params.n_estimator",
        10,
        "methods[1].params.n_estimator: unknown key (did you mean 'n_estimators'?)",
    ),
    (
        "methods.0.type",
        "random_forrest",
        "methods[0].type: unknown method 'random_forrest' (did you mean 'random_forest'?)",
    ),
    ("evaluation.cv_folds", 1, "evaluation.cv_folds: input should be greater than or equal to 2"),
    (
        "evaluation.metrics",
        ["accuracy", "auc"],
        "evaluation.metrics[1]: input should be 'accuracy', 'balanced_accuracy', 'precision', "
        "'recall', 'specificity', 'f1_macro' or 'auroc'",
    ),
    (
        "scenarios",
        ["ehr", "ehr+mri"],
        "scenarios[1]: unknown modality 'mri' (known: ehr, snp, img)",
    ),
    ("scenarios", ["ehr+snp", "snp+ehr"], "scenarios[1]: scenario 'snp+ehr' is listed twice"),
    (
        "data.modalities.img.kind",
        "video",
        "data.modalities.img.kind: input should be 'table', 'genotype' or 'image'",
    ),
    (
        "data.modalities.snp.reader",
        "image",
        "data.modalities.snp.reader.type: reader 'image' does not accept genotype modalities "
        "(it accepts: image)",
    ),
    (
        "data.classes",
        ["CN"],
        "data.classes: list should have at least 2 items after validation, not 1",
    ),
    ("data.classes", ["CN", "AD", "CN"], "data.classes: classes listed twice: CN"),
    (
        "encoders",
        {"eeg": {"type": "raw"}},
        "encoders.eeg: unknown modality 'eeg' (known: ehr, snp, img)",
    ),
    (
        "methods",
        [{"type": "svm"}, {"type": "svm", "params": {"C": 2}}],
        "methods[1]: duplicate method name 'svm' (also methods[0]); give each a distinct `name`",
    ),
    (
        "methods.1.params.max_features",
        "all",
        "methods[1].params.max_features: input should be 'sqrt' or 'log2'; or input should be a "
        "valid number, unable to parse string as a number",
    ),
    ("data.label_map", {"0": "healthy"}, "data.label_map.0: 'healthy' is not one of data.classes"),
    ("evaluation.holdout", 1.5, "evaluation.holdout: input should be less than 1"),
    (
        "methods",
        [{"type": "deep_concat", "params": {"staged": {}}}],
        "methods[0].params.staged: staged training needs end_to_end: true",
    ),
    (
        "data.dataset",
        {"type": "adni_like", "params": {"n_subjects": 5}},
        "data.dataset.params.n_subjects: input should be greater than or equal to 30",
    ),
]


@pytest.mark.parametrize(
    ("path", "value", "expected"), BAD_CONFIGS, ids=[b[0] for b in BAD_CONFIGS]
)
def test_bad_config_exact_message_and_exit_2(cli, base_config, write_config, path, value, expected):
    config_file = write_config(mutate(base_config, path, value))
    result = cli("validate", config_file)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"error: {config_file}: {expected}"]
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: x\nseed: [1, 2\n",
            ":3:1: invalid YAML: expected ',' or ']', but got '<stream end>'",
        ),
        ("- just\n- a list\n", ": expected a mapping of settings at the top level"),
    ],
)
def test_malformed_yaml(cli, write_config, text, expected):
    config_file = write_config(text)
    result = cli("validate", config_file)
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {config_file}{expected}"


def test_missing_config_file(cli, tmp_path):
    result = cli("run", tmp_path / "nope.yaml")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'nope.yaml'}: file not found"


def test_every_problem_is_reported_not_just_the_first(cli, base_config, write_config):
    config = mutate(mutate(base_config, "seed", -1), "evaluation.cv_folds", 0)
    result = cli("validate", write_config(config))
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 2


def test_set_overrides_any_field(base_config, write_config):
    path = write_config(base_config)
    config = load_config(
        path,
        ["evaluation.cv_folds=4", "methods[1].params.n_estimators=7", "scenarios=[ehr, ehr+snp]"],
    )
    assert config.evaluation.cv_folds == 4
    assert config.methods[1].resolved_params.n_estimators == 7
    assert config.scenario_list() == [("ehr",), ("ehr", "snp")]


def test_set_override_errors_are_named(cli, base_config, write_config):
    path = write_config(base_config)
    result = cli("validate", path, "--set", "methods[5].name=x")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: --set methods[5].name=x: methods[5]: no such list item"
    result = cli("validate", path, "--set", "evaluation.cv_folds=zero")
    assert result.exit_code == 2
    assert "evaluation.cv_folds: input should be a valid integer" in result.stderr
    result = cli("validate", path, "--set", "justakey")
    assert result.exit_code == 2
    assert "expected KEY=VALUE" in result.stderr


def test_apply_override_creates_nested_keys():
    raw: dict = {"evaluation": {}}
    apply_override(raw, "evaluation.holdout=0.25")
    apply_override(raw, "output.dir=/tmp/x")
    assert raw == {"evaluation": {"holdout": 0.25}, "output": {"dir": "/tmp/x"}}


def test_params_are_validated_by_the_plugins_own_model(base_config, write_config):
    config = load_config(write_config(base_config))
    rf = config.methods[1]
    assert rf.component.plugin == "fusionkit.classifiers.sklearn_baselines"
    assert rf.resolved_params.n_estimators == 10
    assert rf.resolved_params.min_samples_leaf == 1  # the plugin's default


def test_all_scenarios_and_plan_size(base_config, write_config):
    config = load_config(write_config(base_config))
    assert [len(s) for s in config.scenario_list()] == [1, 1, 1, 2, 2, 2, 3]
    plan = make_plan(config)
    # 7 scenarios x 2 classifiers (images through image_features) x (3 folds + external)
    assert len(plan.cells) == 7 * 2 * (3 + 1)
    without = load_config(write_config(base_config), ["encoders={}"])
    assert len(make_plan(without).cells) == len(plan.cells)  # shallow methods need no encoders
    assert {c.split for c in plan.cells} == {"cv", "external"}
    assert len({c.id for c in plan.cells}) == len(plan.cells)


def test_holdout_replaces_kfold(base_config, write_config):
    config = load_config(
        write_config(base_config), ["evaluation.holdout=0.2", "evaluation.external=false"]
    )
    assert make_plan(config).folds == 1


def test_bare_name_is_shorthand_for_type(base_config, write_config):
    config = mutate(base_config, "methods", ["svm", {"type": "knn", "name": "knn5"}])
    loaded = load_config(write_config(config))
    assert [m.label for m in loaded.methods] == ["svm", "knn5"]


def test_shipped_configs_validate():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for path in sorted((root / "configs").glob("*.yaml")):
        assert isinstance(load_config(path), ExperimentConfig), path


def test_unknown_type_lists_known_names_when_nothing_is_close(base_config, write_config):
    with pytest.raises(ConfigError) as info:
        load_config(write_config(mutate(base_config, "methods.0.type", "zzz")))
    assert "unknown method 'zzz' (known: none)" not in str(info.value)
    assert "known: " in str(info.value)


def test_unquoted_numeric_label_map_keys_are_read_as_label_text(base_config, write_config):
    text = yaml.safe_dump(mutate(base_config, "data.label_map", {"CN": "CN"}), sort_keys=False)
    text = text.replace(
        "label_map:\n    CN: CN", "label_map:\n    0: CN\n    0.5: MCI\n    1.0: AD"
    )
    config = load_config(write_config(text))
    assert config.data.label_map == {"0": "CN", "0.5": "MCI", "1": "AD"}


def test_unknown_image_feature_group_is_a_config_error(base_config, write_config):
    config = mutate(
        base_config,
        "data.modalities.img.features",
        {"type": "image_features", "params": {"groups": ["texture", "colour"]}},
    )
    with pytest.raises(ConfigError) as info:
        load_config(write_config(config))
    assert "data.modalities.img.features.params.groups[1]: input should be" in str(info.value)


def test_schema_and_registry_problems_are_reported_in_one_pass(cli, base_config, write_config):
    """A schema error elsewhere does not hide an unknown method or a plugin's bad params."""
    config = mutate(base_config, "evaluation.cv_folds", 0)
    config["methods"] = [
        {"type": "random_forst"},
        {"type": "xgboost", "params": {"max_depth": -3}},
        "logistic_regression",
    ]
    config["encoders"] = {"img": {"type": "resnet10", "params": {"widen_factr": 1}}}
    result = cli("validate", write_config(config))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 4, lines
    text = "\n".join(lines)
    assert "evaluation.cv_folds" in text
    assert "methods[0].type: unknown method 'random_forst'" in text
    assert "methods[1].params.max_depth" in text
    assert "encoders.img.params.widen_factr" in text
