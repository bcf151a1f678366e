"""Deep (intermediate) fusion: per-modality encoder embeddings, concatenated, into an MLP head.

By default the encoders are the modalities' own (``encoders.*``), trained once per fold and
cached; the head is trained on their embeddings. With ``end_to_end: true`` the encoders'
networks and the head are trained jointly for the cell, from the same starting point. Either way
a missing modality contributes a zero embedding plus an availability indicator, and early
stopping uses a validation part of the training subjects. With ``width`` (or
``modality_dropout``), each modality's embedding is first projected to that common width and
normalised, and modalities are hidden at random during training (the ``concat`` operator of
`fusionkit.fusion.embedding_fusion`), so a wide weak embedding cannot swamp a narrow strong one.

``staged`` (with ``end_to_end``) trains in three stages: each modality's network alone with its
own class head (exactly as its encoder trains), then the fusion head on the frozen networks'
embeddings, then ``fine_tune_epochs`` of joint training with the networks' learning rate scaled
by ``encoder_lr_scale``. ``balance`` modulates the gradients of a leading modality's own
parameters (OGM-GE, `fusionkit.training.balance`); it needs per-modality parameters, so it
applies to the projected or the end-to-end network.

``members`` > 1 makes a deep ensemble (Lakshminarayanan et al., NeurIPS 2017): that many
networks of these settings, each from its own seed (the first from the cell's own, so that
member is exactly the ``members: 1`` model), trained on the same subjects with the same early
stopping, their class probabilities averaged. Its training plot is the first member's.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from fusionkit.api import Tags
from fusionkit.config import build_spec_data, spec_data
from fusionkit.encoders.torch_base import TorchEncoder
from fusionkit.errors import ConfigError
from fusionkit.fusion.base import FusionInput
from fusionkit.hookspecs import hookimpl
from fusionkit.training.balance import BalanceParams, modulation
from fusionkit.training.context import FitContext, derived_seed
from fusionkit.training.loop import (
    TrainParams,
    carve,
    predict_batches,
    seed_everything,
    softmax,
    train_classifier,
)


class HeadParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hidden: list[int] = Field(default_factory=lambda: [64])
    dropout: float = Field(0.3, ge=0, lt=1)


class StagedParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fine_tune_epochs: int = Field(
        20, ge=0, description="Stage 3: epochs of joint training (0: keep the networks frozen)."
    )
    encoder_lr_scale: float = Field(
        0.1, gt=0, le=1, description="Stage 3: the networks' learning rate, relative to train.lr."
    )


class DeepConcatParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    head: HeadParams = Field(default_factory=HeadParams)
    train: TrainParams = Field(default_factory=lambda: TrainParams(epochs=100, patience=10))
    end_to_end: bool = Field(False, description="Train encoders and head jointly per cell.")
    width: int | None = Field(
        None,
        ge=2,
        description="Project each modality's embedding to this width (Linear, LayerNorm) "
        "before concatenating; None: concatenate the standardised embeddings as they are.",
    )
    modality_dropout: float = Field(
        0.0, ge=0, lt=1, description="Training: chance each present modality is hidden."
    )
    staged: StagedParams | None = Field(
        None,
        description="end_to_end only: networks alone, then the head on them frozen, then "
        "joint fine-tuning at a lower network learning rate.",
    )
    balance: BalanceParams = Field(
        default_factory=BalanceParams,
        description="Gradient modulation against a dominant modality (projected or "
        "end-to-end network).",
    )
    members: int = Field(
        1,
        ge=1,
        description="A deep ensemble: this many networks, each trained from its own seed "
        "(the first from the cell's), their class probabilities averaged.",
    )

    @field_validator("staged")
    @classmethod
    def _staged_needs_end_to_end(cls, staged: StagedParams | None, info: ValidationInfo):
        if staged is not None and not info.data.get("end_to_end"):
            raise ValueError("staged training needs end_to_end: true")
        return staged


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

    def _projected(self):
        """With ``width`` or ``modality_dropout``: the embedding fusion's network with the
        ``concat`` operator (per-modality projections, then the head)."""
        from fusionkit.fusion.embedding_fusion import EmbeddingFusion, EmbeddingFusionParams

        p = self.params
        return EmbeddingFusion(
            EmbeddingFusionParams(
                width=p.width or 16,
                hidden=list(p.head.hidden),
                dropout=p.head.dropout,
                modality_dropout=p.modality_dropout,
                balance=p.balance,
                train=p.train,
            )
        )

    @property
    def _uses_projection(self) -> bool:
        p = self.params
        balanced = p.balance.method != "none"
        return not p.end_to_end and (p.width is not None or p.modality_dropout > 0 or balanced)

    def fit(self, inp: FusionInput, y: np.ndarray, ctx: FitContext) -> DeepConcat:
        self.n_classes_ = ctx.n_classes
        self.device_ = ctx.device
        if self.params.members > 1:
            return self._fit_members(inp, y, ctx)
        if self.params.end_to_end:
            return self._fit_end_to_end(inp, y, ctx)
        if self._uses_projection:
            self.net_ = self._projected().fit(inp, y, ctx)
            self.history_ = self.net_.history_
            return self
        import torch

        raw = inp.concatenated(indicators=True)
        self.mean_ = np.nan_to_num(np.nanmean(raw, axis=0))
        self.scale_ = np.nan_to_num(np.nanstd(raw, axis=0), nan=1.0)
        self.scale_[self.scale_ == 0] = 1.0
        x = torch.as_tensor(self._head_input(inp))
        seed_everything(ctx.seed, ctx.threads)
        self.model_ = self._head(x.shape[1])
        self._train(self.model_, [x], y, inp.ids, ctx)
        return self

    def _head(self, n_in: int):
        return _mlp([n_in, *self.params.head.hidden], self.params.head.dropout, self.n_classes_)

    def _train(
        self,
        model,
        inputs: list,
        y: np.ndarray,
        ids: list[str],
        ctx: FitContext,
        augment=None,
        **options,
    ) -> None:
        """Train ``model`` with early stopping on a validation part of the training subjects;
        ``options``: ``params`` (instead of ``train``) and `train_classifier`'s keywords."""
        params = options.pop("params", self.params.train)
        x_fit, y_fit, x_val, y_val = carve(inputs, y, ctx, ids)
        self.history_ = train_classifier(
            model, (x_fit, y_fit), (x_val, y_val), params, ctx, augment, **options
        )

    # -- end to end --------------------------------------------------------------------------
    def _tensors(self, inp: FusionInput) -> list:
        import torch

        out = []
        for m in self.modalities_:
            rows = np.flatnonzero(inp.available[m])
            part = self.encoders_[m].to_tensor(inp.data[m])[:] if len(rows) else None
            full = torch.zeros((len(inp.ids), *self.shapes_[m]), dtype=torch.float32)
            if part is not None:
                full[torch.as_tensor(rows)] = part.float()
            out.append(full)
        out.append(torch.as_tensor(inp.indicators()))
        return out

    def _joint(self, backbones: list, dims: list[int]):
        from fusionkit.fusion._torch_modules import JointNet

        return JointNet(backbones, self._head(sum(dims) + len(dims)))

    def _fit_end_to_end(self, inp: FusionInput, y: np.ndarray, ctx: FitContext) -> DeepConcat:
        seed_everything(ctx.seed, ctx.threads)
        self.modalities_ = list(inp.modalities)
        self.encoder_specs_ = {m: spec_data(inp.encoders[m]) for m in self.modalities_}
        self.encoders_, self.shapes_, backbones, dims = {}, {}, [], []
        for m in self.modalities_:
            encoder = inp.encoders[m].build()
            if not isinstance(encoder, TorchEncoder):
                raise ConfigError(
                    f"deep_concat end_to_end needs a trainable encoder for {m!r}; "
                    f"{inp.encoders[m].type!r} is not one"
                )
            rows = inp.available[m]
            if self.params.staged is not None:  # stage 1: the network alone, as its encoder
                encoder.fit(inp.data[m], y[rows], ctx)
                self.encoders_[m], self.shapes_[m] = encoder, tuple(encoder.input_shape_)
                backbones.append(encoder.backbone_)
                dims.append(encoder.head_.in_features)
                continue
            encoder.fit_preprocessing(inp.data[m], y[rows])
            example = encoder.to_tensor(inp.data[m])  # a tensor, or images loaded lazily
            backbone, dim = encoder.make_backbone(example[:2])
            # the encoder's own unsupervised phase (e.g. denoising pretraining), on the fit
            # part of its training subjects only
            (x_fit,), _, (x_val,), _ = carve([example], y[rows], ctx, inp.data[m].ids)
            encoder.pretrain(backbone, x_fit, x_val, ctx)
            self.encoders_[m], self.shapes_[m] = encoder, tuple(example.shape[1:])
            backbones.append(backbone)
            dims.append(dim)
        self.dims_ = dims
        self.model_ = self._joint(backbones, dims)
        if self.params.staged is not None:
            return self._fit_stages(inp, y, ctx)
        balance = modulation(self.params.balance, ctx.seed)
        tensors = self._tensors(inp)
        augment = self._augment(ctx)
        self._train(self.model_, tensors, y, inp.ids, ctx, augment, after_backward=balance)
        return self

    def _augment(self, ctx: FitContext):
        """Each modality's own training augmentation, applied to its input of a batch."""
        augmenters = [self.encoders_[m].augmenter(ctx) for m in self.modalities_]
        if all(a is None for a in augmenters):
            return None

        def augment(inputs: list) -> list:
            xs, rest = inputs[: len(augmenters)], list(inputs[len(augmenters) :])
            pairs = zip(augmenters, xs, strict=True)
            return [a([x])[0] if a is not None else x for a, x in pairs] + rest

        return augment

    def _fit_stages(self, inp: FusionInput, y: np.ndarray, ctx: FitContext) -> DeepConcat:
        """Stages 2 and 3 of ``staged`` (stage 1, each network alone, is done)."""
        import torch

        staged, model = self.params.staged, self.model_
        tensors = self._tensors(inp)
        *xs, mask = tensors
        embeddings = [
            torch.as_tensor(predict_batches(b, [x], 64, self.device_)) * mask[:, i : i + 1]
            for i, (b, x) in enumerate(zip(model.backbones, xs, strict=True))
        ]
        self._train(model.head, [torch.cat([*embeddings, mask], dim=1)], y, inp.ids, ctx)
        if staged.fine_tune_epochs == 0:
            return self
        train = self.params.train
        lr = train.lr * staged.encoder_lr_scale
        groups = [
            {"params": list(model.backbones.parameters()), "lr": lr},
            {"params": list(model.head.parameters())},
        ]
        self._train(
            model,
            tensors,
            y,
            inp.ids,
            ctx,
            self._augment(ctx),
            params=train.model_copy(update={"epochs": staged.fine_tune_epochs}),
            parameter_groups=groups,
            after_backward=modulation(self.params.balance, ctx.seed),
        )
        return self

    def _fit_members(self, inp: FusionInput, y: np.ndarray, ctx: FitContext) -> DeepConcat:
        one = self.params.model_copy(update={"members": 1})
        seeds = [ctx.seed] + [
            derived_seed(ctx.seed, "member", i) for i in range(1, self.params.members)
        ]
        self.members_ = [DeepConcat(one).fit(inp, y, replace(ctx, seed=s)) for s in seeds]
        self.history_ = self.members_[0].history_
        return self

    def predict_proba(self, inp: FusionInput) -> np.ndarray:
        import torch

        if self.params.members > 1:
            return np.mean([m.predict_proba(inp) for m in self.members_], axis=0)
        if self._uses_projection:
            return self.net_.predict_proba(inp)
        if self.params.end_to_end:
            inputs = self._tensors(inp)
        else:
            inputs = [torch.as_tensor(self._head_input(inp))]
        proba = predict_batches(self.model_, inputs, 64, self.device_, post=softmax)
        return proba.astype(np.float64)

    # -- kept state ------------------------------------------------------------------------------
    def get_state(self) -> dict:
        if self.params.members > 1:
            return {"members": {str(i): m.get_state() for i, m in enumerate(self.members_)}}
        if self._uses_projection:
            return {"projected": self.net_.get_state()}
        state = {"n_classes": self.n_classes_, "model": self.model_.state_dict()}
        if not self.params.end_to_end:
            return {**state, "mean": self.mean_, "scale": self.scale_}
        encoders = {
            m: {
                "spec": self.encoder_specs_[m],
                "preprocessing": self.encoders_[m].preprocessing_state(),
                "shape": list(self.shapes_[m]),
            }
            for m in self.modalities_
        }
        return {**state, "modalities": self.modalities_, "dims": self.dims_, "encoders": encoders}

    def set_state(self, state: dict) -> None:
        import torch

        if self.params.members > 1:
            one = self.params.model_copy(update={"members": 1})
            self.members_ = []
            for i in range(self.params.members):
                self.members_.append(DeepConcat(one))
                self.members_[-1].set_state(state["members"][str(i)])
            return
        if self._uses_projection:
            self.net_ = self._projected()
            self.net_.set_state(state["projected"])
            return
        self.n_classes_, self.device_ = int(state["n_classes"]), "cpu"
        if not self.params.end_to_end:
            self.mean_, self.scale_ = state["mean"], state["scale"]
            self.model_ = self._head(len(self.mean_))
        else:
            self.modalities_, self.dims_ = list(state["modalities"]), list(state["dims"])
            self.encoders_, self.shapes_, self.encoder_specs_, backbones = {}, {}, {}, []
            for m in self.modalities_:
                kept = state["encoders"][m]
                encoder = build_spec_data("encoder", kept["spec"])
                encoder.set_preprocessing_state(kept["preprocessing"])
                self.shapes_[m] = tuple(int(v) for v in kept["shape"])
                backbones.append(encoder.new_backbone(torch.zeros((2, *self.shapes_[m])))[0])
                self.encoders_[m], self.encoder_specs_[m] = encoder, kept["spec"]
            self.model_ = self._joint(backbones, self.dims_)
        self.model_.load_state_dict(state["model"])
        self.model_.eval()


def _tags(params: DeepConcatParams) -> Tags:
    return Tags(needs_embeddings=not params.end_to_end, trains_encoders=params.end_to_end)


@hookimpl
def register_fusions(register):
    register(
        "deep_concat",
        DeepConcat,
        params=DeepConcatParams,
        description="Deep fusion: encoder embeddings concatenated into an MLP head, or end to end.",
        tags=_tags,
    )
