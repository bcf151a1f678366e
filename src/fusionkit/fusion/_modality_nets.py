"""torch modules of the embedding fusions (imported only when a model is built or loaded).

Every modality's embedding is first projected to a common ``width`` (Linear -> LayerNorm ->
ReLU -> Dropout), so a wide weak embedding (hundreds of CNN features) cannot swamp a narrow
strong one by sheer size; then one operator fuses the projections:

- ``concat``: the projections side by side, with the availability mask;
- ``gated``: a mixture of experts: each modality's projection has its own class head, and a
  gate that sees all projections gives each subject a softmax weight per modality (missing
  ones masked out); the prediction is the weighted mean of the experts' probabilities, so a
  weight is the share of the decision that modality carries for that subject;
- ``attention``: one token per modality (plus a learnt modality embedding) and a summary
  token, a small transformer encoder; a missing modality's token is masked out;
- ``low_rank``: low-rank multimodal fusion (Liu et al., ACL 2018): each modality's projection,
  with a constant 1 appended, goes through ``rank`` factors; the fused vector is the product
  over modalities, summed over the rank.

During training, modality dropout hides each present modality of a subject with probability
``modality_dropout`` (never all of them), so the head learns to decide from any subset.
"""

from __future__ import annotations

import torch
from torch import nn


def _mlp(n_in: int, hidden: list[int], dropout: float, n_out: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for size in hidden:
        layers += [nn.Linear(n_in, size), nn.ReLU(), nn.Dropout(dropout)]
        n_in = size
    layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)


class ModalityNet(nn.Module):
    """Embeddings per modality + availability mask -> class logits (see module docstring)."""

    def __init__(
        self,
        dims: list[int],
        n_classes: int,
        *,
        operator: str,
        width: int,
        hidden: list[int],
        dropout: float,
        modality_dropout: float,
        rank: int = 4,
        heads: int = 2,
    ) -> None:
        super().__init__()
        self.operator, self.width, self.modality_dropout = operator, width, modality_dropout
        n = len(dims)
        self.project = nn.ModuleList(
            nn.Sequential(nn.Linear(d, width), nn.LayerNorm(width), nn.ReLU(), nn.Dropout(dropout))
            for d in dims
        )
        fused = width
        if operator == "concat":
            fused = width * n + n
        elif operator == "gated":
            self.gate = nn.Linear(width * n + n, n)
            self.experts = nn.ModuleList(_mlp(width, hidden, dropout, n_classes) for _ in dims)
        elif operator == "attention":
            self.summary = nn.Parameter(torch.zeros(1, 1, width))
            self.modality_embedding = nn.Parameter(torch.randn(n, width) * 0.02)
            layer = nn.TransformerEncoderLayer(
                width, heads, dim_feedforward=2 * width, dropout=dropout, batch_first=True
            )
            self.transformer = nn.TransformerEncoder(
                layer, num_layers=1, enable_nested_tensor=False
            )
        elif operator == "low_rank":
            self.factors = nn.ParameterList(
                nn.Parameter(torch.randn(rank, width + 1, width) * (width + 1) ** -0.5)
                for _ in dims
            )
            self.rank_weights = nn.Parameter(torch.ones(1, rank) / rank)
            self.rank_bias = nn.Parameter(torch.zeros(1, width))
        else:
            raise ValueError(f"unknown fusion operator {operator!r}")
        if operator != "gated":  # a gated net decides through its experts' heads
            self.head = _mlp(fused, hidden, dropout, n_classes)

    def modality_parameters(self, index: int) -> list[nn.Parameter]:
        """The parameters only modality ``index`` feeds (`training.balance.ModalityNetwork`)."""
        own = list(self.project[index].parameters())
        if self.operator == "gated":
            own += list(self.experts[index].parameters())
        elif self.operator == "low_rank":
            own.append(self.factors[index])
        return own

    def _dropped(self, mask: torch.Tensor) -> torch.Tensor:
        """The mask with each present modality hidden with probability p, keeping one."""
        keep = (torch.rand_like(mask) >= self.modality_dropout).float() * mask
        none = keep.sum(dim=1) == 0
        keep[none] = mask[none]
        return keep

    def weights(self, hs: list[torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
        """(subjects, modalities) gate weights, summing to 1 over the present modalities."""
        logits = self.gate(torch.cat([*hs, mask], dim=1))
        logits = logits.masked_fill(mask == 0, float("-inf"))
        return torch.softmax(logits, dim=1)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        *xs, mask = inputs
        if self.training and self.modality_dropout > 0:
            mask = self._dropped(mask)
        hs = [
            p(x) * mask[:, i : i + 1] for i, (p, x) in enumerate(zip(self.project, xs, strict=True))
        ]
        if self.operator == "concat":
            fused = torch.cat([*hs, mask], dim=1)
        elif (
            self.operator == "gated"
        ):  # log of the gate-weighted mean of the experts' probabilities
            w = self.weights(hs, mask)
            experts = torch.stack(
                [torch.softmax(e(h), dim=1) for e, h in zip(self.experts, hs, strict=True)], dim=1
            )
            return torch.log((w.unsqueeze(2) * experts).sum(dim=1).clamp_min(1e-8))
        elif self.operator == "attention":
            tokens = torch.stack(hs, dim=1) + self.modality_embedding
            summary = self.summary.expand(len(mask), -1, -1)
            padding = torch.cat([torch.zeros_like(mask[:, :1]), 1 - mask], dim=1).bool()
            out = self.transformer(
                torch.cat([summary, tokens], dim=1), src_key_padding_mask=padding
            )
            fused = out[:, 0]
        else:  # low_rank
            ones = torch.ones_like(mask[:, :1])
            product = None
            for h, factor in zip(hs, self.factors, strict=True):
                part = torch.einsum("bi,rio->rbo", torch.cat([h, ones], dim=1), factor)
                product = part if product is None else product * part
            fused = torch.einsum("r,rbo->bo", self.rank_weights[0], product) + self.rank_bias
        return self.head(fused)
