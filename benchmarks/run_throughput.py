"""Evaluations per second of ``gf run`` against plain ``xargs -P``, for a command that does nothing.

``gf run "true {}" DATASET... -j 2`` on 10 groups x 20 datasets = 200 evaluations,
each a child process ``true DATASET``, 2 at a time; against ``xargs -P 2 -n 1 true``
fed the same 200 dataset names, so both start the same 200 processes on 2 cores.
What gf adds is measured whole, as a user meets it: its start-up (Python, click,
plugins), reading the groups, and *recording every outcome*: ``true`` reports no
results, so gf records each evaluation as a failed run ("exited 0 but recorded no
run") in its own transaction and ``gf run`` exits 1 ("every evaluation failed");
that is expected here and checked (200 failed runs, exit status 1). Each ``gf run``
starts from a fresh copy of the database.

Variants, interleaved after a warm-up round, median of ``--runs``:

* ``xargs``: ``xargs -P 2 -n 1 true < datasets.txt``;
* ``gf``: ``gf run "true {}" d01 ... d20 --db DB -j 2``;
* ``gf, nothing pending``: the same on a database where every pair already has a run
  (gf skips them all): gf's fixed cost, start-up to exit;
* ``experiment: gf without preexec_fn``: gf run with ``gf.launch._die_with`` patched
  to return no ``preexec_fn`` (so ``subprocess`` can vfork/posix_spawn), to show
  what the parent-death guard costs; not gf's behaviour (children then outlive a
  killed gf). Skipped if gf has no ``launch._die_with``;
* ``experiment: gf without preexec_fn, synchronous = NORMAL``: also every connection
  gf opens set to ``PRAGMA synchronous = NORMAL`` (no fsync per commit in WAL mode).

Then a diagnosis, each step in a fresh interpreter (3 interleaved rounds, median):
what one evaluation costs gf, sequentially (``gf.launch.run_command`` as gf runs
it, with ``prctl`` resolved in the parent instead of importing ctypes in every
child, without ``preexec_fn``, and a plain ``subprocess.run``), and what recording
one outcome (``gf.launch.settle``) costs, with gf's pragmas and with
``synchronous = NORMAL``.

The target: gf at least 0.8x the throughput of xargs, median of >= 3 rounds.

Usage: ``python benchmarks/run_throughput.py [--runs N] [--json] [--write]``;
``--write`` replaces the run_throughput section of BENCHMARKS.md.
"""

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common

SECTION = "run_throughput"
GROUPS = 10
DATASETS = [f"d{index:02d}" for index in range(1, 21)]
EVALUATIONS = GROUPS * len(DATASETS)
JOBS = 2
TARGET_RATIO = 0.8
TARGET_MIN_RUNS = 3
WARMUP_ROUNDS = 1
COMMAND = "true {}"

GF_MAIN = "from gf.cli import main; main()"
NO_PREEXEC = "import gf.launch as launch; launch._die_with = lambda parent: None\n" + GF_MAIN
SYNC_NORMAL = """\
import gf.store as store
_connect = store.connect

def connect(*args, **kwargs):
    conn = _connect(*args, **kwargs)
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn

store.connect = connect
"""

VARIANTS = ("xargs", "gf", "gf, nothing pending", "experiment: gf without preexec_fn",
            "experiment: gf without preexec_fn, synchronous = NORMAL")

#: The diagnosis steps: one fresh interpreter per step and round, so ctypes is imported only if gf imports it.
DIAGNOSIS_STEPS = {
    "as-is": "run_command, as gf runs it",
    "prctl-in-parent": "run_command, prctl resolved in the parent (not in each child)",
    "no-preexec": "run_command without preexec_fn",
    "plain": "plain subprocess.run([\"true\", dataset])",
    "settle": "settle: record one outcome (gf's pragmas)",
    "settle-normal": "settle with PRAGMA synchronous = NORMAL",
}
DIAGNOSIS_ROUNDS = 3

DIAGNOSIS = r"""
import json, os, signal, subprocess, sys, time
from gf import launch, store

step, db, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
context = launch.LaunchContext(db_path=db, command=%(command)r, jobs=1)
datasets = %(datasets)r
evaluations = [launch.Evaluation(1 + i %% %(groups)d, datasets[i %% len(datasets)]) for i in range(n)]

if step == "prctl-in-parent":
    import ctypes
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def resolved(parent):
        def arrange():
            prctl(1, signal.SIGKILL)
            if os.getppid() != parent:
                os._exit(137)
        return arrange

    launch._die_with = resolved
elif step in ("no-preexec", "settle", "settle-normal"):
    launch._die_with = lambda parent: None

start = time.perf_counter()
if step == "plain":
    for evaluation in evaluations:
        subprocess.run(["true", evaluation.dataset])
else:
    finished = [launch.run_command(context, evaluation) for evaluation in evaluations]
if step.startswith("settle"):
    conn = store.connect(db, create=False)
    if step == "settle-normal":
        conn.execute("PRAGMA synchronous = NORMAL")
    start = time.perf_counter()
    for item in finished:
        launch.settle(conn, item)
    conn.close()
print(json.dumps((time.perf_counter() - start) / n))
""" % {"command": COMMAND, "datasets": DATASETS, "groups": GROUPS}


def child_env(workdir):
    """Our environment without GF_*, bytecode cached in workdir (as gf normally runs)."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("GF_") and key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(Path(workdir, "pycache"))
    return env


def gf_command():
    """The installed ``gf`` entry point next to this interpreter (not a pyenv shim), else ``python -c``."""
    script = Path(sys.executable).parent / "gf"
    return [str(script)] if script.exists() else [sys.executable, "-c", GF_MAIN]


def fresh_copy(source, target):
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, target)
    return target


def make_dbs(workdir, env):
    """``base.db``: 10 small groups, no run; ``done.db``: the same with every pair evaluated."""
    from gf import loader, plugins, store

    base = Path(workdir, "base.db")
    conn = store.connect(base)
    types = plugins.get_types()
    for group in range(GROUPS):
        path = Path(workdir, f"group{group}.txt")
        path.write_text(f"lr = {0.01 * (group + 1)}\nlayers_int = {group + 1}\nkind_choice = [\"a\", \"b\"]\n")
        loader.load(conn, [path], types)
    conn.close()
    done = fresh_copy(base, Path(workdir, "done.db"))
    subprocess.run([*gf_command(), "run", COMMAND, *DATASETS, "--db", str(done), "-j", str(JOBS)],
                   env=env, capture_output=True)
    check_runs(done, EVALUATIONS)
    return base, done


def check_runs(db, expected):
    """Fail loudly unless ``db`` holds ``expected`` runs, all recorded by gf as failed for want of results."""
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT status, error LIKE '%recorded no run%', count(*) FROM runs GROUP BY 1, 2").fetchall()
    conn.close()
    if rows != [("failed", 1, expected)]:
        sys.exit(f"{db}: expected {expected} runs recorded as failed (no results), found {rows}")


def variant_commands(workdir, base, done):
    """``{variant: (argv, stdin path or None, db to refresh or None, expected exit status)}``."""
    listing = Path(workdir, "datasets.txt")
    listing.write_text("".join(f"{dataset}\n" for _ in range(GROUPS) for dataset in DATASETS))
    run_db = Path(workdir, "run.db")
    args = ["run", COMMAND, *DATASETS, "--db", str(run_db), "-j", str(JOBS)]
    commands = {
        "xargs": (["xargs", "-P", str(JOBS), "-n", "1", "true"], listing, None, 0),
        "gf": ([*gf_command(), *args], None, run_db, 1),
        "gf, nothing pending": ([*gf_command(), "run", COMMAND, *DATASETS, "--db", str(done), "-j", str(JOBS)],
                                None, None, 0),
    }
    import gf.launch

    if hasattr(gf.launch, "_die_with"):
        commands["experiment: gf without preexec_fn"] = ([sys.executable, "-c", NO_PREEXEC, *args], None, run_db, 1)
        commands["experiment: gf without preexec_fn, synchronous = NORMAL"] = (
            [sys.executable, "-c", SYNC_NORMAL + NO_PREEXEC, *args], None, run_db, 1)
    return commands


def run_variant(name, spec, base, env):
    """Wall seconds of one run of a variant (its database refreshed first, its outcome checked)."""
    argv, stdin_path, db, expected = spec
    if db is not None:
        fresh_copy(base, db)
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    try:
        start = time.perf_counter()
        process = subprocess.run(argv, stdin=stdin, capture_output=True, text=True, env=env)
        seconds = time.perf_counter() - start
    finally:
        if stdin_path:
            stdin.close()
    if process.returncode != expected:
        sys.exit(f"{name}: exit status {process.returncode}, expected {expected}:\n{process.stderr[-2000:]}")
    if db is not None:
        check_runs(db, EVALUATIONS)
    return seconds


def time_variants(commands, base, env, runs):
    times = {name: [] for name in commands}
    for round_ in range(WARMUP_ROUNDS + runs):
        for name, spec in commands.items():
            seconds = run_variant(name, spec, base, env)
            if round_ >= WARMUP_ROUNDS:
                times[name].append(seconds)
    return times


def diagnose(workdir, base, env, count):
    """Per-evaluation cost of each :data:`DIAGNOSIS_STEPS` step: fresh interpreters, interleaved, median."""
    import gf.launch

    steps = [step for step in DIAGNOSIS_STEPS
             if hasattr(gf.launch, "_die_with") or step in ("as-is", "plain", "settle")]
    samples = {step: [] for step in steps}
    for _ in range(DIAGNOSIS_ROUNDS):
        for step in steps:
            db = fresh_copy(base, Path(workdir, "diagnosis.db"))
            process = subprocess.run([sys.executable, "-c", DIAGNOSIS, step, str(db), str(count)],
                                     capture_output=True, text=True, env=env)
            if process.returncode:
                sys.exit(f"diagnosis step {step} failed:\n{process.stderr[-2000:]}")
            samples[step].append(json.loads(process.stdout))
    return {DIAGNOSIS_STEPS[step]: _common.median(values) for step, values in samples.items()}


def summarize(times, diagnosis, runs, diagnosis_count):
    medians = {name: _common.median(values) for name, values in times.items()}
    throughput = {name: EVALUATIONS / seconds for name, seconds in medians.items() if name != "gf, nothing pending"}
    ratio = medians["xargs"] / medians["gf"]
    fixed = medians["gf, nothing pending"]
    return {
        "command": _common.command(__file__),
        "machine": _common.machine(),
        "runs": runs,
        "evaluations": EVALUATIONS,
        "jobs": JOBS,
        "median_s": medians,
        "min_s": {name: min(values) for name, values in times.items()},
        "evaluations_per_s": throughput,
        "ratio_gf_over_xargs_throughput": ratio,
        "per_evaluation_ms": {
            "xargs": 1000 * medians["xargs"] / EVALUATIONS,
            **{f"{name}, excluding gf's fixed cost": 1000 * (medians[name] - fixed) / EVALUATIONS
               for name in medians if name not in ("xargs", "gf, nothing pending")},
        },
        "target": f"gf at least {TARGET_RATIO}x the throughput of xargs -P {JOBS}, median of >= {TARGET_MIN_RUNS}",
        "target_met": ratio >= TARGET_RATIO if runs >= TARGET_MIN_RUNS else None,
        "diagnosis_evaluations": diagnosis_count,
        "diagnosis_ms": {name: 1000 * seconds for name, seconds in diagnosis.items()},
    }


def render(report):
    medians, mins, rates = report["median_s"], report["min_s"], report["evaluations_per_s"]
    lines = [
        f"## gf run throughput: {report['evaluations']} evaluations of an empty command, -j {report['jobs']}",
        "",
        _common.machine_line(report["machine"]) + "  ",
        f"Command: `{report['command']}` ({report['runs']} interleaved rounds after {WARMUP_ROUNDS} warm-up).",
        "",
        f"`gf run \"{COMMAND}\" d01 ... d20 -j {report['jobs']}` on {GROUPS} groups x {len(DATASETS)} datasets against"
        f" `xargs -P {report['jobs']} -n 1 true` over the same {report['evaluations']} dataset names. gf's time"
        " includes its start-up and recording every outcome: `true` reports nothing, so each evaluation is"
        " recorded as a failed run (one transaction each) and `gf run` exits 1, as expected.",
        "",
        f"Target: {report['target']}. **{_common.verdict(report['target_met'])}**:"
        f" gf/xargs throughput = {report['ratio_gf_over_xargs_throughput']:.2f}x.",
        "",
        "| variant | median s | min s | evaluations / s |",
        "|---|---:|---:|---:|",
    ]
    for name in VARIANTS:
        if name in medians:
            rate = f"{rates[name]:.0f}" if name in rates else ""
            lines.append(f"| {name} | {medians[name]:.2f} | {mins[name]:.2f} | {rate} |")
    per = report["per_evaluation_ms"]
    fixed = medians["gf, nothing pending"]
    budget = 1000 * (medians["xargs"] / TARGET_RATIO - fixed) / report["evaluations"]
    listed = "; ".join(f"{name} {ms:.1f} ms" for name, ms in per.items())
    lines += [
        "",
        f"Wall time per evaluation at -j {report['jobs']}: {listed} (gf's fixed cost, start-up to exit with"
        f" nothing to run, is {fixed:.2f} s, {fixed / medians['xargs']:.2f}x the whole xargs run: the target"
        f" leaves gf (xargs / {TARGET_RATIO} - fixed cost) / {report['evaluations']} ="
        f" {budget:.1f} ms per evaluation).",
        "",
        f"Where one evaluation's time goes ({report['diagnosis_evaluations']} evaluations one after another in a"
        " fresh interpreter per step, `gf.launch` functions called directly, median of"
        f" {DIAGNOSIS_ROUNDS} interleaved rounds; steps other than the first patch `gf.launch._die_with` in that"
        " process only; settle is timed on the outcomes of `true`, i.e. failed runs):",
        "",
        "| step | ms per evaluation |",
        "|---|---:|",
    ]
    for name, ms in report["diagnosis_ms"].items():
        lines.append(f"| {name} | {ms:.2f} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="interleaved timed rounds (default 5)")
    parser.add_argument("--diagnosis-evaluations", type=int, default=100,
                        help="evaluations per diagnosis variant (default 100)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--write", action="store_true", help=f"update the section in {_common.BENCHMARKS_MD.name}")
    args = parser.parse_args()
    if args.runs < 1 or args.diagnosis_evaluations < 1:
        parser.error("--runs and --diagnosis-evaluations must be at least 1")
    if shutil.which("xargs") is None or shutil.which("true") is None:
        sys.exit("xargs and true must be on PATH")

    with tempfile.TemporaryDirectory(prefix="gf-bench-") as workdir:
        env = child_env(workdir)
        base, done = make_dbs(workdir, env)
        commands = variant_commands(workdir, base, done)
        times = time_variants(commands, base, env, args.runs)
        diagnosis = diagnose(workdir, base, env, args.diagnosis_evaluations)
    report = summarize(times, diagnosis, args.runs, args.diagnosis_evaluations)
    section = render(report)

    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(section, end="")
    if args.write:
        _common.write_section(SECTION, section)


if __name__ == "__main__":
    main()
