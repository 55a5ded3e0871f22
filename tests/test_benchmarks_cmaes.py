"""The optimizer benchmark's faster cmaes sampling gives exactly the draws the package gives.

At 1,000 parameters the cmaes package spends nearly all of an Optuna CMA-ES run in one
matrix product per draw; the benchmark replaces it by an equal, cheaper product
(``benchmarks.optimizers.optimizers.fast_cmaes_sampling``). Reported figures must not
change by it: these compare every draw, and a whole Optuna run, with and without it.
"""

import numpy as np
import pytest

cma_module = pytest.importorskip("cmaes._cma")
pytest.importorskip("optuna")

from benchmarks.optimizers import optimizers  # noqa: E402


@pytest.fixture
def unpatched(monkeypatch):
    """The package's own sampling now, and again after the test (the patch is global)."""
    original = cma_module.CMA._sample_solution
    monkeypatch.setattr(cma_module.CMA, "_sample_solution", original)
    monkeypatch.setattr(cma_module.CMA, "_eigen_decomposition", cma_module.CMA._eigen_decomposition)
    assert not getattr(original, "gf_fast", False)
    return original


def draws(dim, generations, popsize=12):
    """Every point one CMA-ES asks for on a shifted sphere in a tight box, and how many draws it took."""
    bounds = np.array([[-1.0, 1.5]] * dim)
    cma = cma_module.CMA(mean=np.full(dim, 0.2), sigma=0.6, bounds=bounds, seed=7, population_size=popsize)
    drawn = []
    sample = cma._sample_solution

    def counted():
        drawn.append(1)
        return sample()

    cma._sample_solution = counted
    asked = []
    for _ in range(generations):
        batch = [cma.ask() for _ in range(popsize)]
        asked += batch
        cma.tell([(x, float(np.sum((x - 0.7) ** 2))) for x in batch])
    return np.array(asked), len(drawn)


def test_the_faster_sampling_draws_exactly_the_same_points(unpatched):
    before, count_before = draws(40, 4)
    assert optimizers.fast_cmaes_sampling() is True
    assert cma_module.CMA._sample_solution is not unpatched
    after, count_after = draws(40, 4)
    assert count_before > len(before)  # points outside the box were redrawn: the loop that costs
    assert count_after == count_before
    assert np.array_equal(before, after)


def recorded_run(monkeypatch):
    """One short Optuna CMA-ES run of the harness: its record and every point it evaluated."""
    points, decompositions = [], []
    evaluate, eigh = optimizers.Tracker.evaluate, np.linalg.eigh

    def counted_eigh(matrix):
        decompositions.append(1)
        return eigh(matrix)

    monkeypatch.setattr(np.linalg, "eigh", counted_eigh)

    def recording(tracker, point):
        points.append(point.floats.copy())
        return evaluate(tracker, point)

    monkeypatch.setattr(optimizers.Tracker, "evaluate", recording)
    # 12 generations of 8: the cached decompositions are of covariance matrices CMA-ES learnt
    record = optimizers.run_one("rosenbrock", 20, "optuna_cmaes", 3, 96, 8)
    monkeypatch.setattr(optimizers.Tracker, "evaluate", evaluate)
    monkeypatch.setattr(np.linalg, "eigh", eigh)
    return record, np.array(points), len(decompositions)


def test_a_whole_optuna_cmaes_run_is_unchanged_by_it(unpatched, monkeypatch):
    with monkeypatch.context() as inner:
        inner.setattr(optimizers, "fast_cmaes_sampling", lambda: False)  # the harness without the patch
        plain, plain_points, plain_decompositions = recorded_run(inner)
    assert cma_module.CMA._sample_solution is unpatched
    fast, fast_points, fast_decompositions = recorded_run(monkeypatch)
    assert getattr(cma_module.CMA._sample_solution, "gf_fast", False)
    assert plain["error"] is None and fast["error"] is None
    assert len(plain_points) == len(fast_points) == 96
    assert np.array_equal(plain_points, fast_points)
    assert plain["curve"] == fast["curve"]
    # two eigendecompositions per generation (before and after its tell), not two per trial
    assert plain_decompositions >= 150 and fast_decompositions <= 2 * 12
    # the last generation came from CMA-ES's own distribution, away from the start and from each other
    last = plain_points[-8:]
    assert len({tuple(x) for x in last}) == 8 and not np.any(np.all(last == plain_points[0], axis=1))


def test_an_unknown_cmaes_sampling_is_left_alone(unpatched, monkeypatch):
    def other(self):  # a later cmaes that draws some other way
        return self._mean

    eigen = cma_module.CMA._eigen_decomposition
    monkeypatch.setattr(cma_module.CMA, "_sample_solution", other)
    assert optimizers.fast_cmaes_sampling() is False
    assert cma_module.CMA._sample_solution is other and cma_module.CMA._eigen_decomposition is eigen
