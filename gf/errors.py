"""Errors gf raises on purpose: each carries a one-line message that says what to do next.

The CLI prints ``str(error)`` on one line and exits with ``error.exit_code``:
2 for bad input or usage (fix the command or the file), 1 for the environment
(the disk, the database file, a broken plugin).
"""


class GfError(Exception):
    """Base class of every error gf reports to a user."""

    exit_code = 2


class InputError(GfError, ValueError):
    """Bad input from the user: a file, an argument, a result value."""


class LoadError(InputError):
    """A located error in a parameter file: ``FILE:LINE: what is wrong``."""

    def __init__(self, path, line, message):
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")


class GroupNotFound(InputError, LookupError):
    """A parameter group id that the database does not hold."""


class ResultError(InputError):
    """A result that cannot be recorded (reserved name, not a number...)."""


class StoreError(GfError):
    """The database file cannot be used: not SQLite, too new, unwritable, full."""

    exit_code = 1


class PluginError(GfError):
    """A plugin failed to import, registered a duplicate, or raised inside a hook."""

    exit_code = 1
