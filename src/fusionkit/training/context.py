"""What a component needs to know to fit on a fold: seed, compute settings, class count."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class FitContext:
    """Settings shared by every fit in a run; `derive` gives a stable per-task seed."""

    seed: int = 0
    n_classes: int = 2
    threads: int = 1
    device: str = "cpu"
    validation_fraction: float = 0.2
    stratify: bool = True
    validation_ids: frozenset[str] | None = None  # a predefined validation part, by subject

    def derive(self, *parts: object) -> FitContext:
        """The same context with a seed derived from ``parts`` (stable across processes)."""
        return replace(self, seed=derived_seed(self.seed, *parts))


def derived_seed(seed: int, *parts: object) -> int:
    """A seed derived from ``seed`` and ``parts``, the same in every process and run."""
    text = "/".join(str(p) for p in (seed, *parts))
    return zlib.crc32(text.encode()) % (2**31)


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
