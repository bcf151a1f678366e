"""Fusions of the modalities' encoder embeddings by a small network: ``gated``, ``attention``
and ``low_rank_tensor`` (the operators are described in `fusionkit.fusion._modality_nets`).

All three standardise each modality's embedding with the training part's mean and SD, project
every modality to the same ``width`` before fusing (so the widest embedding does not dominate
by size), train with modality dropout, and stop early on a validation part carved from the
training subjects; ``balance`` modulates the gradients of a modality that leads the others
(OGM-GE, `fusionkit.training.balance`). A subject's missing modality is masked (zero
projection, masked gate or token), so all three take ``missing: available``. ``gated`` also
says, per subject, how much weight each modality got (`api.WeighsModalities`:
``modality_outputs.csv``, ``modality_weights.csv``).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fusionkit.api import Tags
from fusionkit.fusion.base import FusionInput
from fusionkit.hookspecs import hookimpl
from fusionkit.training.balance import BalanceParams, modulation
from fusionkit.training.context import FitContext
from fusionkit.training.loop import (
    TrainParams,
    carve,
    predict_batches,
    seed_everything,
    softmax,
    train_classifier,
)


def _train_defaults() -> TrainParams:
    return TrainParams(epochs=150, patience=15, batch_size=32, lr=1e-3, weight_decay=1e-3)


class EmbeddingFusionParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    width: int = Field(16, ge=2, description="Common width every modality is projected to.")
    hidden: list[int] = Field(default_factory=lambda: [16], description="Head layer sizes.")
    dropout: float = Field(0.3, ge=0, lt=1)
    modality_dropout: float = Field(
        0.2, ge=0, lt=1, description="Training: chance each present modality is hidden."
    )
    balance: BalanceParams = Field(
        default_factory=BalanceParams,
        description="Gradient modulation against a dominant modality.",
    )
    train: TrainParams = Field(default_factory=_train_defaults)


class LowRankParams(EmbeddingFusionParams):
    rank: int = Field(4, ge=1, description="Rank of the factorised fusion tensor.")


class AttentionParams(EmbeddingFusionParams):
    heads: int = Field(2, ge=1, description="Attention heads (must divide width).")


class EmbeddingFusion:
    """Fit/predict/state around a `ModalityNet` with one operator (set by the subclass)."""

    operator = "concat"

    def __init__(self, params: EmbeddingFusionParams):
        self.params = params

    def _inputs(self, inp: FusionInput) -> list:
        import torch

        out = []
        for m in self.modalities_:
            x = (inp.features[m] - self.mean_[m]) / self.scale_[m]
            x[~inp.available[m]] = 0.0
            out.append(torch.as_tensor(np.nan_to_num(x, nan=0.0), dtype=torch.float32))
        mask = np.stack([inp.available[m] for m in self.modalities_], axis=1)
        return [*out, torch.as_tensor(mask, dtype=torch.float32)]

    def _net(self):
        from fusionkit.fusion._modality_nets import ModalityNet

        p = self.params
        return ModalityNet(
            [len(self.mean_[m]) for m in self.modalities_],
            self.n_classes_,
            operator=self.operator,
            width=p.width,
            hidden=list(p.hidden),
            dropout=p.dropout,
            modality_dropout=p.modality_dropout,
            rank=getattr(p, "rank", 4),
            heads=getattr(p, "heads", 2),
        )

    def fit(self, inp: FusionInput, y: np.ndarray, ctx: FitContext) -> EmbeddingFusion:
        self.n_classes_, self.device_ = ctx.n_classes, ctx.device
        self.modalities_ = list(inp.modalities)
        self.mean_, self.scale_ = {}, {}
        for m in self.modalities_:
            rows = inp.features[m][inp.available[m]]
            self.mean_[m] = np.nan_to_num(np.nanmean(rows, axis=0)) if len(rows) else 0.0
            scale = np.nan_to_num(np.nanstd(rows, axis=0), nan=1.0) if len(rows) else 1.0
            self.scale_[m] = np.where(np.asarray(scale) == 0, 1.0, scale)
        seed_everything(ctx.seed, ctx.threads)
        self.model_ = self._net()
        x_fit, y_fit, x_val, y_val = carve(self._inputs(inp), y, ctx, inp.ids)
        self.modulation_ = modulation(self.params.balance, ctx.seed)
        self.history_ = train_classifier(
            self.model_,
            (x_fit, y_fit),
            (x_val, y_val),
            self.params.train,
            ctx,
            after_backward=self.modulation_,
        )
        return self

    def predict_proba(self, inp: FusionInput) -> np.ndarray:
        proba = predict_batches(self.model_, self._inputs(inp), 64, self.device_, post=softmax)
        return proba.astype(np.float64)

    def get_state(self) -> dict:
        return {
            "n_classes": self.n_classes_,
            "modalities": self.modalities_,
            "mean": {m: np.asarray(v, dtype=np.float64) for m, v in self.mean_.items()},
            "scale": {m: np.asarray(v, dtype=np.float64) for m, v in self.scale_.items()},
            "model": self.model_.state_dict(),
        }

    def set_state(self, state: dict) -> None:
        self.n_classes_, self.device_ = int(state["n_classes"]), "cpu"
        self.modalities_ = list(state["modalities"])
        self.mean_ = {m: np.asarray(state["mean"][m]) for m in self.modalities_}
        self.scale_ = {m: np.asarray(state["scale"][m]) for m in self.modalities_}
        self.model_ = self._net()
        self.model_.load_state_dict(state["model"])
        self.model_.eval()


class Gated(EmbeddingFusion):
    operator = "gated"

    def modality_gates(self, inp: FusionInput) -> dict[str, np.ndarray]:
        """Each subject's weight on each modality (`api.WeighsModalities`)."""
        import torch

        self.model_.eval()
        *xs, mask = self._inputs(inp)
        with torch.no_grad():
            hs = [
                project(x) * mask[:, i : i + 1]
                for i, (project, x) in enumerate(zip(self.model_.project, xs, strict=True))
            ]
            gates = self.model_.weights(hs, mask).numpy().astype(np.float64)
        return {
            m: np.where(inp.available[m], gates[:, i], np.nan)
            for i, m in enumerate(self.modalities_)
        }


class Attention(EmbeddingFusion):
    operator = "attention"


class LowRankTensor(EmbeddingFusion):
    operator = "low_rank"


def _tags(params) -> Tags:
    return Tags(needs_embeddings=True)


@hookimpl
def register_fusions(register):
    for name, cls, params, description in (
        ("gated", Gated, EmbeddingFusionParams, "Per-subject learnt modality weights (gating)."),
        (
            "attention",
            Attention,
            AttentionParams,
            "Transformer over one token per modality (missing ones masked).",
        ),
        (
            "low_rank_tensor",
            LowRankTensor,
            LowRankParams,
            "Low-rank multimodal fusion (Liu et al., 2018) of projected embeddings.",
        ),
    ):
        register(name, cls, params=params, description=description, tags=_tags)
