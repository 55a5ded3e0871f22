"""Every hook a gf plugin can implement.

Plugins implement hooks with ``@gf.hookimpl`` on module-level functions (or methods
of a registered object) and are found through the ``gf`` entry-point group::

    [project.entry-points.gf]
    logscale = "gf_plugin_logscale"

Hooks are always called with keyword arguments, and an implementation may accept
fewer arguments than the spec names, so a hook can grow without breaking plugins.
Collection hooks pass a ``register`` callback instead of returning lists, so gf
knows which plugin registered what and refuses duplicates by name.
"""

from typing import Callable

import pluggy

hookspec = pluggy.HookspecMarker("gf")
hookimpl = pluggy.HookimplMarker("gf")


# -- types ----------------------------------------------------------------------------


@hookspec
def gf_register_types(register: Callable[["gf.ParamType"], None]) -> None:  # noqa: F821
    """Register parameter types, chosen by the suffix of a parameter's name.

    Called once when the plugins load. A type validates each value at load time and
    extracts what the program reads (see :class:`gf.ParamType`).

    :param register: call ``register(param_type)`` with a :class:`gf.ParamType`
        instance for each type; a second type with the same name or suffix is refused.
    """
