"""The ``fusionkit`` command line: one module per command, all on one Typer app."""

from fusionkit.cli import (  # noqa: F401  (importing a command module registers it)
    cohort_cmd,
    demo_data_cmd,
    enhance_cmd,
    init_cmd,
    plugins_cmd,
    predict_cmd,
    run_cmd,
    schema_cmd,
    validate_cmd,
)
from fusionkit.cli.app import app


def main() -> None:
    """Entry point of the ``fusionkit`` console script."""
    app()


__all__ = ["app", "main"]
