"""gf-plugin-sum-to-one: bred weight sets sum to 1.

A **weight set** is a set of parameters renormalized after breeding so they sum to 1
(portfolio weights, mixture proportions, ensemble votes). Which parameters form sets:

- by default, the parameters directly under a level named ``weights``: every
  ``<path>__weights__<name>`` (and top-level ``weights__<name>``) forms one set with
  its siblings, e.g. ``portfolio__weights__spy`` and ``portfolio__weights__tlt``;
- with ``GF_SUM_TO_ONE=portfolio__weights__,mix__`` (comma-separated name prefixes),
  every parameter whose name starts with a prefix belongs to that prefix's set (the
  longest prefix wins), and the default rule is off. A prefix without a trailing
  ``__`` gets one; ``GF_SUM_TO_ONE=`` (empty) turns the plugin off.

For each set in a freshly bred child: negative weights are clipped to 0; if all are 0,
every weight becomes ``1/n``; the weights are divided by their sum. Bounds a member
has -- its type's (``_real_0``: below 1) and the group's constraints against numbers
(``portfolio__weights__spy <= 0.5``) -- are kept: a weight pushed past its bound is
held there and the others share the rest. A set whose bounds cannot sum to 1 rejects
the child (gf breeds another). Members whose type cannot hold a fraction (``_int``,
``_bool``, ``_choice``) are left alone.

The fixer is a pluggy *wrapper*: it runs after every other fixer (gf's built-in
constraint fixer included), so the sum still holds when the child is stored; gf then
checks the declared constraints as for every child. Only the public ``gf`` API is used.
"""

import math
import os

from gf import hookimpl

__version__ = "0.1.0"

#: The environment variable naming the weight-set prefixes.
ENVIRONMENT = "GF_SUM_TO_ONE"
#: The level name that marks a weight set when ``GF_SUM_TO_ONE`` is unset.
MARKER = "weights"

_parsed = {}


def prefixes(environ=None):
    """The configured prefixes, or ``None`` for the default ``weights`` marker rule."""
    value = (os.environ if environ is None else environ).get(ENVIRONMENT)
    if value is None:
        return None
    if value not in _parsed:
        found = []
        for prefix in value.split(","):
            prefix = prefix.strip().lower()
            if prefix:
                found.append(prefix if prefix.endswith("__") else prefix + "__")
        _parsed[value] = sorted(set(found), key=len, reverse=True)
    return _parsed[value]


def weight_sets(names, configured=None):
    """``{set_prefix: [names]}``: the weight sets among ``names`` (see the module doc)."""
    sets = {}
    for name in names:
        if configured is None:
            parts = name.split("__")
            if len(parts) < 2 or parts[-2] != MARKER:
                continue
            key = "__".join(parts[:-1]) + "__"
        else:
            key = next((prefix for prefix in configured if name.startswith(prefix)), None)
            if key is None:
                continue
        sets.setdefault(key, []).append(name)
    return sets


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _holds_fractions(param_type):
    try:
        accepted = param_type.validate(0.5)
    except ValueError:
        return False
    return _is_number(accepted) and accepted == 0.5


def bounds(name, param_type, constraints):
    """``(low, high)`` of one weight: 0 and 1, its type's bounds, and constraints against numbers."""
    low, high = 0.0, 1.0
    if param_type.low is not None:
        low = max(low, float(param_type.low))
    if param_type.high is not None:  # breeding stays below a type's high
        high = min(high, math.nextafter(float(param_type.high), -math.inf))
    for constraint in constraints:
        if constraint.lhs != name or not _is_number(constraint.rhs):
            continue
        rhs = float(constraint.rhs)
        if constraint.op == ">=":
            low = max(low, rhs)
        elif constraint.op == ">":
            low = max(low, math.nextafter(rhs, math.inf))
        elif constraint.op == "<=":
            high = min(high, rhs)
        elif constraint.op == "<":
            high = min(high, math.nextafter(rhs, -math.inf))
    return low, high


def normalize(values, limits=None):
    """``values`` clipped at 0 and scaled to sum to 1, each within its ``(low, high)`` of ``limits``.

    Without binding limits this is ``value / sum``. Otherwise every weight is
    ``clip(scale * value, low, high)`` with the one ``scale`` that makes them sum to 1:
    a weight held at a bound leaves the rest to the others, in proportion (weights at 0
    take an equal share when the others cannot make up the sum).

    :returns: the new values, or ``None`` when the limits cannot sum to 1.
    """
    count = len(values)
    limits = limits or [(0.0, 1.0)] * count
    if (any(low > high for low, high in limits) or math.fsum(low for low, _ in limits) > 1.0
            or math.fsum(high for _, high in limits) < 1.0):
        return None
    weights = [value if math.isfinite(value) and value > 0 else 0.0 for value in values]
    total = math.fsum(weights)
    if total == 0:
        weights, total = [1.0] * count, float(count)
    scaled = [weight / total for weight in weights]
    if any(not low <= value <= high for value, (low, high) in zip(scaled, limits)):
        scaled = _fill(weights, limits)
    # the rounding left over goes to the largest weight with room for it
    residual = 1.0 - math.fsum(scaled)
    if residual:
        for index in sorted(range(count), key=lambda i: -scaled[i]):
            low, high = limits[index]
            if low <= scaled[index] + residual <= high:
                scaled[index] += residual
                break
    if abs(math.fsum(scaled) - 1.0) > 1e-9:
        return None
    return scaled


def _fill(weights, limits):
    """``clip(scale * weight, low, high)`` summing to 1, the scale found by bisection."""

    def filled(scale):
        return [min(max(scale * weight, low), high) for weight, (low, high) in zip(weights, limits)]

    positive = [(weight, high) for weight, (_, high) in zip(weights, limits) if weight > 0]
    top = max(high / weight for weight, high in positive)
    if math.fsum(filled(top)) < 1.0:  # the positive weights are all at their highs: zeros join in
        smallest = min(weight for weight, _ in positive) * 1e-9
        weights = [weight or smallest for weight in weights]
        top = max(high / weight for weight, (_, high) in zip(weights, limits))
    low_scale, high_scale = 0.0, top
    for _ in range(200):
        middle = (low_scale + high_scale) / 2
        if middle in (low_scale, high_scale):
            break
        if math.fsum(filled(middle)) < 1.0:
            low_scale = middle
        else:
            high_scale = middle
    return filled(high_scale)


def fix(params, constraints, types, configured=None):
    """Renormalize every weight set of ``params`` in place; ``False`` when a set's bounds cannot sum to 1."""
    ok = True
    for names in weight_sets(list(params), configured).values():
        members = [name for name in names
                   if _is_number(params[name]) and _holds_fractions(types.for_param(name))]
        if not members:
            continue
        limits = [bounds(name, types.for_param(name), constraints) for name in members]
        weights = normalize([float(params[name]) for name in members], limits)
        if weights is None:
            ok = False
            continue
        for name, weight in zip(members, weights):
            params[name] = weight
    return ok


@hookimpl(wrapper=True)
def gf_fix_child(params, constraints, types, rng):
    answers = yield  # every other fixer first
    configured = prefixes()
    if configured is not None and not configured:
        return answers
    if not fix(params, constraints, types, configured):
        return [*answers, False]
    return answers
