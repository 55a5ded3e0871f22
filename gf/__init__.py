"""gf: genetic optimization for ordinary Python variables.

The public API. ``import gf`` stays light (standard library only): a user's
program imports it once per evaluation. ``hookimpl`` and ``hookspec`` import
pluggy on first use, for plugin modules.
"""

from gf.errors import (
    GfError,
    GroupNotFound,
    InputError,
    LoadError,
    PluginError,
    ResultError,
    StoreError,
)
from gf.params import GeneticFuckery, Params
from gf.paramtypes import ParamType

__version__ = "0.1.0"

__all__ = [
    "GeneticFuckery",
    "Params",
    "ParamType",
    "GfError",
    "InputError",
    "LoadError",
    "GroupNotFound",
    "ResultError",
    "StoreError",
    "PluginError",
    "hookimpl",
    "hookspec",
    "__version__",
]


def __getattr__(name):
    if name in ("hookimpl", "hookspec"):
        from gf import hookspecs

        return getattr(hookspecs, name)
    raise AttributeError(f"module 'gf' has no attribute {name!r}")
