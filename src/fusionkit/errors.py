"""Exceptions that the CLI turns into exit codes.

`InputError` (and its subclasses) means the user's input is wrong: a config, a data file, a plugin
set-up. The CLI prints its lines, one per problem, and exits with code 2. Anything else that
escapes a command is a failed run (exit code 1).
"""

from __future__ import annotations

from collections.abc import Iterable


class InputError(Exception):
    """Bad input: one or more one-line problems, each naming the file and field."""

    exit_code = 2

    def __init__(self, problems: str | Iterable[str]):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class ConfigError(InputError):
    """The experiment config is malformed or names something that does not exist."""


class PluginError(InputError):
    """A plugin failed to load or registered something invalid (strict mode), or names clash."""


class DataError(InputError):
    """A data file is missing, corrupt or inconsistent with the config."""


class FusionkitWarning(UserWarning):
    """Something the user should see on standard error as ``warning: ...`` (not an error)."""
