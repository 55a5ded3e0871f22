"""``python -m benchmarks``: the one command that runs every benchmark (issue 6), as a user runs it."""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NAMES = ["eval_overhead", "breeding", "ranking", "run_throughput", "optimizers", "optimizers_random_start",
         "overhead_optuna"]


def bench(*args):
    return subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def runner():
    """The runner's module, loaded from its file (``benchmarks`` is not an installed package)."""
    spec = importlib.util.spec_from_file_location("benchmarks_runner", REPO / "benchmarks" / "__main__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dry_run_lists_every_benchmark_in_order_at_quick_size():
    done = bench("--quick", "--dry-run")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(NAMES)
    for line in lines:
        assert line.startswith("python ") and "--write" not in line
    assert lines[0] == "python benchmarks/eval_overhead.py --runs 3"
    assert lines[4] == "python -m benchmarks.optimizers --quick"
    assert "--start random" in lines[5]
    assert lines[3] == "python benchmarks/run_throughput.py --quick --runs 1 --diagnosis-evaluations 50"
    assert lines[6] == "python benchmarks/overhead_optuna.py --quick --runs 3 --cap 10"


def test_full_runs_each_benchmark_as_its_section_records_it():
    done = bench("--full", "--write", "--dry-run")
    assert done.returncode == 0, done.stderr
    recorded = (REPO / "BENCHMARKS.md").read_text()
    for line in done.stdout.splitlines():
        if "benchmarks.optimizers" not in line:  # the optimizers section records the runs it merged
            assert f"`{line}`" in recorded, line


def test_only_write_and_jobs_reach_the_chosen_commands():
    done = bench("--full", "--only", "optimizers,eval_overhead", "--write", "--jobs", "2", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["python benchmarks/eval_overhead.py --runs 21 --write",
                                        "python -m benchmarks.optimizers --jobs 2 --write"]


@pytest.mark.parametrize("args, message", [
    ([], "one of the arguments --quick --full is required"),
    (["--quick", "--full"], "not allowed with argument"),
    (["--quick", "--only", "bogus,ranking"],
     "--only 'bogus,ranking': unknown benchmark(s) bogus; choose from eval_overhead"),
    (["--quick", "--only", ","], "unknown benchmark(s) (none given)"),
    (["--quick", "--only", ""], "unknown benchmark(s) (none given)"),
    (["--quick", "--write"], "--quick figures are a smoke test"),
    (["--quick", "--jobs", "0"], "--jobs 0: give 1 or more"),
])
def test_bad_arguments_exit_2_with_one_line_naming_the_argument(args, message):
    done = bench(*args, "--dry-run")
    assert done.returncode == 2
    assert done.stdout == ""
    error = done.stderr.strip().splitlines()[-1]
    assert message in error, error


def test_a_benchmark_missing_its_packages_is_skipped_and_says_what_to_install(runner, monkeypatch, capfd):
    monkeypatch.setattr(runner.BENCHMARKS["ranking"], "needs", ("no_such_package_for_gf",))
    monkeypatch.setattr(runner.Benchmark, "command", lambda self, *_: [sys.executable, "-c", "print('ran')"])
    assert runner.main(["--quick", "--only", "eval_overhead,ranking"]) == 1
    out, err = capfd.readouterr()
    assert out.splitlines() == ["ran"]  # eval_overhead only
    assert "[2/2] ranking: skipped: needs no_such_package_for_gf (pip install -e '.[bench]')" in err
    assert "1 of 2 benchmark(s) failed or were skipped: ranking" in err


def test_a_failed_benchmark_is_reported_the_others_still_run_and_the_exit_status_says_so(runner, monkeypatch, capfd):
    script = {"eval_overhead.py": "import sys; print('first ran'); sys.exit(3)", "ranking.py": "print('second ran')"}
    monkeypatch.setattr(runner.Benchmark, "command", lambda self, *_: [sys.executable, "-c", script[self.script]])
    assert runner.main(["--quick", "--only", "eval_overhead,ranking"]) == 1
    out, err = capfd.readouterr()
    assert out.splitlines() == ["first ran", "second ran"]
    assert "[1/2] eval_overhead:" in err and "[2/2] ranking:" in err
    summary = err.split("benchmark                seconds  result")[1].splitlines()
    assert summary[1].startswith("eval_overhead") and summary[1].endswith("FAILED (exit 3)")
    assert summary[2].startswith("ranking") and summary[2].endswith("ok")
    assert "1 of 2 benchmark(s) failed or were skipped: eval_overhead" in err


def git_status():
    """``git status`` of the checkout (empty where there is no git or no repository)."""
    if shutil.which("git") is None:
        return ""
    return subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True).stdout


def test_a_real_quick_benchmark_runs_to_the_end_and_leaves_the_repository_as_it_was():
    before = git_status()
    done = bench("--quick", "--only", "eval_overhead")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "eval_overhead" in done.stderr and done.stderr.rstrip().endswith("ok")
    assert "gf" in done.stdout  # the benchmark's own table
    assert git_status() == before  # no --write: nothing in BENCHMARKS.md or benchmarks/results changed
