"""How fast gf breeds children of 1,000-parameter groups, and where the time goes.

The path measured is the real one, ``gf.engine.breed_generation`` on a SQLite file,
as ``gf breed`` runs it: rank the parents per dataset, read their params, ask the
breeder plugin for children (``breed()``), run every child through the
``gf_fix_child`` constraint fixers and the type/constraint check, refuse duplicates
of each other and of every stored group, and store the children in one transaction.

The database: 8 parent groups of 1,000 parameters each (mixed types: 880 floats,
50 ``_int``, 25 ``_bool``, 20 ``_choice``, 25 ``_real_0``; 20 constraints), loaded
with ``gf.loader.load`` from parameter files, each scored on 2 datasets with
``GeneticFuckery(...).record()``. Each timed generation starts from a fresh copy of
that file and breeds with ``ResultMetric("profit")``, ``--top 8``:

* ``default`` (the evolution strategy of ``gf_plugins_builtin/evolution.py``): population 32;
* ``ga`` (the genetic algorithm that was the default before it): population 32;
* ``classic``: its own population, C(k, 2) children of the parents' top k = 6 results.

The breeders run interleaved, median of ``--runs`` after a warm-up round. More
timings (median of at most 3) breed on *grown* databases: a loop of ``--grown``
earlier children (by default 320, 992 and 4,800, i.e. 328, 1,000 and 4,808 stored
groups: 10, 31 and 150 generations) bred by ``default``, each generation scored on both
datasets before the next is bred, as ``gf breed`` does; the default breeder replays every
scored generation (``request.batches()``), and the duplicate check looks every child up
among all stored groups.

gf keeps in the process what the generations before read: the params it decoded
(``gf.values``) and where the default breeder's replay left off
(``gf_plugins_builtin.replay``), so a loop's later generations replay only what is new:
those are the ``warm`` rows (as in ``gf breed --loop``). ``cold`` rows empty both first:
the first generation of a process, as every ``gf breed`` run by hand, by cron or with the
print launcher is, which resumes from the replay state the generation before saved in the
database (table ``replay_states``) and replays only the generation scored since; ``cold,
nothing saved`` rows also delete the saved states, and replay every generation (the first
generation after upgrading gf; before gf saved states, every cold generation). (With a gf
that keeps nothing, all are the same.)

One more generation of each breeder runs with every step wrapped in a timer
(exclusive times: a step's time excludes the steps it calls) to show where the time
goes, inside ``breed()`` against the rest; and one under ``cProfile``, whose top 10
functions by cumulative time are printed (the Markdown section keeps a summary).

Usage: ``python benchmarks/breeding.py [--runs N] [--grown N,N] [--json] [--write]``;
``--write`` replaces the breeding section of BENCHMARKS.md.
"""

import argparse
import cProfile
import json
import os
import pstats
import random
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import _common

import gf
from gf import GeneticFuckery, breeding, engine, loader, plugins, store
from gf.metrics import ResultMetric

SECTION = "breeding"
PARAMS_PER_GROUP = 1000
#: How many parameters of each type a group has (the rest of the 1,000 are floats).
TYPE_COUNTS = {"_int": 50, "_bool": 25, "_choice": 20, "_real_0": 25}
CONSTRAINTS = 20
PARENTS = 8
DATASETS = ("train", "test")
POPULATION = 32
COMPARE = 6
#: Generations timed per breeder on a grown database (each takes seconds; the point is the trend).
GROWN_RUNS = 3
#: Children stored in the grown databases by default: 328, 1,000 and 4,808 groups with the 8 parents.
GROWN = (320, 992, 4800)
PROFILE_TOP = 10
SEED = 20240601

BREEDERS = ("default", "ga", "classic")
#: The cold case without the replay states a generation before saved in the database.
NOTHING_SAVED = "cold, nothing saved"
#: Breeders that take ``population`` (classic decides its own).
POPULATION_BREEDERS = ("default", "ga")


# -- the database -------------------------------------------------------------------


def param_names(rng):
    """1,000 names nested in 40 sections, types shuffled among them; floats are the rest."""
    suffixes = [suffix for suffix, count in TYPE_COUNTS.items() for _ in range(count)]
    suffixes += [""] * (PARAMS_PER_GROUP - len(suffixes))
    rng.shuffle(suffixes)
    return [f"section_{index // 25:02d}__p{index:04d}{suffix}" for index, suffix in enumerate(suffixes)]


def constraint_lines(names):
    """20 constraints: 10 `a < b` between floats, 5 `x_int >= 1`, 5 `float > -50`."""
    floats = [name for name in names if not any(name.endswith(suffix) for suffix in TYPE_COUNTS)]
    ints = [name for name in names if name.endswith("_int")]
    pairs = [(floats[2 * i], floats[2 * i + 1]) for i in range(10)]
    lines = [f"{a} < {b}" for a, b in pairs]
    lines += [f"{name} >= 1" for name in ints[:5]]
    lines += [f"{name} > -50" for name in floats[20:25]]
    assert len(lines) == CONSTRAINTS
    return lines, pairs


def param_file(names, pairs, rng):
    """One parent's parameter file (random values that satisfy the constraints)."""
    values = {}
    for name in names:
        if name.endswith("_int"):
            values[name] = rng.randint(1, 100)
        elif name.endswith("_bool"):
            values[name] = rng.random() < 0.5
        elif name.endswith("_choice"):
            values[name] = rng.sample(["fast", "slow", "mixed", "none"], 4)
        elif name.endswith("_real_0"):
            values[name] = round(rng.random(), 6)
        else:
            values[name] = round(rng.uniform(-10, 10), 6)
    for low, high in pairs:
        values[high] = round(values[low] + rng.uniform(0.1, 5), 6)
    return "\n".join(f"{name} = {json.dumps(value)}" for name, value in values.items())


def make_db(workdir):
    """The base database: 8 loaded groups scored on 2 datasets; returns its path."""
    rng = random.Random(SEED)
    names = param_names(rng)
    constraints, pairs = constraint_lines(names)
    db = Path(workdir, "base.db")
    types = plugins.get_types()
    conn = store.connect(db)
    for parent in range(PARENTS):
        path = Path(workdir, f"parent{parent}.txt")
        path.write_text(param_file(names, pairs, rng) + "\n" + "\n".join(constraints) + "\n")
        loader.load(conn, [path], types)
    for group in store.group_ids(conn):
        reader = GeneticFuckery(dbfile=db, pid=group)
        for dataset in DATASETS:
            reader.record({"main": {"profit": rng.uniform(-100, 100), "trades": rng.randint(1, 150)},
                           "alt": {"profit": rng.uniform(-100, 100), "trades": rng.randint(1, 150)}},
                          dataset=dataset)
        reader.close()
    conn.close()
    return db


def fresh_copy(base, workdir, name):
    """A copy of ``base`` (no -wal file: every connection to it is closed)."""
    target = Path(workdir, name)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(base, target)
    return target


def score(conn, groups, rng):
    """Record a random ``profit`` and ``trades`` of ``groups`` on every dataset (one transaction)."""
    with store.transaction(conn):
        for group in groups:
            for dataset in DATASETS:
                rows = [(algo, name, value) for algo in ("main", "alt")
                        for name, value in (("profit", rng.uniform(-100, 100)), ("trades", rng.randint(1, 150)))]
                now = store.now()
                store.insert_run(conn, {"group_id": group, "dataset": dataset, "family": dataset, "started": now,
                                        "stopped": now, "status": "ok"}, rows)


def grow(base, workdir, sizes):
    """Copies of ``base`` with a loop of children of the default breeder stored and scored:
    ``[(path, stored groups, generations)]``, one per size in ``sizes`` (children, ascending)."""
    db = fresh_copy(base, workdir, "growing.db")
    conn = store.connect(db)
    breeder = plugins.get_breeders()["default"]
    rng = random.Random(SEED + 1)
    generation, stored, grown = 0, 0, []
    for size in sorted(sizes):
        while stored < size:
            generation += 1
            ids, _discarded, _wanted = engine.breed_generation(
                conn, metric=ResultMetric("profit"), breeder=breeder, datasets=list(DATASETS), top=PARENTS,
                population=min(POPULATION, size - stored), rng=random.Random(generation), generation=generation)
            score(conn, ids, rng)
            stored += POPULATION
        groups = len(store.group_ids(conn))
        conn.close()
        grown.append((fresh_copy(db, workdir, f"grown-{groups}.db"), groups, generation))
        conn = store.connect(db)
    conn.close()
    return grown


# -- one generation -------------------------------------------------------------------


def forget_values():
    """Empty what gf keeps in the process from the generations before (when this gf keeps it): its
    decoded group values and the default breeder's replays: a cold start."""
    if hasattr(gf, "values"):
        gf.values.clear()
    try:
        from gf_plugins_builtin import replay
    except ImportError:
        return
    replay.forget()


def forget_saved(conn):
    """Delete the replay states saved in the database (when this gf saves them): the first generation
    bred after gf was upgraded to one that saves them, or on a database whose states were deleted."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'replay_states'").fetchone():
        conn.execute("DELETE FROM replay_states")


def breed_once(db, breeder_name, seed, breeder=None, cold=False, saved=True):
    """Breed one generation on ``db``; return ``(seconds, children, discarded)``.

    :param cold: empty gf's cache of decoded group values first.
    :param saved: without it, also delete the replay states saved in ``db``.
    """
    if cold:
        forget_values()
    conn = store.connect(db)
    if not saved:
        forget_saved(conn)
    (generation,) = conn.execute("SELECT coalesce(max(generation), 0) + 1 FROM groups").fetchone()
    breeder = breeder or plugins.get_breeders()[breeder_name]
    start = time.perf_counter()
    ids, discarded, _wanted = engine.breed_generation(
        conn, metric=ResultMetric("profit"), breeder=breeder, datasets=list(DATASETS), top=PARENTS,
        compare=COMPARE, population=POPULATION if breeder_name in POPULATION_BREEDERS else None,
        rng=random.Random(seed), generation=generation)
    seconds = time.perf_counter() - start
    conn.close()
    return seconds, len(ids), discarded


def time_breeders(base, workdir, runs, seed_base, warmup=True, cold=("default",)):
    """``{(breeder, "warm", "cold" or NOTHING_SAVED): [(seconds, children, discarded)]}``: interleaved
    generations, each on a fresh copy; ``cold`` lists the breeders also timed from an empty value cache,
    with and without the replay states saved in the database.

    With ``warmup``, a first round (imports, plugin registries, page cache) is not kept; else an untimed
    generation of the default breeder goes first (what a loop's generation before would have read and
    replayed). A cold generation goes last in its round, so the warm ones find what it read and replayed.
    """
    cases = ([(name, "warm") for name in BREEDERS] + [(name, "cold") for name in cold]
             + [(name, NOTHING_SAVED) for name in cold])
    samples = {case: [] for case in cases}
    if not warmup:
        breed_once(fresh_copy(base, workdir, "timed.db"), "default", seed_base - 1)
    for run in range(runs + warmup):
        for name, cache in cases:
            db = fresh_copy(base, workdir, "timed.db")
            sample = breed_once(db, name, seed_base + run, cold=cache != "warm", saved=cache != NOTHING_SAVED)
            if run >= warmup:
                samples[(name, cache)].append(sample)
    return samples


# -- where the time goes ------------------------------------------------------------


class PhaseTimer:
    """Wraps functions so each call's *exclusive* time (minus wrapped callees) adds to a phase."""

    def __init__(self):
        self.totals = defaultdict(float)
        self.calls = defaultdict(int)
        self._stack = []

    def wrap(self, phase, function):
        def timed(*args, **kwargs):
            label = phase(args, kwargs) if callable(phase) else phase
            self._stack.append(0.0)
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                inner = self._stack.pop()
                self.totals[label] += elapsed - inner
                self.calls[label] += 1
                if self._stack:
                    self._stack[-1] += elapsed

        return timed


INSIDE_BREED = ("breed(): breeder code", "breed(): gf_mutate calls",
                "breed(): reading stored params (request.values, request.history(); the parents' too)",
                "breed(): request.batches() (SQL)")


def _hook_phase(args, kwargs):
    name = args[0] if args else kwargs.get("name")
    return {"gf_fix_child": "constraint fixing (gf_fix_child hook)",
            "gf_mutate": "breed(): gf_mutate calls"}.get(name, f"other hook {name}")


def _timed_first_result(timer, original):
    """``plugins.first_result`` whose callers are timed (``BreedRequest.mutate`` calls ``gf_mutate`` so)."""
    def first_result(hook_name):
        return timer.wrap(_hook_phase((hook_name,), {}), original(hook_name))

    return first_result


class _TimedBreeder:
    def __init__(self, breeder, timer):
        self.name = breeder.name
        self.breed = timer.wrap("breed(): breeder code", breeder.breed)


def breakdown(db, breeder_name, seed, cold=False, saved=True):
    """One instrumented generation: ``(total seconds, {phase: seconds}, {phase: calls})``."""
    timer = PhaseTimer()
    history = "breed(): reading stored params (request.values, request.history(); the parents' too)"
    patches = [
        (engine, "rank_parents", "rank parents (metric SQL)"),
        (engine, "per_algo", "rank parents (metric SQL)"),
        (breeding, "group_values", "read parent params"),
        (breeding, "bounds_of", "parameter bounds (types + constraints)"),
        (engine, "_history", history),
        (breeding, "many_group_values", history),
        (breeding, "batches", "breed(): request.batches() (SQL)"),
        (store, "digest", "duplicate check: hash each child's params"),
        (breeding, "constraints_of", "constraint lookup (SQL, per child)"),
        (breeding, "violations", "validation (types + constraints)"),
        (breeding, "store_children", "storing children: SQL inserts"),
        (breeding, "param_rows", "param rows (json.dumps, type lookup)"),
        (plugins, "call_hook", _hook_phase),
    ]
    # gf changes: a step this gf does not have (by that name) is left to "other".
    patches = [patch for patch in patches if hasattr(patch[0], patch[1])]
    originals = [(module, attribute, getattr(module, attribute)) for module, attribute, _ in patches]
    for (module, attribute, phase), (_, _, original) in zip(patches, originals):
        setattr(module, attribute, timer.wrap(phase, original))
    if hasattr(plugins, "first_result"):
        originals.append((plugins, "first_result", plugins.first_result))
        plugins.first_result = _timed_first_result(timer, plugins.first_result)
    try:
        breeder = _TimedBreeder(plugins.get_breeders()[breeder_name], timer)
        total, _children, _discarded = breed_once(db, breeder_name, seed, breeder, cold=cold, saved=saved)
    finally:
        for module, attribute, original in originals:
            setattr(module, attribute, original)
    phases = dict(timer.totals)
    phases["other (engine glue, duplicate lookup SQL, BreedRequest, connect)"] = total - sum(phases.values())
    return total, phases, dict(timer.calls)


def _where(filename, line, function):
    """``path:line(function)``, paths relative to the repository or site-packages."""
    if filename == "~":  # a built-in
        return function
    if filename.startswith(str(_common.REPO) + os.sep):
        filename = os.path.relpath(filename, _common.REPO)
    elif "site-packages" + os.sep in filename:
        filename = filename.split("site-packages" + os.sep, 1)[1]
    elif filename.startswith(sys.base_prefix):
        filename = "stdlib/" + os.path.basename(filename)
    return f"{filename}:{line}({function})"


def profile(db, breeder_name, seed, cold=False):
    """``cProfile`` of one generation: the top functions by cumulative and by own time."""
    if cold:
        forget_values()
    profiler = cProfile.Profile()
    profiler.enable()
    breed_once(db, breeder_name, seed)
    profiler.disable()
    rows = [
        {"function": _where(*key), "ncalls": nc, "tottime_s": tt, "cumtime_s": ct}
        for key, (_cc, nc, tt, ct, _callers) in pstats.Stats(profiler).stats.items()
        if not key[0].startswith(str(Path(__file__).resolve().parent)) and "disable" not in key[2]
    ]
    return {
        "top_cumulative": sorted(rows, key=lambda row: row["cumtime_s"], reverse=True)[:PROFILE_TOP],
        "top_own_time": sorted(rows, key=lambda row: row["tottime_s"], reverse=True)[:PROFILE_TOP],
    }


# -- the report -----------------------------------------------------------------------


def summarize(timed, breakdowns, profiles, runs):
    """The report; ``timed``: ``[(stored groups, generations bred, samples of time_breeders)]``."""
    def figures(values):
        seconds = [s for s, _, _ in values]
        children = [c for _, c, _ in values]
        per_generation = _common.median(seconds)
        return {
            "seconds_per_generation": per_generation,
            "min_seconds": min(seconds),
            "children": _common.median(children),
            "discarded": _common.median([d for _, _, d in values]),
            "children_per_second": _common.median([c / s for s, c, _ in values]),
        }

    return {
        "command": _common.command(__file__),
        "machine": _common.machine(),
        "runs": runs,
        "grown_runs": min(runs, GROWN_RUNS),
        "value_cache": hasattr(gf, "values"),
        "setup": {
            "params_per_group": PARAMS_PER_GROUP,
            "types": {**TYPE_COUNTS, "float": PARAMS_PER_GROUP - sum(TYPE_COUNTS.values())},
            "constraints": CONSTRAINTS,
            "parents": PARENTS,
            "datasets": list(DATASETS),
            "metric": "profit",
            "top": PARENTS,
            "population": {**{name: POPULATION for name in POPULATION_BREEDERS},
                           "classic": f"C({COMPARE}, 2) (compare={COMPARE})"},
        },
        "timings": [
            {"stored_groups": groups, "generations": generations, "breeder": name, "cache": cache,
             **figures(values)}
            for groups, generations, samples in timed
            for (name, cache), values in samples.items()
        ],
        "breakdown": {
            case: {
                "total_s": total,
                "inside_breed_s": sum(phases.get(phase, 0.0) for phase in INSIDE_BREED),
                "phases_s": dict(sorted(phases.items(), key=lambda item: -item[1])),
                "calls": calls,
            }
            for case, (total, phases, calls) in breakdowns.items()
        },
        "profile": profiles,
    }


def render(report):
    """The Markdown section kept in BENCHMARKS.md."""
    m, setup = report["machine"], report["setup"]
    types = ", ".join(f"{count} {name.lstrip('_')}" for name, count in setup["types"].items())
    lines = [
        "## Breeding: one generation of children of 1,000-parameter groups",
        "",
        _common.machine_line(m) + "  ",
        f"Command: `{report['command']}` (median of {report['runs']} interleaved generations per breeder,"
        f" {report['grown_runs']} on each grown database; each on a fresh copy of the database).",
        "",
        f"Path: `gf.engine.breed_generation` (what `gf breed` runs) on a SQLite file holding {setup['parents']}"
        f" parent groups loaded with `gf.loader.load`, {setup['params_per_group']:,} params each ({types};"
        f" {setup['constraints']} constraints), each scored on {len(setup['datasets'])} datasets; metric `profit`,"
        f" `--top {setup['top']}`; population {POPULATION} for {' and '.join(POPULATION_BREEDERS)}, classic"
        f" breeds C({COMPARE}, 2). The grown databases hold a loop of generations bred by `default` (the number"
        " is in the table), each scored on both datasets before the next was bred (the default breeder replays"
        " every scored generation, from where the last one left off when warm). No target is set for this"
        " benchmark; the aim is a time per generation nearly independent of how many groups are stored.",
        "",
        "`warm`: gf already holds what the generations before read (decoded group values, `gf.values`, and"
        " where the default breeder's replay left off, `gf_plugins_builtin.replay`), as in the later"
        " generations of `gf breed --loop`; `cold`: both emptied first, as in the first generation of a process"
        " (every `gf breed` run by hand, by cron or with the print launcher), which resumes from the replay state"
        " the generation before saved in the database (`replay_states`) and replays only the generation scored"
        f" since; `{NOTHING_SAVED}`: the same with no state saved (the first generation after upgrading gf, or"
        " after the states were deleted), which replays every generation."
        + ("" if report["value_cache"] else " This gf has no such cache: both are the same."),
        "",
        "| breeder | stored groups (generations) | values | children / generation | s / generation | children / s |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for row in report["timings"]:
        lines.append(f"| {row['breeder']} | {row['stored_groups']:,} ({row['generations']}) | {row['cache']} |"
                     f" {row['children']:.0f} | {row['seconds_per_generation']:.3f} | {row['children_per_second']:.0f} |")
    lines += [
        "",
        "Where one generation's time goes (one instrumented generation per column; exclusive times, so they"
        " add up; the timers add a little overhead):",
        "",
    ]
    cases = list(report["breakdown"])
    lines += [
        "| step | " + " | ".join(f"{case}: ms | % " for case in cases) + " |",
        "|---|" + "---:|---:|" * len(cases),
    ]
    phases = list(dict.fromkeys(p for case in cases for p in report["breakdown"][case]["phases_s"]))

    def phase_row(title, seconds_of):
        cells = []
        for case in cases:
            data = report["breakdown"][case]
            seconds = seconds_of(data)
            cells += [f"{seconds * 1000:.1f}", f"{100 * seconds / data['total_s']:.0f}"]
        return f"| {title} | " + " | ".join(cells) + " |"

    for phase in phases:
        lines.append(phase_row(phase, lambda data: data["phases_s"].get(phase, 0.0)))
    lines.append(phase_row("**inside `breed()`** (breeder code, its gf_mutate calls, history and batches)",
                           lambda data: data["inside_breed_s"]))
    lines.append(phase_row("**the rest** (ranking, reading, fixing, checks, storing)",
                           lambda data: data["total_s"] - data["inside_breed_s"]))
    lines.append(phase_row("total (instrumented)", lambda data: data["total_s"]))
    lines += ["", "cProfile of one generation (the script prints the top 10 by cumulative time); the heaviest"
              " functions by own time:", ""]
    for name in report["profile"]:
        top = report["profile"][name]["top_own_time"][:5]
        listed = "; ".join(f"`{row['function']}` {row['tottime_s'] * 1000:.0f} ms ({row['ncalls']:,} calls)"
                           for row in top)
        lines.append(f"* {name}: {listed}.")
    return "\n".join(lines) + "\n"


def render_profiles(report):
    """The cProfile tables (printed, not kept in BENCHMARKS.md)."""
    lines = []
    for name in report["profile"]:
        for key, title in (("top_cumulative", "cumulative"), ("top_own_time", "own time")):
            lines += ["", f"cProfile, {name}, one generation: top {PROFILE_TOP} by {title}",
                      f"{'ncalls':>9} {'tottime s':>10} {'cumtime s':>10}  function"]
            for row in report["profile"][name][key]:
                lines.append(f"{row['ncalls']:>9} {row['tottime_s']:>10.4f} {row['cumtime_s']:>10.4f}  {row['function']}")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed generations per breeder (default 5)")
    parser.add_argument("--grown", default=",".join(map(str, GROWN)),
                        help="children already stored in the grown databases, comma-separated"
                             f" (default {','.join(map(str, GROWN))})")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--write", action="store_true", help=f"update the section in {_common.BENCHMARKS_MD.name}")
    args = parser.parse_args()
    try:
        sizes = sorted({int(size) for size in args.grown.split(",") if size.strip()})
    except ValueError:
        parser.error("--grown takes whole numbers separated by commas")
    if args.runs < 1 or any(size < 1 for size in sizes):
        parser.error("--runs must be at least 1 and every --grown size at least 1")

    with tempfile.TemporaryDirectory(prefix="gf-bench-") as workdir:
        base = make_db(workdir)
        timed = [(PARENTS, 0, time_breeders(base, workdir, args.runs, 1000))]
        grown = grow(base, workdir, sizes)
        for db, groups, generations in grown:
            timed.append((groups, generations,
                          time_breeders(db, workdir, min(args.runs, GROWN_RUNS), 2000 + groups, warmup=False)))
        breakdowns = {f"{name}, {PARENTS} groups": breakdown(fresh_copy(base, workdir, "timed.db"), name, 3000)
                      for name in BREEDERS}
        profiles = {f"{name}, {PARENTS} groups": profile(fresh_copy(base, workdir, "timed.db"), name, 3000)
                    for name in BREEDERS}
        for db, groups, _generations in grown:
            breed_once(fresh_copy(db, workdir, "timed.db"), "default", 2999)  # warm: as the generation before would
            breakdowns[f"default, {groups:,} groups, warm"] = breakdown(fresh_copy(db, workdir, "timed.db"), "default",
                                                                       3000)
        db, groups, _generations = grown[-1]
        breakdowns[f"default, {groups:,} groups, cold"] = breakdown(fresh_copy(db, workdir, "timed.db"), "default",
                                                                   3000, cold=True)
        breakdowns[f"default, {groups:,} groups, {NOTHING_SAVED}"] = breakdown(
            fresh_copy(db, workdir, "timed.db"), "default", 3000, cold=True, saved=False)
        breed_once(fresh_copy(db, workdir, "timed.db"), "default", 2999)
        profiles[f"default, {groups:,} groups, warm"] = profile(fresh_copy(db, workdir, "timed.db"), "default", 3000)
        profiles[f"default, {groups:,} groups, cold"] = profile(fresh_copy(db, workdir, "timed.db"), "default", 3000,
                                                               cold=True)
    report = summarize(timed, breakdowns, profiles, args.runs)
    section = render(report)

    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(section, end="")
        print(render_profiles(report), end="")
    if args.write:
        _common.write_section(SECTION, section)


if __name__ == "__main__":
    main()
