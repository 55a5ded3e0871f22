"""What the benchmark scripts share: the machine description, the command line, BENCHMARKS.md sections.

Imported by ``benchmarks/eval_overhead.py``, ``breeding.py``, ``ranking.py``,
``run_throughput.py`` and ``overhead_optuna.py`` (run as ``python benchmarks/NAME.py``, which puts this folder on
``sys.path``), before they import gf: importing this module puts the repository first
on ``sys.path``, so the scripts measure the gf next to them even when an editable
install points elsewhere; child processes get it through :func:`child_env`.
"""

import datetime
import os
import platform
import re
import shlex
import sqlite3
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = REPO / "BENCHMARKS.md"

# Measure this repository's gf (sys.path[0] is this folder; the repository goes right after it).
if str(REPO) not in sys.path:
    sys.path.insert(1, str(REPO))
BENCHMARKS_HEADER = """\
# gf benchmarks

Each figure below is measured side by side in one run (the variants interleaved)
on a shared, noisy machine: compare the ratios, not the absolute times, which
move from run to run. Rerun a section with the command it records, e.g.
`python benchmarks/eval_overhead.py --runs 21 --write`.

One command runs every benchmark, one after another, from the repository root:
`python -m benchmarks --quick` runs each at a small size, a smoke test (5 minutes
on this 2-core machine when idle, 10 beside two other benchmark jobs; its results
files are not kept in git); `python -m benchmarks --full --write` runs each as its section below records
and rewrites the sections (more than a day of CPU, nearly all of it Optuna at
1,000 parameters in the optimizers benchmark). `--only NAME,...` picks some,
`--dry-run` prints the commands; a benchmark whose packages are missing is skipped
with what to install. Optuna, cmaes, nevergrad, numpy and matplotlib come with
`pip install -e '.[bench]'`.
"""

#: The 1-minute load average when the script started (this module is imported first thing):
#: other work on a shared machine moves the absolute times.
LOAD_AT_START = os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def child_env(workdir):
    """The environment of the processes a benchmark starts: ours without GF_*, this repository's gf first
    on the path, bytecode cached in ``workdir`` (as a program normally runs, even when
    ``PYTHONDONTWRITEBYTECODE`` is set here)."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("GF_") and key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PYTHONPYCACHEPREFIX"] = str(Path(workdir, "pycache"))
    return env


def gf_revision():
    """The commit measured, e.g. ``6b8c8de`` (``+ changes`` when gf's sources differ from it), or None."""
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "gf", "gf_plugins_builtin"],
                                 capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + (" + uncommitted changes" if changed else "")


def machine():
    """CPU model, cores, Python and SQLite versions, today's date, the load average when the run started
    and the gf commit measured."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": f"{len(os.sched_getaffinity(0))} usable of {os.cpu_count()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "date": datetime.date.today().isoformat(),
        "load_average_at_start": LOAD_AT_START,
        "gf": gf_revision(),
    }


def machine_line(m):
    load = m.get("load_average_at_start")
    busy = f", load average {load:.1f} when the run started" if load is not None else ""
    revision = f"; gf {m['gf']}" if m.get("gf") else ""
    return (f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, SQLite {m['sqlite']}, {m['date']}"
            f"{busy}{revision}.")


def command(script):
    """The command that reproduces this run, as recorded in BENCHMARKS.md."""
    return shlex.join(["python", os.path.relpath(script, REPO), *sys.argv[1:]])


def median(values):
    return statistics.median(values)


def verdict(met):
    return {True: "Met", False: "NOT met", None: "Not assessed (too few runs)"}[met]


def write_section(name, section):
    """Replace the ``name`` section of BENCHMARKS.md (between its markers), or append it."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else BENCHMARKS_HEADER
    block = f"{start}\n{section}{end}"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    BENCHMARKS_MD.write_text(text)
    print(f"updated {BENCHMARKS_MD}", file=sys.stderr)
