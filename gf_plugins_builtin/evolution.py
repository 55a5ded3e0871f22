"""The ``default`` breeder: a diagonal evolution strategy (sep-CMA-ES) rebuilt from the database.

Numeric parameters (floats, ``_int``, ``_real_*``, plugin types marked numeric) are
sampled around a mean with a step size and a per-parameter scale, all adapted from
how the children of every past generation scored. Discrete parameters (``_bool``,
``_choice``, other types) follow a probability for each value, learned the same way.

The breeder keeps no state of its own: every generation it replays the recorded
generations in creation order (loaded groups give the starting point, each later
batch of groups one update), so a loop resumed after a crash, or a database merged
from another machine, breeds exactly as if nothing had happened. The replay resumes
where the last generation's left off when the groups and scores it replayed are unchanged
(:mod:`gf_plugins_builtin.replay`; within one process, and in a new one from the state the
last generation saved in the database), and reads only the groups it needs: a loop's
generation takes as long after 150 generations as after 30, and the first generation of a
new process no longer replays all 150 (BENCHMARKS.md, breeding). Why this fixes the original tool's weaknesses: every parameter moves by a
step scaled to it (a value at 0 moves; negative values move both ways); the population
is whatever you choose; the best group of the last five generations always takes part in selection
(elitism, see :data:`ELITE_GENERATIONS`); gf refuses duplicates. A
group the strategy did not sample (a crossover, the best so far) counts in its update as
if it lay no farther from the mean than three samples' typical distance
(:data:`STEP_LIMIT`), so one far-off group cannot blow the step up.

With few parameters (up to about 80) some children are crossovers instead of samples:
each parameter taken from one of two of the best groups so far (see
:data:`CROSSOVER_SHARE`). Where parameters act on the score separately and the score has
many local optima, this puts together what different good groups got right (the
figures on the benchmark suite follow, with the additive model's).

Two to five children of every generation are not samples. One is the strategy's
mean itself (in many dimensions the mean is better than any sample around it). One
is the optimum of a model of the score fitted to the most recent groups: a separable
quadratic in the numeric parameters plus one effect per discrete value
(:mod:`gf_plugins_builtin.surrogate`), searched within two steps of the mean. On the
benchmark suite (``benchmarks/optimizers``) these two children roughly halve the
regret at 100 parameters. Up to :data:`ADDITIVE_UP_TO` numeric parameters, one to three
more are optima of an additive model, a piecewise-linear curve per parameter, which
sees what a quadratic cannot: a dip, or a better valley, away from the mean (with the
crossovers, on the suite, the regret drops from 0.19 to 0.07 at 10 parameters and from
0.28 to 0.22 at 100, most on the multimodal functions). A model's optimum past a bound
stops on the bound, where the model points, rather than being folded back inside as a
sample is; with the quadratic model fitted to three groups per parameter (not six),
this took the regret at 100 parameters from 0.22 to 0.19 (Schwefel's function, whose
good values lie near the edges of its box, 0.69 -> 0.54; Ackley's 0.52 -> 0.44). Once
there are 1.25 scored groups per term of the quadratic model, it is fitted through the
Box-Cox power of the scores that fits them best: a score that levels off away from the
optimum, as Ackley's function does, is no quadratic, but its square or cube nearly is
(at 100 parameters, 0.193 -> 0.175: Ackley's 0.44 -> 0.31; at 10, unchanged at 0.066;
beyond about 250 numeric parameters the model never has that many groups). While it has no
more scored groups than terms (at 1,000 parameters, always), the model has no curvature of
each parameter's own, only the shared one (the strategy's coordinates are already scaled to
each parameter), and it is fitted no further than the latest generation's scores bear out:
noisy scores stop its conjugate gradients after a step or two (see
:func:`surrogate.checked_ridge_fit`). With the shared curvature solved for exactly rather than
left to the conjugate gradients (which had left it below 1 % of its value), this took the
mean regret at 1,000 parameters from 0.681 to 0.626 (the sphere's 0.59 -> 0.38, Rosenbrock's
0.47 -> 0.40, the mixed function's 0.47 -> 0.41), at 100 from 0.175 to 0.167 (Rastrigin's
0.47 -> 0.43); at 10 it went from 0.066 to 0.070.

Up to 319 numeric parameters (while the quadratic model can have more scored groups than
terms), a generation in which fewer than a tenth of the children beat the child bred at the
mean shrinks the step (see :data:`SUCCESS_TARGET`): the path length, which measures how far the
mean travelled, kept the step wide while the model's child did the travelling, and samples
far wider than the distance left to the optimum make the model's fit less local. At 100
parameters this took the mean regret from 0.167 to 0.155 (Ackley's 0.30 -> 0.22, the rotated
ellipsoid's 0.11 -> 0.08; up went the noisy sphere's, 0.06 -> 0.09, as under noise a smaller
step leaves the scores less to tell apart, and the mixed function's, 0.014 -> 0.018), at 10
from 0.070 to 0.067. At 1,000 parameters it shrank the sphere's step too far (0.38 -> 0.50 on
one seed), so there it is off, and its other side acts instead: a generation in which more than a
fifth of the children beat the child at the mean grows the step (see :data:`GROWTH_TARGET`). On a
smooth score none but the model's child does, and nothing changes; where noise, ripples or discrete
values set the samples apart, the step grows (mostly once, early on: 17- to 160-fold on the suite) until
the samples spread over much of the box, and the quadratic model, fitted to them, sees the score's
overall shape and its child travels down it. On the suite at
1,000 parameters this took the mean regret from 0.626 to 0.595 (the noisy sphere's 0.98 -> 0.76,
Rastrigin's 0.96 -> 0.92, Schwefel's 1.03 -> 1.00; the mixed function's went up, 0.411 -> 0.419),
and left the smooth functions' runs as they were. There too, where the discrete params give the model
at least as many terms as the numbers, samples come in mirrored pairs that share their discrete values,
so what the numbers do is not buried under what the discrete values do (see
:meth:`EvolutionBreeder._mirrored`: the mixed function's 0.419 -> 0.392, the mean regret at 1,000
parameters 0.595 -> 0.592). The additive model's optima lie between its knots where its curve
bends up: at the lowest point of the parabola through the lowest knot and its two neighbours (see
:func:`_lowest_knot`: on the suite, seeds 0-9, the mean regret at 10 parameters 0.066 -> 0.054,
Rastrigin's and Schwefel's at 100 0.44 -> 0.42 and 0.52 -> 0.48).

A generation's samples are a Latin hypercube (see :meth:`Strategy.stratified`): the values of
each param sampled in its own units (:data:`OWN_UNITS`), one in each of as many equally likely
slices of the normal distribution as there are samples (as there are pairs, where samples come in
mirrored pairs), in a random order of their own, instead of drawn each on its own. Each param's
values then cover its range evenly, which is what both models learn from, and a generation's mean
step is less at the mercy of a few draws. On the suite (seeds 0-9): the multimodal functions at 100
params 1.124 -> 1.099 summed (seeds 10-19: 1.141 -> 1.115), the six others 0.248 -> 0.224 (the
rotated ellipsoid's 0.086 -> 0.079, the noisy sphere's 0.101 -> 0.086); at 1,000 params (seeds 0-4)
the mean regret 0.592 -> 0.590 (the sphere's 0.38 -> 0.35, Rosenbrock's 0.40 -> 0.38). At 10 params
it is about even: the five functions not at 0, summed, 0.488 -> 0.520 on seeds 0-9, 0.473 -> 0.445
on seeds 10-39, and Schwefel's function went up on both (0.174 -> 0.191 over seeds 0-39); on seeds
0-4 (BENCHMARKS.md) the mean regret went from 0.053 to 0.066, most of it Schwefel's.
"""

import copy
import json
import math
from itertools import accumulate, repeat
from operator import mul, sub, truediv
from statistics import NormalDist

from gf import Breeder, Child, hookimpl
from gf.values import encode
from gf_plugins_builtin import replay, surrogate
from gf_plugins_builtin.mutators import fold

#: Smallest probability a discrete value keeps, so no value is lost for good.
FLOOR = 0.02
#: How fast discrete probabilities follow the best groups.
DISCRETE_RATE = 0.3
#: The model's optimum is searched within this many steps (sigma * scale) of the mean.
TRUST = 2.0
#: Scored groups needed before the model is fitted, and at most this many are used
#: (the most recent), or three per numeric parameter and discrete value if that is fewer
#: (a local fit: on the suite this beat six per parameter, mostly on Ackley's function).
#: The fit costs about groups x params x 40 multiplications: 1-2 s at 1,000 params and 640 groups
#: (less for a discrete value's column, whose products add up the rows where it is 1).
MODEL_MIN, MODEL_MAX = 8, 640
#: The additive model (one curve per numeric parameter) proposes a child up to this many
#: numeric parameters (its fit costs about four times the quadratic model's), on these
#: knots, in steps (sigma * scale) from the mean.
ADDITIVE_UP_TO = 300
ADDITIVE_KNOTS = [-3.0 + 6.0 * k / 32 for k in range(33)]
#: The additive model also proposes its optimum within each of these many steps of the mean
#: (where it differs from those before). The second, half a step, took the mean regret on the
#: suite's multimodal functions at 100 params (seeds 0-19, with Latin hypercube samples) from
#: 0.42 to 0.36 (Rastrigin's), 0.47 to 0.47 (Schwefel's) and 0.21 to 0.22 (Ackley's), and at 10
#: params (seeds 0-39, the five functions not at 0, summed) from 0.46 to 0.44.
ADDITIVE_NEAR = (1.5, 0.5)
#: Crossover children: with few parameters a quarter of every generation (after the
#: proposals) combines two of the best groups so far, each parameter from either one, then
#: nudged by a tenth of the strategy's step; fewer as parameters grow (``population / 4 *
#: 10 / params``, rounded down: none from 80 parameters on, where the samples around the
#: mean are worth more). Drawn once at least two generations' worth of groups are scored.
CROSSOVER_SHARE, CROSSOVER_FULL_UP_TO, CROSSOVER_POOL, CROSSOVER_NUDGE = 0.25, 10, 16, 0.1

#: Scores larger than this are scaled down (by a power of two) before the models are fitted to them.
LARGEST_MODELLED = 2.0 ** 256

#: The sample-success rule: while the model can have more scored groups than a separable
#: quadratic in the numeric params has terms (``2 * params + 1 < MODEL_MAX``: up to 319 numeric
#: params), a generation in which fewer than :data:`SUCCESS_TARGET` of the children beat the
#: child bred at the strategy's mean shrinks the step by ``exp((share - SUCCESS_TARGET) /
#: SUCCESS_DAMPING)``. The model, not the samples, then finds the optimum, and samples nearer
#: the mean make its fit more local. It never grows the step (that is left to the path length).
#: The child at the mean is recognized by its floats and ints (see :meth:`EvolutionBreeder._success`);
#: where it was bred elsewhere (tagged params lean towards their algo's best) the rule stays off.
SUCCESS_TARGET, SUCCESS_DAMPING = 0.1, 1.0
#: The other side of the rule, where the first is off (more than 319 numeric params): a generation
#: in which more than :data:`GROWTH_TARGET` of the children beat the child at the mean grows the
#: step by ``exp((share - GROWTH_TARGET) / GROWTH_DAMPING)``. There the quadratic model's child does
#: the travelling, and samples that often beat the mean say that what sets them apart (noise,
#: ripples, discrete values) is not the smooth shape the model fits: wider samples show it that.
#: On a smooth score every sample is worse than the mean (share about 0.03: the model's child),
#: and the rule never acts. It grows the step to at most :data:`MAX_GROWTH` times its starting
#: size: under noise alone (no shape to find) about half the children beat the mean however wide
#: they spread, and a param without bounds would go on to any size (on the suite it grew at most
#: 160-fold, once).
GROWTH_TARGET, GROWTH_DAMPING, MAX_GROWTH = 0.2, 0.1, 1000.0
#: Both sides of the sample-success rule act only on a batch with at least this share of the children
#: bred in its generation scored (whatever the population is now). With 3 of 16 scored (the others' runs failed), 2 of 2 beating the
#: child at the mean grew the step by the most allowed at once, beyond 319 numeric params where
#: nothing shrinks it again: every later child was a random point in the box, and a loop's best stopped.
RULE_SHARE = 0.5
#: A model's optimum beyond a strict bound (``x > 0``) stops this many steps (sigma * scale)
#: inside it; beyond any other bound, on it.
CLIP_MARGIN = 0.1
#: A group's step from the strategy's mean counts in the update at most this many times the
#: square root of the number of numeric params (a sample's typical step) in the strategy's own
#: scale: the models' proposals lie within 3 steps of the mean in every param and are never
#: shortened (see :meth:`Strategy._limited`).
STEP_LIMIT = 3.0
#: Elitism with a memory: the best group of the last this many scored generations takes part in
#: every update, ranked first if no group of the generation beat it. Under noisy scores the best
#: score so far is largely luck: kept for good (as it was), one lucky group held the strategy's mean
#: and the step shrank around it until every child was a copy of it (the noisy sphere at 10 params,
#: population 8, 200 generations: stuck from generation 60 at the lucky group's true value, 2.6x
#: the population's typical one without it). Without scores' noise the best group is nearly always
#: that recent: of the benchmark suite's 90 runs at 10 and 100 params, 4 end otherwise, all at 10
#: params and a little worse (the noisy sphere's, seeds 1 and 4; Schwefel's, seeds 0 and 3). The
#: noisy sphere at 10 params with population 8, seeds 0-9: mean regret 0.091 -> 0.063.
ELITE_GENERATIONS = 5
#: The largest factor a tagged param's step takes (an algo ranked last: see ``gf.engine.per_algo``).
MAX_STRENGTH = 2.0
#: Part of every replay's chain key (see :mod:`gf_plugins_builtin.replay`): a change to how the
#: strategy is updated must change it, or a process would resume from a state the old rules left.
REPLAY_VERSION = 5
#: Types sampled in their own units; other numeric types (plugins') move through their
#: ``gf_mutate`` implementation around the strategy's mean (a log-scale type in log space).
OWN_UNITS = {"float", "int", "real_0", "real_1"}


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _key(value):
    """A hashable stand-in for a discrete value (a choice is identified by its head)."""
    return repr(value[0] if isinstance(value, list) and value else value)


class Strategy:
    """The state of the evolution strategy for a fixed set of numeric parameters."""

    def __init__(self, names, start, scales, population):
        n = max(1, len(names))
        self.names = names
        self.mean = list(start)
        # The starting step shrinks beyond 100 parameters: a sample's distance from the mean
        # grows with the square root of the dimension, and the step-size path adapts in
        # about n generations, too slowly to correct a step that is too long.
        self.sigma = self.start_sigma = min(1.0, math.sqrt(100 / n))
        self.scale = list(scales)  # the diagonal of C, as standard deviations
        self.path_sigma = [0.0] * len(names)
        self.path_c = [0.0] * len(names)
        self.lam = max(2, population)
        self.mu = self.lam // 2
        raw = [math.log(self.mu + 0.5) - math.log(i + 1) for i in range(self.mu)]
        total = sum(raw)
        self.weights = [w / total for w in raw]
        self.mu_eff = 1 / sum(w * w for w in self.weights)
        self.c_sigma = (self.mu_eff + 2) / (n + self.mu_eff + 5)
        self.d_sigma = 1 + 2 * max(0.0, math.sqrt((self.mu_eff - 1) / (n + 1)) - 1) + self.c_sigma
        self.c_c = (4 + self.mu_eff / n) / (n + 4 + 2 * self.mu_eff / n)
        separable = (n + 2) / 3  # sep-CMA-ES learns a diagonal covariance that much faster
        self.c_1 = min(1.0, separable * 2 / ((n + 1.3) ** 2 + self.mu_eff))
        self.c_mu = min(1 - self.c_1,
                        separable * 2 * (self.mu_eff - 2 + 1 / self.mu_eff) / ((n + 2) ** 2 + self.mu_eff))
        self.chi_n = math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n))
        self.generations = 0
        self.reach = STEP_LIMIT  # see :meth:`_limited`

    def copy(self):
        """A copy whose updates leave this one as it is."""
        twin = copy.copy(self)
        twin.mean, twin.scale = list(self.mean), list(self.scale)
        twin.path_sigma, twin.path_c = list(self.path_sigma), list(self.path_c)
        return twin

    def update(self, ranked):
        """One generation's update from its samples ``ranked`` (vectors, best first)."""
        chosen = ranked[: self.mu]
        weights = self.weights[: len(chosen)]
        total = sum(weights)
        weights = [w / total for w in weights]
        mu_eff = 1 / sum(w * w for w in weights)
        steps = [self._limited([(x[i] - self.mean[i]) / self.sigma for i in range(len(self.names))])
                 for x in chosen]
        mean_step = [sum(w * step[i] for w, step in zip(weights, steps)) for i in range(len(self.names))]
        self.mean = [m + self.sigma * d for m, d in zip(self.mean, mean_step)]
        norm = math.sqrt(self.c_sigma * (2 - self.c_sigma) * mu_eff)
        self.path_sigma = [(1 - self.c_sigma) * p + norm * d / s
                           for p, d, s in zip(self.path_sigma, mean_step, self.scale)]
        length = math.sqrt(sum(p * p for p in self.path_sigma))
        self.generations += 1
        threshold = (1.4 + 2 / (len(self.names) + 1)) * self.chi_n
        h_sigma = length / math.sqrt(1 - (1 - self.c_sigma) ** (2 * self.generations)) < threshold
        norm_c = math.sqrt(self.c_c * (2 - self.c_c) * mu_eff) if h_sigma else 0.0
        self.path_c = [(1 - self.c_c) * p + norm_c * d for p, d in zip(self.path_c, mean_step)]
        variances = []
        for i, s in enumerate(self.scale):
            rank_mu = sum(w * step[i] * step[i] for w, step in zip(weights, steps))
            variance = (1 - self.c_1 - self.c_mu) * s * s + self.c_1 * self.path_c[i] ** 2 + self.c_mu * rank_mu
            variances.append(max(variance, 1e-300))
        self.scale = [math.sqrt(v) for v in variances]
        self.sigma *= math.exp(min(1.0, (self.c_sigma / self.d_sigma) * (length / self.chi_n - 1)))

    def _limited(self, step):
        """``step`` (in units of sigma), shortened to :data:`STEP_LIMIT` times the typical length of a
        sample's step if it is longer, measured in the strategy's own scale.

        What lies that far is mostly a group the strategy did not sample: a crossover child or the
        best group so far, which can lie millions of steps away once the step has shrunk (under noise
        it shrinks for good around a lucky score). Taken at full length, one such step grew the scale
        a billionfold in one generation and sent every later child far out of range. With tags, the
        limit is :attr:`reach` (twice as far: tagged params are sampled with up to twice the step);
        a tagged param's sample, drawn around a mean moved towards its algo's best groups (see
        :meth:`EvolutionBreeder._follow_algos`), may still lie beyond it and be shortened."""
        limit = self.reach * math.sqrt(len(step))
        length = math.hypot(*(d / s for d, s in zip(step, self.scale)))  # no overflow, however far
        if length <= limit:
            return step
        return [d * limit / length for d in step]

    def stratified(self, rng, strength, count):
        """``count`` new vectors around the mean: mean + sigma * scale * z, with per-parameter strength
        factors, where each parameter's ``count`` standard normal numbers z are one from each of
        ``count`` equally likely slices of the normal distribution, in a random order of its own (a
        Latin hypercube): the quantiles at ``(k + u) / count``, k = 0 .. count - 1, with ``u`` drawn
        anew for each parameter and call (a generation asked for again around the same mean gets
        other values, not the same ones in another order). Every parameter's values then spread
        over the distribution evenly, however few the samples, and what the models learn of each
        one rests on values in every part of its range (figures in the module's docstring)."""
        columns = []
        for m, s, f in zip(self.mean, self.scale, strength):
            step, u = self.sigma * s * f, rng.random()
            # kept inside (0, 1): for u near 1 the last slice's quantile would round to 1 (and u may be 0)
            column = [m + step * _NORMAL.inv_cdf(min(max((k + u) / count, _EDGE), 1.0 - _EDGE)) for k in range(count)]
            rng.shuffle(column)
            columns.append(column)
        return [list(row) for row in zip(*columns)] if columns else [[] for _ in range(count)]


_NORMAL = NormalDist()
#: How near 0 or 1 :meth:`Strategy.stratified` takes a quantile: at most 7 standard deviations out.
_EDGE = 1e-12


def _extend(start, groups):
    """``start`` with every param of ``groups`` it lacks, at the first value one of them has, in the
    order the groups hold them (a set's order changes from process to process, and with it which
    random draw each param gets: a seeded loop would breed other children after a restart)."""
    for values in groups:
        if values.keys() - start.keys():
            for name, value in values.items():
                if name not in start:
                    start[name] = value
    return start


class _Replay:
    """Where replaying a database's first batches left the default breeder (see
    :meth:`EvolutionBreeder._replayed`).

    :ivar start: every param's starting value (what the strategy was built from).
    :ivar batch_start: the same from the replayed batches' groups only (not the parents').
    :ivar config: each param's type and bounds when the strategy was built.
    :ivar bests: ``(values, score)`` of the best group of each of the last :data:`ELITE_GENERATIONS`
        batches replayed, oldest first (elitism).
    """

    def __init__(self, start, batch_start, config, strategy, probabilities):
        self.start, self.batch_start, self.config = start, batch_start, config
        self.strategy, self.probabilities = strategy, probabilities
        self.numeric = strategy.names
        numeric = set(strategy.names)
        self.discrete = [name for name in start if name not in numeric]
        self.bests = []
        self.own, self.rounded, self.local = [], set(), False

    def copy(self):
        """A copy that changes to this one (the breeder's, a later update's) do not reach: values
        (a choice's list) go on to children's params, which fixers change in place."""
        twin = copy.copy(self)
        twin.start, twin.batch_start = _owned(self.start), _owned(self.batch_start)
        twin.bests = [(_owned(values), score) for values, score in self.bests]
        twin.strategy = self.strategy.copy()
        twin.probabilities = copy.deepcopy(self.probabilities)
        return twin


#: What a :class:`_Replay` and its :class:`Strategy` hold: a state holding anything else (a plugin's
#: variant that adds to it) is not saved, as what it adds would be lost (see :func:`_encode`).
_REPLAY_FIELDS = ("start", "batch_start", "config", "strategy", "probabilities", "numeric", "discrete", "bests",
                  "own", "rounded", "local")
_STRATEGY_FIELDS = tuple(vars(Strategy([], [], [], 2)))


def _encode(state):
    """A :class:`_Replay` as JSON text, to save in the database; ``None`` unless reading it back
    (:func:`_decode`) gives exactly ``state``: every value of the same type and bit for bit."""
    if (type(state) is not _Replay or set(vars(state)) != set(_REPLAY_FIELDS) or type(state.strategy) is not Strategy
            or set(vars(state.strategy)) != set(_STRATEGY_FIELDS) or state.numeric is not state.strategy.names):
        return None
    try:
        text = json.dumps({
            "start": state.start, "batch_start": state.batch_start,
            "config": [[name, kind, bounds if bounds is None else list(bounds)] for name, kind, bounds in state.config],
            "strategy": [getattr(state.strategy, field) for field in _STRATEGY_FIELDS],
            "probabilities": [[name, [[key, value, weight] for key, (value, weight) in table.items()]]
                              for name, table in state.probabilities.items()],
            "discrete": state.discrete,
            "bests": [[values, score] for values, score in state.bests],
            "own": state.own, "rounded": sorted(state.rounded), "local": state.local,
        }, separators=(",", ":"))
        return text if _same(_fields(_decode(text)), _fields(state)) else None
    except (TypeError, ValueError, RecursionError):  # a value JSON cannot hold (a plugin's)
        return None


def _decode(text):
    """The :class:`_Replay` :func:`_encode` wrote as ``text``; raises on anything incomplete or out of shape."""
    data = json.loads(text)
    strategy = Strategy.__new__(Strategy)
    if len(data["strategy"]) != len(_STRATEGY_FIELDS):
        raise ValueError("not a saved strategy")
    strategy.__dict__.update(zip(_STRATEGY_FIELDS, data["strategy"]))
    state = _Replay.__new__(_Replay)
    state.start, state.batch_start = data["start"], data["batch_start"]
    state.config = [(name, kind, bounds if bounds is None else tuple(bounds)) for name, kind, bounds in data["config"]]
    state.strategy, state.numeric, state.discrete = strategy, strategy.names, data["discrete"]
    state.probabilities = {name: {key: (value, weight) for key, value, weight in table}
                           for name, table in data["probabilities"]}
    state.bests = [(values, score) for values, score in data["bests"]]
    state.own, state.rounded, state.local = data["own"], set(data["rounded"]), data["local"]
    count = len(strategy.names)
    numeric = set(strategy.names)
    if (type(state.start) is not dict or type(state.batch_start) is not dict or type(state.local) is not bool
            or any(len(getattr(strategy, field)) != count for field in ("mean", "scale", "path_sigma", "path_c"))
            or state.discrete != [name for name in state.start if name not in numeric]
            or not numeric <= state.start.keys() or set(state.probabilities) != set(state.discrete)
            or not all(type(i) is int and 0 <= i < count for i in state.own) or not state.rounded <= set(state.own)
            or len(state.bests) > ELITE_GENERATIONS or not all(type(values) is dict for values, _ in state.bests)):
        raise ValueError("not a complete replay state")
    return state


def _fields(state):
    """Everything a :class:`_Replay` holds, its strategy's fields included, for :func:`_same`."""
    fields = {name: getattr(state, name) for name in _REPLAY_FIELDS}
    fields["strategy"] = {name: getattr(state.strategy, name) for name in _STRATEGY_FIELDS}
    return fields


def _same(one, other):
    """Whether two values are the same type for type (``1``, ``1.0`` and ``True`` differ; a tuple is no list)
    and bit for bit (``-0.0`` is no ``0.0``; NaN is NaN), dicts in the same order."""
    if type(one) is not type(other):
        return False
    if type(one) is float:
        return (one == other and math.copysign(1.0, one) == math.copysign(1.0, other)) or (one != one and other != other)
    if type(one) is list or type(one) is tuple:
        return len(one) == len(other) and all(map(_same, one, other))
    if type(one) is dict:
        return list(one) == list(other) and all(_same(one[key], other[key]) for key in one)
    return one == other  # str, int, bool, None; a set of ints


_ENVIRONMENTS = {}


def _source(module):
    """The bytes of ``module``'s source file, or ``None`` if it cannot be read."""
    import sys

    try:
        with open(sys.modules[module].__file__, "rb") as source:
            return source.read()
    except (KeyError, AttributeError, TypeError, OSError):
        return None


#: This module's and :mod:`replay`'s source, read as they are imported: a gf upgraded in place (an
#: editable install, a ``git pull``) while a process runs must not have that process's states saved
#: under the new code's fingerprint.
_OWN_SOURCE = {__name__: _source(__name__), replay.__name__: _source(replay.__name__)}


def _environment(breeder_class, types):
    """A fingerprint of what a replay's result depends on beyond the groups and settings: the code that
    replays (this module, :mod:`replay` and the breeder's own module, by their bytes: the first two as
    imported, a plugin's subclass's when first used; code it calls in other modules is not covered), the
    parameter types, Python and the machine (its maths library); ``None`` if the code cannot be read."""
    kinds = repr([(t.name, t.suffix, bool(t.numeric), repr(t.low), repr(t.high), type(t).__module__,
                   type(t).__qualname__) for t in types])
    cached = _ENVIRONMENTS.get((breeder_class, kinds))
    if cached is not None or (breeder_class, kinds) in _ENVIRONMENTS:
        return cached
    import hashlib
    import os
    import platform
    import sys

    found = hashlib.blake2b(digest_size=20)
    for module in dict.fromkeys([__name__, replay.__name__, breeder_class.__module__]):
        source = _OWN_SOURCE[module] if module in _OWN_SOURCE else _source(module)
        if source is None:
            _ENVIRONMENTS[(breeder_class, kinds)] = None
            return None
        found.update(source)
    libc = os.confstr("CS_GNU_LIBC_VERSION") if "CS_GNU_LIBC_VERSION" in getattr(os, "confstr_names", {}) else ""
    found.update(repr((sys.version, sys.platform, platform.machine(), libc, kinds)).encode())
    _ENVIRONMENTS[(breeder_class, kinds)] = found.hexdigest()
    return _ENVIRONMENTS[(breeder_class, kinds)]


def _owned(values):
    """A copy of ``{name: value}`` sharing no list or dict with it."""
    return {name: _own(value) for name, value in values.items()}


_SCALARS = (str, int, float, bool, type(None))  # exactly these types


def _own(value):
    """``value``, or a copy of it if it is a list or a dict (a list of plain values copied shallowly, as
    fast as that): a child's own, as a fixer may change a choice's list in place, and no other child, the
    breeder's tables or the groups it was taken from must change with it."""
    if type(value) is list and all(type(item) in _SCALARS for item in value):
        return value.copy()
    return copy.deepcopy(value) if isinstance(value, (list, dict)) else value


def _exactly(one, other):
    """Whether two ``{name: value}`` hold the same names in the same order and the same values as
    stored: ``==`` takes ``1``, ``1.0`` and ``True`` (and ``[1]`` and ``[True]``) for one value."""
    return list(one) == list(other) and all(
        type(a) is type(b) and (a == b if type(a) in (int, str, bool) else encode(a) == encode(b))  # -0.0 is no 0.0
        for a, b in zip(one.values(), other.values()))


def _lowest_knot(curve, reach=None):
    """Where ``curve`` (values at :data:`ADDITIVE_KNOTS`, ``None`` where nothing was learnt) is
    lowest, within ``reach`` steps of the mean if given: the lowest knot (the one nearest the mean
    among equals), moved to the lowest point of the parabola through it and the knots either
    side when both are known and it bends up there, by at most half the knots' spacing; the mean
    (0) if nothing was learnt there.

    The parabola places the optimum between knots: a param whose best value lies between two
    knots no longer lands up to half a spacing from it. On a score with many local optima that
    is most of what is left late in a run: at 100 params, Rastrigin's function's best group had
    each param 0.16 of a ripple from the bottom of its own (root mean square), and moving every
    param to the bottom of its ripple would have taken its regret from 0.36 to 0.13 (seed 0).
    On the suite (seeds 0-9) this took the mean regret at 10 params from 0.066 to 0.054
    (Rastrigin's 0.18 -> 0.12, Schwefel's 0.27 -> 0.20; seeds 10-29 alike) and the multimodal
    functions' at 100 params from 0.44 to 0.42 (Rastrigin's), 0.52 to 0.48 (Schwefel's) and
    0.21 to 0.22 (Ackley's); the smooth functions' stayed as they were."""
    known = [(value, abs(knot), index) for index, (value, knot) in enumerate(zip(curve, ADDITIVE_KNOTS))
             if value is not None and (reach is None or abs(knot) <= reach)]
    if not known:
        return 0.0
    index = min(known)[2]
    knot = ADDITIVE_KNOTS[index]
    if 0 < index < len(curve) - 1 and curve[index - 1] is not None and curve[index + 1] is not None:
        before, at, after = curve[index - 1], curve[index], curve[index + 1]
        bend = before - 2.0 * at + after
        if bend > 0:  # evenly spaced knots: the vertex lies (before - after) / (2 bend) spacings away
            half = (ADDITIVE_KNOTS[index + 1] - knot) / 2.0
            vertex = knot + max(-half, min(half, half * (before - after) / bend))
            if reach is None or abs(vertex) <= reach:
                knot = vertex
    return knot


def _clip(value, low, high, strict, margin):
    """``value`` if it lies within [low, high], else the bound it passed: a model's optimum
    beyond a bound means "as far as allowed". A strict bound (``risk > 0``, see ``strict``)
    excludes its own value: the child stops ``margin`` inside it (at most half way across),
    not at the nearest float past it."""
    half = (high - low) / 2 if low is not None and high is not None else margin
    if low is not None and value < low:
        return low + min(margin, half) if strict[0] else low
    if high is not None and value > high:
        return high - min(margin, half) if strict[1] else high
    return value


class EvolutionBreeder(Breeder):
    name = "default"
    description = ("an evolution strategy (sep-CMA-ES) guided by a model of the scores, replayed from every "
                   "recorded generation; steps scaled to each parameter; population you choose")

    def breed(self, request):
        rng = request.rng
        population = request.population or max(8, 2 * len(request.groups))
        history = replay.History.of(request)
        # each batch's scored groups, and how many were bred in it (see RULE_SHARE)
        scored = [([g for g in batch if g in history], len(batch)) for batch in request.batches()]
        batches = [batch for batch, _bred in scored if batch]
        bred = [count for batch, count in scored if batch]
        start = batches[0] if batches else list(request.groups)
        state = self._replayed(request, history, batches, start, population, bred)
        strategy, probabilities, numeric, discrete = state.strategy, state.probabilities, state.numeric, state.discrete
        names = list(state.start)
        recent = [g for batch in batches for g in batch][-MODEL_MAX:]
        self._follow_algos(request, strategy, probabilities, history)
        best_group = request.groups[0] if request.groups else start[0]
        strength = [self._strength(request, n) for n in numeric]
        proposals = [(strategy.mean, {n: max(t.values(), key=lambda e: e[1])[0] for n, t in probabilities.items()})]
        if request.attempt:
            # asked again: the proposals (the same on every call) were refused, so only samples now;
            # e.g. they were bred before, in a generation that was never scored
            proposals = []
        elif len(recent) >= MODEL_MIN:
            history.load(recent)  # one read for all the models' groups
            found = [self._model_optimum(strategy, discrete, probabilities, recent, history, request.minimize)]
            if len(numeric) <= ADDITIVE_UP_TO:
                found += self._additive_optima(strategy, discrete, probabilities, recent, history, request.minimize)
            proposals[:0] = found
        crossovers = self._crossover_count(population, len(names), len(history))
        pool = list(history)[:CROSSOVER_POOL] if crossovers else []  # the best groups so far (best first)
        history.load(pool)
        children = []
        # what every child looks up, looked up once: each param's type name and bounds, and each
        # discrete param's values with their cumulative sampling weights
        kinds = [request.types.for_param(name).name for name in numeric]
        mirror = self._mirrored(numeric, kinds, probabilities)
        twin = None  # a sample whose mirror image is the next child
        sampled = population - min(population, len(proposals) + (crossovers if len(pool) >= 2 else 0))
        draws = iter(strategy.stratified(rng, strength, (sampled + 1) // 2 if mirror else sampled))
        bounds = [request.bounds.get(name, (None, None)) for name in numeric]
        tables = {name: self._sampling_table(probabilities[name], self._strength(request, name)) for name in discrete}
        for number in range(population):
            shared = None  # the discrete values of the sample this child mirrors
            if number < len(proposals):
                vector, picks = proposals[number]
            elif number < len(proposals) + crossovers and len(pool) >= 2:
                children.append(self._crossover(request, strategy, numeric, probabilities, strength,
                                                rng.sample(pool, 2), history))
                continue
            elif twin is not None:
                vector, picks, shared = [2.0 * m - x for m, x in zip(strategy.mean, twin)], None, children[-1].params
                twin = None
            else:
                vector, picks = next(draws), None
                twin = vector if mirror else None
            params = {}
            for index, (name, value, kind, (low, high)) in enumerate(zip(numeric, vector, kinds, bounds)):
                if kind not in OWN_UNITS:
                    step = strategy.sigma * strategy.scale[index] * strength[index]
                    centre = value if picks is not None else strategy.mean[index]
                    param_type = request.types.for_param(name)
                    if (param_type.low is not None and centre < param_type.low
                            or param_type.high is not None and centre >= param_type.high):
                        # a model's optimum outside what the type holds (a log scale's value below 0,
                        # in the units the model is fitted in): around the mean instead, not on the edge
                        centre = strategy.mean[index]
                    params[name] = request.mutate(name, centre, sigma=step, rate=0.0)
                    continue
                # a sample is folded back into the bounds (its spread stays symmetric); a model's
                # optimum beyond a bound stops at it (folding it back would send it as far the
                # wrong way), just inside a strict one
                if picks is None:
                    value = fold(value, low, high)
                else:
                    value = _clip(value, low, high, request.strict_bounds.get(name, (False, False)),
                                  CLIP_MARGIN * strategy.sigma * strategy.scale[index])
                params[name] = int(round(value)) if kind == "int" else value
            for name in discrete:
                if picks is not None:
                    params[name] = _own(picks[name])
                elif shared is not None:
                    params[name] = _own(shared[name])
                else:
                    params[name] = self._pick(rng, *tables[name])
            children.append(Child(params, [best_group]))
        return children

    def _replayed(self, request, history, batches, start, population, bred=None):
        """The strategy and discrete probabilities after every scored batch (a :class:`_Replay`).

        The first batch gives the start (the first group's values; a param a later group added,
        ``gf load --parent`` with a new line, starts from the first value it had, in creation
        order, the parents' values last); every later batch is one update. The replay starts
        where an earlier generation's replay in this process left off when it saw the same
        groups with the same scores (:mod:`gf_plugins_builtin.replay`), and reads the values of
        only the batches it replays."""
        # the breeder's class in the key: a plugin's variant (another ``_scale``, say) keeps its own
        # the code and the machine too: a saved state (see below) was left by another process, maybe
        # another gf; None (no state is saved) where the code cannot be read
        environment = _environment(type(self), request.types)
        header = (REPLAY_VERSION, type(self).__module__, type(self).__qualname__, self.name, population,
                  request.minimize, bool(request.tags), environment)
        bred = bred if bred is not None else [len(batch) for batch in batches]
        keys = (replay.chain(header, batches, history, request.digests(), bred)
                if request.digests is not None else [None] * len(batches))
        # states saved in the database let a new process resume too (one `gf breed` a generation)
        saved = request.saved_replays if environment is not None else None
        index, state = replay.resume(keys, saved, _decode)
        todo = batches[index + 1:] if state is not None else []
        guess = None
        for last in (False, True):
            if state is None:
                first = dict(history[start[0]][0]) if start[0] in history else dict(request.params.get(start[0], {}))
                starting = [values for values, _score in history.pairs(batches[0])] if batches else []
                state = self._fresh(request, guess, first, starting, population)
                todo = batches[1:]
            for batch, count in zip(todo, bred[len(batches) - len(todo):]):
                members = history.pairs(batch)
                _extend(state.batch_start, [values for values, _score in members])
                self._update(state, members, request.minimize, count)
            final = _extend(dict(state.batch_start), [request.params.get(g, {}) for g in request.groups])
            if last or _exactly(final, state.start) and self._config(request, final) == state.config:
                break
            # a param first seen in a batch just replayed (or a parent's), or other types or bounds
            # than the kept state's: replayed from the start with every param it will have
            guess, state = final, None
        if batches and not (index == len(batches) - 1 and guess is None):  # else it is kept as it is
            replay.remember(keys[-1], state, saved, _encode, self.name)
        return state

    def _fresh(self, request, guess, first, starting, population):
        """The :class:`_Replay` before any update: from ``guess`` (every param's start, when known)
        or else ``first`` (the first group's values) with the other ``starting`` groups' params
        and the parents' added."""
        batch_start = _extend(first, starting)
        start = guess if guess is not None else _extend(dict(batch_start),
                                                        [request.params.get(g, {}) for g in request.groups])
        numeric = [n for n in start if request.types.for_param(n).numeric and _is_number(start[n])]
        strategy = Strategy(numeric, [float(start[n]) for n in numeric],
                            [self._scale(start[n], request.bounds.get(n)) for n in numeric], population)
        if request.tags:  # a tagged param's samples take up to twice the step (see :meth:`_strength`)
            strategy.reach = STEP_LIMIT * MAX_STRENGTH
        state = _Replay(start, batch_start, self._config(request, start), strategy,
                        {n: self._start_probabilities(start[n]) for n in start if n not in numeric})
        # the params the child at the mean takes exactly (ints rounded), for the sample-success rule
        state.own = [i for i, n in enumerate(numeric) if request.types.for_param(n).name in OWN_UNITS]
        state.rounded = {i for i in state.own if request.types.for_param(numeric[i]).name == "int"}
        state.local = bool(state.own) and 2 * len(numeric) + 1 < MODEL_MAX
        return state

    @staticmethod
    def _config(request, start):
        """What the replay takes from ``request`` beyond the groups: each param's type and bounds."""
        return [(name, request.types.for_param(name).name, request.bounds.get(name)) for name in start]

    def _update(self, state, members, minimize, bred=None):
        """One generation's update from ``members``, the ``(values, score)`` of one batch of ``bred`` groups
        (the scored and the others; default: ``members``)."""
        strategy = state.strategy
        ranked = sorted(members, key=lambda member: member[1], reverse=not minimize)
        # a batch only partly scored (children whose runs failed, a generation evaluated in part
        # by hand or still being scored by another loop) says too little of how often children
        # beat the mean: 2 of 2 grew the step 1,000-fold for good (see :data:`RULE_SHARE`)
        enough = len(members) >= RULE_SHARE * (len(members) if bred is None else bred)
        success = self._success(strategy, state.own, state.rounded, members, minimize) if state.own and enough else None
        own_best = ranked[0]
        elite = None
        for member in state.bests:  # the best of the last ELITE_GENERATIONS batches, the latest among equals
            if elite is None or not self._better(elite[1], member[1], minimize):
                elite = member
        if elite is not None and self._better(elite[1], own_best[1], minimize):
            ranked = [elite] + ranked  # elitism: it takes part in selection
        strategy.update([[float(values.get(n, strategy.mean[i])) for i, n in enumerate(strategy.names)]
                         for values, _score in ranked])
        if success is not None and state.local and success < SUCCESS_TARGET:
            strategy.sigma *= math.exp((success - SUCCESS_TARGET) / SUCCESS_DAMPING)
        elif success is not None and not state.local and success > GROWTH_TARGET:
            grown = strategy.sigma * math.exp((success - GROWTH_TARGET) / GROWTH_DAMPING)
            strategy.sigma = max(strategy.sigma, min(grown, MAX_GROWTH * strategy.start_sigma))
        self._learn(state.probabilities, [values for values, _score in ranked[: strategy.mu]])
        state.bests = (state.bests + [own_best])[-ELITE_GENERATIONS:]

    @classmethod
    def _success(cls, strategy, own, rounded, members, minimize):
        """The share of ``members`` (``(values, score)`` of the groups bred from ``strategy`` as it
        is now) scoring better than the child bred at its mean, or ``None`` if no such child is
        found (or there are fewer than three).

        That child is the group nearest the mean over the params ``own`` (indices into
        ``strategy.names``: those it takes exactly; those in ``rounded`` are ints, measured from
        the rounded mean), in steps, if it has a finite number for every one of them and lies
        within a tenth of a sample's typical squared distance (``0.1 * len(own)``), less below 10
        params (``0.01 * len(own) ** 2``), where a sample falls that near more often: were the
        child at the mean missing (refused as a duplicate), a sample would seldom stand in for it."""
        if len(members) < 3:
            return None
        units = [(strategy.names[i], round(strategy.mean[i]) if i in rounded else strategy.mean[i],
                  strategy.sigma * strategy.scale[i]) for i in own]
        limit = 0.1 * len(units) * min(1.0, len(units) / 10)
        centre, nearest = None, limit
        for position, (values, _score) in enumerate(members):
            total = 0.0
            for name, mean, step in units:
                value = values.get(name)
                if not _is_number(value) or not math.isfinite(value) or step <= 0:
                    break
                distance = (value - mean) / step
                total += distance * distance
                if total >= nearest:
                    break
            else:
                centre, nearest = position, total
        if centre is None:
            return None
        score = members[centre][1]
        return sum(cls._better(other, score, minimize) for position, (_values, other) in enumerate(members)
                   if position != centre) / (len(members) - 1)

    @staticmethod
    def _mirrored(numeric, kinds, probabilities):
        """Whether samples come in mirrored pairs: ``mean + d`` and ``mean - d``, the second taking the
        first's discrete values (an odd one out is a sample of its own).

        They do while the quadratic model can have no more scored groups than terms (more than 319
        numeric params, as :data:`GROWTH_TARGET`'s rule), more than 319 of them are mirrored (those
        sampled in their own units, :data:`OWN_UNITS`; another type's child is its ``gf_mutate`` around
        the mean, for each child of a pair alike) and the discrete params give the model at least as
        many terms as those (one per value beyond each one's first). There every sample drawing
        discrete values of its own buries what its numbers did under what they did: on the suite's
        mixed function at 1,000 params (600 numbers, 200 bools, 200 four-way choices: 800 discrete
        terms), the strategy's mean moved no nearer the floats' optimum in 20 generations (its move and
        the way to the optimum correlated at 0.1, against 0.73 on the sphere), nor did the model's
        child much (0.05-0.14). Within a pair only the numbers differ, and by opposite steps, so
        ranking and the model see their effect apart from the discrete values', and the pair's
        discrete values theirs apart from the numbers'. On that function this took the mean regret
        from 0.419 to 0.392 (seeds 0-4; seeds 5-12 0.406 -> 0.392; 9 of the 13 better).

        A pair explores one direction where two samples explore two: with few discrete terms that
        costs more than it gives (400 numbers and a choice on a sphere: the model's child gained 2 %
        on the mean instead of 11 %); with every sample mirrored at 100 params (no discrete params),
        Rastrigin's regret went from 0.43 to 0.50, and the mixed function's from 0.018 to 0.020 (there
        the model has groups enough to tell the two apart)."""
        mirrored = sum(kind in OWN_UNITS for kind in kinds)
        discrete_terms = sum(len(table) - 1 for table in probabilities.values())
        return 2 * mirrored + 1 >= MODEL_MAX and discrete_terms >= mirrored

    @staticmethod
    def _crossover_count(population, params, scored):
        """How many crossover children this generation gets (see :data:`CROSSOVER_SHARE`)."""
        if scored < 2 * population:
            return 0
        return int(population * CROSSOVER_SHARE * min(1.0, CROSSOVER_FULL_UP_TO / max(1, params)))

    @staticmethod
    def _crossover(request, strategy, numeric, probabilities, strength, parents, history):
        """A child taking each parameter from one of the ``parents`` (two group ids), numbers nudged."""
        rng = request.rng
        values = [history[group][0] for group in parents]
        params = {}
        for index, name in enumerate(numeric):
            options = [v[name] for v in values if _is_number(v.get(name))]
            value = float(rng.choice(options)) if options else strategy.mean[index]
            step = strategy.sigma * strategy.scale[index] * strength[index] * CROSSOVER_NUDGE
            kind = request.types.for_param(name).name
            if kind not in OWN_UNITS:
                params[name] = request.mutate(name, value, sigma=step, rate=0.0)
                continue
            low, high = request.bounds.get(name, (None, None))
            value = fold(value + step * rng.gauss(0.0, 1.0), low, high)
            params[name] = int(round(value)) if kind == "int" else value
        for name, table in probabilities.items():
            options = [v[name] for v in values if name in v]
            params[name] = _own(rng.choice(options) if options else max(table.values(), key=lambda e: e[1])[0])
        return Child(params, list(parents))

    @staticmethod
    def _model_data(strategy, discrete, probabilities, groups, history, minimize):
        """What both models are fitted to: ``(u columns, scores, options, indicator columns, values)``.

        ``u`` is each numeric parameter in the strategy's own coordinates, ``(x - mean) /
        (sigma * scale)``; scores are turned so that lower is better; ``options`` maps every
        discrete parameter to ``[(value key, index of its indicator column or None)]``, the
        first entry its most likely value (no column: the others are measured against it).
        """
        values = [history[g][0] for g in groups]
        scores = [history[g][1] if minimize else -history[g][1] for g in groups]
        largest = max((abs(score) for score in scores), default=0.0)
        if largest > LARGEST_MODELLED:  # the models square scores: near the largest float they would overflow
            exponent = math.frexp(largest)[1]
            scores = [math.ldexp(score, -exponent) for score in scores]  # a power of two: the same model, scaled
        steps = [strategy.sigma * s for s in strategy.scale]
        columns = []
        raw = zip(*[[v.get(name) for name in strategy.names] for v in values]) if strategy.names else ()
        for column, mean, step in zip(raw, strategy.mean, steps):
            try:
                columns.append(list(map(truediv, map(sub, map(float, column), repeat(mean)), repeat(step))))
            except (TypeError, ValueError):  # a group without the param (or not a number there): at the mean
                columns.append([(float(x) - mean) / step if _is_number(x) else 0.0 for x in column])
        options, indicators = {}, []
        for name in discrete:
            reference = max(probabilities[name].items(), key=lambda item: item[1][1])[0]
            keys = [_key(v[name]) if name in v else reference for v in values]
            options[name] = [(reference, None)]
            for key in dict.fromkeys(keys):
                if key != reference:
                    options[name].append((key, len(indicators)))
                    indicators.append([1.0 if k == key else 0.0 for k in keys])
        return columns, scores, options, indicators, values

    @staticmethod
    def _picks(probabilities, options, effects, values):
        """Each discrete parameter's value whose fitted effect is lowest (its reference counts 0)."""
        picks = {}
        for name, choices in options.items():
            key, _column = min(choices, key=lambda item: 0.0 if item[1] is None else effects[item[1]])
            picks[name] = probabilities[name][key][0] if key in probabilities[name] else next(
                v[name] for v in values if name in v and _key(v[name]) == key)
        return picks

    @classmethod
    def _model_optimum(cls, strategy, discrete, probabilities, recent, history, minimize):
        """``(vector, discrete picks)``: where a separable quadratic model of the score is best.

        The model is fitted to the ``recent`` groups (at most three per numeric parameter and
        discrete value) in the strategy's own coordinates (see :meth:`_model_data`): a linear
        and a squared term per numeric parameter, one squared-distance term shared by all
        (not penalized, so curvature is learnt even from few groups), and an indicator for
        every value of a discrete parameter other than its most likely one. With no more groups
        than terms, the squared term of each parameter is left out and the fit stops where the
        latest generation says (:func:`surrogate.checked_ridge_fit`). Once there are 1.25
        groups per term (:data:`surrogate.ROWS_PER_COLUMN`), it is fitted to the Box-Cox power of
        the scores that fits them best (:func:`surrogate.transformed_ridge_fit`). Its optimum may
        lie beyond a bound: the child then stops at it (just inside a strict one, see
        :data:`CLIP_MARGIN`).
        """
        window = 3 * (len(strategy.names) + sum(len(table) for table in probabilities.values()))
        columns, scores, options, indicators, values = cls._model_data(
            strategy, discrete, probabilities, recent[-window:], history, minimize)
        count = len(columns)
        squares = [list(map(mul, u, u)) for u in columns]
        shared = [sum(row) for row in zip(*squares)] or [0.0] * len(scores)
        if len(scores) > 2 * count + 1 + len(indicators):
            design = [column for pair in zip(columns, squares) for column in pair]
            _intercept, coefficients, _power = surrogate.transformed_ridge_fit(design + [shared] + indicators, scores,
                                                                                free=(2 * count,))
            linear, own = coefficients[0:2 * count:2], coefficients[1:2 * count:2]
            free = 2 * count
        else:
            # no more groups than terms: one shared curvature, fitted no further than the latest
            # generation's scores bear out (see :func:`surrogate.checked_ridge_fit`)
            _intercept, coefficients, _steps = surrogate.checked_ridge_fit(columns + [shared] + indicators, scores,
                                                                           free=(count,), held_out=strategy.lam)
            linear, own = coefficients[:count], [0.0] * count
            free = count
        curvature = coefficients[free]
        steps = [strategy.sigma * s for s in strategy.scale]
        vector = [mean + step * surrogate.quadratic_minimum(b, a + curvature, TRUST)
                  for mean, step, b, a in zip(strategy.mean, steps, linear, own)]
        return vector, cls._picks(probabilities, options, coefficients[free + 1:], values)

    @classmethod
    def _additive_optima(cls, strategy, discrete, probabilities, recent, history, minimize):
        """``[(vector, discrete picks)]``: where an additive model of the score is best, within
        every knot and within each of :data:`ADDITIVE_NEAR` steps of the mean (each only where it
        differs from those before).

        One piecewise-linear curve per numeric parameter over :data:`ADDITIVE_KNOTS` (in
        steps from the mean) and an effect per discrete value, fitted to all the ``recent``
        groups (a shape needs more of them than the quadratic's local fit); every parameter
        goes to where its curve is lowest (see :func:`_lowest_knot`). Unlike the quadratic model it can see a
        far-off dip, or a second valley, in what one parameter does; the nearer optima
        hedge against a far one the model got wrong.
        """
        columns, scores, options, indicators, values = cls._model_data(
            strategy, discrete, probabilities, recent, history, minimize)
        curves, effects = surrogate.hat_fit(columns, scores, ADDITIVE_KNOTS, indicators=indicators)
        picks = cls._picks(probabilities, options, effects, values)
        found = []
        for reach in (None, *ADDITIVE_NEAR):
            vector = [mean + strategy.sigma * scale * _lowest_knot(curve, reach)
                      for mean, scale, curve in zip(strategy.mean, strategy.scale, curves)]
            if all(vector != other for other, _ in found):
                found.append((vector, picks))
        return found

    @staticmethod
    def _start_probabilities(value):
        """Half the weight on the starting value, the rest on the other values it can take
        (the other boolean, a choice's other options), so they are tried from the start."""
        if isinstance(value, bool):
            others = [not value]
        elif isinstance(value, list) and len(value) > 1:
            # by position: 1, 1.0 and true are three options (== would take them for one)
            others = [[value[i]] + value[:i] + value[i + 1:] for i in range(1, len(value))]
        else:
            others = []
        table = {_key(value): (value, 0.5 if others else 1.0)}
        for other in others:
            table[_key(other)] = (other, 0.5 / len(others))
        return table

    @staticmethod
    def _follow_algos(request, strategy, probabilities, history):
        """Tagged params lean towards the groups that scored best for their algo (half way)."""
        for algo, tagged in request.tags.items():
            ranked = [g for g in request.algo_ranking.get(algo, []) if g in history][: strategy.mu]
            if not ranked:
                continue
            weights = strategy.weights[: len(ranked)]
            total = sum(weights)
            for i, name in enumerate(strategy.names):
                values = [history[g][0].get(name) for g in ranked]
                if name in tagged and all(_is_number(v) for v in values):
                    algo_mean = sum(w * v for w, v in zip(weights, values)) / total
                    strategy.mean[i] = 0.5 * (strategy.mean[i] + algo_mean)
            EvolutionBreeder._learn({n: t for n, t in probabilities.items() if n in tagged},
                                    [history[g][0] for g in ranked])

    @staticmethod
    def _better(a, b, minimize):
        return a < b if minimize else a > b

    @staticmethod
    def _scale(value, bounds):
        """The starting step of a parameter: a fifth of its range, else half its size, else 1."""
        low, high = bounds if bounds else (None, None)
        if low is not None and high is not None and high > low:
            return 0.2 * (high - low)
        return 0.5 * abs(value) if value else 1.0

    @staticmethod
    def _learn(probabilities, best_values):
        for name, table in probabilities.items():
            votes = {}
            for values in best_values:
                if name in values:
                    key = _key(values[name])
                    votes[key] = (values[name], votes.get(key, (None, 0.0))[1] + 1.0 / len(best_values))
            # new values last, in the order the votes found them (in a set's order, a new value's place,
            # and so the draws of _pick, would change from process to process)
            for key in list(table) + [key for key in votes if key not in table]:
                old = table.get(key, (votes.get(key, (None,))[0], 0.0))
                table[key] = (old[0], (1 - DISCRETE_RATE) * old[1] + DISCRETE_RATE * votes.get(key, (None, 0.0))[1])

    @staticmethod
    def _sampling_table(table, strength):
        """``(values, cumulative weights, strength)`` of a discrete param's probability ``table``, for :meth:`_pick`."""
        options = list(table.values())
        return ([v for v, _ in options], list(accumulate(max(FLOOR * strength, p) for _, p in options)), strength)

    @staticmethod
    def _pick(rng, values, cumulative, strength):
        value = rng.choices(values, cum_weights=cumulative)[0]
        if isinstance(value, list) and len(value) > 1 and rng.random() < FLOOR * strength:
            at = rng.randrange(1, len(value))  # now and then an option no good group had
            return [value[at]] + value[:at] + value[at + 1:]
        return _own(value)  # not the table's own list

    @staticmethod
    def _strength(request, name):
        factor = 1.0
        for algo, tagged in request.tags.items():
            if name in tagged:
                factor = max(factor, request.algo_strength.get(algo, 1.0))
        return factor


@hookimpl
def gf_register_breeders(register):
    register(EvolutionBreeder())
