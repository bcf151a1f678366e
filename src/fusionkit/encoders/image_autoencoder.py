"""``image_autoencoder``: self-supervised image features learnt inside the fold.

A MONAI convolutional ``AutoEncoder`` is trained to reconstruct the images of the fold's
training subjects (mean squared error, early stopping on a validation part of them); the image
embedding is its encoder's output, averaged over space (``filters[-1]`` values per subject).
No label is used, so the embedding of a training subject is no more informative than a test
subject's: fusions can be trained on it without cross-fitting. The images are prepared as for
the CNN encoders (channels, ``spatial_size``, per-image z-score).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fusionkit.api import Tags
from fusionkit.config import TransformSpec
from fusionkit.data.modality import ImageData
from fusionkit.encoders.cnn import CNNEncoder
from fusionkit.hookspecs import hookimpl
from fusionkit.training.context import FitContext
from fusionkit.training.loop import TrainParams, carve, predict_batches, seed_everything, train


def _train_defaults() -> TrainParams:
    return TrainParams(epochs=40, patience=6, batch_size=16, lr=1e-3)


class ImageAutoencoderParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    spatial_size: list[int] | None = Field(
        None, min_length=2, max_length=3, description="Resize every image to this size."
    )
    channels: Literal["auto", "grey", "rgb"] = "auto"
    intensity: Literal["zscore"] = "zscore"
    enhance: TransformSpec | None = Field(None, description="e.g. {type: ga_enhance}.")
    filters: list[int] = Field(
        default_factory=lambda: [16, 32, 64],
        min_length=1,
        description="Channels of the encoder's stride-2 convolutions (the last: embedding size).",
    )
    train: TrainParams = Field(default_factory=_train_defaults)


class ImageAutoencoder(CNNEncoder):
    """Reconstruction-trained convolutional encoder (see module docstring)."""

    def __init__(self, params: ImageAutoencoderParams):
        self.params = params

    def _network(self, spatial_dims: int, in_channels: int):
        from monai.networks.nets import AutoEncoder

        filters = tuple(self.params.filters)
        return AutoEncoder(
            spatial_dims, in_channels, in_channels, channels=filters, strides=(2,) * len(filters)
        )

    @staticmethod
    def _pooled(autoencoder):
        from torch import nn

        pool = nn.AdaptiveAvgPool2d(1) if autoencoder.dimensions == 2 else nn.AdaptiveAvgPool3d(1)
        return nn.Sequential(autoencoder.encode, pool, nn.Flatten()).eval()

    def fit(self, data: ImageData, y: np.ndarray, ctx: FitContext) -> ImageAutoencoder:
        import torch.nn.functional as F

        self.fit_preprocessing(data, y)
        x = self.to_tensor(data)
        example = x[:1]
        self.dims_, self.in_channels_ = example.ndim - 2, int(example.shape[1])
        seed_everything(ctx.seed, ctx.threads)
        autoencoder = self._network(self.dims_, self.in_channels_)
        unlabelled = np.zeros_like(y)  # the validation part is drawn without the labels too
        (x_fit,), _, (x_val,), _ = carve([x], unlabelled, ctx, data.ids)

        def loss(model, batch):
            return F.mse_loss(model(batch[0]), batch[0])

        val = (x_val,) if len(x_val) else None
        self.history_ = train(autoencoder, loss, (x_fit,), val, self.params.train, ctx)
        self.backbone_ = self._pooled(autoencoder)
        self.device_ = ctx.device
        self.feature_names_ = [f"ae{i}" for i in range(self.params.filters[-1])]
        return self

    def transform(self, data: ImageData) -> np.ndarray:
        x = self.to_tensor(data)
        return predict_batches(self.backbone_, [x], 16, self.device_).astype(np.float32)

    def get_state(self) -> dict:
        return {
            "preprocessing": self.preprocessing_state(),
            "dims": self.dims_,
            "in_channels": self.in_channels_,
            "network": self.backbone_.state_dict(),
        }

    def set_state(self, state: dict) -> None:
        self.set_preprocessing_state(state["preprocessing"])
        self.dims_, self.in_channels_ = int(state["dims"]), int(state["in_channels"])
        self.backbone_ = self._pooled(self._network(self.dims_, self.in_channels_))
        self.backbone_.load_state_dict(state["network"])
        self.device_ = "cpu"
        self.feature_names_ = [f"ae{i}" for i in range(self.params.filters[-1])]


@hookimpl
def register_encoders(register):
    register(
        "image_autoencoder",
        ImageAutoencoder,
        params=ImageAutoencoderParams,
        description="Convolutional autoencoder trained on the fold's images (no labels).",
        modalities=("image",),
        tags=Tags(),
    )
