"""Evaluations per second of ``gf run`` against plain ``xargs -P``, for a command that does nothing.

``gf run "true {}" DATASET... -j 2`` against ``xargs -P 2 -n 1 true`` fed the same
dataset names, so both start the same processes on 2 cores, at two sizes:

* 200 evaluations (10 groups x 20 datasets): gf's fixed start-up (Python, click,
  reading the groups) is about as long as the whole xargs run;
* 2,000 (20 groups x 100 datasets) and 10,000 evaluations (50 groups x 200
  datasets): the steady state, where the fixed cost is spread over ten and fifty
  times as many evaluations.

What gf adds is measured whole, as a user meets it: its start-up, handing out the
launches (one transaction), and *recording every outcome*: ``true`` reports no
results, so gf records each evaluation as a failed run ("exited 0 but recorded no
run"), many to a transaction, and ``gf run`` exits 1 ("every evaluation failed");
that is expected here and checked (every pair has one failed run, exit status 1).
Each ``gf run`` starts from a fresh copy of its database.

Variants at each size, all interleaved after a warm-up round, median of ``--runs``:

* ``xargs``: ``xargs -P 2 -n 1 true < datasets.txt``;
* ``gf``: ``gf run "true {}" DATASET... --db DB -j 2``;
* ``gf, nothing pending``: the same on a database where every pair already has a run
  (gf skips them all): gf's fixed cost, start-up to exit;

and once a round, what any Python program pays before its first line here:
``python -c pass`` and ``python -S -c pass`` (without site-packages' ``.pth`` files).

Each run's wall time and its CPU time (the process and the children it waited for,
from ``getrusage(RUSAGE_CHILDREN)``) are recorded. From these: the gf/xargs throughput
ratio at each size (the ratio of the medians, which the target reads; the median of
each round's own ratio and the ratio of the fastest runs are shown as noise checks:
on a shared machine a burst of other work can land on either), gf's fixed cost, the
wall and CPU time per evaluation of each, and the marginal cost of the 1,800 extra
evaluations between the two sizes, which no fixed cost enters.

Then a diagnosis, each step in a fresh interpreter (3 interleaved rounds, median),
in wall time and in CPU time of gf's process (``time.process_time()``) and of its children (``os.times()``):
starting one child as gf does against a plain ``subprocess.run``, handing out the
launches, recording outcomes one per transaction and in batches, and the ``local``
launcher at -j 2, alone and under ``gf.engine.evaluate`` (everything ``gf run`` does
per evaluation, without its start-up).

The target: gf at least 0.8x the throughput of xargs, median of >= 3 rounds. A
throughput is a rate, so it is judged at the steady-state sizes; at 200 evaluations
the whole xargs run is about as long as Python's own start-up, and that ratio is
shown as what it is: the cost of starting gf, not of running evaluations.

Usage: ``python benchmarks/run_throughput.py [--runs N] [--quick] [--json] [--write]``;
``--write`` replaces the run_throughput section of BENCHMARKS.md.
"""

import argparse
import json
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common

SECTION = "run_throughput"
#: ``{label: (groups, datasets)}``: the start-up-bound size and the steady-state size.
SIZES = {
    "200": (10, [f"d{index:02d}" for index in range(1, 21)]),
    "2,000": (20, [f"d{index:03d}" for index in range(1, 101)]),
    "10,000": (50, [f"d{index:03d}" for index in range(1, 201)]),
}
#: The start-up-bound size: shown, but a throughput (a rate) is judged where the start-up is spread thin.
STARTUP_BOUND = "200"
JOBS = 2
TARGET_RATIO = 0.8
TARGET_MIN_RUNS = 3
WARMUP_ROUNDS = 1
COMMAND = "true {}"

GF_MAIN = "from gf.cli import main; main()"

VARIANTS = ("xargs", "gf", "gf, nothing pending")
#: What any Python program pays here before its first line, with and without site-packages' .pth files.
STARTUP = {"python -c pass": ["-c", "pass"], "python -S -c pass": ["-S", "-c", "pass"]}

#: Outcomes per transaction in the batched settle step (about what gf records in its 5 ms batches at
#: 1,000 evaluations a second).
DIAGNOSIS_BATCH = 5
#: The diagnosis steps: one fresh interpreter per step and round.
DIAGNOSIS_STEPS = {
    "run_command": "run_command: one child at a time, started as gf starts it (new session, environment, stderr pipe)",
    "plain": "plain subprocess.run([\"true\", dataset])",
    "hand-out": "hand_out_launches (one transaction for all, per evaluation)",
    "settle": "settle: record one outcome (one transaction)",
    "settle-batch": f"settle_many: record outcomes {DIAGNOSIS_BATCH} to a transaction",
    "launch-only": f"local launcher alone, -j {JOBS} (nothing settled)",
    "evaluate": f"engine.evaluate, local launcher, -j {JOBS} (launch + settle, as gf run)",
}
DIAGNOSIS_ROUNDS = 3
DIAGNOSIS_GROUPS, DIAGNOSIS_DATASETS = SIZES[STARTUP_BOUND]

DIAGNOSIS = r"""
import json, os, subprocess, sys, time
from gf import launch, store


def cpu():  # CPU seconds of this process (all its threads) and of its children that ended
    times = os.times()  # children's: os.times() counts in clock ticks, fine over many children
    return time.process_time(), times.children_user + times.children_system


step, db, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
context = launch.LaunchContext(db_path=db, command=%(command)r, jobs=1)
datasets = %(datasets)r
# Distinct (group, dataset) pairs, as gf runs them (they repeat only past groups x datasets).
evaluations = [launch.Evaluation(1 + (i // len(datasets)) %% %(groups)d, datasets[i %% len(datasets)])
               for i in range(n)]

if step == "plain":
    start, start_cpu = time.perf_counter(), cpu()
    for evaluation in evaluations:
        subprocess.run(["true", evaluation.dataset])
elif step == "run_command":
    start, start_cpu = time.perf_counter(), cpu()
    for evaluation in evaluations:
        launch.run_command(context, evaluation)
elif step == "hand-out":
    conn = store.connect(db, create=False)
    start, start_cpu = time.perf_counter(), cpu()
    store.hand_out_launches(conn, evaluations)
elif step in ("settle", "settle-batch"):
    finished = [launch.run_command(context, evaluation) for evaluation in evaluations]
    conn = store.connect(db, create=False)
    store.hand_out_launches(conn, evaluations)
    start, start_cpu = time.perf_counter(), cpu()
    if step == "settle":
        for item in finished:
            launch.settle(conn, item)
    else:
        for first in range(0, n, %(batch)d):
            launch.settle_many(conn, finished[first:first + %(batch)d])
elif step == "launch-only":
    from gf import plugins
    launcher = plugins.get_launchers()["local"]
    context.jobs = %(jobs)d
    start, start_cpu = time.perf_counter(), cpu()
    assert sum(len(item) if isinstance(item, list) else 1 for item in launcher.launch(evaluations, context)) == n
elif step == "evaluate":
    from gf import engine, plugins
    launcher = plugins.get_launchers()["local"]
    context.jobs = %(jobs)d
    conn = store.connect(db, create=False)
    start, start_cpu = time.perf_counter(), cpu()
    ok, failed = engine.evaluate(conn, launcher, evaluations, context)
    assert (ok, failed) == (0, n), (ok, failed)
wall, (own, children) = time.perf_counter() - start, cpu()
print(json.dumps([wall / n, (own - start_cpu[0]) / n, (children - start_cpu[1]) / n]))
""" % {"command": COMMAND, "datasets": DIAGNOSIS_DATASETS, "groups": DIAGNOSIS_GROUPS, "jobs": JOBS,
       "batch": DIAGNOSIS_BATCH}


def gf_command():
    """The installed ``gf`` entry point next to this interpreter (not a pyenv shim), else ``python -c``."""
    script = Path(sys.executable).parent / "gf"
    return [str(script)] if script.exists() else [sys.executable, "-c", GF_MAIN]


def fresh_copy(source, target):
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, target)
    return target


def gf_args(datasets, db):
    return [*gf_command(), "run", COMMAND, *datasets, "--db", str(db), "-j", str(JOBS)]


def make_dbs(workdir, env, label, groups, datasets):
    """``base``: ``groups`` small groups, no run; ``done``: the same with every pair evaluated."""
    from gf import loader, plugins, store

    base = Path(workdir, f"base-{label}.db")
    conn = store.connect(base)
    types = plugins.get_types()
    for group in range(groups):
        path = Path(workdir, f"group{group}.txt")
        path.write_text(f"lr = {0.01 * (group + 1)}\nlayers_int = {group + 1}\nkind_choice = [\"a\", \"b\"]\n")
        loader.load(conn, [path], types)
    conn.close()
    done = fresh_copy(base, Path(workdir, f"done-{label}.db"))
    subprocess.run(gf_args(datasets, done), env=env, capture_output=True)
    check_runs(done, groups * len(datasets))
    return base, done


def check_runs(db, expected):
    """Fail loudly unless ``db`` holds ``expected`` runs, all recorded by gf as failed for want of results."""
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT status, error LIKE '%recorded no run%', count(*) FROM runs GROUP BY 1, 2").fetchall()
    pairs = conn.execute("SELECT count(*) FROM (SELECT DISTINCT group_id, dataset FROM runs)").fetchone()[0]
    conn.close()
    if rows != [("failed", 1, expected)] or pairs != expected:
        sys.exit(f"{db}: expected {expected} runs (one per pair) recorded as failed (no results), found {rows}")


def variant_commands(workdir, label, groups, datasets, base, done):
    """``{variant: (argv, stdin path or None, (base, db to refresh) or None, expected exit status)}``."""
    listing = Path(workdir, f"datasets-{label}.txt")
    listing.write_text("".join(f"{dataset}\n" for _ in range(groups) for dataset in datasets))
    run_db = Path(workdir, f"run-{label}.db")
    return {
        "xargs": (["xargs", "-P", str(JOBS), "-n", "1", "true"], listing, None, 0),
        "gf": (gf_args(datasets, run_db), None, (base, run_db), 1),
        "gf, nothing pending": (gf_args(datasets, done), None, None, 0),
    }


def children_cpu():
    """CPU seconds of the children this process has waited for (and of the children they waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_variant(name, spec, evaluations, env):
    """``(wall seconds, CPU seconds)`` of one run of a variant (its database refreshed first, its outcome checked)."""
    argv, stdin_path, refresh, expected = spec
    if refresh is not None:
        fresh_copy(*refresh)
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    try:
        cpu = children_cpu()
        start = time.perf_counter()
        process = subprocess.run(argv, stdin=stdin, capture_output=True, text=True, env=env)
        seconds = time.perf_counter() - start
        cpu = children_cpu() - cpu
    finally:
        if stdin_path:
            stdin.close()
    if process.returncode != expected:
        sys.exit(f"{name}: exit status {process.returncode}, expected {expected}:\n{process.stderr[-2000:]}")
    if refresh is not None:
        check_runs(refresh[1], evaluations)
    return seconds, cpu


def time_variants(specs, env, runs):
    """``({size: {variant: [(seconds, cpu)]}}, {start-up variant: [(seconds, cpu)]})``: every variant of every
    size and the interpreter's start-up interleaved, warm-up rounds dropped."""
    times = {label: {name: [] for name in commands} for label, (_evaluations, commands) in specs.items()}
    startup = {name: [] for name in STARTUP}
    for round_ in range(WARMUP_ROUNDS + runs):
        for label, (evaluations, commands) in specs.items():
            for name, spec in commands.items():
                sample = run_variant(name, spec, evaluations, env)
                if round_ >= WARMUP_ROUNDS:
                    times[label][name].append(sample)
        for name, args in STARTUP.items():
            sample = run_variant(name, ([sys.executable, *args], None, None, 0), 0, env)
            if round_ >= WARMUP_ROUNDS:
                startup[name].append(sample)
    return times, startup


def diagnose(workdir, base, env, count):
    """Per-evaluation cost of each :data:`DIAGNOSIS_STEPS` step: fresh interpreters, interleaved, median."""
    samples = {step: [] for step in DIAGNOSIS_STEPS}
    for _ in range(DIAGNOSIS_ROUNDS):
        for step in DIAGNOSIS_STEPS:
            db = fresh_copy(base, Path(workdir, "diagnosis.db"))
            process = subprocess.run([sys.executable, "-c", DIAGNOSIS, step, str(db), str(count)],
                                     capture_output=True, text=True, env=env)
            if process.returncode:
                sys.exit(f"diagnosis step {step} failed:\n{process.stderr[-2000:]}")
            samples[step].append(json.loads(process.stdout.strip().splitlines()[-1]))
    return {DIAGNOSIS_STEPS[step]: [_common.median(sample[column] for sample in values) for column in range(3)]
            for step, values in samples.items()}


def summarize(times, startup, diagnosis, runs, diagnosis_count):
    sizes = {}
    for label, variants in times.items():
        groups, datasets = SIZES[label]
        evaluations = groups * len(datasets)
        walls = {name: [wall for wall, _cpu in samples] for name, samples in variants.items()}
        cpus = {name: _common.median([cpu for _wall, cpu in samples]) for name, samples in variants.items()}
        medians = {name: _common.median(values) for name, values in walls.items()}
        ratio = medians["xargs"] / medians["gf"]
        minima = {name: min(values) for name, values in walls.items()}
        fixed = medians["gf, nothing pending"]
        sizes[label] = {
            "groups": groups,
            "datasets": len(datasets),
            "evaluations": evaluations,
            "median_s": medians,
            "min_s": minima,
            "median_cpu_s": cpus,
            "evaluations_per_s": {name: evaluations / medians[name] for name in ("xargs", "gf")},
            "ratio_gf_over_xargs_throughput": ratio,
            # Noise checks: gf and xargs run back to back in each round; the fastest runs are the least disturbed.
            "median_round_ratio": _common.median([x / g for x, g in zip(walls["xargs"], walls["gf"])]),
            "min_ratio": minima["xargs"] / minima["gf"],
            "fixed_cost_s": fixed,
            "per_evaluation_ms": {
                "xargs": 1000 * medians["xargs"] / evaluations,
                "gf": 1000 * medians["gf"] / evaluations,
                "gf, excluding its fixed cost": 1000 * (medians["gf"] - fixed) / evaluations,
            },
            # CPU of the whole run (the command's children included), per evaluation.
            "cpu_per_evaluation_ms": {
                "xargs": 1000 * cpus["xargs"] / evaluations,
                "gf": 1000 * cpus["gf"] / evaluations,
                "gf, excluding its fixed cost": 1000 * (cpus["gf"] - cpus["gf, nothing pending"]) / evaluations,
            },
            # What the target leaves gf per evaluation once its fixed cost is paid.
            "budget_ms": 1000 * (medians["xargs"] / TARGET_RATIO - fixed) / evaluations,
            "judged": label != STARTUP_BOUND,
            "target_met": ratio >= TARGET_RATIO if runs >= TARGET_MIN_RUNS else None,
        }
    small, large = sizes[STARTUP_BOUND], sizes[list(sizes)[-1]]
    extra = large["evaluations"] - small["evaluations"]
    marginal = {name: 1000 * (large["median_s"][name] - small["median_s"][name]) / extra for name in ("xargs", "gf")}
    return {
        "command": _common.command(__file__),
        "machine": _common.machine(),
        "runs": runs,
        "jobs": JOBS,
        "sizes": sizes,
        "marginal_ms_per_evaluation": marginal,
        "marginal_ratio_gf_over_xargs_throughput": marginal["xargs"] / marginal["gf"],
        "startup_s": {name: _common.median([wall for wall, _cpu in samples]) for name, samples in startup.items()},
        "target": f"gf at least {TARGET_RATIO}x the throughput of xargs -P {JOBS}, median of >= {TARGET_MIN_RUNS}",
        "target_met": (all(size["target_met"] for size in sizes.values() if size["judged"])
                       if runs >= TARGET_MIN_RUNS else None),
        "diagnosis_evaluations": diagnosis_count,
        "diagnosis_ms": {name: {"wall": 1000 * wall, "cpu": 1000 * cpu, "children_cpu": 1000 * children}
                         for name, (wall, cpu, children) in diagnosis.items()},
    }


def _met(size):
    return _common.verdict(size["target_met"])


def render(report):
    sizes, jobs = report["sizes"], report["jobs"]
    labels = list(sizes)
    small, large = sizes[labels[0]], sizes[labels[-1]]
    listed = ", ".join(f"{size['groups']} groups x {size['datasets']} datasets = {size['evaluations']:,}"
                       for size in sizes.values())
    lines = [
        f"## gf run throughput: {', '.join(labels[:-1])} and {labels[-1]} evaluations of an empty command, -j {jobs}",
        "",
        _common.machine_line(report["machine"]) + "  ",
        f"Command: `{report['command']}` ({report['runs']} interleaved rounds after {WARMUP_ROUNDS} warm-up).",
        "",
        f"`gf run \"{COMMAND}\" DATASET... -j {jobs}` against `xargs -P {jobs} -n 1 true` over the same dataset"
        f" names, on {listed} evaluations."
        " gf's time includes its start-up, handing out the launches and recording every outcome: `true` reports"
        " nothing, so each evaluation is recorded as a failed run (many to a transaction) and `gf run` exits 1,"
        " as expected. `gf, nothing pending` is the same command on a database where every pair already has a"
        " run: gf's fixed cost, start-up to exit.",
        "",
        f"Target: {report['target']}, judged where the evaluations, not the start-up, set the pace (at"
        f" {' and '.join(label for label in labels if sizes[label]['judged'])} evaluations): **{_common.verdict(report['target_met'])}**.",
        "",
    ]
    for label in labels:
        size = sizes[label]
        verdict = (f"**{_met(size)}**" if size["judged"] else
                   "start-up-bound, not judged (xargs's whole run takes about as long as Python's start-up)")
        lines.append(f"* at {label} evaluations: {verdict}, gf/xargs throughput ="
                     f" {size['ratio_gf_over_xargs_throughput']:.2f}x (ratio of the medians; the median of the"
                     f" {report['runs']} rounds' own ratios is {size['median_round_ratio']:.2f}x, the ratio of the"
                     f" fastest runs {size['min_ratio']:.2f}x);")
    marginal = report["marginal_ms_per_evaluation"]
    lines += [
        f"* the {large['evaluations'] - small['evaluations']:,} evaluations between the smallest and the largest size (no fixed cost in"
        f" them): gf {marginal['gf']:.2f} ms, xargs {marginal['xargs']:.2f} ms of wall time each, a throughput"
        f" ratio of {report['marginal_ratio_gf_over_xargs_throughput']:.2f}x: what the ratio tends to as the"
        " number of evaluations grows.",
        "",
        "| evaluations | variant | median s | min s | evaluations / s | median CPU s (with children) |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for label in labels:
        size = sizes[label]
        for name in VARIANTS:
            rate = size["evaluations_per_s"].get(name)
            rate = f"{rate:.0f}" if rate is not None else ""
            lines.append(f"| {label} | {name} | {size['median_s'][name]:.2f} | {size['min_s'][name]:.2f} | {rate}"
                         f" | {size['median_cpu_s'][name]:.2f} |")
    startup = report["startup_s"]
    lines += [
        "",
        f"Wall time per evaluation at -j {jobs} (ms; gf's fixed cost is its `nothing pending` time at that size),"
        " and CPU time per evaluation of the whole run, the `true` children included:",
        "",
        "| evaluations | xargs | gf | gf excluding its fixed cost | gf's fixed cost s | fixed cost / whole xargs run"
        " | the target leaves gf, after its fixed cost | CPU ms: xargs | CPU ms: gf | CPU ms: gf excluding its"
        " fixed cost |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label in labels:
        size = sizes[label]
        per, cpu = size["per_evaluation_ms"], size["cpu_per_evaluation_ms"]
        budget = size["budget_ms"]
        budget = f"{budget:.2f}" if budget > 0 else f"nothing ({budget:.2f})"
        lines.append(f"| {label} | {per['xargs']:.2f} | {per['gf']:.2f} | {per['gf, excluding its fixed cost']:.2f}"
                     f" | {size['fixed_cost_s']:.2f} | {size['fixed_cost_s'] / size['median_s']['xargs']:.2f}x"
                     f" | {budget} | {cpu['xargs']:.2f} | {cpu['gf']:.2f} | {cpu['gf, excluding its fixed cost']:.2f} |")
    lines += [
        "",
        "(The target column is (xargs / "
        f"{TARGET_RATIO} - gf's fixed cost) / evaluations: the wall time per evaluation gf may spend and still"
        " meet the target.)",
        "",
        f"gf's fixed cost starts with the interpreter: here `python -c pass` takes {startup['python -c pass']:.3f} s"
        f" and `python -S -c pass` (no site-packages `.pth` files) {startup['python -S -c pass']:.3f} s, median of"
        f" the same rounds; this environment's `.pth` files (editable installs, a certificate hook) cost every"
        f" Python program the difference. gf's own part of its fixed cost (imports, click, opening the database,"
        f" reading the groups, handing out the launches, exiting) is about"
        f" {small['fixed_cost_s'] - startup['python -c pass']:.2f} s at {labels[0]} evaluations.",
        "",
        f"Where one evaluation's time goes ({report['diagnosis_evaluations']} evaluations in a fresh interpreter"
        " per step, `gf.launch`, `gf.processes` and `gf.store` functions called directly, median of"
        f" {DIAGNOSIS_ROUNDS} interleaved rounds; settle is timed on the outcomes of `true`, i.e. failed runs,"
        f" after the launches were handed out; the last two rows run the evaluations {jobs} at a time through"
        " the `local` launcher, as `gf run` does after its start-up; gf's CPU is that of the measuring process,"
        " all its threads (`time.process_time()`); the children's is that of the `true` processes, from"
        " `os.times()`):",
        "",
        "| step | wall ms per evaluation | gf's CPU ms per evaluation | children's CPU ms per evaluation |",
        "|---|---:|---:|---:|",
    ]
    for name, ms in report["diagnosis_ms"].items():
        lines.append(f"| {name} | {ms['wall']:.2f} | {ms['cpu']:.2f} | {ms['children_cpu']:.2f} |")
    evaluate = report["diagnosis_ms"][DIAGNOSIS_STEPS["evaluate"]]
    bound = evaluate["children_cpu"] / (evaluate["children_cpu"] + evaluate["cpu"])
    lines += [
        "",
        f"At -j {jobs}, gf's coordinator spends {evaluate['cpu']:.2f} ms of CPU per evaluation (starting the child"
        f" from a slot thread, waiting for it, recording its outcome with others) against"
        f" {evaluate['children_cpu']:.2f} ms for the `true` child itself. When the {jobs} cores are the limit, a"
        f" launcher that cost nothing would get through evaluations about (child + gf) / child ="
        f" {1 / bound:.2f}x faster than gf, i.e. gf's throughput is bounded near {bound:.2f}x of it; xargs is not"
        " such a launcher (it forks every child), which the CPU columns above compare whole. Other work on a"
        " shared machine takes CPU from both and can move the measured ratio either way; a command that does"
        " real work makes gf's share small.",
    ]
    child = evaluate["children_cpu"]
    cpu = large["cpu_per_evaluation_ms"]
    lines += [
        "",
        f"What is left between gf and xargs: at {labels[-1]} evaluations the whole run costs"
        f" {cpu['gf, excluding its fixed cost']:.2f} ms of CPU per evaluation with gf (its fixed cost aside) and"
        f" {cpu['xargs']:.2f} ms with xargs, of which about {child:.2f} ms is `true` itself: gf's coordinator"
        f" about {cpu['gf, excluding its fixed cost'] - child:.2f} ms, xargs about {cpu['xargs'] - child:.2f} ms."
        " On 2 cores that CPU also delays each next start: a child started by vfork waits for a core, and"
        " the busier the parent's threads, the more often it waits behind the other child. At"
        f" {labels[0]} evaluations gf's fixed cost ({small['fixed_cost_s']:.2f} s, the interpreter's start-up"
        f" {startup['python -c pass']:.2f} s of it) is {small['fixed_cost_s'] / small['median_s']['xargs']:.2f}x"
        " of xargs's whole run, where the target allows"
        f" {1 / TARGET_RATIO - 1:.2f}x for the fixed cost and every evaluation's overhead together.",
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="interleaved timed rounds (default 5)")
    parser.add_argument("--diagnosis-evaluations", type=int, default=200,
                        help="evaluations per diagnosis step (default 200)")
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke test: leave out the {list(SIZES)[-1]}-evaluation size (not for --write)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--write", action="store_true", help=f"update the section in {_common.BENCHMARKS_MD.name}")
    args = parser.parse_args()
    if args.quick and args.write:
        parser.error("--quick figures are a smoke test: leave out --write")
    if args.runs < 1 or args.diagnosis_evaluations < 1:
        parser.error("--runs and --diagnosis-evaluations must be at least 1")
    if args.diagnosis_evaluations > DIAGNOSIS_GROUPS * len(DIAGNOSIS_DATASETS):
        # A repeated pair would abandon its earlier launch, whose outcome settle then skips.
        parser.error(f"--diagnosis-evaluations: at most {DIAGNOSIS_GROUPS * len(DIAGNOSIS_DATASETS)} (distinct pairs)")
    if shutil.which("xargs") is None or shutil.which("true") is None:
        sys.exit("xargs and true must be on PATH")

    with tempfile.TemporaryDirectory(prefix="gf-bench-") as workdir:
        env = _common.child_env(workdir)
        specs, bases = {}, {}
        measured = list(SIZES)[:-1] if args.quick else list(SIZES)
        for label in measured:
            groups, datasets = SIZES[label]
            base, done = make_dbs(workdir, env, label, groups, datasets)
            bases[label] = base
            specs[label] = (groups * len(datasets), variant_commands(workdir, label, groups, datasets, base, done))
        times, startup = time_variants(specs, env, args.runs)
        diagnosis = diagnose(workdir, bases[STARTUP_BOUND], env, args.diagnosis_evaluations)
    report = summarize(times, startup, diagnosis, args.runs, args.diagnosis_evaluations)
    section = render(report)

    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(section, end="")
    if args.write:
        _common.write_section(SECTION, section)


if __name__ == "__main__":
    main()
