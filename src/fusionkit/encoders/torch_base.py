"""The shape every deep encoder shares: preprocessing, a backbone network, supervised training.

Subclasses say how data becomes a tensor (`fit_preprocessing`, `to_tensor`) and which backbone
turns a tensor into an embedding (`make_backbone`); optionally `pretrain` (e.g. a denoising
autoencoder's unsupervised phase). `fit` trains backbone + linear head on the fold's training
part with early stopping on a validation part carved out of it; `transform` returns the
backbone's embeddings. The deep-fusion strategy uses the same pieces to train end to end.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from fusionkit.api import Tags
from fusionkit.training.context import FitContext
from fusionkit.training.loop import (
    History,
    TrainParams,
    carve,
    predict_batches,
    seed_everything,
    softmax,
    train_classifier,
)


class TorchEncoder:
    """Base class of deep encoders (see module docstring)."""

    params: Any
    device_: str = "cpu"

    @property
    def train_params(self) -> TrainParams:
        return self.params.train

    # -- to be provided by subclasses ----------------------------------------------------------
    def fit_preprocessing(self, data: Any, y: np.ndarray) -> None:
        """Fit whatever turns data into tensors (on training data only)."""

    def preprocessing_state(self) -> dict[str, Any]:
        """What `fit_preprocessing` learnt, as plain state (`fusionkit.persist`)."""
        return {}

    def set_preprocessing_state(self, state: dict[str, Any]) -> None:
        """Restore what `preprocessing_state` returned."""

    def to_tensor(self, data: Any):
        raise NotImplementedError

    def new_backbone(self, example) -> tuple[Any, int]:
        """A freshly initialised backbone for inputs like ``example`` and its embedding size."""
        raise NotImplementedError

    def initial_weights(self, backbone) -> None:
        """Load starting weights into a new backbone before training (e.g. transfer learning)."""

    def pretrain(self, backbone, x_fit, x_val, ctx: FitContext) -> None:
        """An optional unsupervised phase before supervised training."""

    def augmenter(self, ctx: FitContext):
        """A callable augmenting training batches (list of input tensors), or None."""
        return None

    # -- shared ----------------------------------------------------------------------------------
    def make_backbone(self, example) -> tuple[Any, int]:
        """The backbone training starts from: `new_backbone` with its `initial_weights`."""
        backbone, dim = self.new_backbone(example)
        self.initial_weights(backbone)
        return backbone, dim

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
        self.input_shape_ = [int(v) for v in x.shape[1:]]
        self.n_classes_ = ctx.n_classes
        self.device_ = ctx.device
        self.backbone_, self.head_ = backbone.eval(), model[1].eval()
        return self

    def transform(self, data: Any) -> np.ndarray:
        """The embedding (``params.output: embedding``) or the class probabilities of the
        trained head (``probabilities``: comparable across refits, so cross-fittable)."""
        if getattr(self.params, "output", "embedding") == "probabilities":
            return self.predict_proba(data).astype(np.float32)
        x = self.to_tensor(data)
        return predict_batches(self.backbone_, [x], 64, self.device_).astype(np.float32)

    def predict_proba(self, data: Any) -> np.ndarray:
        """Class probabilities of the trained backbone + head (the single-modality deep model)."""
        from torch import nn

        x = self.to_tensor(data)
        model = nn.Sequential(self.backbone_, self.head_)
        return predict_batches(model, [x], 64, self.device_, post=softmax)

    # -- kept state ------------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        return {
            "preprocessing": self.preprocessing_state(),
            "input_shape": self.input_shape_,
            "n_classes": self.n_classes_,
            "backbone": self.backbone_.state_dict(),
            "head": self.head_.state_dict(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        import torch
        from torch import nn

        self.set_preprocessing_state(state["preprocessing"])
        self.input_shape_ = [int(v) for v in state["input_shape"]]
        self.n_classes_ = int(state["n_classes"])
        backbone, dim = self.new_backbone(torch.zeros((2, *self.input_shape_)))
        backbone.load_state_dict(state["backbone"])
        head = nn.Linear(dim, self.n_classes_)
        head.load_state_dict(state["head"])
        self.backbone_, self.head_, self.device_ = backbone.eval(), head.eval(), "cpu"


def torch_encoder_tags(params: Any) -> Tags:
    """Trainable networks; cross-fittable when they output class probabilities."""
    output = getattr(params, "output", "embedding")
    return Tags(trainable_backbone=True, cross_fittable=output == "probabilities")


Output = Literal["embedding", "probabilities"]
OutputField = Field(
    "embedding",
    description="embedding: the backbone's features; probabilities: the class head's "
    "probabilities (comparable across refits: used with evaluation.cross_fit).",
)
