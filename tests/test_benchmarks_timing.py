"""The optimizer benchmark's breeder-time measurement: gf default and Optuna's samplers, each in a process
of its own."""

import pytest

pytest.importorskip("optuna")
pytest.importorskip("numpy")

from benchmarks.optimizers import timing  # noqa: E402


def test_breeder_time_is_measured_in_turns_in_one_worker_process_per_optimizer():
    """A tiny measurement (a history of one generation of 4, two turns): every optimizer gets its samples
    and its count of points told, and none of them was built in this process (each worker's garbage
    collections walk its own objects only)."""
    lines = []
    result = timing.measure(batch=4, history=1, measured=2, progress=lines.append)
    assert list(result["samples"]) == ["gf_default", "optuna_nsga2", "optuna_tpe"]
    assert all(len(samples) == 2 and all(s > 0 for s in samples) for samples in result["samples"].values())
    assert result["told"] == {"gf_default": 5, "optuna_nsga2": 4, "optuna_tpe": 4}
    assert result["seconds"] == {name: (a + b) / 2 for name, (a, b) in result["samples"].items()}  # the medians
    assert [line.split(":")[0] for line in lines[1:]] == ["timing 1/2"] * 3 + ["timing 2/2"] * 3
    assert timing._subject is None  # built in the workers, not here
