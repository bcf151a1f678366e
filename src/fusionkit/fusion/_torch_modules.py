"""torch modules of the deep-fusion strategy (imported only when a model is built or loaded)."""

from __future__ import annotations

import torch
from torch import nn


class JointNet(nn.Module):
    """Backbones per modality -> embeddings x availability -> concatenation -> head."""

    def __init__(self, backbones: list[nn.Module], head: nn.Module) -> None:
        super().__init__()
        self.backbones = nn.ModuleList(backbones)
        self.head = head

    def modality_parameters(self, index: int) -> list[nn.Parameter]:
        """Modality ``index``'s backbone (`training.balance.ModalityNetwork`)."""
        return list(self.backbones[index].parameters())

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        *xs, mask = inputs
        pairs = enumerate(zip(self.backbones, xs, strict=True))
        parts = [b(x) * mask[:, i : i + 1] for i, (b, x) in pairs]
        return self.head(torch.cat([*parts, mask], dim=1))
