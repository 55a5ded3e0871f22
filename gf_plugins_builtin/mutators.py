"""The built-in mutators for the built-in types (they run last: plugins can replace them).

Numeric values take a Gaussian step of the breeder's ``sigma`` and are kept inside
their type's bounds by reflection; whole numbers always move by at least one when
they mutate; booleans flip and choices swap their head with probability ``rate``.
A plugin's numeric type that no mutator of its own answers for moves the same way, in
its own units, kept inside the type's ``low``/``high``, by whole steps where its
``validate`` takes whole numbers only: without this, a type registered with no
``gf_mutate`` was never bred at all.
"""

import math

from gf import hookimpl
from gf.loader import is_number


def _reflect(value, low, high):
    """Fold ``value`` back into [low, high) (mirror at the edges), so mass piles up at neither."""
    span = high - low
    if span <= 0:
        return low
    offset = (value - low) % (2 * span)
    folded = low + (offset if offset < span else 2 * span - offset)
    return min(folded, high - span * 1e-9)


def mutate_number(param_type, value, sigma, rng):
    moved = value + rng.gauss(0.0, sigma)
    if param_type.low is not None and param_type.high is not None:
        moved = _reflect(moved, param_type.low, param_type.high)
    return moved


@hookimpl(trylast=True)
def gf_mutate(param_type, value, sigma, rate, rng):
    kind = param_type.name
    if kind in ("float", "real_0", "real_1", "int") and not is_number(value) or (
            kind == "choice" and not isinstance(value, list)):
        # a value its type refuses (kept from an original database): moved no further; the child carrying it is
        # refused by its type, and the breeder's error names the param
        return value
    if kind in ("float", "real_0", "real_1"):
        return float(mutate_number(param_type, value, sigma, rng))
    if kind == "int":
        step = round(rng.gauss(0.0, max(sigma, 0.5)))
        return int(value + (step or rng.choice((-1, 1))))
    if kind == "bool":
        return (not value) if rng.random() < rate else value
    if kind == "choice":
        if len(value) > 1 and rng.random() < rate:
            chosen = rng.randrange(1, len(value))
            value = list(value)
            value[0], value[chosen] = value[chosen], value[0]
        return value
    if param_type.numeric and isinstance(value, (int, float)) and not isinstance(value, bool):
        return mutate_plugin_number(param_type, value, sigma, rng)
    return None


#: Steps a plugin type's number may take before one its ``validate`` accepts is found.
TRIES = 10


def mutate_plugin_number(param_type, value, sigma, rng):
    """A plugin's numeric type with no mutator of its own: float steps, or whole ones where its
    ``validate`` takes whole numbers only (the breeder may hand over a float mean); a step its
    ``validate`` refuses is drawn again, and after :data:`TRIES` the value stays as it was."""
    whole = int(round(value))
    whole_only = _fits(param_type, whole) and not _fits(param_type, float(whole))
    for _ in range(TRIES):
        moved = (mutate_whole(param_type, whole, sigma, rng) if whole_only
                 else float(mutate_number(param_type, value, sigma, rng)))
        if _fits(param_type, moved):
            return moved
    return whole if whole_only else value


def _fits(param_type, value):
    """Whether the type's ``validate`` takes ``value`` (whatever it raises otherwise)."""
    try:
        param_type.validate(value)
    except Exception:
        return False
    return True


def mutate_whole(param_type, value, sigma, rng):
    """A plugin type's whole number moved as an ``_int`` is (by at least one), then folded into the
    whole numbers of [low, high) when the type has bounds (which can bring it back where it was)."""
    moved = value + (round(rng.gauss(0.0, max(sigma, 0.5))) or rng.choice((-1, 1)))
    lowest = math.ceil(param_type.low) if param_type.low is not None else None
    highest = math.ceil(param_type.high) - 1 if param_type.high is not None else None  # high itself is out
    return fold(moved, lowest, highest)


def fold(value, low, high):
    """Fold ``value`` into [low, high] by mirroring at the edges (either bound may be None)."""
    if low is not None and high is not None:
        span = high - low
        if span <= 0:
            return low
        offset = (value - low) % (2 * span)
        return low + (offset if offset <= span else 2 * span - offset)
    if low is not None and value < low:
        return low + (low - value)
    if high is not None and value > high:
        return high - (value - high)
    return value
