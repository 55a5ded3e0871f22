"""Parameter types: how a name's suffix turns a stored JSON value into what the program reads.

Types come from plugins through the ``gf_register_types`` hook (the built-ins live in
``gf_plugins_builtin.types``). A type is chosen by the longest registered suffix the
parameter's name ends with; the type registered with the empty suffix is the default.
"""


class ParamType:
    """Base class for a parameter type; subclass it and register an instance.

    :ivar name: a short name shown by ``gf show`` and stored with every param (``"int"``).
    :ivar suffix: the name ending that selects this type (``"_int"``); ``""`` makes it
        the default for names no other suffix matches.
    :ivar numeric: whether constraints such as ``a < b`` may relate values of this type (they
        compare the values as written in the file, before ``extract``).
    :ivar low: the smallest value breeding may produce, or ``None``.
    :ivar high: the value breeding stays below, or ``None``.
    """

    name = ""
    suffix = ""
    numeric = True
    low = None
    high = None

    def validate(self, value):
        """Check a value parsed from JSON and return it normalized (``1`` -> ``True`` for a bool).

        :raises ValueError: with a short reason (``"expected a whole number"``); the
            loader adds the file, line and parameter name.
        """
        return value

    def extract(self, value):
        """Turn a validated value into what the program reads (a choice list -> its head).

        The result must be JSON-serializable: it is computed once when a group is
        written and stored, so reading parameters never needs the plugins.
        """
        return value

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r} suffix={self.suffix!r}>"


def validated(param_type, value):
    """``param_type.validate(value)``, refusing (naming the type) a ``validate`` that returns nothing:
    a forgotten ``return`` would store ``null`` for every value."""
    result = param_type.validate(value)
    if result is None and value is not None:
        from gf.errors import PluginError

        raise PluginError(f"type {param_type.name!r}: validate({value!r:.40}) returned None; it must return the "
                          "value (normalized) or raise ValueError")
    return result


_UNCHANGEABLE = (float, int, bool, str)  # exactly these types: a subclass may be anything


def typed_json(param_type, value, encode, encoded=None):
    """``encode(param_type.extract(value))``: what the program will read, as stored; an ``extract``
    whose result JSON cannot hold is refused naming the type. ``encoded``, if given, is ``encode(value)``:
    returned as it is when ``extract`` gives back ``value`` itself and that is a number, a bool or a string
    (most params), which ``extract`` cannot have changed in place (a list it may have)."""
    typed = param_type.extract(value)
    if encoded is not None and typed is value and type(value) in _UNCHANGEABLE:
        return encoded
    try:
        return encode(typed)
    except (TypeError, ValueError) as error:
        from gf.errors import PluginError

        raise PluginError(f"type {param_type.name!r}: extract({value!r:.40}) returned {type(typed).__name__} "
                          f"{typed!r:.40}, which JSON cannot store ({error}); it must return JSON values") from None


class TypeRegistry:
    """The registered types, resolved by suffix."""

    def __init__(self, types):
        self.by_name = {t.name: t for t in types}
        self._by_suffix = sorted(types, key=lambda t: len(t.suffix), reverse=True)
        self._resolved = {}

    def for_param(self, full_name):
        """The type of a parameter named ``full_name`` (longest matching suffix wins)."""
        found = self._resolved.get(full_name)
        if found is None:
            found = next((t for t in self._by_suffix if full_name.endswith(t.suffix)), None)
            if found is None:
                raise LookupError(f"no type matches {full_name!r} and no default type is registered")
            self._resolved[full_name] = found
        return found

    def __iter__(self):
        return iter(self._by_suffix)
