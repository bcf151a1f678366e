"""Deep encoders for tables and genotypes: an MLP and a stacked denoising autoencoder.

Both start from the ``raw`` encoding (imputed, standardised, one-hot; fitted on the training
part) and stack fully connected layers (default 200-100-75, as in the ADNI study), each followed
by ReLU and dropout; the last layer's output is the embedding. The denoising autoencoder first
learns to reconstruct its input from a copy with a share of the entries masked to zero
(unsupervised, ``pretrain_epochs``), then is fine-tuned with a classification head like the MLP.
"""

from __future__ import annotations

import itertools

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fusionkit.data.modality import TableData
from fusionkit.encoders.raw import RawEncoder, RawParams
from fusionkit.encoders.torch_base import Output, OutputField, TorchEncoder, torch_encoder_tags
from fusionkit.hookspecs import hookimpl
from fusionkit.training.context import FitContext
from fusionkit.training.loop import TrainParams, train


class MLPParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hidden: list[int] = Field(default_factory=lambda: [200, 100, 75], min_length=1)
    dropout: float = Field(0.2, ge=0, lt=1)
    output: Output = OutputField
    raw: RawParams = Field(
        default_factory=RawParams,
        description="How the table is encoded for the network (the raw encoder's params, e.g. "
        "min_maf for genotypes); fitted on the training part.",
    )
    train: TrainParams = Field(default_factory=TrainParams)


class DenoisingAutoencoderParams(MLPParams):
    noise: float = Field(0.2, ge=0, lt=1, description="Share of inputs masked to zero.")
    pretrain_epochs: int = Field(30, ge=0, description="Unsupervised reconstruction epochs.")


def _stack(sizes: list[int], dropout: float):
    from torch import nn

    layers: list = []
    for a, b in itertools.pairwise(sizes):
        layers += [nn.Linear(a, b), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class MLPEncoder(TorchEncoder):
    """Fully connected layers on the raw encoding of a table."""

    def __init__(self, params: MLPParams):
        self.params = params

    def fit_preprocessing(self, data: TableData, y: np.ndarray) -> None:
        self.raw_ = RawEncoder(self.params.raw).fit(data)

    def preprocessing_state(self) -> dict:
        return {"raw": self.raw_.get_state()}

    def set_preprocessing_state(self, state: dict) -> None:
        self.raw_ = RawEncoder(self.params.raw)
        self.raw_.set_state(state["raw"])

    def to_tensor(self, data: TableData):
        import torch

        return torch.as_tensor(self.raw_.transform(data), dtype=torch.float32)

    def new_backbone(self, example):
        sizes = [int(example.shape[1]), *self.params.hidden]
        return _stack(sizes, self.params.dropout), sizes[-1]


class DenoisingAutoencoder(MLPEncoder):
    """An MLP whose layers are first trained to denoise masked inputs (unsupervised)."""

    params: DenoisingAutoencoderParams

    def pretrain(self, backbone, x_fit, x_val, ctx: FitContext) -> None:
        import torch
        import torch.nn.functional as F

        if self.params.pretrain_epochs == 0:
            return
        decoder = _stack([*reversed([int(x_fit.shape[1]), *self.params.hidden])], 0.0)
        decoder = decoder[:-1]  # no ReLU on the reconstruction: inputs are standardised
        autoencoder = torch.nn.Sequential(backbone, decoder)
        generator = torch.Generator().manual_seed(ctx.seed)
        noise = self.params.noise

        def loss(model, batch):
            x = batch[0]
            if model.training and noise:
                keep = torch.rand(x.shape, generator=generator) >= noise
                return F.mse_loss(model(x * keep.to(x.device)), x)
            return F.mse_loss(model(x), x)

        settings = self.params.train.model_copy(update={"epochs": self.params.pretrain_epochs})
        train(autoencoder, loss, (x_fit,), (x_val,) if len(x_val) else None, settings, ctx)


@hookimpl
def register_encoders(register):
    register(
        "mlp",
        MLPEncoder,
        params=MLPParams,
        description="Fully connected network (default 200-100-75) trained with a class head.",
        modalities=("table", "genotype"),
        tags=torch_encoder_tags,
    )
    register(
        "denoising_autoencoder",
        DenoisingAutoencoder,
        params=DenoisingAutoencoderParams,
        description="Stacked denoising autoencoder: masked-input pretraining, then fine-tuning.",
        modalities=("table", "genotype"),
        tags=torch_encoder_tags,
    )
