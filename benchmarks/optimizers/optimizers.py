"""The optimizers compared, each driven the same way: generations of ``batch`` evaluations.

Every runner gets a :class:`Tracker` and must call ``tracker.evaluate(point)`` for every
evaluation; the tracker counts them, ignores any beyond the budget, and keeps the
best-so-far curve. Every optimizer's first evaluation is the same shared start point
(the centre of the box by default): gf needs a starting group, and the others are
handed the same point (Optuna's ``enqueue_trial``, nevergrad's ``suggest``, random
search simply evaluates it first), so no one starts with information the others lack.

Runners:

* ``random``: the start, then uniform points in the box;
* ``gf_default``, ``gf_classic``: ``GeneticFuckery.evolve(..., breeder=...)`` on a
  temporary SQLite file whose one starting group (loaded with gf's loader from a
  parameter file) is the start point, with every float and int bounded by constraint lines;
* ``optuna_tpe`` (``multivariate=True``), ``optuna_nsga2`` (``population_size=batch``),
  ``optuna_cmaes`` (``popsize=batch``; numeric problems only): batch ask/tell on an
  in-memory study, ``ask(fixed_distributions)`` ``batch`` times, evaluate, tell;
* ``nevergrad_ngopt``: ``NGOpt(num_workers=batch)``, ask ``batch``, evaluate, tell
  (skipped when nevergrad is not installed).
"""

import importlib
import json
import math
import os
import tempfile
import warnings
from dataclasses import dataclass, field

import numpy as np

from benchmarks.optimizers.functions import CHOICE_OPTIONS, Point

OPTION_LABELS = tuple(f"o{index}" for index in range(CHOICE_OPTIONS))


# -- counting evaluations ---------------------------------------------------------------


@dataclass
class Tracker:
    """Evaluates points for one run and keeps what the report needs.

    The best point is the one with the best *observed* value (what the optimizer
    would return); its *true* value is what regret is computed on, so noise cannot
    make a run look better than the point it found.

    :ivar curve: after every ``batch`` evaluations, the true value of the best-observed point so far.
    :ivar stalled: why the optimizer stopped proposing before the budget (gf: no valid new child), or ``None``.
    """

    problem: object
    budget: int
    batch: int
    noise_rng: object
    count: int = 0
    best_observed: float = math.inf
    best_true: float = math.inf
    curve: list = field(default_factory=list)
    stalled: str = None

    def evaluate(self, point):
        """The observed value of ``point`` (counted, if still within the budget)."""
        observed, true = self.problem.evaluate(point, self.noise_rng)
        if self.count >= self.budget:
            return observed
        self.count += 1
        if observed < self.best_observed:
            self.best_observed, self.best_true = observed, true
        if self.count % self.batch == 0:
            self.curve.append(self.best_true)
        return observed

    @property
    def done(self):
        return self.count >= self.budget


def start_point(problem, start, seed):
    """The shared first evaluation: the centre of the box, or a random point of this seed."""
    if start == "centre":
        return problem.centre()
    return problem.random_point(np.random.default_rng([seed, 1]))


# -- random search ----------------------------------------------------------------------


def run_random(problem, tracker, seed, start):
    """The start point, then uniformly random points, ``batch`` at a time."""
    rng = np.random.default_rng(seed)
    tracker.evaluate(start)
    while not tracker.done:
        for point in [problem.random_point(rng) for _ in range(tracker.batch)]:
            tracker.evaluate(point)


# -- gf -----------------------------------------------------------------------------------


def gf_start_file(problem, point):
    """The starting group in gf's loader format, with box bounds as constraint lines."""
    names = problem.names()
    lines = ["# the start point; floats and ints bounded by constraints"]
    for index, name in enumerate(names["float"]):
        lines.append(f"{name} = {json.dumps(float(point.floats[index]))}")
    for index, name in enumerate(names["int"]):
        lines.append(f"{name} = {int(point.ints[index])}")
    for index, name in enumerate(names["bool"]):
        lines.append(f"{name} = {json.dumps(bool(point.bools[index]))}")
    for index, name in enumerate(names["choice"]):
        head = int(point.choices[index])
        options = [OPTION_LABELS[head]] + [label for label in OPTION_LABELS if label != OPTION_LABELS[head]]
        lines.append(f"{name} = {json.dumps(options)}")
    bounds = [(name, problem.float_low[i], problem.float_high[i]) for i, name in enumerate(names["float"])]
    bounds += [(name, int(problem.int_low[i]), int(problem.int_high[i])) for i, name in enumerate(names["int"])]
    for name, low, high in bounds:
        lines.append(f"{name} >= {json.dumps(low)}")
        lines.append(f"{name} <= {json.dumps(high)}")
    return "\n".join(lines) + "\n"


def gf_point(problem, params):
    """A :class:`Point` from what a gf program reads (``params[name]``; a choice reads its head)."""
    names = problem.names()
    return Point(
        floats=np.array([params[name] for name in names["float"]], dtype=float),
        ints=np.array([params[name] for name in names["int"]], dtype=np.int64),
        bools=np.array([int(params[name]) for name in names["bool"]], dtype=np.int64),
        choices=np.array([int(params[name][1:]) for name in names["choice"]], dtype=np.int64),
    )


def load_start(db_path, text):
    """Load ``text`` as the first group of a new gf database (what ``gf load start.js --db X`` does)."""
    from gf import loader, plugins, store

    source = os.path.join(os.path.dirname(db_path), "start.js")
    with open(source, "w") as handle:
        handle.write(text)
    conn = store.connect(db_path)
    try:
        group, _parsed = loader.load(conn, [source], plugins.get_types(), db_path=db_path)
    finally:
        conn.close()
    return group


def run_gf(problem, tracker, seed, start, breeder):
    """``GeneticFuckery.evolve`` with ``breeder``: population ``batch``, enough generations for the budget.

    The start group counts as the first evaluation, so ``ceil((budget - 1) / batch)``
    generations are bred; the tracker ignores the evaluations of the last generation
    beyond the budget. When the breeder can no longer produce a valid new child (gf
    raises), the run *stalls*: it keeps the best it found, as a user's loop would.
    """
    from gf import GeneticFuckery, InputError

    generations = math.ceil((tracker.budget - 1) / tracker.batch)

    def evaluate(params, _dataset):
        return {"score": {"value": tracker.evaluate(gf_point(problem, params))}}

    with tempfile.TemporaryDirectory(prefix="gf-bench-") as workdir:
        db_path = os.path.join(workdir, "bench.db")
        load_start(db_path, gf_start_file(problem, start))
        with GeneticFuckery(dbfile=db_path) as gf:
            try:
                gf.evolve(evaluate, metric="value", minimize=True, generations=generations, population=tracker.batch,
                          datasets=["d"], breeder=breeder, top=None, seed=seed)
            except InputError as error:
                if "no valid new child" not in str(error):
                    raise
                tracker.stalled = str(error)


# -- optuna -------------------------------------------------------------------------------


def optuna_distributions(problem):
    """Optuna distributions keyed by gf name: bools and choices are categorical."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    names = problem.names()
    dists = {}
    for index, name in enumerate(names["float"]):
        dists[name] = FloatDistribution(float(problem.float_low[index]), float(problem.float_high[index]))
    for index, name in enumerate(names["int"]):
        dists[name] = IntDistribution(int(problem.int_low[index]), int(problem.int_high[index]))
    for name in names["bool"]:
        dists[name] = CategoricalDistribution((False, True))
    for name in names["choice"]:
        dists[name] = CategoricalDistribution(OPTION_LABELS)
    return dists


def optuna_params(problem, point):
    """Optuna params (by gf name) of a :class:`Point`."""
    names = problem.names()
    params = {name: float(point.floats[i]) for i, name in enumerate(names["float"])}
    params.update({name: int(point.ints[i]) for i, name in enumerate(names["int"])})
    params.update({name: bool(point.bools[i]) for i, name in enumerate(names["bool"])})
    params.update({name: OPTION_LABELS[int(point.choices[i])] for i, name in enumerate(names["choice"])})
    return params


def optuna_point(problem, params):
    """A :class:`Point` from an Optuna trial's params."""
    names = problem.names()
    return Point(
        floats=np.array([params[name] for name in names["float"]], dtype=float),
        ints=np.array([params[name] for name in names["int"]], dtype=np.int64),
        bools=np.array([int(params[name]) for name in names["bool"]], dtype=np.int64),
        choices=np.array([OPTION_LABELS.index(params[name]) for name in names["choice"]], dtype=np.int64),
    )


def fast_cmaes_sampling():
    """Make the cmaes package's sampling cost O(n^2) per draw instead of O(n^3), with the same numbers.

    cmaes (0.10-0.13) draws a sample as ``B.dot(np.diag(D)).dot(z)`` (cast aside): a
    full matrix product with a diagonal matrix, about 2 n^3 multiplications, for every
    draw. In a box, a draw outside it is redrawn, and at 1,000 parameters most draws are
    (72 per ask on average, profiled): 128 evaluations took 894 s, three quarters of it there.
    And Optuna restores the CMA object from a pickle for every trial it asks for, so the
    eigendecomposition of the covariance matrix (another n^3) is made again for every
    trial, on the same matrix, until the generation's ``tell``.

    This replaces the draw's product by ``B * D`` (each column of ``B`` times its entry
    of ``D``), the same matrix value for value (a product with a diagonal matrix only
    adds zeros), and remembers the latest eigendecomposition by the bytes of the matrix
    it was made of, so a trial whose covariance matrix is the one before gets the very
    arrays made then (the latest two are kept: with a whole generation asked before any
    of it is told, Optuna restores the object as it was before the last ``tell`` and
    makes that ``tell`` again for every trial). Every draw, and so every trial, is exactly
    what the unpatched package gives (``tests/test_benchmarks_cmaes.py`` checks, point by
    point). Returns whether the patch applies: not when the installed cmaes samples some
    other way (it is then left as it is).
    """
    import hashlib
    import inspect

    from cmaes import _cma

    cma = _cma.CMA
    if getattr(cma._sample_solution, "gf_fast", False):
        return True
    try:
        sources = inspect.getsource(cma._sample_solution), inspect.getsource(cma._eigen_decomposition)
    except (OSError, TypeError):
        return False
    # what the replacements assume: the draw's product and its one random draw; a decomposition
    # that reads and writes only _C, _B and _D
    expected = ("B.dot(np.diag(D))", "z = self._rng.randn(self._n_dim)", "x = self._mean + self._sigma * y",
                "self._C = (self._C + self._C.T) / 2", "D2, B = np.linalg.eigh(self._C)",
                "D = np.sqrt(np.where(D2 < 0, _EPS, D2))", "self._C = np.dot(np.dot(B, np.diag(D**2)), B.T)",
                "self._B, self._D = B, D")
    if not all(any(line in source for source in sources) for line in expected):
        return False
    eigen = cma._eigen_decomposition
    # the latest results only, kept out of the CMA object (Optuna pickles it)
    decomposed = []  # [(digest of C, B, D, C as the decomposition leaves it)], the latest two
    scaled = []  # [(B, D, B * D)]

    def _eigen_decomposition(self):
        if self._B is not None and self._D is not None:
            return self._B, self._D
        digest = hashlib.blake2b(self._C.tobytes(), digest_size=32).digest() + repr(self._C.shape).encode()
        for found, B, D, C in decomposed:
            if found == digest:
                self._C = C.copy()
                self._B, self._D = B, D
                return B, D
        B, D = eigen(self)
        decomposed[:] = [(digest, B, D, self._C.copy())] + decomposed[:1]
        return B, D

    def _sample_solution(self):
        B, D = self._eigen_decomposition()
        if not scaled or scaled[0][0] is not B or scaled[0][1] is not D:
            scaled[:] = [(B, D, B * D)]
        z = self._rng.randn(self._n_dim)  # ~ N(0, I), drawn as the package draws it
        return self._mean + self._sigma * scaled[0][2].dot(z)

    _sample_solution.gf_fast = True
    cma._eigen_decomposition = _eigen_decomposition
    cma._sample_solution = _sample_solution
    return True


def optuna_sampler(kind, seed, batch):
    """The Optuna sampler ``kind`` (``tpe``, ``nsga2`` or ``cmaes``), seeded; for ``cmaes``,
    with :func:`fast_cmaes_sampling` applied."""
    import optuna

    if kind == "tpe":
        return optuna.samplers.TPESampler(multivariate=True, seed=seed)
    if kind == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=batch, seed=seed)
    if kind == "cmaes":
        fast_cmaes_sampling()
        return optuna.samplers.CmaEsSampler(popsize=batch, seed=seed)
    raise ValueError(f"unknown Optuna sampler {kind!r}")


def quiet_optuna():
    """Silence Optuna's per-trial logging and its experimental-feature warnings."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", module="optuna")


def run_optuna(problem, tracker, seed, start, kind):
    """Batch ask/tell: ask ``batch`` trials, evaluate them, tell them; the start point enqueued first."""
    import optuna

    quiet_optuna()
    dists = optuna_distributions(problem)
    study = optuna.create_study(direction="minimize", sampler=optuna_sampler(kind, seed, tracker.batch))
    study.enqueue_trial(optuna_params(problem, start))
    while not tracker.done:
        size = min(tracker.batch, tracker.budget - tracker.count)
        trials = [study.ask(dists) for _ in range(size)]
        for trial in trials:
            study.tell(trial, tracker.evaluate(optuna_point(problem, trial.params)))


# -- nevergrad ----------------------------------------------------------------------------


def nevergrad_available():
    try:
        importlib.import_module("nevergrad")
    except Exception:  # not installed, or broken against this numpy
        return False
    return True


def nevergrad_parametrization(problem, start, seed):
    """A ``ng.p.Dict``: bounded float and integer arrays; bools and choices as repeated ``ng.p.Choice``."""
    import nevergrad as ng

    parts = {}
    if problem.counts["float"]:
        parts["floats"] = ng.p.Array(init=start.floats.astype(float), lower=problem.float_low, upper=problem.float_high)
    if problem.counts["int"]:
        parts["ints"] = ng.p.Array(init=start.ints.astype(float), lower=problem.int_low.astype(float),
                                   upper=problem.int_high.astype(float)).set_integer_casting()
    if problem.counts["bool"]:
        parts["bools"] = ng.p.Choice([0, 1], repetitions=problem.counts["bool"])
    if problem.counts["choice"]:
        parts["choices"] = ng.p.Choice(list(range(CHOICE_OPTIONS)), repetitions=problem.counts["choice"])
    parametrization = ng.p.Dict(**parts)
    parametrization.random_state = np.random.RandomState(seed)
    return parametrization


def nevergrad_value(problem, point):
    """The value of the ``ng.p.Dict`` for a :class:`Point` (for ``suggest``)."""
    value = {}
    if problem.counts["float"]:
        value["floats"] = point.floats.astype(float)
    if problem.counts["int"]:
        value["ints"] = point.ints.astype(float)
    if problem.counts["bool"]:
        value["bools"] = tuple(int(b) for b in point.bools)
    if problem.counts["choice"]:
        value["choices"] = tuple(int(c) for c in point.choices)
    return value


def nevergrad_point(problem, value):
    """A :class:`Point` from a nevergrad candidate's value."""
    empty = np.zeros(0, dtype=np.int64)
    return Point(
        floats=np.asarray(value.get("floats", np.zeros(0)), dtype=float),
        ints=np.asarray(value.get("ints", empty), dtype=np.int64),
        bools=np.asarray(value.get("bools", empty), dtype=np.int64),
        choices=np.asarray(value.get("choices", empty), dtype=np.int64),
    )


def run_nevergrad(problem, tracker, seed, start):
    """``NGOpt`` with ``num_workers=batch``: ask ``batch``, evaluate, tell; the start suggested first."""
    import nevergrad as ng

    warnings.filterwarnings("ignore", module="nevergrad")
    optimizer = ng.optimizers.NGOpt(parametrization=nevergrad_parametrization(problem, start, seed),
                                    budget=tracker.budget, num_workers=tracker.batch)
    optimizer.suggest(nevergrad_value(problem, start))
    while not tracker.done:
        size = min(tracker.batch, tracker.budget - tracker.count)
        candidates = [optimizer.ask() for _ in range(size)]
        for candidate in candidates:
            optimizer.tell(candidate, tracker.evaluate(nevergrad_point(problem, candidate.value)))


# -- the registry -------------------------------------------------------------------------


@dataclass(frozen=True)
class Optimizer:
    """A named runner, and which problems it applies to."""

    name: str
    run: object
    label: str
    numeric_only: bool = False

    def applies(self, problem):
        return problem.numeric or not self.numeric_only


OPTIMIZERS = {
    "random": Optimizer("random", run_random, "random search"),
    "gf_classic": Optimizer("gf_classic", lambda *a: run_gf(*a, breeder="classic"), "gf classic"),
    "gf_default": Optimizer("gf_default", lambda *a: run_gf(*a, breeder="default"), "gf default"),
    "optuna_tpe": Optimizer("optuna_tpe", lambda *a: run_optuna(*a, kind="tpe"), "Optuna TPE"),
    "optuna_nsga2": Optimizer("optuna_nsga2", lambda *a: run_optuna(*a, kind="nsga2"), "Optuna NSGA-II"),
    "optuna_cmaes": Optimizer("optuna_cmaes", lambda *a: run_optuna(*a, kind="cmaes"), "Optuna CMA-ES", True),
    "nevergrad_ngopt": Optimizer("nevergrad_ngopt", run_nevergrad, "nevergrad NGOpt"),
}


def get(name):
    """The optimizer ``name``; ``gf_NAME`` that is not listed runs gf's breeder ``NAME`` (e.g. ``gf_ga``)."""
    if name in OPTIMIZERS:
        return OPTIMIZERS[name]
    if name.startswith("gf_") and len(name) > 3:
        breeder = name[3:]
        return Optimizer(name, lambda *a: run_gf(*a, breeder=breeder), f"gf {breeder}")
    raise KeyError(f"unknown optimizer {name!r}")


def available():
    """The optimizers that can run here (nevergrad only when it imports)."""
    return [name for name in OPTIMIZERS if name != "nevergrad_ngopt" or nevergrad_available()]


def run_one(function, dim, optimizer, seed, budget, batch, start="centre"):
    """One run: ``optimizer`` on ``function`` at ``dim`` parameters with ``seed``; a JSON-ready record.

    A runner that raises keeps the evaluations it made (the curve is carried forward
    to the budget) and the error is recorded.
    """
    import time

    from benchmarks.optimizers.functions import problem as make_problem

    problem = make_problem(function, dim)
    if not get(optimizer).applies(problem):
        raise ValueError(f"{optimizer} does not apply to {function} (it has non-numeric parameters)")
    tracker = Tracker(problem, budget, batch, noise_rng=np.random.default_rng([seed, 2]))
    started = time.perf_counter()
    error = None
    try:
        get(optimizer).run(problem, tracker, seed, start_point(problem, start, seed))
    except Exception as exc:  # a failing optimizer is a result, not a crash of the whole benchmark
        error = f"{type(exc).__name__}: {exc}"[:500]
    seconds = time.perf_counter() - started
    curve = tracker.curve + [tracker.best_true] * (budget // batch - len(tracker.curve))
    return {
        "function": function, "dim": dim, "optimizer": optimizer, "seed": seed, "budget": budget, "batch": batch,
        "start": start, "evaluations": tracker.count, "best": tracker.best_true, "best_observed": tracker.best_observed,
        "curve": curve, "f_opt": problem.f_opt, "seconds": round(seconds, 3), "error": error,
        "stalled": tracker.stalled,
    }
