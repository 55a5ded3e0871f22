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
    "Constraint",
    "Metric",
    "Ranked",
    "Breeder",
    "BreedRequest",
    "Child",
    "Launcher",
    "Evaluation",
    "Finished",
    "LaunchContext",
    "command_line",
    "run_command",
    "read_results",
    "__version__",
]


#: Names imported on first use, so that ``import gf`` stays light.
_LAZY = {
    "hookimpl": "gf.hookspecs",
    "hookspec": "gf.hookspecs",
    "Constraint": "gf.loader",
    "Metric": "gf.metrics",
    "Ranked": "gf.metrics",
    "Breeder": "gf.breeding",
    "BreedRequest": "gf.breeding",
    "Child": "gf.breeding",
    "Launcher": "gf.launch",
    "Evaluation": "gf.launch",
    "Finished": "gf.launch",
    "LaunchContext": "gf.launch",
    "command_line": "gf.launch",
    "run_command": "gf.launch",
    "read_results": "gf.ingest",
}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gf' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), "read" if name == "read_results" else name)
