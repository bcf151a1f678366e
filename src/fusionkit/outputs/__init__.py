"""A run's outputs, all views of its tables built once in memory (`RunTables`):

- `fusionkit.outputs.tables`: `RunTables` and the frames behind each CSV file;
- `fusionkit.outputs.comparison`: intervals and paired comparisons (fusion vs best single);
- `fusionkit.outputs.contribution`: Shapley values and permutation drops of the modalities;
- `fusionkit.outputs.csv_files`: the CSV files; `fusionkit.outputs.manifest`: ``manifest.json``;
- `fusionkit.outputs.verdict`: the answer in one sentence (printed and in the report);
- `fusionkit.outputs.report`, `report_tables`, `figures`, `html`: ``report.md`` / ``report.html``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fusionkit.experiment.store import RunStore
from fusionkit.outputs.tables import RunTables, build_tables

if TYPE_CHECKING:
    from fusionkit.experiment.state import RunState


def write_outputs(state: RunState, tables: RunTables, store: RunStore, invocation: dict) -> None:
    """Every output file of a run: the CSV tables, ``manifest.json``, ``report.md`` and
    ``report.html``; ``invocation``: what this invocation did, for the manifest."""
    from fusionkit.outputs.csv_files import write_tables
    from fusionkit.outputs.manifest import encoder_summary, write_manifest
    from fusionkit.outputs.report import write_report

    write_tables(tables, store.root, state.cohort.classes, state.scheme.kind)
    encoders = encoder_summary(state, store)
    write_manifest(state, tables, encoders, invocation)
    write_report(state, tables, encoders[1], store.root)


__all__ = ["RunTables", "build_tables", "write_outputs"]
