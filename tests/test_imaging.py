"""The image classifier: GA enhancement, augmentation, mean subtraction, kept models, predict,
and fine-tuning from an earlier run's kept model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from fusionkit.config import load_config
from fusionkit.experiment.runner import run_experiment
from fusionkit.transforms.ga_enhance import (
    IDENTITY,
    GAEnhance,
    GAEnhanceParams,
    apply_curve,
    fitness,
    to_unit,
)


def flat_image(seed=0):
    """A low-contrast grey image with some structure: room for enhancement."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:48, 0:48]
    base = 0.45 + 0.05 * ((x // 8 + y // 8) % 2) + 0.01 * rng.normal(size=(48, 48))
    return base[None].astype(np.float32)


def test_batch_fitness_equals_one_at_a_time():
    unit = to_unit(flat_image()[0])
    curves = np.array([[1.0, 0.01, 0.5], [0.5, 8.0, 0.4], [2.0, 15.0, 0.6]])
    stack = apply_curve(unit, curves)
    together = fitness(stack, 0.1)
    alone = [fitness(stack[i : i + 1], 0.1)[0] for i in range(3)]
    assert np.allclose(together, alone)


def test_ga_improves_fitness_and_changes_the_image():
    image = flat_image()
    ga = GAEnhance(GAEnhanceParams(seed=1))
    out = ga(image)
    unit = to_unit(image[0])
    assert out.shape == image.shape
    assert not np.allclose(out[0], unit, atol=0.02)  # the enhanced image differs
    assert fitness(out, 0.1)[0] >= fitness(apply_curve(unit, IDENTITY), 0.1)[0]
    assert np.all(np.diff(ga.history_) >= 0)  # best-so-far never decreases
    again = GAEnhance(GAEnhanceParams(seed=1))(image)
    assert np.array_equal(out, again)  # seeded


def test_enhance_cli_writes_images_and_plot(cli, tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    for i in range(2):
        Image.fromarray((flat_image(i)[0] * 255).astype(np.uint8)).save(source / f"s{i}.png")
    (source / "bad.png").write_text("not an image")
    out = tmp_path / "out"
    result = cli("enhance", source, "--out", out, "--generations", "4")
    assert result.exit_code == 2  # one unreadable file, reported by name
    assert f"error: {source / 'bad.png'}: cannot read as PNG" in result.stderr
    assert (out / "fitness.png").is_file() and (out / "enhance.csv").is_file()
    for i in range(2):
        before = np.asarray(Image.open(source / f"s{i}.png"), float)
        after = np.asarray(Image.open(out / f"s{i}_enhanced.png"), float)
        assert after.shape == before.shape
        assert np.abs(after - before).mean() > 5
    table = pd.read_csv(out / "enhance.csv")
    assert (table.fitness_after >= table.fitness_before).all()
    again = cli("enhance", source / "s0.png", "--out", out)
    assert again.exit_code == 2 and "already exists" in again.stderr


@pytest.fixture(scope="module")
def five_class(tmp_path_factory):
    from fusionkit.data.synthetic.imaging_5class import generate

    root = tmp_path_factory.mktemp("five")
    generate(root, per_class=10, size=24, seed=1)
    return root


def imaging_config(root, tmp_path, **encoder_params):
    params = {
        "spatial_size": [24, 24],
        "channels": "rgb",
        "intensity": "mean_subtraction",
        "widen_factor": 0.125,
        "augment": {"flip_prob": 0.5},
        "train": {"epochs": 3, "batch_size": 8, "select_by": "accuracy"},
        **encoder_params,
    }
    config = {
        "name": "five",
        "seed": 3,
        "data": {
            "root": str(root),
            "cohort": ".",
            "classes": ["chest_xray", "ct", "endoscopy", "hand_xray", "lung_ct"],
            "modalities": {"img": {"kind": "image", "path": "{subject_id}.png"}},
        },
        "encoders": {"img": {"type": "resnet10", "params": params}},
        "scenarios": ["img"],
        "methods": [
            {
                "name": "cnn",
                "type": "deep_concat",
                "params": {
                    "end_to_end": True,
                    "head": {"hidden": []},
                    "train": {"epochs": 3, "batch_size": 8, "select_by": "accuracy"},
                },
            }
        ],
        "evaluation": {"holdout": 0.2},
        "runtime": {"threads": 1},
        "output": {"final_models": [{"scenario": "img", "method": "cnn"}]},
    }
    path = tmp_path / "five.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def trained(five_class, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("imaging")
    config = load_config(imaging_config(five_class, tmp))
    outcome = run_experiment(config, tmp / "run")
    assert not outcome.failures
    return tmp / "run"


def test_classifier_run_keeps_models_and_reports(trained):
    for cell in ("img__cnn__r0f0", "img__cnn__final"):
        assert (trained / "models" / "cells" / cell / "tensors.pt").is_file()
    assert (trained / "figures" / "training.png").is_file()
    assert (trained / "figures" / "confusion.png").is_file()
    assert "Training curves" in (trained / "report.md").read_text()
    predictions = pd.read_csv(trained / "predictions.csv")
    assert len(predictions) == 10  # 20 % of 50
    assert predictions.y_true.value_counts().to_dict() == dict.fromkeys(
        ["chest_xray", "ct", "endoscopy", "hand_xray", "lung_ct"], 2
    )


def test_predict_classifies_files_and_reports_unreadable(cli, trained, five_class, tmp_path):
    query = tmp_path / "query"
    query.mkdir()
    for name in ("ct/ct_0001.png", "endoscopy/endoscopy_0003.png"):
        (query / name.split("/")[1]).write_bytes((five_class / name).read_bytes())
    (query / "broken.jpg").write_text("text")
    out = tmp_path / "pred.csv"
    result = cli(
        "predict", trained, query, five_class / "lung_ct" / "lung_ct_0002.png", "--csv", out
    )
    assert result.exit_code == 2
    assert f"error: {query / 'broken.jpg'}: cannot read as JPEG" in result.stderr
    table = pd.read_csv(out)
    assert len(table) == 3
    assert set(table.predicted) <= {"chest_xray", "ct", "endoscopy", "hand_xray", "lung_ct"}
    probs = table.filter(like="p_").to_numpy()
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-4)
    assert table.predicted.tolist() == [table.columns[3:][i][2:] for i in probs.argmax(1)]
    assert set(table.model) == {"img__cnn__final"}  # the model trained on every image


def test_mean_subtraction_uses_the_training_part_only(five_class):
    from fusionkit.config import EncoderSpec, resolved
    from fusionkit.data.cohort import load_cohort

    config = load_config(imaging_config(five_class, five_class.parent))
    cohort = load_cohort(config)
    data = cohort.modalities["img"]
    train_ids = cohort.ids[:30]
    encoder = resolved(
        EncoderSpec(
            type="resnet10",
            params={"spatial_size": [24, 24], "channels": "rgb", "intensity": "mean_subtraction"},
        )
    ).build()
    encoder.fit_preprocessing(data.subset(train_ids), cohort.y[:30])
    expected = encoder._arrays(data.subset(train_ids)).mean(axis=0)
    assert np.allclose(encoder.mean_, expected)
    everyone = encoder._arrays(data).mean(axis=0)
    assert not np.allclose(encoder.mean_, everyone)


def test_augmentation_changes_batches_reproducibly():
    import torch

    from fusionkit.encoders.cnn import CNNParams, ResNet10Encoder
    from fusionkit.training.context import FitContext

    encoder = ResNet10Encoder(CNNParams(spatial_size=[16, 16], augment={"affine_prob": 1.0}))
    encoder.size_ = (16, 16)
    x = torch.rand((4, 1, 16, 16))
    a = encoder.augmenter(FitContext(seed=5))([x])[0]
    b = encoder.augmenter(FitContext(seed=5))([x])[0]
    assert a.shape == x.shape and not torch.allclose(a, x)
    assert torch.equal(a, b)


def test_fine_tune_from_an_earlier_runs_kept_model(trained, five_class, tmp_path):
    """Pretrain (the run above), then start another run's CNN from its kept model."""
    import torch

    checkpoint = trained / "models" / "cells" / "img__cnn__final"
    from fusionkit.config import EncoderSpec, resolved

    encoder = resolved(
        EncoderSpec(
            type="resnet10",
            params={
                "spatial_size": [24, 24],
                "channels": "rgb",
                "widen_factor": 0.125,
                "weights": str(checkpoint),
            },
        )
    ).build()
    backbone, _ = encoder.make_backbone(torch.zeros((2, 3, 24, 24)))
    kept = torch.load(checkpoint / "tensors.pt", weights_only=True)
    prefix = "state.fusion.model.backbones.0."
    for name, value in backbone.state_dict().items():
        assert torch.equal(value, kept[prefix + name]), name
    config = load_config(imaging_config(five_class, tmp_path, weights=str(checkpoint)))
    outcome = run_experiment(config, tmp_path / "finetuned")
    assert not outcome.failures


def test_predict_reads_dicom_too(cli, trained, tmp_path):
    from pydicom.data import get_testdata_file

    ct = get_testdata_file("CT_small.dcm", download=False)
    result = cli("predict", trained, ct, "--csv", tmp_path / "p.csv")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "p.csv")
    assert table.subject.tolist() == [str(ct)]


def test_predict_never_overwrites_an_existing_csv(cli, trained, five_class, tmp_path):
    out = tmp_path / "keep.csv"
    out.write_text("precious")
    result = cli("predict", trained, five_class / "ct" / "ct_0001.png", "--csv", out)
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {out}: already exists; choose another --csv path"
    assert out.read_text() == "precious"


def test_small_image_stem_keeps_the_resolution_of_a_28_px_image():
    """stem: small (3x3 stride-1 convolution, no max-pool) hands the first block the whole
    28 x 28 image; the ImageNet stem hands it 7 x 7 (a sixteenth of the pixels)."""
    import torch

    from fusionkit.encoders.cnn import ResNet18Encoder, ResNetParams

    x = torch.zeros((2, 1, 28, 28))
    sizes = {}
    for stem in ("imagenet", "small"):
        encoder = ResNet18Encoder(ResNetParams(stem=stem, widen_factor=0.25))
        net, dim = encoder.new_backbone(x)
        seen = []
        net.layer1.register_forward_hook(lambda _m, _i, out, seen=seen: seen.append(out.shape))
        net(x)
        sizes[stem] = tuple(seen[0][-2:])
        assert dim > 0
    assert sizes == {"imagenet": (7, 7), "small": (28, 28)}
    explicit = ResNet18Encoder(ResNetParams(stem="small", conv1_t_stride=2))
    net, _ = explicit.new_backbone(x)
    assert net.conv1.stride == (2, 2) and net.conv1.kernel_size == (3, 3)


def test_the_stem_is_a_resnet_setting(cli, base_config, write_config):
    import copy

    config = copy.deepcopy(base_config)
    config["encoders"] = {"img": {"type": "densenet121", "params": {"stem": "small"}}}
    result = cli("validate", write_config(config))
    assert result.exit_code == 2
    assert "encoders.img.params.stem" in result.stderr
