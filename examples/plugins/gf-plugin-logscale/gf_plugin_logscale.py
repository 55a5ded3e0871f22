"""gf-plugin-logscale: a ``_log`` parameter type for positive numbers that span decades.

Learning rates, tolerances, thresholds and regularization strengths are positive and
matter by their order of magnitude: 1e-4 and 1e-3 are as far apart as 0.1 and 1.
A parameter whose name ends in ``_log``::

    model__learning_rate_log = 0.001

- loads only as a finite number > 0 (anything else is a ``FILE:LINE:`` load error);
- is read by the program as a ``float``;
- mutates in log space: ``exp(log(value) + gauss(0, step))``, where ``step`` is the
  breeder's ``sigma`` relative to the value (``sigma / value``), never below
  :data:`MIN_STEP` (so a value still moves when the breeder's step is tiny) and never
  above :data:`MAX_STEP` (one decade per standard deviation, so a step meant for a
  large parent does not throw a small one across the float range);
- is never bred to 0 or below: the mutation cannot produce it, and the type's lower
  bound (``low``, the smallest positive float) makes gf's built-in bounds fixer lift
  any value another breeder produces back above 0.

Only the public ``gf`` API is used.
"""

import math

from gf import ParamType, hookimpl

__version__ = "0.1.0"

#: The smallest step of a mutation, in natural-log units: x/÷ 1.65 per standard deviation
#: (about a fifth of a decade), so values explore decades even when the parents agree.
MIN_STEP = 0.5
#: The largest step of a mutation, in natural-log units: one decade per standard deviation.
MAX_STEP = math.log(10.0)
#: The smallest positive float: the lowest value breeding may produce.
SMALLEST = math.ulp(0.0)
_LOG_LOW = math.log(SMALLEST)
_LOG_HIGH = math.log(1.7976931348623157e308)


def _describe(value):
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


class LogType(ParamType):
    """``_log``: a finite number > 0, read as a float, bred in log space."""

    name = "log"
    suffix = "_log"
    numeric = True
    low = SMALLEST
    high = None

    def validate(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"expected a positive number, got {_describe(value)}")
        try:
            number = float(value)
        except OverflowError:  # an integer beyond any float
            raise ValueError("expected a positive number within the range of a float") from None
        if not math.isfinite(number):
            raise ValueError(f"expected a finite positive number, got {value!r}")
        if number <= 0:
            raise ValueError(f"expected a number > 0 (a _log parameter is bred in log space), got {value!r}")
        return number

    def extract(self, value):
        return float(value)


def log_step(value, sigma):
    """The standard deviation of a mutation in natural-log units: ``sigma / value``, bounded."""
    try:
        relative = abs(sigma) / value
    except (TypeError, ZeroDivisionError, OverflowError):
        return MIN_STEP
    if not math.isfinite(relative):
        return MAX_STEP if relative == math.inf else MIN_STEP
    return min(max(relative, MIN_STEP), MAX_STEP)


def mutate_log(value, sigma, rng):
    """``value`` moved by a Gaussian step in log space; always a finite float > 0."""
    moved = math.log(value) + rng.gauss(0.0, log_step(value, sigma))
    return max(math.exp(min(max(moved, _LOG_LOW), _LOG_HIGH)), SMALLEST)


_LOG_TYPE = LogType()


@hookimpl
def gf_register_types(register):
    register(_LOG_TYPE)


@hookimpl
def gf_mutate(param_type, value, sigma, rate, rng):
    if param_type.name != LogType.name:
        return None
    try:
        number = _LOG_TYPE.validate(value)
    except ValueError:
        # Not a value this type loads (a group stored before the plugin was installed):
        # leave it to gf's fixers and checks, which lift it above 0 or re-breed the child.
        return None
    return mutate_log(number, sigma, rng)
