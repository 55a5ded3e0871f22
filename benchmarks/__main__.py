"""Run every benchmark, one after another: ``python -m benchmarks`` from the repository root.

    python -m benchmarks --quick            # every benchmark, small: a smoke test (~5 min on 2 idle cores)
    python -m benchmarks --full --write     # every benchmark as its BENCHMARKS.md section records, sections rewritten
    python -m benchmarks --quick --only optimizers,overhead_optuna --dry-run

Each benchmark runs as its own process. At full size its command line is the one its
section of BENCHMARKS.md records; ``--quick`` runs each at a size meant for a smoke
test, not for figures, which is why it cannot be combined with ``--write``. A failure
in one is reported and the others still run; a benchmark whose optional packages are
missing is skipped with what to install. The exit status is 0 only if every chosen
benchmark ran and succeeded. The full run takes more than a day of CPU, nearly all of
it Optuna at 1,000 parameters in ``optimizers`` (see its section).
"""

import argparse
import importlib.util
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
INSTALL = "pip install -e '.[bench]'"


class Benchmark:
    """One benchmark: how to run it at full size and quick, what it measures, what it needs."""

    def __init__(self, script, full, quick, what, needs=()):
        self.script, self.full, self.quick, self.what, self.needs = script, full, quick, what, needs

    def command(self, quick, write, jobs):
        if self.script.startswith("-m "):
            line = [sys.executable, "-m", self.script[3:]]
        else:
            line = [sys.executable, str(REPO / "benchmarks" / self.script)]
        line += self.quick if quick else self.full
        if jobs and self.script.startswith("-m benchmarks.optimizers"):
            line += ["--jobs", str(jobs)]
        return line + (["--write"] if write else [])

    def missing(self):
        """The packages it needs that are not installed."""
        return [name for name in self.needs if importlib.util.find_spec(name) is None]


#: Every benchmark, in BENCHMARKS.md's order; full-size arguments as each section records them.
BENCHMARKS = {
    "eval_overhead": Benchmark("eval_overhead.py", ["--runs", "21"], ["--runs", "3"],
                               "one evaluation in a fresh process: gf vs plain sqlite3"),
    "breeding": Benchmark("breeding.py", ["--runs", "3"], ["--runs", "1", "--grown", "320"],
                          "breeding 1,000-parameter children, and where the time goes"),
    "ranking": Benchmark("ranking.py", [], ["--runs", "1", "--other-runs", "1"],
                         "top-N ranking over 1,000,000 results"),
    "run_throughput": Benchmark("run_throughput.py", ["--runs", "5"],
                                ["--quick", "--runs", "1", "--diagnosis-evaluations", "50"],
                                "gf run vs xargs -P"),
    "optimizers": Benchmark("-m benchmarks.optimizers", [], ["--quick"],
                            "optimization quality and breeder time: gf vs Optuna, nevergrad, random search",
                            needs=("numpy", "matplotlib")),
    "optimizers_random_start": Benchmark(
        "-m benchmarks.optimizers",
        ["--dims", "100", "--optimizers", "random,gf_default,optuna_nsga2", "--start", "random", "--skip-timing"],
        ["--quick", "--start", "random", "--optimizers", "random,gf_default,optuna_nsga2", "--skip-timing"],
        "the same from random start points, at 100 parameters", needs=("numpy", "matplotlib")),
    "overhead_optuna": Benchmark("overhead_optuna.py", [], ["--quick", "--runs", "3", "--cap", "10"],
                                 "recording runs: gf vs Optuna's CLI and storages", needs=("optuna",)),
}


def shown(line):
    """``line`` as a user would type it from the repository root (``python benchmarks/NAME.py ...``)."""
    words = ["python" if line[0] == sys.executable else line[0]]
    for word in line[1:]:
        path = Path(word)
        words.append(str(path.relative_to(REPO)) if path.is_absolute() and path.is_relative_to(REPO) else word)
    return shlex.join(words)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description="Run every benchmark, one after another, and say which failed.",
        epilog="benchmarks: " + "; ".join(f"{name} ({bench.what})" for name, bench in BENCHMARKS.items()))
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--quick", action="store_true",
                      help="each benchmark at a small size: a smoke test, not figures (about 5 min on 2 idle cores)")
    size.add_argument("--full", action="store_true",
                      help="each benchmark as its section records it (more than a day of CPU)")
    parser.add_argument("--write", action="store_true", help="rewrite each benchmark's section of BENCHMARKS.md "
                        "(with --full)")
    parser.add_argument("--only", metavar="NAME[,NAME...]", help="run only these benchmarks (default: all)")
    parser.add_argument("--jobs", type=int, help="parallel runs for the optimizers benchmarks (their --jobs)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args(argv)
    if args.quick and args.write:
        parser.error("--quick figures are a smoke test: --write would put them in BENCHMARKS.md in place of the "
                     "full ones; use --full --write")
    if args.jobs is not None and args.jobs < 1:
        parser.error(f"--jobs {args.jobs}: give 1 or more")
    args.names = list(BENCHMARKS)
    if args.only is not None:
        wanted = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = [name for name in wanted if name not in BENCHMARKS]
        if unknown or not wanted:
            parser.error(f"--only {args.only!r}: unknown benchmark(s) {', '.join(unknown) or '(none given)'}; "
                         f"choose from {', '.join(BENCHMARKS)}")
        args.names = [name for name in BENCHMARKS if name in wanted]  # in BENCHMARKS.md's order
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    chosen = {name: BENCHMARKS[name] for name in args.names}
    lines = {name: bench.command(args.quick, args.write, args.jobs) for name, bench in chosen.items()}
    if args.dry_run:
        for line in lines.values():
            print(shown(line))
        return 0
    outcomes = []
    for number, (name, line) in enumerate(lines.items(), 1):
        missing = chosen[name].missing()
        if missing:
            result = f"skipped: needs {', '.join(missing)} ({INSTALL})"
            print(f"[{number}/{len(lines)}] {name}: {result}", file=sys.stderr, flush=True)
            outcomes.append((name, result, 0.0))
            continue
        print(f"[{number}/{len(lines)}] {name}: {shown(line)}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        status = subprocess.call(line, cwd=REPO)
        outcomes.append((name, "ok" if status == 0 else f"FAILED (exit {status})", time.perf_counter() - started))
    print("\nbenchmark                seconds  result", file=sys.stderr)
    for name, result, seconds in outcomes:
        print(f"{name:24s} {seconds:7.0f}  {result}", file=sys.stderr)
    bad = [name for name, result, _seconds in outcomes if result != "ok"]
    if bad:
        print(f"{len(bad)} of {len(outcomes)} benchmark(s) failed or were skipped: {', '.join(bad)} (see above)",
              file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
