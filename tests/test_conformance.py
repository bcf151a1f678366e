"""Every built-in component passes every conformance check of its kind (`fusionkit.testing`),
each check its own test, and the checks can fail."""

import pytest

from fusionkit.plugins import PluginSet
from fusionkit.testing import check_component, check_fusion, parametrize_with_checks


def _builtins():
    plugins = PluginSet()
    plugins.load_builtins()
    return plugins.registry


REGISTRY = _builtins()
TINY_CNN = {"spatial_size": [32, 32], "widen_factor": 0.125, "train": {"epochs": 1}}
TINY = {
    "mlp": {"hidden": [8], "train": {"epochs": 3}},
    "denoising_autoencoder": {"hidden": [8], "pretrain_epochs": 2, "train": {"epochs": 3}},
    "resnet10": TINY_CNN,
    "resnet18": {**TINY_CNN, "stem": "small"},
    "resnet50": TINY_CNN,
    "densenet121": {"spatial_size": [32, 32], "train": {"epochs": 1}},
    "image_features": {"distances": [1]},
    "image_autoencoder": {"spatial_size": [32, 32], "filters": [4, 8], "train": {"epochs": 2}},
    "deep_concat": {"head": {"hidden": [8]}, "train": {"epochs": 5}},
    "gated": {"width": 8, "train": {"epochs": 5}},
    "attention": {"width": 8, "train": {"epochs": 5}},
    "low_rank_tensor": {"width": 8, "train": {"epochs": 5}},
    "ga_enhance": {"population": 6, "generations": 2, "parents": 2},
    "adni_like": {
        "n_subjects": 30,
        "n_external": 0,
        "n_snps": 10,
        "n_causal": 2,
        "image_shape": [6, 6, 6],
    },
    "imaging_5class": {"per_class": 2, "size": 16},
    "processes": {"workers": 1},
    "ray": {"workers": 1},
}
DEEP_CONCAT_E2E = {"end_to_end": True, "head": {"hidden": [8]}, "train": {"epochs": 3}}
SLOW = {"densenet121", "resnet50", "ray"}  # seconds each: run in CI, `-m "not slow"` skips


def _components(*kinds, fast: bool = True):
    return [
        (REGISTRY.get(kind, name), TINY.get(name))
        for kind in kinds
        for name in REGISTRY.names(kind)
        if (name in SLOW) != fast
    ]


KINDS = ("classifier", "encoder", "fusion", "transform", "dataset", "executor", "perturbation")


@parametrize_with_checks(_components(*KINDS, "task"))
def test_builtin(check):
    check()


@pytest.mark.slow
@parametrize_with_checks(_components(*KINDS, fast=False))
def test_builtin_slow(check):
    check()


@parametrize_with_checks(
    [
        REGISTRY.get("reader", n)
        for n in REGISTRY.names("reader")
        if n not in ("plink", "pgen", "vcf")
    ]
)
def test_reader(check):
    check()


@pytest.mark.parametrize("fmt", ["plink", "pgen", "vcf"])
def test_genotype_file_reader(fmt):
    check_component(REGISTRY.get("reader", fmt), fmt=fmt)  # the sample in the reader's format


@pytest.mark.parametrize(
    "params",
    [
        {"features": "encoded", "classifier": "svm"},
        {
            "features": "raw",
            "combine": "stacking",
            "classifier": {"type": "random_forest", "params": {"n_estimators": 20}},
        },
        {"features": "raw", "combine": "vote"},
        {"features": "raw", "combine": "weighted"},
        {"features": "raw", "combine": "ensemble_selection"},
    ],
)
def test_feature_and_decision_level_variants(params):
    name = "decision_level" if "combine" in params else "feature_level"
    check_fusion(REGISTRY.get("fusion", name), params)


def test_deep_concat_projected_with_modality_dropout():
    params = {"width": 8, "modality_dropout": 0.2, "head": {"hidden": [8]}, "train": {"epochs": 5}}
    check_fusion(REGISTRY.get("fusion", "deep_concat"), params)


def test_deep_concat_end_to_end():
    check_fusion(REGISTRY.get("fusion", "deep_concat"), DEEP_CONCAT_E2E)


@pytest.mark.parametrize(
    "params",
    [
        {**DEEP_CONCAT_E2E, "staged": {"fine_tune_epochs": 2}, "balance": {"method": "ogm_ge"}},
        {**TINY["deep_concat"], "balance": {"method": "ogm"}},
    ],
    ids=["staged_end_to_end_ogm_ge", "projected_ogm"],
)
def test_deep_concat_staged_and_balanced(params):
    check_fusion(REGISTRY.get("fusion", "deep_concat"), params)


@pytest.mark.parametrize("name", ["gated", "attention", "low_rank_tensor"])
def test_embedding_fusions_with_gradient_modulation(name):
    check_fusion(REGISTRY.get("fusion", name), {**TINY[name], "balance": {"method": "ogm_ge"}})


def test_a_broken_fusion_fails_its_check():
    """The checks can fail, and say which: probabilities that do not sum to one."""
    import numpy as np

    from fusionkit.fusion.feature_level import FeatureLevel

    class Broken(FeatureLevel):
        def predict_proba(self, inp):
            return np.full((len(inp.ids), 3), 0.5)

    component = REGISTRY.get("fusion", "feature_level")
    from dataclasses import replace

    with pytest.raises(AssertionError, match=r"probabilities: .*do not sum to 1"):
        check_fusion(replace(component, factory=Broken))


def test_a_fusion_without_its_state_methods_is_named_with_them():
    """A plugin written for an older contract fails the check naming the missing methods."""
    from dataclasses import replace

    class Old:
        def __init__(self, params):
            pass

        def fit(self, inputs, y, ctx):
            return self

        def predict_proba(self, inputs):
            return None

    component = replace(REGISTRY.get("fusion", "feature_level"), factory=Old)
    with pytest.raises(AssertionError, match=r"implements_fusion: .*missing: get_state, set_state"):
        check_fusion(component)
