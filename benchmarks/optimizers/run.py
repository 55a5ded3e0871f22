"""Run the optimizer benchmark: every optimizer on every function, dimension and seed; report; plot.

From the repository root::

    python -m benchmarks.optimizers --quick            # a few minutes
    python -m benchmarks.optimizers --jobs 2 --write   # everything (hours: TPE at 1,000 params dominates)
    python benchmarks/optimizers/run.py --functions sphere,mixed --dims 100 --seeds 5 --budget 640

Writes ``benchmarks/results/optimizers.json`` (``optimizers-quick.json`` with ``--quick``;
``optimizers-random-start.json`` with ``--start random``) and one PNG per function beside
it; ``--write`` replaces the optimizers section of BENCHMARKS.md (a run from random start
points has a section of its own). See ``benchmarks/optimizers/__init__.py`` for what is
compared and how.
"""

import os

# One BLAS thread per process: runs are parallelized with --jobs, and the machine is shared.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
# gf with its built-in plugins only: an installed plugin (a broken one stops gf; a mutator or
# fixer would change the breeders) must not decide the results. Set GF_LOAD_PLUGINS to override.
os.environ.setdefault("GF_LOAD_PLUGINS", "")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import multiprocessing  # noqa: E402
import re  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks import _common  # noqa: E402
from benchmarks.optimizers import analysis, plots, report, timing  # noqa: E402
from benchmarks.optimizers.functions import SUITE  # noqa: E402
from benchmarks.optimizers.functions import check as check_problem  # noqa: E402
from benchmarks.optimizers.functions import problem as make_problem  # noqa: E402
from benchmarks.optimizers.optimizers import OPTIMIZERS, available, get, run_one  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "results"

DEFAULTS = {"functions": list(SUITE), "dims": [10, 100, 1000], "seeds": 5, "budget": 640, "timing_generations": 5}
#: A smoke test of a few minutes: every optimizer and both kinds of report, on little.
QUICK = {"functions": ["sphere", "rastrigin", "mixed"], "dims": [10, 100], "seeds": 1, "budget": 128,
         "timing_generations": 1}
#: Generations of history before the breeder time is measured (``--quick``: fewer).
TIMING_HISTORY, QUICK_TIMING_HISTORY = 6, 2

#: Rough relative cost of a run per parameter, to start the slowest runs first.
COST = {"optuna_tpe": 40, "optuna_cmaes": 30, "nevergrad_ngopt": 8, "optuna_nsga2": 4, "gf_default": 3,
        "gf_classic": 3, "random": 1}


def _names(text):
    return [part.strip() for part in text.split(",") if part.strip()]


def _seeds(text):
    """``"5"`` -> seeds 0..4; ``"3,4"`` or ``"3-4"`` -> those seeds."""
    try:
        if text.strip().isdigit():
            count = int(text)
            if count < 1:
                raise ValueError
            return list(range(count))
        found = []
        for part in _names(text):
            first, _, last = part.partition("-")
            found += range(int(first), int(last or first) + 1)
        if not found or min(found) < 0:
            raise ValueError
        return list(dict.fromkeys(found))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a count (5) or seeds such as 3,4 or 5-9") from None


def parse_args(argv, prog):
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: 3 functions x 10, 100 params x 1 seed x 128 evaluations; breeder time "
                        "after 2 generations, 1 timed")
    parser.add_argument("--functions", type=_names, help=f"comma-separated; default all: {','.join(SUITE)}")
    parser.add_argument("--dims", type=lambda text: [int(x) for x in _names(text)], help="default 10,100,1000")
    parser.add_argument("--optimizers", type=_names, help=f"comma-separated; default all available: "
                        f"{','.join(OPTIMIZERS)}; gf_NAME runs any other gf breeder NAME, e.g. gf_ga "
                        "(random search always runs: it normalizes regret)")
    parser.add_argument("--seeds", type=_seeds, help="how many seeds (N: seeds 0..N-1; default 5), or which: "
                        "a list and ranges such as 3,4 or 5-9 (to add seeds to an earlier run, then --report both)")
    parser.add_argument("--budget", type=int, help="evaluations per run, rounded up to whole generations; default 640")
    parser.add_argument("--batch", type=int, default=32, help="evaluations per generation (default 32)")
    parser.add_argument("--start", choices=("centre", "random"), default="centre",
                        help="the shared first point: the box centre (default) or a random point per seed "
                        "(reported in a section and files of its own)")
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel processes (default 1)")
    parser.add_argument("--timing-generations", type=int,
                        help="timed generations per optimizer (default 5; 1 with --quick)")
    parser.add_argument("--skip-timing", action="store_true", help="skip the breeder-time measurement")
    parser.add_argument("--write", action="store_true", help="replace the optimizers section of BENCHMARKS.md")
    parser.add_argument("--report", metavar="JSON[,JSON...]", help="run nothing: redo the tables, plots (and, with "
                        "--write, the section) from saved results files (several: reported together, e.g. a "
                        "1,000-parameter run with fewer optimizers beside the others)")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else DEFAULTS
    for key, value in base.items():
        if getattr(args, key) is None:
            setattr(args, key, list(range(value)) if key == "seeds" else value)
    unknown = [name for name in args.functions if name not in SUITE]
    if unknown:
        parser.error(f"unknown function(s) {', '.join(unknown)}; choose from {', '.join(SUITE)}")
    args.optimizers = _chosen_optimizers(parser, args.optimizers)
    args.budget = -(-args.budget // args.batch) * args.batch
    return args


def _chosen_optimizers(parser, names):
    runnable = available()
    if names is None:
        names = runnable
    unknown = [name for name in names if name not in OPTIMIZERS and not name.startswith("gf_")]
    if unknown:
        parser.error(f"unknown optimizer(s) {', '.join(unknown)}; choose from {', '.join(OPTIMIZERS)} or gf_BREEDER")
    for name in names:
        if name in OPTIMIZERS and name not in runnable:
            print(f"skipping {name}: its package does not import here", file=sys.stderr)
    known = [name for name in OPTIMIZERS if name in names and name in runnable]
    extra = [name for name in names if name not in OPTIMIZERS]
    chosen = known + extra
    return chosen if "random" in chosen else ["random", *chosen]


def tasks(args):
    """Every (function, dim, optimizer, seed) run that applies, slowest first (each problem checked once)."""
    found = []
    for function in args.functions:
        for dim in args.dims:
            problem = make_problem(function, dim)
            check_problem(problem)
            for optimizer in args.optimizers:
                if get(optimizer).applies(problem):
                    found += [(function, dim, optimizer, seed) for seed in args.seeds]
    return sorted(found, key=lambda task: -task[1] * COST.get(task[2], 1))


def _run_task(payload):
    task, budget, batch, start = payload
    return run_one(*task, budget=budget, batch=batch, start=start)


def run_all(args):
    """All runs, in ``--jobs`` processes, with a progress line per finished run."""
    todo = tasks(args)
    payloads = [(task, args.budget, args.batch, args.start) for task in todo]
    records = []
    if args.jobs > 1:
        with multiprocessing.get_context("fork").Pool(args.jobs, maxtasksperchild=20) as pool:
            for record in pool.imap_unordered(_run_task, payloads):
                records.append(record)
                _progress(record, len(records), len(todo))
    else:
        for payload in payloads:
            records.append(_run_task(payload))
            _progress(records[-1], len(records), len(todo))
    order = {name: index for index, name in enumerate(args.optimizers)}
    return sorted(records, key=lambda r: (r["function"], r["dim"], order[r["optimizer"]], r["seed"]))


def _progress(record, done, total):
    status = f"error: {record['error'][:80]}" if record["error"] else f"best {record['best']:.6g}"
    print(f"[{done}/{total}] {record['optimizer']} on {record['function']} at {record['dim']} params, seed "
          f"{record['seed']}: {status} ({record['seconds']:.1f} s)", file=sys.stderr, flush=True)


#: Explanations of errors seen from the compared libraries (matched by substring).
KNOWN_ERRORS = {
    "only 0-dimensional arrays can be converted": "nevergrad's MetaModel (which NGOpt picks for small continuous "
    "problems) calls float() on a one-element array, which numpy 2 refuses: a nevergrad incompatibility, not a "
    "benchmark failure",
}


def versions():
    """The versions that decide the results: the compared packages and gf's commit."""
    import subprocess
    from importlib import metadata

    found = {}
    for package in ("geneticfuckery", "optuna", "cmaes", "nevergrad", "numpy"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    try:
        git = ["git", "-C", str(Path(__file__).resolve().parents[2])]
        commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run([*git, "status", "--porcelain", "--", "gf", "gf_plugins_builtin"],
                               capture_output=True, text=True).stdout.strip()
        found["gf_commit"] = commit + (" with uncommitted changes to gf" if dirty else "")
    except OSError:
        found["gf_commit"] = None
    return found


def notes(records, settings):
    """Plain remarks for the report: failures and skipped optimizers."""
    found = []
    failed = [record for record in records if record["error"]]
    for optimizer in dict.fromkeys(record["optimizer"] for record in failed):
        mine = [record for record in failed if record["optimizer"] == optimizer]
        where = sorted({f"{record['function']}@{record['dim']}" for record in mine})
        hint = next((text for key, text in KNOWN_ERRORS.items() if key in mine[0]["error"]), None)
        found.append(f"{get(optimizer).label} failed {len(mine)} run(s) ({', '.join(where)}); first error: "
                     f"`{mine[0]['error'][:200]}`" + (f" ({hint})" if hint else ""))
    stalled = [record for record in records if record.get("stalled")]
    for optimizer in dict.fromkeys(record["optimizer"] for record in stalled):
        mine = [record for record in stalled if record["optimizer"] == optimizer]
        where = sorted({f"{record['function']}@{record['dim']}" for record in mine})
        counts = sorted({record["evaluations"] for record in mine})
        after = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]} to {counts[-1]}"
        found.append(f"{get(optimizer).label} stalled in {len(mine)} run(s) ({', '.join(where)}) after {after} "
                     f"evaluation(s): `{mine[0]['stalled'][:160]}`")
    if "nevergrad_ngopt" not in settings["optimizers"]:
        found.append("nevergrad NGOpt was not run (not installed here, or not chosen).")
    return found


def main(argv=None, prog="python -m benchmarks.optimizers"):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv, prog)
    if args.report:
        saved = merge_saved([_load(path) for path in _names(args.report)])
        # named by what the runs are, whatever the file was called
        run = {"command": saved["command"], "settings": saved["settings"], "machine": saved["machine"],
               "prefix": _prefix(saved["settings"]), "wall_seconds": saved["wall_seconds"]}
        run["merge_notes"] = saved.get("merge_notes", [])  # saved too, so reporting the merged file again keeps them
        run["notes"] = notes(saved["runs"], run["settings"]) + run["merge_notes"]
        publish(run, saved["runs"], saved["timing"], args.write)
        return
    started = time.perf_counter()
    machine = _common.machine()
    records = run_all(args)
    timed = None if args.skip_timing else measure_timing(args)
    settings = {"functions": args.functions, "dims": args.dims, "optimizers": args.optimizers,
                "seeds": list(args.seeds), "budget": args.budget, "batch": args.batch, "start": args.start,
                "jobs": args.jobs, "quick": args.quick}
    run = {"command": " ".join([prog, *map(shlex.quote, argv)]), "settings": settings,
           "machine": {**machine, "versions": versions()},
           "prefix": _prefix(settings), "wall_seconds": time.perf_counter() - started,
           "notes": notes(records, settings)}
    publish(run, records, timed, args.write)


def _prefix(settings):
    """The results files' name: ``optimizers``, ``-quick`` for a quick run, ``-random-start`` from random starts."""
    return ("optimizers" + ("-quick" if settings.get("quick") else "")
            + ("-random-start" if settings.get("start") == "random" else ""))


def _load(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError) as error:
        sys.exit(f"--report {path}: cannot read a saved results file ({error})")


def _commit_of(saved):
    commit = ((saved.get("machine") or {}).get("versions") or {}).get("gf_commit")
    return f", gf {commit}" if commit else ""


#: The merge note on runs found in several files (a later merge adds up the counts of the files it merges).
REPEATED = ("{count} run(s) present in more than one file (same optimizer, function, dimension and seed) were counted "
            "once, from the first file that has them.")


def merge_saved(saved):
    """One saved run from several (e.g. 10 and 100 params with every optimizer, 1,000 params with fewer).

    They must share budget, batch and start; runs, functions, dimensions and optimizers are
    united (functions in the suite's order, optimizers in the registry's), the first breeder
    timing found is kept, and a note says which seeds and optimizers each dimension had (plus
    a file's own ``remarks``, if it has any); a file merged before keeps its notes, so a merged
    file can take in later runs.
    """
    if len(saved) == 1:
        return saved[0]
    first = saved[0]
    for other in saved[1:]:
        for key in ("budget", "batch", "start"):
            if other["settings"][key] != first["settings"][key]:
                sys.exit(f"--report: the files differ in {key} ({first['settings'][key]} vs "
                         f"{other['settings'][key]}); only runs with the same {key} can be reported together")
    settings = dict(first["settings"])
    for key in ("functions", "optimizers", "seeds"):
        settings[key] = list(dict.fromkeys(item for one in saved for item in one["settings"][key]))
    # the tables' columns and rows in the usual order, whichever file came first
    for key, order in (("optimizers", list(OPTIMIZERS)), ("functions", list(SUITE))):
        settings[key].sort(key=lambda name, order=order: order.index(name) if name in order else len(order))
    settings["seeds"] = sorted(settings["seeds"])
    settings["dims"] = sorted({dim for one in saved for dim in one["settings"]["dims"]})
    settings["quick"] = any(one["settings"].get("quick") for one in saved)
    settings["merged"] = True
    merge_notes, repeated = [], 0
    for one in saved:
        if one.get("merge_notes"):  # a file merged before: its notes already list its runs one by one
            for note in one["merge_notes"]:
                found = re.fullmatch(r"(\d+)" + re.escape(REPEATED.split("{count}")[1]), note)
                if found:
                    repeated += int(found.group(1))
                else:
                    merge_notes.append(note)
            continue
        labels = ", ".join(get(name).label for name in one["settings"]["optimizers"])
        merge_notes.append(f"{', '.join(f'{dim:,}' for dim in one['settings']['dims'])} parameters: seeds "
                           f"{', '.join(map(str, one['settings']['seeds']))}; {labels}; "
                           f"`{one['command']}` ({one['wall_seconds'] / 60:.0f} min"
                           f"{_commit_of(one)}).")
        merge_notes += one.get("remarks", [])  # a note written into a saved file by hand, e.g. what was left out
    runs, seen = [], set()
    for one in saved:
        for record in one["runs"]:
            key = (record["optimizer"], record["function"], record["dim"], record["seed"])
            if key in seen:  # e.g. random search, which every run includes: the first file's run counts
                repeated += 1
                continue
            seen.add(key)
            runs.append(record)
    if repeated:
        merge_notes.append(REPEATED.format(count=repeated))
    timing = next((one["timing"] for one in saved if one.get("timing")), None)
    return {"command": " and ".join(one["command"] for one in saved), "settings": settings,
            "machine": first["machine"], "prefix": _prefix(settings),
            "wall_seconds": sum(one["wall_seconds"] for one in saved), "timing": timing,
            "runs": runs, "merge_notes": merge_notes}


def measure_timing(args):
    """The breeder-time measurement, or ``{"error": ...}`` when it fails (the quality results still stand)."""
    try:
        return timing.measure(batch=args.batch, measured=args.timing_generations,
                              history=QUICK_TIMING_HISTORY if args.quick else TIMING_HISTORY,
                              progress=lambda line: print(line, file=sys.stderr, flush=True))
    except Exception as error:
        return {"error": f"{type(error).__name__}: {error}"}


def publish(run, records, timed, write):
    """Summarize, save the JSON and the plots, print the tables and, with ``write``, update BENCHMARKS.md."""
    settings, prefix = run["settings"], run["prefix"]
    summary = analysis.summarize(records)
    # the targets are judged on runs from the centre; a run from random starts is a calibration
    checks = [] if settings.get("start") == "random" else analysis.target_checks(summary, timed, records)
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / f"{prefix}.json", "w") as handle:
        json.dump(_finite({**run, "timing": timed, "targets": checks, "summary": summary, "runs": records}), handle,
                  indent=1)
    plots.plot_all(summary, settings, RESULTS, prefix)
    print(report.terminal(summary, checks, timed, settings))
    print(f"results: {RESULTS / (prefix + '.json')} and {prefix}_<function>.png", file=sys.stderr)
    if write:
        _common.write_section(report.section_name(settings),
                              report.section(run, summary, checks, timed, _common.machine_line(run["machine"])))


def _finite(value):
    """``value`` ready for strict JSON: numpy scalars as Python numbers, NaN and infinities as null."""
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


if __name__ == "__main__":
    main(prog="python benchmarks/optimizers/run.py")
