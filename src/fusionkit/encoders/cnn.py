"""CNN encoders for images (2D or 3D, any number of channels): MONAI ResNet and DenseNet.

Each is a `monai.networks.nets` backbone without its classification layer (ResNets built with
``feed_forward=False``), trained with a linear class head through fusionkit's training loop and
used for features. The spatial dimensionality and input channels come from the data: never
MONAI's defaults (``spatial_dims=3``, ``num_classes=400``). Weights are never downloaded: give
``weights`` a local file — a state dict, e.g. ``models/img.pt`` written by an earlier fusionkit
run — to fine-tune from it (transfer learning).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fusionkit.data.image_tensors import image_channels, stack_subjects
from fusionkit.data.modality import ImageData
from fusionkit.encoders.torch_base import TorchEncoder
from fusionkit.errors import DataError
from fusionkit.hookspecs import hookimpl
from fusionkit.training.loop import TrainParams


def _cnn_train_defaults() -> TrainParams:
    return TrainParams(epochs=30, batch_size=16, lr=1e-3, patience=6)


class CNNParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    spatial_size: list[int] | None = Field(
        None, min_length=2, max_length=3, description="Resize every image to this size."
    )
    channels: Literal["auto", "grey", "rgb"] = "auto"
    widen_factor: float = Field(1.0, gt=0, le=4, description="ResNet width multiplier.")
    weights: str | None = Field(None, description="Local state-dict file to start from.")
    train: TrainParams = Field(default_factory=_cnn_train_defaults)


class CNNEncoder(TorchEncoder):
    """A MONAI CNN backbone (see module docstring)."""

    arch = "resnet50"

    def __init__(self, params: CNNParams):
        self.params = params

    def fit_preprocessing(self, data: ImageData, y: np.ndarray) -> None:
        self.channels_ = image_channels(data, self.params.channels)
        self.views_ = max((len(v) for v in data.files.values()), default=1)
        self.size_ = tuple(self.params.spatial_size) if self.params.spatial_size else None

    def to_tensor(self, data: ImageData):
        import torch

        return torch.as_tensor(stack_subjects(data, self.channels_, self.size_, self.views_))

    def make_backbone(self, example):
        import torch

        spatial_dims = example.ndim - 2
        in_channels = int(example.shape[1])
        net = build_backbone(self.arch, spatial_dims, in_channels, self.params.widen_factor)
        if self.params.weights:
            load_weights(net, Path(self.params.weights))
        net.eval()
        with torch.no_grad():
            dim = int(net(example[:1].float()).shape[1])
        return net, dim


def build_backbone(arch: str, spatial_dims: int, in_channels: int, widen_factor: float = 1.0):
    """A MONAI network without its classifier, outputting a feature vector per input."""
    from monai.networks import nets
    from torch import nn

    if arch.startswith("resnet"):
        return getattr(nets, arch)(
            spatial_dims=spatial_dims,
            n_input_channels=in_channels,
            feed_forward=False,
            widen_factor=widen_factor,
            pretrained=False,
        )
    if arch == "densenet121":
        net = nets.DenseNet121(spatial_dims=spatial_dims, in_channels=in_channels, out_channels=1)
        net.class_layers.out = nn.Identity()
        return net
    raise ValueError(f"unknown architecture {arch!r}")


def load_weights(net, path: Path) -> None:
    """Load a local state dict into ``net`` (matching keys only); a useless file is an error."""
    import torch

    if not path.is_file():
        raise DataError(f"{path}: weights file not found (encoder params.weights)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise DataError(f"{path}: cannot load weights: {str(exc).splitlines()[0]}") from None
    state = state.get("state_dict", state) if isinstance(state, dict) else state
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
            params=CNNParams,
            description=f"{text} (MONAI), 2D or 3D, any channels; trained with a class head.",
            modalities=("image",),
        )
