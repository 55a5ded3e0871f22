"""The built-in constraint fixer: repairs ordering relations and type bounds.

``a < b`` broken by a child is repaired by swapping the two values when that
satisfies it, else by moving the left side just past the right one; a relation to a
number clamps; values outside their type's bounds are clamped into them. Passes repeat
so chains (``a < b``, ``b < c``) settle; what still fails is re-bred by gf.
"""

import math
import operator

from gf import hookimpl

PASSES = 8


def _just_past(target, op, is_int):
    """The nearest value to ``target`` that satisfies ``value op target``."""
    if is_int:
        return {"<": math.ceil(target) - 1, "<=": math.floor(target), ">": math.floor(target) + 1,
                ">=": math.ceil(target)}[op]
    if op in ("<=", ">="):
        return target
    return math.nextafter(target, -math.inf if op == "<" else math.inf)


def _finite(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_PLAIN_NUMBERS = (float, int)  # exactly these types (a bool's type is bool)


def _satisfied(left, op, right):
    return _COMPARE[op](left, right)


def _clamp_to_type(params, name, param_type):
    value = params[name]
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    if param_type.low is not None and value < param_type.low:
        params[name] = type(value)(param_type.low)
    if param_type.high is not None and value >= param_type.high:
        params[name] = math.nextafter(param_type.high, -math.inf) if isinstance(value, float) else value
    if param_type.name == "int":
        params[name] = int(round(params[name]))


@hookimpl(trylast=True)
def gf_fix_child(params, constraints, types, rng):
    for name in params:
        _clamp_to_type(params, name, types.for_param(name))
    for _ in range(PASSES):
        changed = False
        for constraint in constraints:
            lhs, op, rhs = constraint.lhs, constraint.op, constraint.rhs
            if lhs not in params or (isinstance(rhs, str) and rhs not in params):
                continue
            left = params[lhs]
            right = params[rhs] if isinstance(rhs, str) else rhs
            if type(left) in _PLAIN_NUMBERS and type(right) in _PLAIN_NUMBERS and _satisfied(left, op, right):
                continue  # most are: held, whether finite or not (an infinity that holds is left as it is)
            if not (_finite(left) and _finite(right)) or _satisfied(left, op, right):
                continue  # not a finite number (a mutator's NaN, a string): the child's check refuses it
            changed = True
            is_int = types.for_param(lhs).name == "int"
            if isinstance(rhs, str) and _satisfied(right, op, left) and types.for_param(rhs).name == types.for_param(lhs).name:
                params[lhs], params[rhs] = right, left
            else:
                params[lhs] = _just_past(right, op, is_int)
            _clamp_to_type(params, lhs, types.for_param(lhs))
        if not changed:
            break
    return True
