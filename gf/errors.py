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


#: How many names an error message lists (see :func:`some_of`).
LISTED = 12


def some_of(names, wanted=None, empty="none"):
    """``names`` for an error message: those closest to ``wanted`` first, at most
    :data:`LISTED`, and how many were left out (``"a, b, c (and 8 more)"``)."""
    import difflib

    names = list(names)
    if not names:
        return empty
    if wanted is not None:
        close = difflib.get_close_matches(str(wanted), names, n=3, cutoff=0.5)
        names = close + [name for name in names if name not in close]
    shown = ", ".join(map(str, names[:LISTED]))
    return shown + (f" (and {len(names) - LISTED} more)" if len(names) > LISTED else "")


_CONTROL = None


def printable(text):
    """``text`` without terminal control sequences and control characters (tabs, newlines and carriage
    returns kept): what a program wrote to its stderr (colours, a window title, a cursor move) is shown,
    not obeyed, when gf prints it in an error or a table."""
    global _CONTROL
    if _CONTROL is None:
        import re

        # CSI (colours, cursor moves); OSC (a window title), ended by BEL, ST or the line's end; other escapes
        # (ESC, intermediate bytes, a final byte: ESC ( B, ESC 7); C0 and C1 controls
        _CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)?|\x1b[ -/]*[0-~]?"
                              r"|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
    return _CONTROL.sub("", text)
