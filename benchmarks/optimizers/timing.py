"""Breeder time per generation at 1,000 parameters: gf default against Optuna's samplers.

What is timed is what one generation costs the optimizer itself, evaluations excluded,
with ~200 scored points already known, on the ``mixed`` function (all four kinds):

* **gf default**: ``gf.engine.breed_generation`` (rank the parents, breed, fix, check
  for duplicates, store the 32 children in SQLite), timed around the call
  ``GeneticFuckery.evolve`` makes. The history is ``evolve`` itself: the start group and
  ``history`` generations of 32. Each measurement runs ``evolve(generations=1)`` on a
  fresh copy of that database, so every measured generation sees the same 193 groups.
* **Optuna TPE** (``multivariate=True``) and **NSGA-II** (``population_size=32``):
  32 calls of ``study.ask(fixed_distributions)`` on an in-memory study holding
  ``history`` x 32 told trials; each measurement asks on a fresh copy of that study.
  NSGA-II builds its history itself (it needs its own generations); TPE's history is
  told from random points, because TPE's cost depends on how many trials and parameters
  it models, not on who proposed them, and building it with TPE would take many minutes.

The three are measured in turns (gf, NSGA-II, TPE, gf, ...), so load from other work
on a shared machine falls on all of them alike; the report gives the median per optimizer.
Each lives in a process of its own, spawned (not forked from the harness, whose objects it
would carry), as it would in use: in one process, every full garbage collection during one's
measurement walked the others' objects too (Optuna's studies hold hundreds of thousands), which
took 0.25-0.4 s of NSGA-II's 0.75-0.95 s per generation and up to 0.1 s of gf's.
"""

import contextlib
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
import shutil
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


class GfSubject:
    """gf default: a database with the start group and ``history`` bred generations, scored."""

    name = "gf_default"

    def __init__(self, problem, batch, history, seed, workdir):
        self.problem, self.batch, self.seed, self.workdir = problem, batch, seed, workdir
        self.base = os.path.join(workdir, "history.db")
        opt.load_start(self.base, opt.gf_start_file(problem, problem.centre()))
        self._evolve(self.base, history, [])
        self.told = 1 + history * batch
        self.copies = 0

    def _evolve(self, db_path, generations, seconds):
        from gf import GeneticFuckery

        def evaluate(params, _dataset):
            return {"score": {"value": self.problem.evaluate(opt.gf_point(self.problem, params))[0]}}

        with timed_breeding(seconds), GeneticFuckery(dbfile=db_path) as gf:
            gf.evolve(evaluate, metric="value", minimize=True, generations=generations, population=self.batch,
                      datasets=["d"], breeder="default", seed=self.seed)

    def measure(self):
        """Seconds ``breed_generation`` takes for one more generation, on a fresh copy of the history."""
        self.copies += 1
        db_path = os.path.join(self.workdir, f"copy{self.copies}.db")
        shutil.copyfile(self.base, db_path)
        seconds = []
        self._evolve(db_path, 1, seconds)
        os.remove(db_path)
        return seconds[0]


class OptunaSubject:
    """An Optuna sampler with ``history`` x ``batch`` told trials."""

    def __init__(self, kind, problem, batch, history, seed):
        import optuna

        opt.quiet_optuna()
        self.name = f"optuna_{kind}"
        self.kind, self.problem, self.batch, self.seed = kind, problem, batch, seed
        self.dists = opt.optuna_distributions(problem)
        self.study = optuna.create_study(direction="minimize", sampler=opt.optuna_sampler(kind, seed, batch))
        rng = np.random.default_rng(seed)
        for _ in range(history):
            if kind == "tpe":
                self._tell_random(rng)
            else:
                self._ask_and_tell(self.study)
        self.told = history * batch

    def _tell_random(self, rng):
        import optuna

        for _ in range(self.batch):
            point = self.problem.random_point(rng)
            self.study.add_trial(optuna.trial.create_trial(
                params=opt.optuna_params(self.problem, point), distributions=self.dists,
                value=self.problem.evaluate(point)[0]))

    def _ask_and_tell(self, study):
        """Ask ``batch`` trials, then tell their values; returns the asking time."""
        started = time.perf_counter()
        trials = [study.ask(self.dists) for _ in range(self.batch)]
        elapsed = time.perf_counter() - started
        for trial in trials:
            study.tell(trial, self.problem.evaluate(opt.optuna_point(self.problem, trial.params))[0])
        return elapsed

    def measure(self):
        """Seconds to ask one batch, on a fresh copy of the history (same trials, a new sampler of the same seed)."""
        import optuna

        copy = optuna.create_study(direction="minimize", sampler=opt.optuna_sampler(self.kind, self.seed, self.batch))
        copy.add_trials(self.study.get_trials(deepcopy=False))
        return self._ask_and_tell(copy)


_subject = None  # the one subject of a worker process


def _build(kind, batch, history, seed, workdir):
    """Build this worker's subject (``gf_default``, ``nsga2`` or ``tpe``); ``(name, points told)``."""
    global _subject
    problem = make_problem(FUNCTION, DIM)
    if kind == "gf_default":
        _subject = GfSubject(problem, batch, history, seed, workdir)
    else:
        _subject = OptunaSubject(kind, problem, batch, history, seed)
    return _subject.name, _subject.told


def _measure():
    return _subject.measure()


def measure(batch=32, history=6, measured=3, seed=0, progress=print):
    """Median seconds per generation of ``batch`` at 1,000 params: gf default, Optuna NSGA-II, Optuna TPE,
    each in a worker process of its own, one working at a time."""
    result = {"function": FUNCTION, "dim": DIM, "batch": batch, "history_generations": history,
              "measured_generations": measured, "samples": {}, "seconds": {}, "told": {}}
    with contextlib.ExitStack() as stack:
        workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="gf-bench-timing-"))
        progress(f"timing: building the histories ({history} generations of {batch} at {DIM} params)")
        workers = {}
        for kind in ("gf_default", "nsga2", "tpe"):
            # spawned, not forked: a worker holds its own subject's objects only, not the harness's
            spawned = multiprocessing.get_context("spawn")
            worker = stack.enter_context(ProcessPoolExecutor(max_workers=1, mp_context=spawned))
            name, told = worker.submit(_build, kind, batch, history, seed, workdir).result()
            workers[name] = worker
            result["samples"][name] = []
            result["told"][name] = told
        for turn in range(measured):
            for name, worker in workers.items():
                seconds = worker.submit(_measure).result()
                result["samples"][name].append(round(seconds, 4))
                progress(f"timing {turn + 1}/{measured}: {name} {seconds:.2f} s for {batch}")
    for name, samples in result["samples"].items():
        result["seconds"][name] = statistics.median(samples)
    return result
