"""The Typer application and what every command shares: options, error handling, output."""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from fusionkit import __version__
from fusionkit.errors import InputError

app = typer.Typer(
    name="fusionkit",
    help="Honest, config-driven comparison of single- and multi-modality medical data fusion.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold patient data
    add_completion=False,
)

SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a config field: --set evaluation.cv_folds=3 (repeatable; YAML values).",
        metavar="KEY=VALUE",
    ),
]

F = TypeVar("F", bound=Callable[..., Any])


def err(line: str) -> None:
    """Print one line to standard error."""
    print(line, file=sys.stderr)


def handle_input_errors(func: F) -> F:
    """Turn `InputError` into one line per problem on stderr and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InputError as exc:
            for problem in exc.problems:
                err(f"error: {problem}")
            raise typer.Exit(code=exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


def _show_plugin_warning(message, category, filename, lineno, file=None, line=None) -> None:
    from fusionkit.errors import FusionkitWarning
    from fusionkit.plugins import PluginWarning

    if issubclass(category, PluginWarning | FusionkitWarning):
        err(f"warning: {message}")
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


def _version(value: bool) -> None:
    if value:
        print(f"fusionkit {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Honest, config-driven comparison of single- and multi-modality medical data fusion.

    Exit codes: 0 success, 1 the run failed, 2 bad input or config.
    """
    warnings.showwarning = _show_plugin_warning
