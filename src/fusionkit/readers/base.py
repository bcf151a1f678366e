"""What every reader gets to know about the modality it reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class ReadContext:
    """The modality being read: its name and kind, id column, columns never to use as features.

    ``exclude`` always holds the label column, so a label can never leak into the features.
    ``known_ids`` are the cohort's subject ids (used to resolve ambiguous image file names).
    ``verify`` false skips expensive file checks (a worker re-reading a checked cohort).
    ``reference_dates``: every cohort subject's date in ``data.date_column`` (``NaT`` where it
    has none), or None when the config names no such column.
    """

    modality: str
    kind: str
    root: Path
    id_column: str
    exclude: frozenset[str] = frozenset()
    known_ids: frozenset[str] = field(default_factory=frozenset)
    verify: bool = True
    reference_dates: Mapping[str, pd.Timestamp] | None = None
