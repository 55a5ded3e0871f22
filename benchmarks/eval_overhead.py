"""What gf costs one evaluation, measured in a fresh process against plain sqlite3.

A program optimized with gf is started once per evaluation: it imports gf, reads
its parameters and reports its results, then exits. That whole round trip is
what gf adds to every evaluation, so it is measured here as wall time of a
fresh ``python -c`` process:

* ``gf``: ``GeneticFuckery(dbfile, pid=1)``, 7 parameter reads, one ``report()``
  with 9 results (3 algos x 3 names);
* ``plain``: a stdlib ``sqlite3`` script doing the same reads and writes on the
  same database: it opens it with the same busy timeout and ``foreign_keys``,
  SELECTs the group's 7 params and json-decodes ``typed``, then INSERTs one
  ``runs`` row (the columns gf fills) and 9 ``results`` rows in one
  ``BEGIN IMMEDIATE`` transaction;
* ``bare`` (``pass``) and ``import gf``: the interpreter's own start-up and
  gf's import cost, so the rest can be read against them.

Children run with bytecode cached (in a private ``PYTHONPYCACHEPREFIX``, even
when ``PYTHONDONTWRITEBYTECODE`` is set here), as a program normally runs: else
every ``import gf`` would recompile gf's sources and measure the compiler.

The variants run interleaved (bare, import gf, plain, gf, bare, ...) after
warm-up rounds, so drift on a shared machine hits them alike; medians are
reported with the gf/plain ratio, against the target of gf at most 1.5x the
plain script. ``python -X importtime -c "import gf"`` then lists the modules
gf's import pulls in, marking those the plain script imports as well; and
``python -S`` (no ``site``, so no module is already loaded when gf is imported)
checks that the modules a reading-and-reporting program does not need
(:data:`OFF_IMPORT_PATH`: the launcher, ingest, plugins, ``random``, ...) stay off
the ``import gf`` path.

Usage: ``python benchmarks/eval_overhead.py [--runs N] [--json] [--write]``;
``--write`` replaces the eval_overhead section of BENCHMARKS.md.
"""

import argparse
import json
import re
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common

SECTION = "eval_overhead"

TARGET_RATIO = 1.5
TARGET_MIN_RUNS = 10
WARMUP_ROUNDS = 2
IMPORTTIME_RUNS = 5
TOP_IMPORTS = 15

#: 7 parameters of mixed types, in the loader's format.
PARAMS_FILE = """\
lr = 0.01
model__depth_int = 6
model__dropout = 0.25
model__use_bias_bool = 1
optim__kind_choice = ["adam", "sgd", "rmsprop"]
optim__momentum = 0.9
train__epochs_int = 20
"""

GF_CODE = """\
from gf import GeneticFuckery
g = GeneticFuckery(dbfile={db!r}, pid=1)
lr, depth, dropout, bias = g.lr, g.model.depth_int, g.model.dropout, g.model.use_bias_bool
kind, momentum, epochs = g.optim.kind_choice, g.optim.momentum, g.train.epochs_int
with g.report("bench") as r:
    for algo in ("fast", "slow", "mixed"):
        r[algo] = {{"score": lr * depth, "loss": dropout + momentum, "steps": epochs}}
"""

PLAIN_IMPORTS = "import json, os, sqlite3, sys, time"

PLAIN_CODE = PLAIN_IMPORTS + """
conn = sqlite3.connect({db!r}, timeout=60.0, isolation_level=None)
conn.execute("PRAGMA foreign_keys = ON")
started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
p = {{(param + "__" + name if param else name): json.loads(typed)
     for param, name, typed in conn.execute(
         "SELECT param, name, typed FROM params WHERE group_id = ?", (1,))}}
lr, depth, dropout, bias = p["lr"], p["model__depth_int"], p["model__dropout"], p["model__use_bias_bool"]
kind, momentum, epochs = p["optim__kind_choice"], p["optim__momentum"], p["train__epochs_int"]
results = {{algo: {{"score": lr * depth, "loss": dropout + momentum, "steps": epochs}}
           for algo in ("fast", "slow", "mixed")}}
conn.execute("BEGIN IMMEDIATE")
run = conn.execute(
    "INSERT INTO runs (uid, group_id, dataset, family, label, started, stopped, status,"
    " host, process_id, command) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    (os.urandom(13).hex(), 1, None, None, "bench", started,
     time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "ok",
     os.uname().nodename, os.getpid(), " ".join(sys.orig_argv)),
).lastrowid
conn.executemany(
    "INSERT INTO results (run, algo, name, value) VALUES (?, ?, ?, ?)",
    [(run, algo, name, value) for algo, values in results.items() for name, value in values.items()],
)
conn.execute("COMMIT")
"""

RESULTS_PER_RUN = 9
VARIANTS = ("bare", "import gf", "plain", "gf")

#: Modules a program that only reads params and reports results has no use for: ``import gf`` must not load them.
OFF_IMPORT_PATH = (
    "gf.launch", "gf.ingest", "gf.engine", "gf.breeding", "gf.plugins", "gf.loader", "gf.metrics", "gf.cli",
    "gf.hookspecs", "pluggy", "click", "loguru", "random", "subprocess", "threading", "concurrent.futures",
    "hashlib", "shlex", "ctypes", "importlib.metadata",
)

#: ``python -S``: no ``site``, so nothing is loaded before gf; the repository's gf first on the path.
IMPORT_PROBE = """\
import sys
sys.path.insert(0, {repo!r})
before = set(sys.modules)
import gf
print(*sorted(set(sys.modules) - before))
"""


def run_python(args, env):
    """Run this interpreter with ``args``; return the finished process, or exit with its stderr."""
    process = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env)
    if process.returncode:
        sys.exit(f"python {shlex.join(args)[:200]} failed:\n{process.stderr}")
    return process


def make_db(workdir, env):
    """A database holding one 7-param group, created by ``gf load``; returns its path."""
    params = Path(workdir, "params.txt")
    params.write_text(PARAMS_FILE)
    db = Path(workdir, "bench.db")
    # The `gf` command's entry point, run by this interpreter.
    run_python(["-c", "from gf.cli import main; main()", "load", str(params), "--db", str(db)], env)
    return str(db)


def variant_code(db):
    """The ``python -c`` code of each variant."""
    return {
        "bare": "pass",
        "import gf": "import gf",
        "plain": PLAIN_CODE.format(db=db),
        "gf": GF_CODE.format(db=db),
    }


def run_once(code, env):
    """Wall time in seconds of one fresh ``python -c code`` process."""
    start = time.perf_counter()
    run_python(["-c", code], env)
    return time.perf_counter() - start


def time_variants(codes, runs, env):
    """``{variant: [seconds]}``: warm-up rounds, then ``runs`` interleaved rounds."""
    for _ in range(WARMUP_ROUNDS):
        for name in VARIANTS:
            run_once(codes[name], env)
    times = {name: [] for name in VARIANTS}
    for _ in range(runs):
        for name in VARIANTS:
            times[name].append(run_once(codes[name], env))
    return times


def check_writes(db, expected_runs):
    """Fail loudly unless every gf and plain process recorded its run and 9 results."""
    conn = sqlite3.connect(db)
    runs, results = conn.execute("SELECT count(*), (SELECT count(*) FROM results) FROM runs").fetchone()
    conn.close()
    if (runs, results) != (expected_runs, expected_runs * RESULTS_PER_RUN):
        sys.exit(f"expected {expected_runs} runs and {expected_runs * RESULTS_PER_RUN} results, "
                 f"found {runs} and {results}")


def parse_importtime(stderr):
    """``[(depth, module, self_us, cumulative_us)]`` from ``-X importtime`` output."""
    entries = []
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)", line)
        if match:
            self_us, cumulative_us, indent, module = match.groups()
            entries.append((len(indent), module, int(self_us), int(cumulative_us)))
    return entries


def subtree(entries, root):
    """The entries of ``root``'s import tree, ``root`` last (importtime lists children first)."""
    pending = []
    for entry in entries:
        if entry[0] == 0:
            if entry[1] == root:
                return pending + [entry]
            pending = []
        else:
            pending.append(entry)
    raise LookupError(f"{root} not in the -X importtime output")


def import_costs(code, root, runs, env):
    """``{module: (median self us, median cumulative us)}`` for the tree ``root`` imports."""
    samples = {}
    for _ in range(runs):
        process = run_python(["-X", "importtime", "-c", code], env)
        for _depth, module, self_us, cumulative_us in subtree(parse_importtime(process.stderr), root):
            samples.setdefault(module, []).append((self_us, cumulative_us))
    return {
        module: (statistics.median(s for s, _ in values), statistics.median(c for _, c in values))
        for module, values in samples.items()
    }


def plain_modules(env):
    """Modules the plain script's import line loads that a bare interpreter has not already."""
    probe = f"import sys; before = set(sys.modules); {PLAIN_IMPORTS}; print(*sorted(set(sys.modules) - before))"
    return set(run_python(["-c", probe], env).stdout.split())


def import_gf_modules(env):
    """Every module ``import gf`` loads in ``python -S`` (where ``site`` has loaded nothing before it)."""
    return run_python(["-S", "-c", IMPORT_PROBE.format(repo=str(_common.REPO))], env).stdout.split()


def summarize(times, imports, plain_also, loaded, runs):
    """The report as a dict (what ``--json`` prints); times in milliseconds.

    ``target_met`` is None when there were too few runs to judge.
    """
    medians = {name: statistics.median(values) * 1000 for name, values in times.items()}
    ratio = medians["gf"] / medians["plain"]
    top = sorted(imports.items(), key=lambda item: item[1][1], reverse=True)[:TOP_IMPORTS]
    return {
        "command": _common.command(__file__),
        "machine": _common.machine(),
        "runs": runs,
        "median_ms": medians,
        "min_ms": {name: min(values) * 1000 for name, values in times.items()},
        "ratio_gf_over_plain": ratio,
        "excess_over_bare_ms": {name: medians[name] - medians["bare"] for name in ("import gf", "plain", "gf")},
        "target": f"gf at most {TARGET_RATIO}x the plain script, median of >= {TARGET_MIN_RUNS} runs",
        "target_met": ratio <= TARGET_RATIO if runs >= TARGET_MIN_RUNS else None,
        "import_gf_top": [
            {"module": module, "self_us": s, "cumulative_us": c, "plain_imports_it": module in plain_also}
            for module, (s, c) in top
        ],
        "import_gf_loads_under_S": loaded,
        "off_import_path_but_loaded": [module for module in OFF_IMPORT_PATH if module in loaded],
    }


def render(report):
    """The report as the Markdown section kept in BENCHMARKS.md (also printed)."""
    medians, mins, excess = report["median_ms"], report["min_ms"], report["excess_over_bare_ms"]
    met = _common.verdict(report["target_met"])
    lines = [
        "## Evaluation overhead: one fresh process reads 7 params and reports 9 results",
        "",
        _common.machine_line(report["machine"]) + "  ",
        f"Command: `{report['command']}` ({report['runs']} interleaved runs per variant).",
        "",
        f"Target: {report['target']}. **{met}**: gf/plain = {report['ratio_gf_over_plain']:.2f}x.",
        "",
        "| variant | median ms | min ms | median over bare ms |",
        "|---|---:|---:|---:|",
    ]
    for name in VARIANTS:
        over = f"{excess[name]:.1f}" if name in excess else ""
        lines.append(f"| {name} | {medians[name]:.1f} | {mins[name]:.1f} | {over} |")
    lines += [
        "",
        "`bare` is `python -c pass`; `plain` is the same reads and writes with stdlib sqlite3;"
        " bytecode cached, as a program normally runs.",
        "",
        f"What `import gf` pulls in (`python -X importtime -c \"import gf\"`, median of {IMPORTTIME_RUNS};"
        " modules a bare interpreter already has are not listed):",
        "",
        "| module | cumulative us | self us | plain script imports it too |",
        "|---|---:|---:|---|",
    ]
    for row in report["import_gf_top"]:
        also = "yes" if row["plain_imports_it"] else "no"
        lines.append(f"| {row['module']} | {row['cumulative_us']:.0f} | {row['self_us']:.0f} | {also} |")
    loaded, offenders = report["import_gf_loads_under_S"], report["off_import_path_but_loaded"]
    gf_modules = [module for module in loaded if module == "gf" or module.startswith("gf.")]
    checked = ", ".join(f"`{module}`" for module in OFF_IMPORT_PATH)
    verdict = ("none of them is loaded" if not offenders
               else "**loaded all the same: " + ", ".join(f"`{module}`" for module in offenders) + "**")
    lines += [
        "",
        f"Off the `import gf` path (`python -S`, so `site` has loaded nothing before gf): {checked}:"
        f" {verdict}. `import gf` loads {len(loaded)} modules there, {len(gf_modules)} of them gf's own"
        f" ({', '.join(f'`{module}`' for module in gf_modules)}); the rest is the standard library"
        " (json, sqlite3, datetime and what they need).",
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="interleaved timed runs per variant (default 15)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--write", action="store_true", help=f"update the section in {_common.BENCHMARKS_MD.name}")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    with tempfile.TemporaryDirectory(prefix="gf-bench-") as workdir:
        env = _common.child_env(workdir)
        db = make_db(workdir, env)
        times = time_variants(variant_code(db), args.runs, env)
        check_writes(db, 2 * (WARMUP_ROUNDS + args.runs))
        imports = import_costs("import gf", "gf", IMPORTTIME_RUNS, env)
        plain_also = plain_modules(env)
        loaded = import_gf_modules(env)
    report = summarize(times, imports, plain_also, loaded, args.runs)
    section = render(report)

    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(section, end="")
    if args.write:
        _common.write_section(SECTION, section)


if __name__ == "__main__":
    main()
