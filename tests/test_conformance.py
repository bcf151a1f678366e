"""Every built-in component passes the conformance check of its kind (`fusionkit.testing`)."""

import pytest

from fusionkit.plugins import PluginSet
from fusionkit.testing import check_classifier, check_encoder, check_fusion, check_reader


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
}
DEEP_CONCAT_E2E = {"end_to_end": True, "head": {"hidden": [8]}, "train": {"epochs": 3}}


def _names(kind):
    return REGISTRY.names(kind)


@pytest.mark.parametrize("name", _names("classifier"))
def test_classifier(name):
    check_classifier(REGISTRY.get("classifier", name), TINY.get(name))


@pytest.mark.parametrize("name", _names("encoder"))
def test_encoder(name):
    check_encoder(REGISTRY.get("encoder", name), TINY.get(name))


@pytest.mark.parametrize("name", _names("fusion"))
def test_fusion(name):
    check_fusion(REGISTRY.get("fusion", name), TINY.get(name))


@pytest.mark.parametrize(
    "params",
    [
        {"features": "encoded", "classifier": "svm"},
        {"features": "raw", "combine": "stacking", "classifier": "random_forest"},
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


@pytest.mark.parametrize("name", _names("reader"))
def test_reader(name):
    fmt = name if name in ("plink", "pgen", "vcf") else "csv"  # the sample in the reader's format
    check_reader(REGISTRY.get("reader", name), fmt=fmt)


def test_a_broken_fusion_fails_its_check():
    """The checks can fail: a fusion whose probabilities do not sum to one is caught."""
    import numpy as np

    from fusionkit.fusion.feature_level import FeatureLevel

    class Broken(FeatureLevel):
        def predict_proba(self, inp):
            return np.full((len(inp.ids), 3), 0.5)

    component = REGISTRY.get("fusion", "feature_level")
    from dataclasses import replace

    with pytest.raises(AssertionError, match="do not sum to 1"):
        check_fusion(replace(component, factory=Broken))
