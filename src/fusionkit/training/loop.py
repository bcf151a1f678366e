"""One plain, tested PyTorch training loop: Adam, early stopping on a validation part, best state.

Every deep component (table MLPs and autoencoders, CNN encoders, the deep-fusion head) trains
through `train`. The validation part always comes out of the fold's *training* part
(`split_validation`); the test part is never seen. Seeded: the same seed, data and settings give
the same weights.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fusionkit.data.splits import validation_part
from fusionkit.training.context import FitContext


class TrainParams(BaseModel):
    """Optimisation settings shared by all deep components (nested as ``train:`` in params)."""

    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(50, ge=1, description="Upper bound; early stopping usually ends sooner.")
    batch_size: int = Field(32, ge=1)
    lr: float = Field(1e-3, gt=0, description="Adam learning rate.")
    weight_decay: float = Field(1e-4, ge=0)
    patience: int = Field(8, ge=1, description="Epochs without validation improvement.")
    class_weights: bool = Field(True, description="Weight the loss by inverse class frequency.")
    select_by: Literal["loss", "accuracy", "auroc"] = Field(
        "loss",
        description="Keep the epoch with the lowest validation loss, or the highest accuracy "
        "or ROC AUC (macro one-vs-rest over the classes the validation part has).",
    )
    schedule: Literal["constant", "cosine"] = Field(
        "constant",
        description="Learning rate: constant, or cosine annealing from lr to 0 over epochs.",
    )


@dataclass
class History:
    """Per-epoch losses of a training run, and the epoch whose weights were kept."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    val_auroc: list[float] = field(default_factory=list)
    best_epoch: int = -1


def seed_everything(seed: int, threads: int) -> None:
    """Seed torch and numpy and fix the thread count: parallel float sums round differently
    with another thread count, so the count is part of what makes a run reproducible."""
    import torch

    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))
    torch.set_num_threads(threads)


def split_validation(
    y: np.ndarray, ctx: FitContext, ids: Sequence[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(fit, validation) positions out of a training part: the subjects of a predefined
    validation part (``ctx.validation_ids``) when there is one, else a seeded stratified part;
    no validation if the training part is too small."""
    n = len(y)
    positions = np.arange(n)
    if ctx.validation_ids is not None and ids is not None:
        is_val = np.array([str(i) in ctx.validation_ids for i in ids], dtype=bool)
        if is_val.any() and not is_val.all():
            return positions[~is_val], positions[is_val]
    if n < 10:
        return positions, positions[:0]
    groups = np.asarray(ids if ids is not None else [str(i) for i in range(n)])
    return validation_part(positions, y, groups, ctx.validation_fraction, ctx.stratify, ctx.seed)


def carve(inputs: Sequence, y: np.ndarray, ctx: FitContext, ids: Sequence[str] | None = None):
    """Split tensors and labels of a training part into (fit inputs, fit y, val inputs, val y)."""
    fit, val = split_validation(y, ctx, ids)
    return [take(t, fit) for t in inputs], y[fit], [take(t, val) for t in inputs], y[val]


def take(inputs, positions: np.ndarray):
    """Rows of a tensor; a lazily loaded input (`SubjectImages`) stays lazy."""
    return inputs.subset(positions) if hasattr(inputs, "subset") else inputs[positions]


def train_classifier(
    model,
    fit: tuple[Sequence, np.ndarray],
    val: tuple[Sequence, np.ndarray] | None,
    params: TrainParams,
    ctx: FitContext,
    augment: Callable | None = None,
    after_backward: Callable | None = None,
    parameter_groups: list[dict] | None = None,
) -> History:
    """Cross-entropy training of ``model(*inputs) -> logits`` (class weights from the fit part),
    keeping the epoch with the best validation loss or accuracy (``after_backward`` and
    ``parameter_groups``: see `train`)."""
    import torch

    (x_fit, y_fit) = fit
    weights = class_weights(y_fit, ctx.n_classes) if params.class_weights else None
    fit_data = [*x_fit, torch.as_tensor(y_fit, dtype=torch.long)]
    val_data = None
    if val is not None and len(val[1]):
        val_data = [*val[0], torch.as_tensor(val[1], dtype=torch.long)]
    return train(
        model,
        classification_loss(weights),
        fit_data,
        val_data,
        params,
        ctx,
        logits_fn=model_logits,
        augment=augment,
        after_backward=after_backward,
        parameter_groups=parameter_groups,
    )


def class_weights(y: np.ndarray, n_classes: int):
    """Inverse-frequency weights (mean 1) for the classes present in ``y``."""
    import torch

    counts = np.bincount(y, minlength=n_classes).astype(float)
    weights = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / n_classes, 0.0)
    return torch.tensor(weights, dtype=torch.float32)


def train(
    model,
    loss_fn: Callable,
    fit_data: Sequence,
    val_data: Sequence | None,
    params: TrainParams,
    ctx: FitContext,
    logits_fn: Callable | None = None,
    augment: Callable | None = None,
    after_backward: Callable | None = None,
    parameter_groups: list[dict] | None = None,
) -> History:
    """Train ``model`` with Adam on ``fit_data`` batches; keep the weights of the best epoch.

    ``fit_data`` / ``val_data`` are equal-length sequences of tensors (inputs..., target);
    ``loss_fn(model, batch)`` returns a scalar loss. With validation data the best epoch is the
    one with the lowest validation loss (or, given ``logits_fn(model, batch) -> logits``, the
    highest accuracy or ROC AUC: ``select_by``) and training stops after ``params.patience``
    epochs without improvement; without, the last epoch is kept. ``schedule: cosine`` anneals
    the learning rate over ``params.epochs`` (per epoch).
    ``augment(batch_inputs)`` (training batches only) returns augmented inputs.
    ``after_backward(model, batch, epoch)`` runs between each training batch's backward pass
    and the optimiser step (e.g. to modulate gradients, `fusionkit.training.balance`).
    ``parameter_groups`` (Adam's ``[{"params": ..., "lr": ...}, ...]``) replaces
    ``model.parameters()``, e.g. for a lower learning rate on pretrained parts; parameters
    that do not require gradients are left out either way.
    """
    import torch

    seed_everything(ctx.seed, ctx.threads)
    device = place(model, ctx.device)
    groups = parameter_groups or [{"params": list(model.parameters())}]
    groups = [{**g, "params": [q for q in g["params"] if q.requires_grad]} for g in groups]
    optimizer = torch.optim.Adam(
        [g for g in groups if g["params"]], lr=params.lr, weight_decay=params.weight_decay
    )
    scheduler = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=params.epochs)
        if params.schedule == "cosine"
        else None
    )
    generator = torch.Generator().manual_seed(ctx.seed)
    n = len(fit_data[0])
    history = History()
    best_loss, best_state, stale = float("inf"), None, 0
    has_val = val_data is not None and len(val_data[0]) > 0
    for epoch in range(params.epochs):
        model.train()
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for start in range(0, n, params.batch_size):
            index = order[start : start + params.batch_size]
            if len(index) < 2 and n >= 2:
                continue  # a batch of one breaks batch norm and says little
            batch = [t[index] for t in fit_data]
            if augment is not None:
                batch = [*augment(batch[:-1]), batch[-1]]
            batch = [t.to(device) for t in batch]
            optimizer.zero_grad()
            loss = loss_fn(model, batch)
            loss.backward()
            if after_backward is not None:
                after_backward(model, batch, epoch)
            optimizer.step()
            total += float(loss.detach()) * len(index)
        if scheduler is not None:
            scheduler.step()
        history.train_loss.append(total / max(n, 1))
        if not has_val:
            continue
        val_loss, logits = evaluate(model, loss_fn, val_data, params.batch_size, device, logits_fn)
        history.val_loss.append(val_loss)
        score = val_loss
        if logits is not None:
            y_val = val_data[-1].numpy()
            history.val_accuracy.append(float(np.mean(logits.argmax(axis=1) == y_val)))
            history.val_auroc.append(macro_auroc(y_val, logits))
            if params.select_by == "accuracy":
                score = -history.val_accuracy[-1]
            elif params.select_by == "auroc":
                score = -history.val_auroc[-1]
        if score < best_loss - 1e-6:
            best_loss, stale, history.best_epoch = score, 0, epoch
            best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
            if stale >= params.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        history.best_epoch = len(history.train_loss) - 1
    model.eval()
    return history


def evaluate(
    model, loss_fn, data, batch_size, device, logits_fn=None
) -> tuple[float, np.ndarray | None]:
    """Mean loss over ``data`` in eval mode, and the logits (if ``logits_fn``)."""
    import torch

    model.eval()
    total, n, logits = 0.0, len(data[0]), []
    with torch.no_grad():
        for start in range(0, n, batch_size):
            batch = [t[start : start + batch_size].to(device) for t in data]
            total += float(loss_fn(model, batch)) * len(batch[0])
            if logits_fn is not None:
                logits.append(logits_fn(model, batch).float().cpu().numpy())
    return total / max(n, 1), (np.concatenate(logits) if logits_fn is not None else None)


def macro_auroc(y: np.ndarray, logits: np.ndarray) -> float:
    """ROC AUC, one class against the rest, averaged over the classes ``y`` has (and that are
    not all of it); 0.5 when none is (a one-class validation part ranks nothing)."""
    from sklearn.metrics import roc_auc_score

    present = [c for c in np.unique(y) if 0 < np.sum(y == c) < len(y)]
    if not present:
        return 0.5
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba = shifted / shifted.sum(axis=1, keepdims=True)
    return float(np.mean([roc_auc_score(y == c, proba[:, c]) for c in present]))


def place(module, device: str):
    """Move ``module`` to ``device`` (the configured ``runtime.device``); the one place where
    fusionkit puts a network on a device, for training and prediction alike."""
    import torch

    target = torch.device(device)
    module.to(target)
    return target


def predict_batches(
    model, inputs: Sequence, batch_size: int, device: str, post: Callable | None = None
) -> np.ndarray:
    """``post(model(*batch))`` over ``inputs`` in eval-mode batches on ``device``; numpy output.

    The model is placed on ``device`` (`place`) and each batch moved there, so a model trained
    on a GPU predicts on it too.
    """
    import torch

    target = place(model, device)
    model.eval()
    outputs = []
    n = len(inputs[0])
    with torch.no_grad():
        for start in range(0, n, batch_size):
            batch = [t[start : start + batch_size].to(target) for t in inputs]
            out = model(*batch)
            outputs.append((post(out) if post is not None else out).detach().cpu().numpy())
    return np.concatenate(outputs) if outputs else np.zeros((0, 0), np.float32)


def softmax(logits):
    """Class probabilities from logits (a `predict_batches` ``post``)."""
    import torch

    return torch.softmax(logits, dim=1)


def classification_loss(weights=None):
    """Cross-entropy of ``model(*inputs)`` against the last tensor of the batch."""
    import torch.nn.functional as F

    def loss(model, batch):
        w = weights.to(batch[-1].device) if weights is not None else None
        return F.cross_entropy(model(*batch[:-1]), batch[-1], weight=w)

    return loss


def model_logits(model, batch):
    """The logits of a classifier ``model(*inputs)`` for a batch (inputs..., target)."""
    return model(*batch[:-1])
