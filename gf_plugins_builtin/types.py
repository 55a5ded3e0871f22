"""The built-in parameter types, chosen by name suffix as in the original geneticfuckery.

``_int``, ``_bool``, ``_choice`` (the program reads the head of the list), ``_real_0``
(a float in [0, 1]), ``_real_1`` (a float in [1, 2]), and float for every other name.
"""

import json
import math

from gf import ParamType, hookimpl


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite_number(value):
    if not _is_number(value):
        raise ValueError(f"expected a number, got {_json_kind(value)}")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an integer beyond any float
        finite = False
    if not finite:
        raise ValueError("expected a finite number within the range of a float")
    return value


def _json_kind(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return repr(value)


class FloatType(ParamType):
    """Any name without a known suffix: a finite number, read as a float."""

    name = "float"
    suffix = ""

    def validate(self, value):
        # stored as a float: `x = 3` and a child's 3.0 are the same group (one digest), as the program reads them
        return float(_finite_number(value))

    def extract(self, value):
        return float(value)


class IntType(ParamType):
    """``_int``: a whole number (``5`` or ``5.0``), read as an int."""

    name = "int"
    suffix = "_int"

    def validate(self, value):
        _finite_number(value)
        if value != int(value):
            raise ValueError(f"expected a whole number, got {value!r}")
        return int(value)

    def extract(self, value):
        return int(value)


class BoolType(ParamType):
    """``_bool``: ``true``/``false`` or ``1``/``0``, read as a bool."""

    name = "bool"
    suffix = "_bool"
    numeric = False

    def validate(self, value):
        if isinstance(value, bool):
            return value
        if _is_number(value) and value in (0, 1):
            return bool(value)
        raise ValueError(f"expected true, false, 1 or 0, got {_json_kind(value) if not _is_number(value) else value}")

    def extract(self, value):
        return bool(value)


class ChoiceType(ParamType):
    """``_choice``: a non-empty list of options (any JSON values: null, a list of layer sizes...); the program
    reads the first one."""

    name = "choice"
    suffix = "_choice"
    numeric = False

    def validate(self, value):
        if not isinstance(value, list) or not value:
            got = "an empty list" if value == [] else _json_kind(value)
            raise ValueError(f"expected a non-empty list of options, got {got}")
        try:
            json.dumps(value, allow_nan=False)
        except ValueError:  # NaN or infinity, however deep
            raise ValueError("an option is NaN or infinite, which JSON cannot hold; use a finite number or a "
                             "string") from None
        return value

    def extract(self, value):
        return value[0]


class BoundedRealType(ParamType):
    """A float kept within [low, high] at load time; breeding stays below ``high``."""

    low = 0.0
    high = 1.0

    def validate(self, value):
        _finite_number(value)
        if not self.low <= value <= self.high:
            raise ValueError(f"expected a number in [{self.low:g}, {self.high:g}], got {value!r}")
        return float(value)

    def extract(self, value):
        return float(value)


class Real0Type(BoundedRealType):
    """``_real_0``: a float in [0, 1]; bred within [0, 1)."""

    name = "real_0"
    suffix = "_real_0"
    low, high = 0.0, 1.0


class Real1Type(BoundedRealType):
    """``_real_1``: a float in [1, 2]."""

    name = "real_1"
    suffix = "_real_1"
    low, high = 1.0, 2.0


@hookimpl
def gf_register_types(register):
    for param_type in (FloatType(), IntType(), BoolType(), ChoiceType(), Real0Type(), Real1Type()):
        register(param_type)
