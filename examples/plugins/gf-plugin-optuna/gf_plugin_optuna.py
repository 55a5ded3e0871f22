"""gf-plugin-optuna: a gf breeder that proposes children with Optuna's TPE sampler.

Every generation the breeder builds a fresh in-memory Optuna study, tells it every
group gf has scored so far (``request.history()``: the group's params and its mean
score) as completed trials, and asks it for ``request.population`` (default 8) new
trials, which become the children. Nothing is kept between generations: the
database is the study, so an interrupted ``gf breed`` resumes like any other.

Search space, per parameter (from its gf type):

- numbers (``float``, ``_int``, and plugin types whose values are numbers): from the
  smallest to the largest value scored so far, widened by ``widen`` of that span on
  each side (a parameter that never moved is widened around its value); a number
  always seen positive stays positive (at least half its smallest value; likewise
  for negatives); a type's ``low``/``high`` bound it (``_real_0`` is [0, 1),
  ``_real_1`` [1, 2): the upper bound is never produced);
- ``_bool``: categorical ``True``/``False``;
- ``_choice``: categorical over the options of the lists seen; the child gets the
  best group's list with the chosen option moved to the front;
- anything else: categorical over the values seen.

The study's sampler is seeded from ``request.rng``, so ``gf breed --seed S`` breeds
the same children again. Only gf's public API is used.
"""

import json
import math
import os
import warnings

from gf import Breeder, Child, InputError, hookimpl

__version__ = "0.1.0"


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _key(value):
    """A categorical choice standing for ``value`` (Optuna's choices must be plain scalars)."""
    return json.dumps(value, sort_keys=True)


class OptunaBreeder(Breeder):
    name = "optuna"
    description = "Optuna's TPE sampler (ask/tell) over every group scored so far"

    #: Children when ``--population`` is not given.
    default_population = 8
    #: How far the range of a number reaches past the values scored so far (share of their span).
    widen = 0.25
    #: Below this many scored groups TPE samples at random within the ranges.
    startup_trials = 5
    #: How many of the best groups are recorded as each child's parents.
    parent_count = 2

    def breed(self, request):
        optuna = _optuna()
        history = [(group, params, score) for group, params, score in (request.history() if request.history else [])
                   if _is_number(score) and math.isfinite(score)]
        if not history:  # nothing scored on these datasets: start from the parents gf ranked
            history = [(group, request.params[group], None) for group in request.groups]
        parents = [group for group, _params, _score in history[: self.parent_count]]
        best = history[0][1]
        names = list(dict.fromkeys(name for group in parents for name in _params_of(request, history, group)))
        space = {name: self._dimension(request, name, [params[name] for _g, params, _s in history if name in params])
                 for name in names}
        distributions = {name: dimension.distribution for name, dimension in space.items()
                         if dimension.distribution is not None}

        sampler = optuna.samplers.TPESampler(
            seed=request.rng.getrandbits(32),
            n_startup_trials=self._startup_trials(),
        )
        study = optuna.create_study(direction="minimize" if request.minimize else "maximize", sampler=sampler,
                                    storage=None)
        trials = []
        for _group, params, score in history:
            if score is None:
                continue
            told = {name: space[name].encode(params[name]) for name in distributions if name in params}
            trials.append(optuna.trial.create_trial(
                params=told, distributions={name: distributions[name] for name in told}, value=score))
        study.add_trials(trials)

        children = []
        for _ in range(request.population or self.default_population):
            trial = study.ask(distributions)
            params = {}
            for name in names:
                dimension = space[name]
                if dimension.distribution is None:
                    params[name] = best.get(name)
                else:
                    params[name] = dimension.decode(trial.params[name], best.get(name))
            children.append(Child(params, list(parents)))
        return children

    def _startup_trials(self):
        text = os.environ.get("GF_OPTUNA_STARTUP_TRIALS", "").strip()
        if not text:
            return self.startup_trials
        if not text.isdigit():
            raise InputError(f"GF_OPTUNA_STARTUP_TRIALS={text!r}: expected a whole number such as 5")
        return int(text)

    def _dimension(self, request, name, values):
        param_type = request.types.for_param(name)
        if param_type.name == "choice" and values and all(isinstance(v, list) and v for v in values):
            return _Choice(values)
        if param_type.name == "bool" or (values and all(isinstance(v, bool) for v in values)):
            return _Categorical([True, False] + [v for v in values if not isinstance(v, bool)])
        if values and all(_is_number(v) for v in values):
            whole = param_type.name == "int" or (param_type.name != "float"
                                                 and all(isinstance(v, int) for v in values))
            return _Number(values, param_type.low, param_type.high, whole, self.widen)
        if values:
            return _Categorical(values)
        return _Fixed()


class _Fixed:
    """A parameter no scored group has: the child keeps the best group's value."""

    distribution = None


class _Categorical:
    def __init__(self, values):
        from optuna.distributions import CategoricalDistribution

        self.values = {}
        for value in values:
            self.values.setdefault(_key(value), value)
        self.distribution = CategoricalDistribution(list(self.values))

    def encode(self, value):
        return _key(value)

    def decode(self, choice, best):
        return self.values[choice]


class _Choice:
    """``_choice``: the head is categorical; the child keeps the best list's order behind it."""

    def __init__(self, lists):
        from optuna.distributions import CategoricalDistribution

        self.options = {}
        for options in lists:
            for option in options:
                self.options.setdefault(_key(option), option)
        self.distribution = CategoricalDistribution(list(self.options))

    def encode(self, value):
        return _key(value[0])

    def decode(self, choice, best):
        base = best if isinstance(best, list) and best else list(self.options.values())
        head = self.options[choice]
        return [head] + [option for option in base if _key(option) != choice]


class _Number:
    def __init__(self, values, low, high, whole, widen):
        from optuna.distributions import FloatDistribution, IntDistribution

        smallest, largest = min(values), max(values)
        span = largest - smallest
        pad = widen * span if span > 0 else (0.5 * abs(smallest) or 1.0)
        start, stop = smallest - pad, largest + pad
        # a number always seen positive stays positive (likewise negative): windows, periods, sizes
        if smallest > 0:
            start = max(start, smallest / 2)
        if largest < 0:
            stop = min(stop, largest / 2)
        # a type's bounds hold; the upper one is never produced ("bred within [0, 1)")
        self.high = high
        if low is not None:
            start = max(start, min(low, smallest))
        if high is not None:
            stop = min(stop, max(high, largest))
        self.whole = whole
        if whole:
            start, stop = math.floor(start), math.ceil(stop)
            start = max(start, 1) if smallest > 0 else start
            stop = min(stop, -1) if largest < 0 else stop
            if high is not None and stop >= high and largest < high:
                stop = math.ceil(high) - 1
            if stop <= start:
                stop = start + 1
            self.distribution = IntDistribution(int(start), int(stop))
        else:
            if stop <= start:
                stop = start + (abs(start) or 1.0)
            self.distribution = FloatDistribution(float(start), float(stop))

    def encode(self, value):
        return int(value) if self.whole else float(value)

    def decode(self, value, best):
        if self.whole:
            return int(value)
        if self.high is not None and value >= self.high:
            value = math.nextafter(self.high, -math.inf)
        return value


def _params_of(request, history, group):
    for candidate, params, _score in history:
        if candidate == group:
            return params
    return request.params.get(group, {})


def _optuna():
    """Import Optuna quietly (only when breeding: ``gf plugins list`` stays fast)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


@hookimpl
def gf_register_breeders(register):
    register(OptunaBreeder())
