"""Deep (intermediate) fusion: per-modality encoder embeddings, concatenated, into an MLP head.

By default the encoders are the modalities' own (``encoders.*``), trained once per fold and
cached; the head is trained on their embeddings. With ``end_to_end: true`` the encoders'
networks and the head are trained jointly for the cell, from the same starting point. Either way
a missing modality contributes a zero embedding plus an availability indicator, and early
stopping uses a validation part of the training subjects.
"""

from __future__ import annotations

import itertools

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fusionkit.encoders.torch_base import TorchEncoder
from fusionkit.errors import ConfigError
from fusionkit.fusion.base import FusionInput
from fusionkit.hookspecs import hookimpl
from fusionkit.training.context import FitContext
from fusionkit.training.loop import (
    TrainParams,
    carve,
    predict_batches,
    seed_everything,
    train_classifier,
)


class HeadParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hidden: list[int] = Field(default_factory=lambda: [64])
    dropout: float = Field(0.3, ge=0, lt=1)


class DeepConcatParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    head: HeadParams = Field(default_factory=HeadParams)
    train: TrainParams = Field(default_factory=lambda: TrainParams(epochs=100, patience=10))
    end_to_end: bool = Field(False, description="Train encoders and head jointly per cell.")


def _mlp(sizes: list[int], dropout: float, n_out: int):
    from torch import nn

    layers: list = []
    for a, b in itertools.pairwise(sizes):
        layers += [nn.Linear(a, b), nn.ReLU(), nn.Dropout(dropout)]
    layers.append(nn.Linear(sizes[-1], n_out))
    return nn.Sequential(*layers)


class DeepConcat:
    def __init__(self, params: DeepConcatParams):
        self.params = params

    # -- embeddings -> head ----------------------------------------------------------------------
    def _head_input(self, inp: FusionInput) -> np.ndarray:
        x = inp.concatenated(indicators=True)
        x = (x - self.mean_) / self.scale_
        return np.nan_to_num(x, nan=0.0).astype(np.float32)  # missing = the training mean

    def fit(self, inp: FusionInput, y: np.ndarray, ctx: FitContext) -> DeepConcat:
        self.n_classes_ = ctx.n_classes
        if self.params.end_to_end:
            return self._fit_end_to_end(inp, y, ctx)
        import torch

        raw = inp.concatenated(indicators=True)
        self.mean_ = np.nan_to_num(np.nanmean(raw, axis=0))
        self.scale_ = np.nan_to_num(np.nanstd(raw, axis=0), nan=1.0)
        self.scale_[self.scale_ == 0] = 1.0
        x = torch.as_tensor(self._head_input(inp))
        seed_everything(ctx.seed, ctx.threads)
        self.model_ = _mlp(
            [x.shape[1], *self.params.head.hidden], self.params.head.dropout, ctx.n_classes
        )
        self._train(self.model_, [x], y, inp.ids, ctx)
        return self

    def _train(
        self, model, inputs: list, y: np.ndarray, ids: list[str], ctx: FitContext, augment=None
    ) -> None:
        x_fit, y_fit, x_val, y_val = carve(inputs, y, ctx, ids)
        self.history_ = train_classifier(
            model, (x_fit, y_fit), (x_val, y_val), self.params.train, ctx, augment
        )

    # -- end to end --------------------------------------------------------------------------
    def _tensors(self, inp: FusionInput) -> list:
        import torch

        out = []
        for m in inp.modalities:
            rows = np.flatnonzero(inp.available[m])
            part = self.encoders_[m].to_tensor(inp.data[m]) if len(rows) else None
            shape = self.shapes_[m]
            full = torch.zeros((len(inp.ids), *shape), dtype=torch.float32)
            if part is not None:
                full[torch.as_tensor(rows)] = part.float()
            out.append(full)
        out.append(torch.as_tensor(inp.indicators()))
        return out

    def _fit_end_to_end(self, inp: FusionInput, y: np.ndarray, ctx: FitContext) -> DeepConcat:
        seed_everything(ctx.seed, ctx.threads)
        self.encoders_, self.shapes_, backbones, dims = {}, {}, [], []
        for m in inp.modalities:
            encoder = inp.encoders[m].build()
            if not isinstance(encoder, TorchEncoder):
                raise ConfigError(
                    f"deep_concat end_to_end needs a trainable encoder for {m!r}; "
                    f"{inp.encoders[m].type!r} is not one"
                )
            rows = inp.available[m]
            encoder.fit_preprocessing(inp.data[m], y[rows])
            example = encoder.to_tensor(inp.data[m])
            backbone, dim = encoder.make_backbone(example[:2])
            self.encoders_[m], self.shapes_[m] = encoder, tuple(example.shape[1:])
            backbones.append(backbone)
            dims.append(dim)
        head = _mlp(
            [sum(dims) + len(dims), *self.params.head.hidden],
            self.params.head.dropout,
            ctx.n_classes,
        )
        from fusionkit.fusion._torch_modules import JointNet

        self.model_ = JointNet(backbones, head)
        augmenters = [self.encoders_[m].augmenter(ctx) for m in inp.modalities]
        augment = None
        if any(a is not None for a in augmenters):

            def augment(inputs: list) -> list:
                xs, rest = inputs[: len(augmenters)], list(inputs[len(augmenters) :])
                pairs = zip(augmenters, xs, strict=True)
                return [a([x])[0] if a is not None else x for a, x in pairs] + rest

        self._train(self.model_, self._tensors(inp), y, inp.ids, ctx, augment)
        return self

    def predict_proba(self, inp: FusionInput) -> np.ndarray:
        import torch

        if self.params.end_to_end:
            inputs = self._tensors(inp)
        else:
            inputs = [torch.as_tensor(self._head_input(inp))]
        self.model_.eval()

        def forward(*batch):
            return torch.softmax(self.model_(*batch), dim=1)

        return predict_batches(forward, inputs, 64, "cpu").astype(np.float64)


@hookimpl
def register_fusions(register):
    register(
        "deep_concat",
        DeepConcat,
        params=DeepConcatParams,
        description="Deep fusion: encoder embeddings concatenated into an MLP head, or end to end.",
    )
