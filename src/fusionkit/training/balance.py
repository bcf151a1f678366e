"""Balancing modalities while a fusion network trains: on-the-fly gradient modulation (OGM-GE).

Peng et al. (CVPR 2022) observed that in a jointly trained fusion network the modality that
learns fastest dominates the shared loss, and the others' parts stop learning. OGM slows the
leader down: after each backward pass, every modality is scored by how well the network does
on the batch *with that modality alone* (the others masked; the mean probability of the true
class, computed in eval mode so batch norm and dropout are untouched); a modality whose score
is ``ratio`` times the mean of the others' (``ratio > 1``) has the gradients of its own
parameters multiplied by ``1 - tanh(alpha * (ratio - 1))``. With generalisation enhancement
(``ogm_ge``) Gaussian noise with the gradient's own standard deviation is added to every
modality's gradients, as in the paper. The paper's two-modality rule is generalised to n
modalities through the mean of the others.

A network takes part by declaring which parameters are each modality's own
(`ModalityNetwork`); its ``forward(*inputs, mask)`` takes the availability mask last.
"""

from __future__ import annotations

import math
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field


class BalanceParams(BaseModel):
    """``balance:`` in the params of the network fusions."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["none", "ogm", "ogm_ge"] = Field(
        "none",
        description="none; ogm: slow down the leading modality's gradients; ogm_ge: and add "
        "gradient noise (Peng et al., CVPR 2022).",
    )
    alpha: float = Field(0.5, gt=0, description="Strength of the modulation.")
    until_epoch: int | None = Field(
        None, ge=1, description="Modulate only in epochs before this one (None: throughout)."
    )


@runtime_checkable
class ModalityNetwork(Protocol):
    """A fusion network whose ``forward(*per_modality_inputs, mask)`` can be run with a
    modality masked, and which says which of its parameters belong to one modality."""

    def modality_parameters(self, index: int) -> list: ...


class GradientModulation:
    """The ``after_backward`` callback of `fusionkit.training.loop.train` (see module doc).

    ``coefficients`` keeps, per training step, each modality's gradient multiplier.
    """

    def __init__(self, params: BalanceParams, seed: int) -> None:
        import torch

        self.params = params
        self.generator = torch.Generator().manual_seed(seed)
        self.coefficients: list[list[float]] = []

    def scores(self, model, xs: list, mask, y) -> list[float | None]:
        """Per modality: the mean probability of the true class when only it is shown
        (None where no subject of the batch has it)."""
        import torch

        was_training = model.training
        model.eval()
        out: list[float | None] = []
        with torch.no_grad():
            for i in range(mask.shape[1]):
                rows = mask[:, i] > 0
                if not bool(rows.any()):
                    out.append(None)
                    continue
                only = torch.zeros_like(mask[rows])
                only[:, i] = 1.0
                logits = model(*[x[rows] for x in xs], only)
                proba = torch.softmax(logits, dim=1)
                out.append(float(proba[torch.arange(len(proba)), y[rows]].mean()))
        model.train(was_training)
        return out

    def __call__(self, model, batch: list, epoch: int) -> None:
        import torch

        if not isinstance(model, ModalityNetwork):
            raise TypeError(f"{type(model).__name__} does not declare modality parameters")
        until = self.params.until_epoch
        if until is not None and epoch >= until:
            return
        *xs, mask, y = batch
        scores = self.scores(model, xs, mask, y)
        coefficients = []
        for i, score in enumerate(scores):
            others = [s for j, s in enumerate(scores) if j != i and s is not None]
            ratio = score / max(sum(others) / len(others), 1e-8) if score and others else 1.0
            coefficients.append(1.0 - math.tanh(self.params.alpha * max(ratio - 1.0, 0.0)))
        self.coefficients.append(coefficients)
        for i, k in enumerate(coefficients):
            for parameter in model.modality_parameters(i):
                if parameter.grad is None:
                    continue
                grad = parameter.grad
                grad.mul_(k)
                if self.params.method == "ogm_ge" and grad.numel() > 1:
                    noise = torch.randn(grad.shape, generator=self.generator).to(grad.device)
                    grad.add_(noise * (float(grad.std()) + 1e-8))


def modulation(params: BalanceParams, seed: int) -> GradientModulation | None:
    """The ``after_backward`` callback for ``params`` (None for ``method: none``)."""
    return None if params.method == "none" else GradientModulation(params, seed)
