"""Breeder time per generation at 1,000 parameters: gf default against Optuna's samplers.

What is timed is what one generation costs the optimizer itself, evaluations excluded:

* **gf default**: ``gf.engine.breed_generation`` (rank the parents, breed, fix,
  check for duplicates, store the 32 children in SQLite) as ``GeneticFuckery.evolve``
  calls it. ``evolve`` runs ``history`` generations of 32 on the ``mixed`` function at
  1,000 parameters (so ~200 groups are scored), then ``measured`` more generations
  are timed, each on the live database.
* **Optuna TPE** (``multivariate=True``) and **NSGA-II** (``population_size=32``):
  32 calls of ``study.ask(fixed_distributions)`` on an in-memory study that already
  holds the same number of told trials. NSGA-II builds that history itself (it needs its
  own generations); TPE's history is told from random points, because TPE's cost
  depends on how many trials and parameters it models, not on who proposed them, and
  building it with TPE would take many minutes more.

The reported figure is the median over the measured generations.
"""

import contextlib
import os
import statistics
import tempfile
import time

import numpy as np

from benchmarks.optimizers import optimizers as opt
from benchmarks.optimizers.functions import problem as make_problem

FUNCTION = "mixed"
DIM = 1000


@contextlib.contextmanager
def timed_breeding(seconds):
    """Wrap ``gf.engine.breed_generation`` (looked up by ``run_loop`` at call time) to append its wall time."""
    from gf import engine

    original = engine.breed_generation

    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            seconds.append(time.perf_counter() - started)

    engine.breed_generation = timed
    try:
        yield
    finally:
        engine.breed_generation = original


def gf_seconds(problem, batch, history, measured, seed):
    """Breed time of each of the ``measured`` generations that follow ``history`` generations of gf default."""
    from gf import GeneticFuckery

    tracker = opt.Tracker(problem, budget=10**9, batch=batch, noise_rng=None)

    def evaluate(params, _dataset):
        return {"score": {"value": tracker.evaluate(opt.gf_point(problem, params))}}

    seconds = []
    with tempfile.TemporaryDirectory(prefix="gf-bench-timing-") as workdir:
        db_path = os.path.join(workdir, "timing.db")
        opt.load_start(db_path, opt.gf_start_file(problem, problem.centre()))
        with timed_breeding(seconds), GeneticFuckery(dbfile=db_path) as gf:
            gf.evolve(evaluate, metric="value", minimize=True, generations=history + measured, population=batch,
                      datasets=["d"], breeder="default", seed=seed)
    return seconds[history:], 1 + history * batch


def _tell_batch(study, problem, dists, batch, rng=None):
    """Ask ``batch`` trials (or tell ``batch`` random points, with ``rng``) and tell their values; the asking time."""
    import optuna

    if rng is not None:
        for _ in range(batch):
            point = problem.random_point(rng)
            study.add_trial(optuna.trial.create_trial(params=opt.optuna_params(problem, point), distributions=dists,
                                                      value=problem.evaluate(point)[0]))
        return 0.0
    started = time.perf_counter()
    trials = [study.ask(dists) for _ in range(batch)]
    elapsed = time.perf_counter() - started
    for trial in trials:
        study.tell(trial, problem.evaluate(opt.optuna_point(problem, trial.params))[0])
    return elapsed


def optuna_seconds(kind, problem, batch, history, measured, seed):
    """Time to ask each of ``measured`` batches of ``batch`` trials after ``history`` told batches."""
    import optuna

    opt.quiet_optuna()
    dists = opt.optuna_distributions(problem)
    study = optuna.create_study(direction="minimize", sampler=opt.optuna_sampler(kind, seed, batch))
    rng = np.random.default_rng(seed) if kind == "tpe" else None
    for _ in range(history):
        _tell_batch(study, problem, dists, batch, rng)
    return [_tell_batch(study, problem, dists, batch) for _ in range(measured)], history * batch


def measure(batch=32, history=6, measured=3, seed=0, progress=print):
    """Median seconds per generation of ``batch`` at 1,000 params: gf default, Optuna TPE, Optuna NSGA-II."""
    problem = make_problem(FUNCTION, DIM)
    result = {"function": FUNCTION, "dim": DIM, "batch": batch, "history_generations": history,
              "measured_generations": measured, "samples": {}, "seconds": {}, "told": {}}
    runners = {
        "gf_default": lambda: gf_seconds(problem, batch, history, measured, seed),
        "optuna_nsga2": lambda: optuna_seconds("nsga2", problem, batch, history, measured, seed),
        "optuna_tpe": lambda: optuna_seconds("tpe", problem, batch, history, measured, seed),
    }
    for name, runner in runners.items():
        progress(f"timing {name}: {history} generations of history, then {measured} timed, at {DIM} params")
        samples, told = runner()
        result["samples"][name] = [round(value, 4) for value in samples]
        result["seconds"][name] = statistics.median(samples)
        result["told"][name] = told
        progress(f"timing {name}: median {result['seconds'][name]:.2f} s per generation of {batch}")
    return result
