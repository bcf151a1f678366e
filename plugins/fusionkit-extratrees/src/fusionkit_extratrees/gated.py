"""A fusion strategy of its own: modalities weighted per subject by a learnt gate.

Each modality's embedding is projected to a common size; a gate looks at all of them (and at
which modalities the subject has) and gives each available modality a weight (softmax over the
available ones); the weighted sum goes to a linear class head. Trained with fusionkit's
training loop: early stopping on a validation part carved out of the training subjects.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fusionkit.training.loop import TrainParams, carve, predict_batches, softmax, train_classifier


class GatedParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hidden: int = Field(16, ge=1, description="Size every modality is projected to.")
    train: TrainParams = Field(default_factory=lambda: TrainParams(epochs=60, patience=8))


def _network(dims: list[int], hidden: int, n_classes: int):
    import torch
    from torch import nn

    class GatedNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.project = nn.ModuleList(nn.Linear(d, hidden) for d in dims)
            self.gate = nn.Linear(sum(dims) + len(dims), len(dims))
            self.head = nn.Linear(hidden, n_classes)

        def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            parts = torch.split(x, dims, dim=1)
            h = torch.stack(
                [torch.relu(p(v)) for p, v in zip(self.project, parts, strict=True)], dim=1
            )
            logits = self.gate(torch.cat([x, mask], dim=1)).masked_fill(mask == 0, -1e9)
            weights = torch.softmax(logits, dim=1).unsqueeze(2)  # (subjects, modalities, 1)
            return self.head((weights * h).sum(dim=1))

    return GatedNet()


class GatedFusion:
    """`fusionkit.api.Fusion` over encoder embeddings (declared: ``needs_embeddings``)."""

    def __init__(self, params: GatedParams):
        self.params = params

    def _inputs(self, inputs) -> list:
        import torch

        x = (inputs.concatenated(indicators=False) - self.mean_) / self.scale_
        x = np.nan_to_num(x, nan=0.0).astype(np.float32)  # a missing block: the training mean
        return [torch.as_tensor(x), torch.as_tensor(inputs.indicators())]

    def fit(self, inputs, y: np.ndarray, ctx) -> GatedFusion:
        from fusionkit.training.loop import seed_everything

        raw = inputs.concatenated(indicators=False)
        self.mean_ = np.nan_to_num(np.nanmean(raw, axis=0))
        self.scale_ = np.nan_to_num(np.nanstd(raw, axis=0), nan=1.0)
        self.scale_[self.scale_ == 0] = 1.0
        self.dims_ = [int(inputs.features[m].shape[1]) for m in inputs.modalities]
        self.n_classes_, self.device_ = ctx.n_classes, ctx.device
        seed_everything(ctx.seed, ctx.threads)
        self.model_ = _network(self.dims_, self.params.hidden, ctx.n_classes)
        x_fit, y_fit, x_val, y_val = carve(self._inputs(inputs), y, ctx, inputs.ids)
        self.history_ = train_classifier(
            self.model_, (x_fit, y_fit), (x_val, y_val), self.params.train, ctx
        )
        return self

    def predict_proba(self, inputs) -> np.ndarray:
        proba = predict_batches(self.model_, self._inputs(inputs), 256, self.device_, softmax)
        return proba.astype(np.float64)

    def get_state(self) -> dict[str, Any]:
        return {
            "mean": self.mean_,
            "scale": self.scale_,
            "dims": self.dims_,
            "n_classes": self.n_classes_,
            "model": self.model_.state_dict(),  # torch tensors: read back weights_only
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.mean_, self.scale_ = state["mean"], state["scale"]
        self.dims_, self.n_classes_ = list(state["dims"]), int(state["n_classes"])
        self.model_ = _network(self.dims_, self.params.hidden, self.n_classes_)
        self.model_.load_state_dict(state["model"])
        self.device_ = "cpu"
