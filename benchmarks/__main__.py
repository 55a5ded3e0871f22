"""Run every benchmark, one after another: ``python -m benchmarks`` from the repository root.

    python -m benchmarks --quick            # every benchmark, small: a smoke test (~18 min on 2 busy cores)
    python -m benchmarks --write            # everything at full size, each section of BENCHMARKS.md rewritten
    python -m benchmarks --only optimizers,overhead_optuna --dry-run

Each benchmark runs as its own process with its own command line (the one its section
of BENCHMARKS.md records), so a failure in one is reported and the others still run;
the exit status is 0 only if every one succeeded. The full run takes more than a day of
CPU, nearly all of it Optuna at 1,000 parameters in ``optimizers`` (see its section);
``--quick`` runs each at a size meant for a smoke test, not for figures, which is why
it cannot be combined with ``--write``.
"""

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

#: name -> (full-size arguments, --quick arguments, what it measures). In report order.
BENCHMARKS = {
    "eval_overhead": ([], ["--runs", "3"], "one evaluation in a fresh process: gf vs plain sqlite3"),
    "breeding": ([], ["--runs", "1", "--grown", "320"], "breeding 1,000-parameter children, and where the time goes"),
    "ranking": ([], ["--runs", "1", "--other-runs", "1"], "top-N ranking over 1,000,000 results"),
    "run_throughput": ([], ["--runs", "1", "--diagnosis-evaluations", "50"], "gf run vs xargs -P"),
    "overhead_optuna": ([], ["--quick", "--cap", "20"], "recording runs: gf vs Optuna's CLI and storages"),
    "optimizers": ([], ["--quick"], "optimization quality and breeder time: gf vs Optuna, nevergrad, random"),
}


def command(name, quick, write, jobs):
    """The command line that runs benchmark ``name``."""
    full, small, _what = BENCHMARKS[name]
    if name == "optimizers":
        line = [sys.executable, "-m", "benchmarks.optimizers", *(small if quick else full)]
        if jobs:
            line += ["--jobs", str(jobs)]
    else:
        line = [sys.executable, str(REPO / "benchmarks" / f"{name}.py"), *(small if quick else full)]
    return line + (["--write"] if write else [])


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
        epilog="benchmarks: " + "; ".join(f"{name} ({what})" for name, (_f, _q, what) in BENCHMARKS.items()))
    parser.add_argument("--quick", action="store_true",
                        help="each benchmark at a small size: a smoke test, not figures (about 18 min on 2 busy cores)")
    parser.add_argument("--write", action="store_true", help="rewrite each benchmark's section of BENCHMARKS.md")
    parser.add_argument("--only", metavar="NAME[,NAME...]", help="run only these benchmarks (default: all)")
    parser.add_argument("--jobs", type=int, help="parallel runs for the optimizers benchmark (its --jobs)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args(argv)
    if args.quick and args.write:
        parser.error("--quick figures are a smoke test: --write would put them in BENCHMARKS.md in place of the "
                     "full ones; drop --quick to write")
    if args.jobs is not None and args.jobs < 1:
        parser.error(f"--jobs {args.jobs}: give 1 or more")
    args.names = list(BENCHMARKS)
    if args.only:
        args.names = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = [name for name in args.names if name not in BENCHMARKS]
        if unknown or not args.names:
            parser.error(f"--only {args.only}: unknown benchmark(s) {', '.join(unknown) or '(none given)'}; "
                         f"choose from {', '.join(BENCHMARKS)}")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    lines = {name: command(name, args.quick, args.write, args.jobs) for name in args.names}
    if args.dry_run:
        for line in lines.values():
            print(shown(line))
        return 0
    outcomes = []
    for number, (name, line) in enumerate(lines.items(), 1):
        print(f"[{number}/{len(lines)}] {name}: {shown(line)}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        status = subprocess.call(line, cwd=REPO)
        outcomes.append((name, status, time.perf_counter() - started))
    print("\nbenchmark          seconds  result", file=sys.stderr)
    for name, status, seconds in outcomes:
        print(f"{name:18s} {seconds:7.0f}  {'ok' if status == 0 else f'FAILED (exit {status})'}", file=sys.stderr)
    failed = [name for name, status, _seconds in outcomes if status != 0]
    if failed:
        print(f"{len(failed)} of {len(outcomes)} benchmark(s) failed: {', '.join(failed)} (their output is above)",
              file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
