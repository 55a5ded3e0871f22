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


# -- mutators -------------------------------------------------------------------------


@hookspec(firstresult=True)
def gf_mutate(param_type: "gf.ParamType", value: object, sigma: float, rate: float, rng: "random.Random") -> object:  # noqa: F821
    """Return a mutated copy of ``value``, a parameter of ``param_type``, or ``None`` to pass.

    Breeders call this for every parameter they mutate. The first non-``None``
    answer wins and gf's built-in mutators run last, so a plugin can replace the
    float mutator (or add one for its own type) without redefining the type. A
    type no mutator knows keeps its parents' values.

    :param param_type: the :class:`gf.ParamType` of the parameter.
    :param value: the current (validated) value.
    :param sigma: for numeric types, the standard deviation of the step, in the
        value's own units (the breeder scales it to the parameter).
    :param rate: for discrete types, the probability of changing the value.
    :param rng: a seeded :class:`random.Random`; use only it, so ``--seed`` reproduces.
    """


# -- metrics --------------------------------------------------------------------------


@hookspec
def gf_register_metrics(register: Callable[["gf.Metric"], None]) -> None:  # noqa: F821
    """Register named metrics: scoring queries from the database to a ranking of runs.

    A metric's ``rank`` method returns the best runs of a dataset (or of a group).
    Plain result names (``profit``, ``crossover.profit``) need no registration.

    :param register: call ``register(metric)`` with a :class:`gf.Metric` instance.
    """


# -- constraints ----------------------------------------------------------------------


@hookspec
def gf_fix_child(params: dict, constraints: list, types: "gf.paramtypes.TypeRegistry", rng: "random.Random") -> bool:  # noqa: F821
    """Repair a freshly bred child so it satisfies its constraints; every fixer runs.

    Fixers change ``params`` in place. After all of them, gf checks the group's
    declared relations and the types' bounds; a child still in violation, or one a
    fixer rejects by returning ``False``, is discarded and bred again.

    :param params: ``{full_name: value}`` of the child, to edit in place.
    :param constraints: the group's relations as :class:`gf.Constraint` objects.
    :param types: the :class:`gf.paramtypes.TypeRegistry` (``types.for_param(name)``).
    :param rng: a seeded :class:`random.Random`.
    """


# -- breeders -------------------------------------------------------------------------


@hookspec
def gf_register_breeders(register: Callable[["gf.Breeder"], None]) -> None:  # noqa: F821
    """Register breeders: from ranked parent groups to new child groups.

    :param register: call ``register(breeder)`` with a :class:`gf.Breeder` instance;
        ``gf breed --breeder NAME`` picks it by ``breeder.name``.
    """


# -- launchers ------------------------------------------------------------------------


@hookspec
def gf_register_launchers(register: Callable[["gf.Launcher"], None]) -> None:  # noqa: F821
    """Register launchers: run evaluations of (group, dataset) pairs and get them recorded.

    :param register: call ``register(launcher)`` with a :class:`gf.Launcher` instance;
        ``--launcher NAME`` picks it by ``launcher.name``, and ``--launcher-option NAME=VALUE``
        sets the settings it declares in ``launcher.options`` (``context.options`` in ``launch``).
    """
