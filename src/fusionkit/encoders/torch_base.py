"""The shape every deep encoder shares: preprocessing, a backbone network, supervised training.

Subclasses say how data becomes a tensor (`fit_preprocessing`, `to_tensor`) and which backbone
turns a tensor into an embedding (`make_backbone`); optionally `pretrain` (e.g. a denoising
autoencoder's unsupervised phase). `fit` trains backbone + linear head on the fold's training
part with early stopping on a validation part carved out of it; `transform` returns the
backbone's embeddings. The deep-fusion strategy uses the same pieces to train end to end.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fusionkit.training.context import FitContext
from fusionkit.training.loop import (
    History,
    TrainParams,
    carve,
    predict_batches,
    seed_everything,
    train_classifier,
)


class TorchEncoder:
    """Base class of deep encoders (see module docstring)."""

    params: Any

    @property
    def train_params(self) -> TrainParams:
        return self.params.train

    # -- to be provided by subclasses ----------------------------------------------------------
    def fit_preprocessing(self, data: Any, y: np.ndarray) -> None:
        """Fit whatever turns data into tensors (on training data only)."""

    def to_tensor(self, data: Any):
        raise NotImplementedError

    def make_backbone(self, example) -> tuple[Any, int]:
        """A fresh backbone for inputs like ``example`` and its embedding size."""
        raise NotImplementedError

    def pretrain(self, backbone, x_fit, x_val, ctx: FitContext) -> None:
        """An optional unsupervised phase before supervised training."""

    def augmenter(self, ctx: FitContext):
        """A callable augmenting training batches (list of input tensors), or None."""
        return None

    # -- shared ----------------------------------------------------------------------------------
    def fit(
        self,
        data: Any,
        y: np.ndarray,
        ctx: FitContext | None = None,
        validation: tuple[Any, np.ndarray] | None = None,
    ) -> TorchEncoder:
        """Train on ``data``; early stopping on ``validation`` if given (e.g. an official
        validation split), else on a part carved out of ``data``."""
        from torch import nn

        ctx = ctx or FitContext(n_classes=int(np.max(y)) + 1)
        seed_everything(ctx.seed, ctx.threads)
        self.fit_preprocessing(data, y)
        x = self.to_tensor(data)
        if validation is None:
            (x_fit,), y_fit, (x_val,), y_val = carve([x], y, ctx, getattr(data, "ids", None))
        else:
            x_fit, y_fit = x, y
            x_val, y_val = self.to_tensor(validation[0]), np.asarray(validation[1])
        backbone, dim = self.make_backbone(x[:2])
        self.pretrain(backbone, x_fit, x_val, ctx)
        model = nn.Sequential(backbone, nn.Linear(dim, ctx.n_classes))
        self.history_: History = train_classifier(
            model,
            ([x_fit], y_fit),
            ([x_val], y_val),
            self.train_params,
            ctx,
            augment=self.augmenter(ctx),
        )
        self.backbone_ = backbone.cpu().eval()
        self.head_ = model[1].cpu().eval()
        return self

    def transform(self, data: Any) -> np.ndarray:
        x = self.to_tensor(data)
        return predict_batches(self.backbone_, [x], 64, "cpu").astype(np.float32)

    def predict_proba(self, data: Any) -> np.ndarray:
        """Class probabilities of the trained backbone + head (the single-modality deep model)."""
        import torch

        x = self.to_tensor(data)

        def forward(t):
            return torch.softmax(self.head_(self.backbone_(t)), dim=1)

        return predict_batches(forward, [x], 64, "cpu")
