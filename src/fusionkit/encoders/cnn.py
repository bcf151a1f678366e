"""CNN encoders for images (2D or 3D, any number of channels): MONAI ResNet and DenseNet.

Each is a `monai.networks.nets` backbone without its classification layer (ResNets built with
``feed_forward=False``), trained with a linear class head through fusionkit's training loop and
used for features. The spatial dimensionality and input channels come from the data: never
MONAI's defaults (``spatial_dims=3``, ``num_classes=400``). Weights are never downloaded: give
``weights`` a local file — a state dict, e.g. ``models/img.pt`` written by an earlier fusionkit
run — to fine-tune from it (transfer learning).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fusionkit.config import TransformSpec
from fusionkit.data.image_tensors import SubjectImages, image_channels, stack_subjects
from fusionkit.data.modality import ImageData
from fusionkit.encoders.torch_base import Output, OutputField, TorchEncoder, torch_encoder_tags
from fusionkit.errors import DataError
from fusionkit.hookspecs import hookimpl
from fusionkit.training.loop import TrainParams


def _cnn_train_defaults() -> TrainParams:
    return TrainParams(epochs=30, batch_size=16, lr=1e-3, patience=6)


class AugmentParams(BaseModel):
    """Random training-time augmentation with MONAI (``RandAffine`` + ``RandFlip``)."""

    model_config = ConfigDict(extra="forbid")

    affine_prob: float = Field(0.8, ge=0, le=1, description="MONAI's default 0.1 is too rare.")
    rotate_degrees: float = Field(15.0, ge=0, le=180)
    shear: float = Field(0.1, ge=0, le=1)
    scale: float = Field(0.1, ge=0, le=1, description="Zoom range: 1 +- scale.")
    flip_prob: float = Field(0.5, ge=0, le=1)
    flip_axis: int = Field(1, ge=0, le=2, description="Spatial axis to flip (1: left-right in 2D).")


class CNNParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    output: Output = OutputField
    spatial_size: list[int] | None = Field(
        None, min_length=2, max_length=3, description="Resize every image to this size."
    )
    channels: Literal["auto", "grey", "rgb"] = "auto"
    intensity: Literal["zscore", "mean_subtraction"] = Field(
        "zscore",
        description="zscore: per image; mean_subtraction: [0, 1] images minus the training mean.",
    )
    enhance: TransformSpec | None = Field(None, description="e.g. {type: ga_enhance}.")
    augment: AugmentParams | None = None
    widen_factor: float = Field(1.0, gt=0, le=4, description="ResNet width multiplier.")
    weights: str | None = Field(None, description="Local state-dict file to start from.")
    train: TrainParams = Field(default_factory=_cnn_train_defaults)


class ResNetParams(CNNParams):
    """A ResNet's params: those of every CNN, and its stem."""

    stem: Literal["imagenet", "small"] = Field(
        "imagenet",
        description="ResNet first layers. imagenet: 7x7 stride-2 convolution + max-pool (for "
        "images of 128 px and more); small: 3x3 stride-1 convolution, no max-pool (for 28-64 px, "
        "as MedMNIST's reference models), which keeps the detail of a small image.",
    )
    conv1_t_size: int | None = Field(
        None, ge=1, description="First convolution's kernel size (default: from stem)."
    )
    conv1_t_stride: int | None = Field(
        None, ge=1, description="First convolution's stride (default: from stem)."
    )
    no_max_pool: bool | None = Field(
        None, description="Leave out the max-pool after it (default: from stem)."
    )


class CNNEncoder(TorchEncoder):
    """A MONAI CNN backbone (see module docstring)."""

    arch = "resnet50"

    def __init__(self, params: CNNParams):
        self.params = params

    def fit_preprocessing(self, data: ImageData, y: np.ndarray) -> None:
        self.channels_ = image_channels(data, self.params.channels)
        self.views_ = max((len(v) for v in data.files.values()), default=1)
        self.size_ = tuple(self.params.spatial_size) if self.params.spatial_size else None
        enhance = self.params.enhance
        self.enhance_ = (
            json.dumps(
                {"type": enhance.type, "params": enhance.resolved_params.model_dump(mode="json")},
                sort_keys=True,
            )
            if enhance is not None
            else None
        )
        self.mean_ = None
        if self.params.intensity == "mean_subtraction":
            # The mean image of the training part only: the one statistic learnt from data.
            self.mean_ = SubjectImages(data, self._arrays).mean()

    def _arrays(self, data: ImageData) -> np.ndarray:
        intensity = "unit" if self.params.intensity == "mean_subtraction" else "zscore"
        return stack_subjects(
            data, self.channels_, self.size_, self.views_, intensity, self.enhance_
        )

    def _prepared(self, data: ImageData) -> np.ndarray:
        arrays = self._arrays(data)
        return arrays - self.mean_ if self.mean_ is not None else arrays

    def to_tensor(self, data: ImageData) -> SubjectImages:
        """The subjects' images, loaded batch by batch when a network reads them."""
        return SubjectImages(data, self._prepared)

    def augmenter(self, ctx):
        """MONAI RandAffine (rotation, shear, scale) + RandFlip on each training sample."""
        if self.params.augment is None:
            return None
        import torch
        from monai.transforms import Compose, RandAffine, RandFlip

        a = self.params.augment
        dims = len(self.size_) if self.size_ else None

        def build(spatial_dims: int):
            angle = np.deg2rad(a.rotate_degrees)
            rotate = (angle,) if spatial_dims == 2 else (angle, angle, angle)
            shear = (a.shear,) * (2 if spatial_dims == 2 else 6)
            transform = Compose(
                [
                    RandAffine(
                        prob=a.affine_prob,
                        rotate_range=rotate,
                        shear_range=shear,
                        scale_range=(a.scale,) * spatial_dims,
                        padding_mode="zeros",
                    ),
                    RandFlip(prob=a.flip_prob, spatial_axis=min(a.flip_axis, spatial_dims - 1)),
                ]
            )
            transform.set_random_state(seed=ctx.seed)
            return transform

        cache: dict[int, object] = {}

        def augment(inputs: list) -> list:
            x = inputs[0]
            spatial_dims = dims or x.ndim - 2
            if spatial_dims not in cache:
                cache[spatial_dims] = build(spatial_dims)
            transform = cache[spatial_dims]
            out = torch.stack([torch.as_tensor(np.asarray(transform(s))) for s in x])
            return [out.float(), *inputs[1:]]

        return augment

    def check_data(self, data: ImageData) -> list[str]:
        """Before training: image dimensionality against ``spatial_size``, and sizes that
        differ without one (known when the reader loaded the images, ``verify: full``)."""
        if not data.shapes:
            return []
        dims = data.spatial_dims
        if self.params.spatial_size and len(self.params.spatial_size) != dims:
            return [
                f"params.spatial_size has {len(self.params.spatial_size)} values but the images "
                f"of {data.source} are {dims}D"
            ]
        if not self.params.spatial_size and len(data.shapes) > 1:
            shown = ", ".join("x".join(map(str, s)) for s in sorted(data.shapes)[:3])
            return [f"images of {data.source} differ in size ({shown}); set params.spatial_size"]
        return []

    def preprocessing_state(self) -> dict:
        return {
            "channels": self.channels_,
            "views": self.views_,
            "size": list(self.size_) if self.size_ else None,
            "enhance": self.enhance_,
            "mean": self.mean_,
        }

    def set_preprocessing_state(self, state: dict) -> None:
        self.channels_, self.views_ = state["channels"], int(state["views"])
        self.size_ = tuple(state["size"]) if state["size"] else None
        self.enhance_, self.mean_ = state["enhance"], state["mean"]

    def initial_weights(self, backbone) -> None:
        if self.params.weights:
            load_weights(backbone, Path(self.params.weights))

    def new_backbone(self, example):
        import torch

        spatial_dims = example.ndim - 2
        in_channels = int(example.shape[1])
        net = build_backbone(
            self.arch, spatial_dims, in_channels, self.params.widen_factor, stem_of(self.params)
        )
        net.eval()
        with torch.no_grad():
            dim = int(net(example[:1].float()).shape[1])
        return net, dim


STEMS = {
    "imagenet": {"conv1_t_size": 7, "conv1_t_stride": 2, "no_max_pool": False},
    "small": {"conv1_t_size": 3, "conv1_t_stride": 1, "no_max_pool": True},
}


def stem_of(params: CNNParams | ResNetParams) -> dict:
    """MONAI ResNet's stem arguments: the ``stem`` preset, with any explicit override."""
    stem = dict(STEMS[getattr(params, "stem", "imagenet")])
    for key in stem:
        value = getattr(params, key, None)
        if value is not None:
            stem[key] = value
    return stem


def build_backbone(
    arch: str,
    spatial_dims: int,
    in_channels: int,
    widen_factor: float = 1.0,
    stem: dict | None = None,
):
    """A MONAI network without its classifier, outputting a feature vector per input;
    ``stem``: a ResNet's ``conv1_t_size``, ``conv1_t_stride``, ``no_max_pool``."""
    from monai.networks import nets
    from torch import nn

    if arch.startswith("resnet"):
        return getattr(nets, arch)(
            spatial_dims=spatial_dims,
            n_input_channels=in_channels,
            feed_forward=False,
            widen_factor=widen_factor,
            pretrained=False,
            **(stem or STEMS["imagenet"]),
        )
    if arch == "densenet121":
        net = nets.DenseNet121(spatial_dims=spatial_dims, in_channels=in_channels, out_channels=1)
        net.class_layers.out = nn.Identity()
        return net
    raise ValueError(f"unknown architecture {arch!r}")


def load_weights(net, path: Path) -> None:
    """Load weights into ``net`` (matching names and shapes only); a useless file is an error.

    ``path`` is a state dict (``models/<modality>-<encoder>.pt`` of an earlier run, or any
    local file), or a cell's kept model (``models/cells/<cell>/``) whose first network is
    used: pretrain on one data set, fine-tune on another. Read with ``weights_only=True``.
    """
    import torch

    if path.is_dir() and (path / "tensors.pt").is_file():
        path = path / "tensors.pt"  # a kept model of a cell (models/cells/<cell>/)
    if not path.is_file():
        raise DataError(f"{path}: weights file not found (encoder params.weights)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise DataError(f"{path}: cannot load weights: {str(exc).splitlines()[0]}") from None
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    for marker in (".backbones.0.", ".backbone."):  # the first network of a kept cell model
        found = {k.split(marker, 1)[1]: v for k, v in state.items() if marker in k}
        if found:
            state = found
            break
    own = net.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not usable:
        raise DataError(f"{path}: no weights match this network (architecture or channels differ)")
    net.load_state_dict(usable, strict=False)


class ResNet10Encoder(CNNEncoder):
    arch = "resnet10"


class ResNet18Encoder(CNNEncoder):
    arch = "resnet18"


class ResNet50Encoder(CNNEncoder):
    arch = "resnet50"


class DenseNet121Encoder(CNNEncoder):
    arch = "densenet121"


@hookimpl
def register_encoders(register):
    for name, cls, text in (
        ("resnet10", ResNet10Encoder, "ResNet-10"),
        ("resnet18", ResNet18Encoder, "ResNet-18"),
        ("resnet50", ResNet50Encoder, "ResNet-50"),
        ("densenet121", DenseNet121Encoder, "DenseNet-121"),
    ):
        register(
            name,
            cls,
            params=ResNetParams if name.startswith("resnet") else CNNParams,
            description=f"{text} (MONAI), 2D or 3D, any channels; trained with a class head.",
            modalities=("image",),
            tags=torch_encoder_tags,
        )
