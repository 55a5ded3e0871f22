"""The plugin manager: built-ins first, then installed plugins from the ``gf`` entry points.

Nothing here runs at ``import gf``: a user's program that reads parameters and
reports results never loads a plugin (types are applied when a group is written).
The manager is built on first use by the commands that need hooks.
"""

import importlib
import os

import pluggy

from gf import hookspecs
from gf.errors import PluginError
from gf.paramtypes import ParamType, TypeRegistry

#: Built-in plugin modules, registered exactly like third-party plugins.
DEFAULT_PLUGINS = (
    "gf_plugins_builtin.types",
    "gf_plugins_builtin.mutators",
    "gf_plugins_builtin.metrics",
    "gf_plugins_builtin.constraints",
    "gf_plugins_builtin.breeders",
    "gf_plugins_builtin.evolution",
    "gf_plugins_builtin.launchers",
    "gf_plugins_builtin.distributed",
)

ENTRY_POINT_GROUP = "gf"

_manager = None
#: Distribution of each plugin loaded from an entry point: ``{plugin_name: Distribution}``.
_distributions = {}
#: Entry points that failed to load (import, or a hook pluggy refused): ``{name: "ErrorType: message"}``.
failures = {}


def get_plugin_manager():
    """The plugin manager, with every plugin loaded (once per process)."""
    global _manager
    if _manager is None:
        manager = pluggy.PluginManager("gf")
        manager.add_hookspecs(hookspecs)
        for module_name in DEFAULT_PLUGINS:
            manager.register(importlib.import_module(module_name), name=module_name)
        _load_entry_points(manager)
        _check_pending(manager)
        if _tracing():
            _trace_hooks(manager)
        _manager = manager
    return _manager


def _allowed():
    """The plugin names GF_LOAD_PLUGINS allows (normalized, see :func:`_normal`), or None for all of them."""
    value = os.environ.get("GF_LOAD_PLUGINS")
    if value is None:
        return None
    return {_normal(name) for name in value.split(",") if name.strip()}


def _normal(name):
    """A plugin or distribution name as pip compares them: ``gf_plugin_even`` is ``gf-plugin-even``."""
    import re

    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def _load_entry_points(manager):
    from importlib.metadata import entry_points

    allowed = _allowed()
    failures.clear()
    _distributions.clear()
    installed = entry_points(group=ENTRY_POINT_GROUP)
    if allowed:
        known = {_normal(entry_point.name) for entry_point in installed} | {
            _normal(entry_point.dist.name) for entry_point in installed if entry_point.dist}
        unknown = sorted(allowed - known)
        if unknown:  # a typo would silently leave the plugin out
            import sys

            from gf.errors import some_of

            sys.stderr.write(f"gf warning: GF_LOAD_PLUGINS names {', '.join(unknown)}, which no installed plugin "
                             f"is; installed: {some_of(sorted(known), unknown[0])}\n")
    for entry_point in installed:
        distribution = _normal(entry_point.dist.name) if entry_point.dist else None
        if allowed is not None and _normal(entry_point.name) not in allowed and distribution not in allowed:
            continue
        if manager.get_plugin(entry_point.name) is not None:
            continue
        _distributions[entry_point.name] = entry_point.dist
        try:
            plugin = entry_point.load()
            _check_marked(plugin)
            manager.register(plugin, name=entry_point.name)  # a hook with arguments its spec lacks: refused here
        except Exception as error:  # a broken plugin is reported by name, not as a traceback
            if manager.get_plugin(entry_point.name) is not None:  # pluggy keeps what it half registered
                manager.unregister(name=entry_point.name)
            failures[entry_point.name] = f"{type(error).__name__}: {' '.join(str(error).split())}"


def _check_marked(plugin):
    """Refuse a plugin with a ``gf_`` hook function not marked ``@gf.hookimpl``: pluggy would skip it
    silently (a type plugin's types never registered: its params typed as floats)."""
    for attribute in dir(plugin):
        if attribute.startswith("gf_") and attribute in hookspecs.__dict__:
            function = getattr(plugin, attribute, None)
            if callable(function) and not hasattr(function, "gf_impl"):
                raise PluginError(f"{attribute} is not marked @gf.hookimpl, so gf would never call it")


def _check_pending(manager):
    """Unregister, as failed, each plugin with a ``gf_`` hook no spec has (a misspelt hook name)."""
    while True:
        try:
            manager.check_pending()
            return
        except pluggy.PluginValidationError as error:
            name = manager.get_name(error.plugin)
            if name is None or name in DEFAULT_PLUGINS:
                raise
            manager.unregister(name=name)
            failures[name] = f"PluginValidationError: {' '.join(str(error).split())}"


def require_healthy():
    """Refuse to go on when an installed plugin failed to load.

    A missing type plugin would silently turn ``lr_log`` into a float, so a broken
    plugin stops every command but ``gf plugins list``.
    """
    get_plugin_manager()
    if failures:
        name, error = next(iter(failures.items()))
        raise PluginError(
            f"plugin {name!r} failed to load ({error}); fix or uninstall it, "
            f"or leave it out with GF_LOAD_PLUGINS (see `gf plugins list`)"
        )


def _tracing():
    return os.environ.get("GF_TRACE_HOOKS", "").strip().lower() not in ("", "0", "false", "no", "off")


def _trace(hook_name, plugin_name):
    """Log one implementation called directly (not through pluggy, whose monitoring logs the rest)."""
    from loguru import logger

    logger.debug("hook {} -> {}", hook_name, [plugin_name])


def _trace_hooks(manager):
    from loguru import logger

    def before(hook_name, hook_impls, kwargs):
        logger.debug("hook {} -> {}", hook_name, [impl.plugin_name for impl in hook_impls])

    def after(outcome, hook_name, hook_impls, kwargs):
        logger.debug("hook {} done", hook_name)

    manager.add_hookcall_monitoring(before, after)


def call_hook(name, **kwargs):
    """Call hook ``name``; an exception inside a plugin becomes a one-line :class:`PluginError`."""
    manager = get_plugin_manager()
    try:
        return getattr(manager.hook, name)(**kwargs)
    except PluginError:
        raise
    except Exception as error:
        raise PluginError(f"a plugin failed inside hook {name}: {type(error).__name__}: {error}") from error


def first_result(hook_name):
    """A fast caller for a ``firstresult`` hook called many times in a row (``gf_mutate``).

    It resolves the implementations once, in pluggy's calling order, and calls them
    directly, skipping pluggy's per-call machinery; build a new one after registering
    plugins. With ``GF_TRACE_HOOKS`` it logs each implementation it calls.
    """
    impls = [(impl.function, impl.argnames, impl.plugin_name)
             for impl in reversed(getattr(get_plugin_manager().hook, hook_name).get_hookimpls())]
    traced = _tracing()

    def call(**kwargs):
        for function, argnames, plugin_name in impls:
            if traced:
                _trace(hook_name, plugin_name)
            try:
                result = function(*[kwargs[name] for name in argnames])
            except Exception as error:
                raise PluginError(
                    f"plugin {plugin_name!r} failed inside {hook_name}: {type(error).__name__}: {error}"
                ) from error
            if result is not None:
                return result
        return None

    return call


def collect(hook_name, expected_type, key):
    """Run a ``register``-style collection hook and return ``{key(item): (item, plugin_name)}``.

    :raises PluginError: an item of the wrong type, or two plugins registering the same key.
    """
    manager = get_plugin_manager()
    registered = {}
    for impl in getattr(manager.hook, hook_name).get_hookimpls():

        def register(item, _plugin=impl.plugin_name):
            if not isinstance(item, expected_type):
                raise PluginError(
                    f"plugin {_plugin!r} registered {item!r} in {hook_name}; expected a {expected_type.__name__}"
                )
            item_key = key(item)
            if item_key in registered:
                raise PluginError(
                    f"plugin {_plugin!r} registers {item_key!r} in {hook_name}, "
                    f"already registered by {registered[item_key][1]!r}"
                )
            registered[item_key] = (item, _plugin)

        arguments = {"register": register}
        if _tracing():
            _trace(hook_name, impl.plugin_name)
        try:
            returned = impl.function(*[arguments[name] for name in impl.argnames])
        except PluginError:
            raise
        except Exception as error:
            raise PluginError(
                f"plugin {impl.plugin_name!r} failed inside {hook_name}: {type(error).__name__}: {error}"
            ) from error
        if returned is not None:  # `return [MyType()]`: nothing registered, silently
            raise PluginError(f"plugin {impl.plugin_name!r}: {hook_name} returned {returned!r:.60}, which gf ignores; "
                              "call register(item) for each item instead")
    return registered


_types = None
_registries = {}


def _named(hook_name, base_class):
    """``{name: item}`` from a register-style hook whose items have a ``name``."""
    if hook_name not in _registries:
        require_healthy()
        _registries[hook_name] = {name: item for name, (item, _plugin) in collect(hook_name, base_class, key=lambda item: item.name).items()}
    return _registries[hook_name]


def get_metrics():
    """Registered metrics by name (result-name metrics need no registration)."""
    from gf.metrics import Metric

    return _named("gf_register_metrics", Metric)


def get_breeders():
    """Registered breeders by name."""
    from gf.breeding import Breeder

    return _named("gf_register_breeders", Breeder)


def get_launchers():
    """Registered launchers by name."""
    from gf.launch import Launcher

    return _named("gf_register_launchers", Launcher)


#: The built-in modules that register launchers (see :func:`get_launcher`).
BUILTIN_LAUNCHER_MODULES = ("gf_plugins_builtin.launchers", "gf_plugins_builtin.distributed")


def get_launcher(name):
    """The launcher registered as ``name``, or an :class:`InputError` listing those there are.

    One of gf's own launchers (``local``, ``print``, ``inprocess``, ``dask``) is found
    without building the plugin manager when nothing has built it yet: ``gf run`` needs
    no other hook, and pluggy, the entry-point scan and importing every plugin are a
    third of its start-up. The answer is the one the manager would give, since no
    plugin may register a name that is taken. Any other name loads every plugin.
    """
    if _manager is None:
        builtins = {}
        for module_name in BUILTIN_LAUNCHER_MODULES:
            importlib.import_module(module_name).gf_register_launchers(
                register=lambda launcher: builtins.setdefault(launcher.name, launcher))
        if name in builtins:
            return builtins[name]
    return pick("launcher", name, get_launchers())


def pick(kind, name, registry):
    """``registry[name]``, or an :class:`InputError` listing the names there are."""
    try:
        return registry[name]
    except KeyError:
        from gf.errors import InputError

        raise InputError(f"unknown {kind} {name!r}; choose one of: {', '.join(sorted(registry))}") from None


def get_types():
    """The :class:`TypeRegistry` of every registered parameter type."""
    global _types
    if _types is None:
        require_healthy()
        by_suffix = collect("gf_register_types", ParamType, key=lambda t: t.suffix)
        names = {}
        for param_type, plugin in by_suffix.values():
            if param_type.suffix != param_type.suffix.lower():  # names are lower-cased: it could never match
                raise PluginError(f"plugin {plugin!r} registers type {param_type.name!r} with suffix "
                                  f"{param_type.suffix!r}; parameter names are lower-cased, so use "
                                  f"{param_type.suffix.lower()!r}")
            if param_type.name in names:
                raise PluginError(
                    f"plugin {plugin!r} registers type {param_type.name!r}, already registered by {names[param_type.name]!r}"
                )
            names[param_type.name] = plugin
        _types = TypeRegistry([param_type for param_type, _ in by_suffix.values()])
    return _types


def register(plugin, name=None):
    """Register a plugin object or module by hand (tests, notebooks) and forget cached registries."""
    global _types
    _check_marked(plugin)  # a plugin author's own tests register by hand: they see the mistake too
    get_plugin_manager().register(plugin, name=name)
    _types = None
    _registries.clear()


def unregister(name):
    """Undo :func:`register`."""
    global _types
    get_plugin_manager().unregister(name=name)
    _types = None
    _registries.clear()


def reset():
    """Forget the loaded plugins (tests register their own and call this after)."""
    global _manager, _types
    _manager = None
    _types = None
    _registries.clear()
    failures.clear()


def describe_plugins(include_builtins=False):
    """``[{"name", "version", "hooks"}]`` for every loaded plugin, plus failed ones with ``"error"``."""
    from gf import __version__ as gf_version

    manager = get_plugin_manager()
    described = []
    for plugin in manager.get_plugins():
        name = manager.get_name(plugin)
        builtin = name in DEFAULT_PLUGINS
        if builtin and not include_builtins:
            continue
        dist = _distributions.get(name)
        described.append(
            {
                "name": name,
                "version": gf_version if builtin else (dist.version if dist else None),
                "hooks": sorted(caller.name for caller in manager.get_hookcallers(plugin)),
            }
        )
    described.sort(key=lambda item: item["name"])
    described.extend({"name": name, "version": _distributions[name].version if _distributions.get(name) else None,
                      "error": error} for name, error in sorted(failures.items()))
    return described
