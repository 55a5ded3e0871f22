"""What recording an evaluation costs in gf and in Optuna, measured side by side.

Two measurements, each with the contenders interleaved so drift on a shared
machine hits them alike:

**Command mode**: one evaluation is a fresh process that gets 7 parameters and
records 9 results (3 algos x 3 names), timed as the wall time of the processes:

* ``bare``: ``python -c pass``, the interpreter's own start-up;
* ``gf``: the program reads its group from the gf database named by ``GF_DB`` /
  ``GF_PARAM_GROUP`` (the environment gf's launcher sets, ``GF_DATA``,
  ``GF_FAMILY`` and ``GF_LAUNCH`` included) and records one run with
  ``report()``: the same program as ``eval_overhead.py``;
* ``optuna python``: a fresh ``python -c`` doing what a program that asks and
  tells Optuna itself does: ``optuna.load_study`` on SQLite storage,
  ``study.ask(fixed_distributions)`` (the 7 params), 9 ``trial.set_user_attr``
  (the results) and ``study.tell`` (one objective);
* ``optuna CLI``: ``optuna ask --search-space ...`` then ``optuna tell
  --trial-number N --values ...`` (two processes). ``tell`` accepts no user
  attributes, so this study has 9 objectives, and the 9 results are its 9
  values: the same 9 numbers, in one call. The user's own program, which the
  shell runs between the two, is not included (it costs at least ``bare``).

Both Optuna studies use ``RandomSampler`` (the default samplers' cost grows with
the history; this benchmark measures storing, as gf's program samples nothing)
and Optuna's default SQLite settings; gf uses its own (WAL, synchronous NORMAL).

**In-process store growth**: one process records runs into one store, and each
run is timed; the figure is the mean time per run over the last 500 runs when
the store reaches 1,000, 10,000 and 100,000 runs (``--quick``: 1,000 and 10,000).
Each contender runs in its own worker process (so one's garbage does not slow
another), advanced 500 runs at a time in turn, until it reaches the target or
has spent ``--cap`` seconds recording; what it reached is reported as such,
nothing is extrapolated.

* ``gf record``: ``GeneticFuckery(db, group=1, dataset=...).record(results)``,
  9 results per run, one transaction each: the fastest public way to record a
  run in-process (``evolve``'s launcher adds bookkeeping of launches to it);
* ``optuna <storage> ask/tell``: ``study.ask(fixed_distributions)`` (7 params),
  9 ``set_user_attr``, ``study.tell(trial, value)``: how a program records
  trials with Optuna's ask-and-tell interface;
* ``optuna <storage> add_trial``: ``study.add_trial(create_trial(params=...,
  distributions=..., value=..., user_attrs=...))``, a finished trial in one
  storage call: Optuna's fastest public way to record one;

for the storages ``create_study()`` (in memory), ``sqlite:///...`` (RDB) and
``JournalStorage(JournalFileBackend(path))``. A gf run refers to its group,
whose params were stored when the group was made; an Optuna trial stores its
7 params itself: that is how each records an evaluation.

Usage: ``python benchmarks/overhead_optuna.py [--quick] [--runs N] [--cap S] [--write]``;
progress goes to stderr, the figures to ``benchmarks/results/overhead_optuna.json``
(``overhead_optuna-quick.json`` with ``--quick``); ``--write`` replaces the
overhead_optuna section of BENCHMARKS.md.
"""

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import _common

SECTION = "overhead_optuna"
RESULTS_DIR = _common.REPO / "benchmarks" / "results"

WARMUP_ROUNDS = 2
CHUNK = 500
#: A contender's turn ends after CHUNK runs or this many seconds, whichever comes first.
TURN_SECONDS = 2.0
CHECKPOINTS = (1_000, 10_000, 100_000)
QUICK_CHECKPOINTS = (1_000, 10_000)
DATASET = "train"

#: The 7 params of eval_overhead.py's group, as an Optuna search space (code, so child processes run it too).
SPACE_CODE = """\
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
SPACE = {
    "lr": FloatDistribution(1e-4, 0.1, log=True),
    "model__depth_int": IntDistribution(1, 12),
    "model__dropout": FloatDistribution(0.0, 0.5),
    "model__use_bias_bool": CategoricalDistribution([True, False]),
    "optim__kind_choice": CategoricalDistribution(["adam", "sgd", "rmsprop"]),
    "optim__momentum": FloatDistribution(0.5, 0.99),
    "train__epochs_int": IntDistribution(1, 50),
}
"""

#: gf's program: the group and database come from the environment gf's launcher sets.
GF_CODE = """\
from gf import GeneticFuckery
g = GeneticFuckery()
lr, depth, dropout, bias = g.lr, g.model.depth_int, g.model.dropout, g.model.use_bias_bool
kind, momentum, epochs = g.optim.kind_choice, g.optim.momentum, g.train.epochs_int
with g.report("bench") as r:
    for algo in ("fast", "slow", "mixed"):
        r[algo] = {"score": lr * depth, "loss": dropout + momentum, "steps": epochs}
"""

OPTUNA_PY_CODE = """\
import optuna
{space}
study = optuna.load_study(study_name="py", storage={url!r}, sampler=optuna.samplers.RandomSampler())
trial = study.ask(SPACE)
p = trial.params
lr, depth, dropout, bias = p["lr"], p["model__depth_int"], p["model__dropout"], p["model__use_bias_bool"]
kind, momentum, epochs = p["optim__kind_choice"], p["optim__momentum"], p["train__epochs_int"]
for algo in ("fast", "slow", "mixed"):
    for name, value in {{"score": lr * depth, "loss": dropout + momentum, "steps": epochs}}.items():
        trial.set_user_attr(algo + "_" + name, value)
study.tell(trial, lr * depth)
"""

COMMAND_CONTENDERS = ("bare", "gf", "import optuna", "optuna python", "optuna CLI")

#: The contenders that record an evaluation (compared with gf).
RATIOED = ("gf", "optuna python", "optuna CLI")

STORE_CONTENDERS = (
    "gf record",
    "optuna in-memory ask/tell",
    "optuna in-memory add_trial",
    "optuna RDB sqlite ask/tell",
    "optuna RDB sqlite add_trial",
    "optuna journal file ask/tell",
    "optuna journal file add_trial",
)


def log(message):
    print(f"[overhead_optuna {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def space():
    namespace = {}
    exec(SPACE_CODE, namespace)
    return namespace["SPACE"]


def results_of(params):
    """The 9 results every contender records: ``{algo: {name: value}}`` from the 7 params."""
    lr, depth, dropout = params["lr"], params["model__depth_int"], params["model__dropout"]
    momentum, epochs = params["optim__momentum"], params["train__epochs_int"]
    return {algo: {"score": lr * depth, "loss": dropout + momentum, "steps": epochs}
            for algo in ("fast", "slow", "mixed")}


def flat(results):
    return {f"{algo}_{name}": value for algo, values in results.items() for name, value in values.items()}


# -- command mode ---------------------------------------------------------------------


def optuna_command():
    """The argv start that runs the ``optuna`` command: its console script run by this interpreter
    (not through a shim such as pyenv's, which would add its own start-up)."""
    script = Path(sysconfig.get_path("scripts"), "optuna")
    if script.is_file():
        return [sys.executable, str(script)]
    return [sys.executable, "-c", "import sys; from optuna.cli import main; sys.exit(main())"]


def run(argv, env):
    """Run ``argv``; return its stdout, or exit with its stderr."""
    process = subprocess.run(argv, capture_output=True, text=True, env=env)
    if process.returncode:
        sys.exit(f"{' '.join(argv)[:300]} failed:\n{process.stderr}")
    return process.stdout


class CommandBench:
    """The four command-mode contenders on their databases in ``workdir``."""

    def __init__(self, workdir):
        import optuna
        from eval_overhead import make_db

        self.env = _common.child_env(workdir)
        self.gf_db = make_db(workdir, self.env)
        self.gf_env = {**self.env, "GF_DB": self.gf_db, "GF_PARAM_GROUP": "1", "GF_DATA": DATASET,
                       "GF_FAMILY": DATASET}
        self.optuna_db = str(Path(workdir, "optuna.db"))
        self.url = f"sqlite:///{self.optuna_db}"
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        optuna.create_study(storage=self.url, study_name="py", direction="maximize")
        optuna.create_study(storage=self.url, study_name="cli", directions=["maximize"] * 9)
        self.search_space = json.dumps(
            {name: json.loads(optuna.distributions.distribution_to_json(d)) for name, d in space().items()})
        self.optuna = optuna_command()
        self.py_code = OPTUNA_PY_CODE.format(space=SPACE_CODE, url=self.url)

    def one(self, contender):
        """Wall time in seconds of one evaluation by ``contender``."""
        from gf import store

        start = time.perf_counter()
        if contender == "bare":
            run([sys.executable, "-c", "pass"], self.env)
        elif contender == "gf":
            run([sys.executable, "-c", GF_CODE], {**self.gf_env, "GF_LAUNCH": store.new_ulid()})
        elif contender == "import optuna":
            run([sys.executable, "-c", "import optuna"], self.env)
        elif contender == "optuna python":
            run([sys.executable, "-c", self.py_code], self.env)
        else:
            common = ["--storage", self.url, "--study-name", "cli", "-q"]
            asked = json.loads(run([*self.optuna, "ask", *common, "--sampler", "RandomSampler",
                                    "--search-space", self.search_space, "-f", "json"], self.env))
            values = flat(results_of(asked["params"])).values()
            run([*self.optuna, "tell", *common, "--trial-number", str(asked["number"]),
                 "--values", *map(repr, values)], self.env)
        return time.perf_counter() - start

    def check(self, evaluations):
        """Fail loudly unless every evaluation recorded its 9 results."""
        import sqlite3

        conn = sqlite3.connect(self.gf_db)
        runs, results = conn.execute("SELECT count(*), (SELECT count(*) FROM results) FROM runs").fetchone()
        conn.close()
        if (runs, results) != (evaluations, 9 * evaluations):
            sys.exit(f"gf: expected {evaluations} runs and {9 * evaluations} results, found {runs} and {results}")
        import optuna

        for name, check in (("py", lambda t: len(t.user_attrs) == 9), ("cli", lambda t: len(t.values) == 9)):
            trials = optuna.load_study(study_name=name, storage=self.url).trials
            complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE and check(t)]
            if len(trials) != evaluations or len(complete) != evaluations:
                sys.exit(f"optuna {name}: expected {evaluations} complete trials with 9 results, "
                         f"found {len(complete)} of {len(trials)}")


def command_mode(runs):
    """``{contender: [seconds]}`` of ``runs`` interleaved rounds, after warm-up rounds."""
    with tempfile.TemporaryDirectory(prefix="gf-bench-optuna-") as workdir:
        bench = CommandBench(workdir)
        times = {name: [] for name in COMMAND_CONTENDERS}
        for round_ in range(WARMUP_ROUNDS + runs):
            for name in COMMAND_CONTENDERS:
                seconds = bench.one(name)
                if round_ >= WARMUP_ROUNDS:
                    times[name].append(seconds)
            if round_ >= WARMUP_ROUNDS:
                log(f"command mode: round {round_ - WARMUP_ROUNDS + 1}/{runs}: "
                    + ", ".join(f"{name} {times[name][-1] * 1000:.0f} ms" for name in COMMAND_CONTENDERS))
            else:
                log(f"command mode: warm-up round {round_ + 1}/{WARMUP_ROUNDS} done")
        bench.check(WARMUP_ROUNDS + runs)
    return times


def summarize_command(times, runs):
    medians = {name: statistics.median(values) * 1000 for name, values in times.items()}
    return {
        "runs": runs,
        "warmup_rounds": WARMUP_ROUNDS,
        "median_ms": medians,
        "min_ms": {name: min(values) * 1000 for name, values in times.items()},
        "over_bare_ms": {name: medians[name] - medians["bare"] for name in COMMAND_CONTENDERS if name != "bare"},
        "ratio_over_gf": {name: medians[name] / medians["gf"] for name in RATIOED},
        "all_ms": {name: [s * 1000 for s in values] for name, values in times.items()},
    }


# -- in-process store growth ------------------------------------------------------------


class GfRecorder:
    def __init__(self, workdir):
        from eval_overhead import make_db

        from gf import GeneticFuckery

        self.db = make_db(workdir, _common.child_env(workdir))
        self.g = GeneticFuckery(self.db, group=1, dataset=DATASET)
        self.params = dict(
            lr=self.g.lr, model__depth_int=self.g.model.depth_int, model__dropout=self.g.model.dropout,
            optim__momentum=self.g.optim.momentum, train__epochs_int=self.g.train.epochs_int)

    def record(self, i):
        results = results_of(self.params)
        results["fast"]["steps"] = i
        start = time.perf_counter()
        self.g.record(results, "bench")
        return time.perf_counter() - start

    def size(self):
        return sum(os.path.getsize(self.db + suffix) for suffix in ("", "-wal") if os.path.exists(self.db + suffix))

    def stored(self):
        return self.g.conn.execute("SELECT count(*) FROM runs").fetchone()[0]


class OptunaRecorder:
    def __init__(self, workdir, storage, mode):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna = optuna
        self.mode = mode
        self.path = None
        if storage == "in-memory":
            target = None
        elif storage == "RDB sqlite":
            self.path = str(Path(workdir, "optuna.db"))
            target = f"sqlite:///{self.path}"
        else:
            from optuna.storages.journal import JournalFileBackend, JournalStorage

            self.path = str(Path(workdir, "optuna.journal"))
            target = JournalStorage(JournalFileBackend(self.path))
        self.study = optuna.create_study(storage=target, sampler=optuna.samplers.RandomSampler(seed=0),
                                         direction="maximize")
        self.space = space()
        self.rng = random.Random(0)

    def record(self, i):
        if self.mode == "ask/tell":
            start = time.perf_counter()
            trial = self.study.ask(self.space)
            params = trial.params
            elapsed = time.perf_counter() - start
            results = flat(results_of(params))
            start = time.perf_counter()
            for key, value in results.items():
                trial.set_user_attr(key, value)
            self.study.tell(trial, results["fast_score"])
            return elapsed + time.perf_counter() - start
        params = self.sample()  # the user's params: sampled outside the timed calls
        results = flat(results_of(params))
        start = time.perf_counter()
        self.study.add_trial(self.optuna.trial.create_trial(
            params=params, distributions=self.space, value=results["fast_score"], user_attrs=results))
        return time.perf_counter() - start

    def sample(self):
        rng, s = self.rng, self.space
        return {
            "lr": 10 ** rng.uniform(-4, -1),
            "model__depth_int": rng.randint(1, 12),
            "model__dropout": rng.uniform(0, 0.5),
            "model__use_bias_bool": rng.choice(s["model__use_bias_bool"].choices),
            "optim__kind_choice": rng.choice(s["optim__kind_choice"].choices),
            "optim__momentum": rng.uniform(0.5, 0.99),
            "train__epochs_int": rng.randint(1, 50),
        }

    def size(self):
        return os.path.getsize(self.path) if self.path else None

    def stored(self):
        complete = self.optuna.trial.TrialState.COMPLETE
        return len(self.study.get_trials(deepcopy=False, states=(complete,)))


def peak_rss_mb():
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from the parent)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def window_stats(times, stored):
    return {"stored": stored, "runs": len(times), "mean_ms": statistics.fmean(times) * 1000,
            "median_ms": statistics.median(times) * 1000, "max_ms": max(times) * 1000}


def worker(contender, workdir, cap, target):
    """Serve one contender: on each ``turn`` line on stdin, record runs for up to CHUNK runs or
    TURN_SECONDS, then answer with a JSON line holding the CHUNK-run windows completed meanwhile."""
    if contender == "gf record":
        recorder = GfRecorder(workdir)
    else:
        _, storage_and_mode = contender.split(" ", 1)
        storage, mode = storage_and_mode.rsplit(" ", 1)
        recorder = OptunaRecorder(workdir, storage, mode)
    print(json.dumps({"ready": True}), flush=True)
    done, spent, window = 0, 0.0, []
    for line in sys.stdin:
        if line.strip() != "turn":
            break
        windows, turn_runs, turn_start = [], 0, time.perf_counter()
        while (turn_runs < CHUNK and time.perf_counter() - turn_start < TURN_SECONDS
               and spent < cap and done < target):
            seconds = recorder.record(done)
            window.append(seconds)
            spent += seconds
            done += 1
            turn_runs += 1
            if len(window) == CHUNK:
                windows.append(window_stats(window, done))
                window = []
        print(json.dumps({"done": done, "spent": spent, "windows": windows}), flush=True)
    print(json.dumps({"stored": recorder.stored(), "size_bytes": recorder.size(),
                      "tail": window_stats(window, done) if window else None,
                      "peak_rss_mb": peak_rss_mb()}), flush=True)


def store_growth(checkpoints, cap):
    """Give every contender a turn in turn until each reaches the last checkpoint or the cap;
    ``{contender: summary}``."""
    target = checkpoints[-1]
    with tempfile.TemporaryDirectory(prefix="gf-bench-optuna-store-") as root:
        workers, state = {}, {}
        for name in STORE_CONTENDERS:
            workdir = Path(root, name.replace(" ", "_").replace("/", "-"))
            workdir.mkdir()
            workers[name] = subprocess.Popen(
                [sys.executable, __file__, "--worker", name, "--workdir", str(workdir), "--cap", str(cap),
                 "--target", str(target)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=_common.child_env(root))
        for name, process in workers.items():
            if json.loads(process.stdout.readline() or "{}").get("ready") is not True:
                sys.exit(f"the {name} worker failed to start (see its error above)")
            state[name] = {"windows": [], "done": 0, "spent": 0.0, "active": True, "logged": 0.0}
        while any(s["active"] for s in state.values()):
            for name, process in workers.items():
                s = state[name]
                if not s["active"]:
                    continue
                process.stdin.write("turn\n")
                process.stdin.flush()
                answer = json.loads(process.stdout.readline() or "null")
                if answer is None:
                    sys.exit(f"the {name} worker died (see its error above)")
                s["done"], s["spent"] = answer["done"], answer["spent"]
                s["windows"] += answer["windows"]
                finished = s["done"] >= target or s["spent"] >= cap
                if answer["windows"] or finished or s["spent"] - s["logged"] > 15:
                    last = s["windows"][-1] if s["windows"] else None
                    log(f"store growth: {name}: {s['done']:,} runs, {s['spent']:.1f} s spent"
                        + (f", runs {last['stored'] - CHUNK + 1:,}-{last['stored']:,}: {last['mean_ms']:.3f} ms/run"
                           if last else "")
                        + (" (cap reached)" if finished and s["done"] < target else ""))
                    s["logged"] = s["spent"]
                if finished:
                    s["active"] = False
                    s["capped"] = s["done"] < target
                    process.stdin.close()
                    s.update(json.loads(process.stdout.readline()))
                    process.wait()
    for name, s in state.items():
        if s["stored"] != s["done"]:
            sys.exit(f"{name}: recorded {s['done']} runs but the store holds {s['stored']}")
    return {name: summarize_store(s, checkpoints) for name, s in state.items()}


def summarize_store(s, checkpoints):
    windows = {}
    for checkpoint in checkpoints:
        window = next((w for w in s["windows"] if w["stored"] == checkpoint), None)
        windows[str(checkpoint)] = window and {"mean_ms": window["mean_ms"], "median_ms": window["median_ms"]}
    last = s["tail"] or (s["windows"][-1] if s["windows"] else None)
    return {
        "reached_runs": s["done"],
        "recording_seconds": s["spent"],
        "capped": s["capped"],
        "stored_runs_checked": s["stored"],
        "store_bytes": s["size_bytes"],
        "peak_rss_mb": s["peak_rss_mb"],
        "windows": windows,
        "last_runs": last,
        "all_windows": s["windows"],
    }


def optuna_writes():
    """How many durable writes Optuna makes to record one trial: ``{storage: {mode: n}}``, counted as
    SQLAlchemy commits on RDB SQLite storage and as (fsynced) log appends on journal file storage;
    ``{"RDB sqlite statements": {mode: n}}``: the SQL statements those commits hold."""
    import optuna
    import sqlalchemy
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    counted = {}
    with tempfile.TemporaryDirectory(prefix="gf-bench-optuna-count-") as workdir:
        rdb = optuna.storages.RDBStorage(f"sqlite:///{Path(workdir, 'count.db')}")
        backend = JournalFileBackend(str(Path(workdir, "count.journal")))
        count, statements = [0], [0]
        sqlalchemy.event.listen(rdb.engine, "commit", lambda _connection: count.__setitem__(0, count[0] + 1))
        sqlalchemy.event.listen(rdb.engine, "before_cursor_execute",
                                lambda *_args: statements.__setitem__(0, statements[0] + 1))
        append = backend.append_logs

        def counting_append(logs):
            count[0] += 1
            return append(logs)

        backend.append_logs = counting_append
        for name, storage in (("RDB sqlite", rdb), ("journal file", JournalStorage(backend))):
            recorder = OptunaRecorder.__new__(OptunaRecorder)
            recorder.optuna, recorder.space, recorder.rng, recorder.path = optuna, space(), random.Random(0), None
            recorder.study = optuna.create_study(storage=storage, sampler=optuna.samplers.RandomSampler(seed=0),
                                                 direction="maximize")
            for mode in ("ask/tell", "add_trial"):
                recorder.mode = mode
                count[0] = statements[0] = 0
                recorder.record(0)
                counted.setdefault(name, {})[mode] = count[0]
                if name == "RDB sqlite":
                    counted.setdefault("RDB sqlite statements", {})[mode] = statements[0]
    return counted


def fsync_ms(folder, times=30):
    """Median ms of one fsync after a 4 KB write in ``folder``: what each durable commit waits for."""
    samples = []
    with tempfile.NamedTemporaryFile(dir=folder) as handle:
        for _ in range(times):
            os.write(handle.fileno(), b"x" * 4096)
            start = time.perf_counter()
            os.fsync(handle.fileno())
            samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


# -- report ----------------------------------------------------------------------------


def filesystem(path):
    try:
        return subprocess.run(["df", "--output=fstype", str(path)], capture_output=True, text=True,
                              check=True).stdout.split()[-1]
    except (OSError, subprocess.CalledProcessError, IndexError):
        return "unknown"


def faster_than_gf(store, checkpoints):
    """A line naming the contenders that recorded faster than gf (by mean) at some store size, if any."""
    ours = store["gf record"]["windows"]
    faster = []
    for name in STORE_CONTENDERS[1:]:
        where = [f"{c:,}" for c in checkpoints
                 if ours[str(c)] and store[name]["windows"][str(c)]
                 and store[name]["windows"][str(c)]["mean_ms"] < ours[str(c)]["mean_ms"]]
        if where:
            faster.append(f"{name} (at {', '.join(where)} runs)")
    if not faster:
        return []
    return [f"Faster than gf by the mean: {'; '.join(faster)}. gf's median run stays at"
            f" {min(w['median_ms'] for w in ours.values() if w):.2f}-{max(w['median_ms'] for w in ours.values() if w):.2f}"
            " ms; its mean is pulled up by the runs that checkpoint the WAL (below).", ""]


def render(report):
    command, store = report["command_mode"], report["store_growth"]
    writes = report["optuna_writes_per_trial"]
    rdb, statements, journal = writes["RDB sqlite"], writes["RDB sqlite statements"], writes["journal file"]
    lines = [
        "## Overhead vs Optuna: recording evaluations",
        "",
        _common.machine_line(report["machine"]) + "  ",
        f"Optuna {report['optuna']}, SQLAlchemy {report['sqlalchemy']}; temporary files on"
        f" {report['filesystem']}, where one fsync of a 4 KB write takes {report['fsync_ms']:.1f} ms (median).  ",
        f"Command: `{report['command']}`.",
        "",
        f"### Command mode: a fresh process gets 7 params and records 9 results"
        f" (median of {command['runs']} interleaved rounds)",
        "",
        "| contender | what one evaluation runs | median ms | min ms | median over bare ms | / gf |",
        "|---|---|---:|---:|---:|---:|",
    ]
    what = {
        "bare": "`python -c pass`",
        "gf": "program: `GeneticFuckery()` from `GF_DB`/`GF_PARAM_GROUP`, 7 reads, `report()` of 9 results",
        "import optuna": "`python -c \"import optuna\"`: what the two below pay before any work",
        "optuna python": "program: `load_study` (SQLite), `ask(7 distributions)`, 9 `set_user_attr`, `tell`",
        "optuna CLI": "`optuna ask --search-space` + `optuna tell --values` (9 objectives), SQLite;"
                      " the program itself not included",
    }
    for name in COMMAND_CONTENDERS:
        over = f"{command['over_bare_ms'][name]:.0f}" if name != "bare" else ""
        ratio = f"{command['ratio_over_gf'][name]:.1f}x" if name in RATIOED else ""
        lines.append(f"| {name} | {what[name]} | {command['median_ms'][name]:.0f} | {command['min_ms'][name]:.0f}"
                     f" | {over} | {ratio} |")
    checkpoints = report["checkpoints"]
    lines += [
        "",
        f"### In-process store growth: ms per recorded run (9 results), mean / median of the last {CHUNK}"
        " runs when the store holds",
        "",
        f"Each contender records into its own store in its own process; they take turns of {CHUNK} runs or"
        f" {TURN_SECONDS:g} s,"
        f" until {checkpoints[-1]:,} runs or {report['cap_seconds']:g} s spent recording.",
        "",
        "| contender | " + " | ".join(f"{c:,} runs" for c in checkpoints)
        + " | its last runs: ms/run | reached in s of recording | store MB | peak RSS MB |",
        "|---|" + "---:|" * (len(checkpoints) + 4),
    ]
    for name in STORE_CONTENDERS:
        s = store[name]
        cells = []
        for checkpoint in checkpoints:
            window = s["windows"][str(checkpoint)]
            cells.append(f"{window['mean_ms']:.3f} / {window['median_ms']:.3f}" if window else "not reached")
        last = s["last_runs"]
        last_cell = f"{last['mean_ms']:.3f} (runs {last['stored'] - last['runs'] + 1:,}-{last['stored']:,})"
        reached = f"{s['reached_runs']:,}" + (" (cap)" if s["capped"] else "") + f" in {s['recording_seconds']:.0f} s"
        size = f"{s['store_bytes'] / 1e6:.1f}" if s["store_bytes"] is not None else "in memory"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {last_cell} | {reached} | {size}"
                     f" | {s['peak_rss_mb']:.0f} |")
    gf_windows = store["gf record"]["windows"]
    ratios = []
    for name in STORE_CONTENDERS[1:]:
        cells = []
        for checkpoint in checkpoints:
            ours, theirs = gf_windows[str(checkpoint)], store[name]["windows"][str(checkpoint)]
            cells.append(f"{theirs['mean_ms'] / ours['mean_ms']:.1f}x" if ours and theirs else "-")
        ratios.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "The same means, as Optuna's time per run over gf's (above 1: gf is faster):",
        "",
        "| contender | " + " | ".join(f"{c:,} runs" for c in checkpoints) + " |",
        "|---|" + "---:|" * len(checkpoints),
        *ratios,
        "",
        *faster_than_gf(store, checkpoints),
        "How it is measured (`benchmarks/overhead_optuna.py`, figures in"
        " `benchmarks/results/overhead_optuna*.json`):",
        "",
        "- Command mode: wall time of the processes of one evaluation, bytecode cached; the contenders take"
        " turns (bare, gf, import optuna, optuna python, optuna CLI) after "
        f"{WARMUP_ROUNDS} warm-up rounds. `optuna` is its console script run by the same interpreter."
        " `optuna tell` takes no user attributes, so the CLI study has 9 objectives holding the 9 results;"
        " the python study has one objective and the 9 results as user attributes. A CLI evaluation also"
        " starts the user's program between `ask` and `tell`, at least the `bare` time more.",
        "- Both Optuna modes use `RandomSampler` (the default samplers' cost grows with the history; this"
        " measures recording) and Optuna's default SQLite settings; gf uses WAL with synchronous NORMAL.",
        "- Store growth: `gf record` is `GeneticFuckery(db, group=1, dataset=...).record(results)`, one"
        " transaction per run, all runs on one group (its 7 params stored once, when the group was loaded);"
        " an Optuna trial stores its own 7 params. `ask/tell` is `study.ask(7 fixed distributions)`,"
        " 9 `set_user_attr`, `study.tell(trial, value)`; `add_trial` is"
        " `study.add_trial(create_trial(params, distributions, value, user_attrs))`, one storage call."
        " Only the library calls are timed (not computing the results). RDB is"
        " `create_study(storage=\"sqlite:///...\")`; journal is"
        " `JournalStorage(JournalFileBackend(path))`. \"not reached\" means the contender hit the time cap"
        " first: nothing is extrapolated; \"its last runs\" is the mean over the last (up to"
        f" {CHUNK}) runs it recorded.",
        f"- Why the persistent Optuna storages are slow here: recording one trial takes {rdb['ask/tell']}"
        f" commits on RDB SQLite with ask/tell ({rdb['add_trial']} with add_trial), each in SQLite's default"
        f" rollback-journal mode with synchronous FULL, so each waits for fsyncs, and"
        f" {statements['ask/tell']} SQL statements ({statements['add_trial']} with add_trial), each built"
        " through SQLAlchemy's ORM; the journal file storage"
        f" appends {journal['ask/tell']} log records ({journal['add_trial']} with add_trial), each fsynced."
        f" One fsync takes about {report['fsync_ms']:.1f} ms on this machine. gf records a run in one"
        " transaction in WAL mode with synchronous NORMAL: no fsync on commit, only when SQLite checkpoints"
        " the WAL (every ~1,000 pages), which makes the occasional slow run in gf's mean. The in-memory"
        " storage writes nothing to disk and keeps nothing once the process ends.",
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="store growth to 1,000 and 10,000 runs only (not 100,000); 7 command-mode rounds")
    parser.add_argument("--runs", type=int, help="interleaved command-mode rounds (default 15, 7 with --quick)")
    parser.add_argument("--cap", type=float, default=120.0,
                        help="seconds of recording after which a store-growth contender stops (default 120)")
    parser.add_argument("--only", choices=("command", "store"), help="run only one of the two measurements")
    parser.add_argument("--write", action="store_true", help=f"update the section in {_common.BENCHMARKS_MD.name}")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--target", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.workdir, args.cap, args.target)
        return
    runs = args.runs if args.runs is not None else 7 if args.quick else 15
    if runs < 1:
        parser.error("--runs must be at least 1")
    if args.write and args.only:
        parser.error("--write needs both measurements (leave out --only)")
    try:
        import optuna
        import sqlalchemy
    except ImportError:
        sys.exit("this benchmark needs optuna: pip install -e '.[bench]'")

    checkpoints = QUICK_CHECKPOINTS if args.quick else CHECKPOINTS
    report = {
        "command": _common.command(__file__),
        "machine": _common.machine(),
        "optuna": optuna.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "filesystem": filesystem(tempfile.gettempdir()),
        "fsync_ms": fsync_ms(tempfile.gettempdir()),
        "optuna_writes_per_trial": optuna_writes(),
        "checkpoints": list(checkpoints),
        "cap_seconds": args.cap,
    }
    if args.only != "store":
        log(f"command mode: {WARMUP_ROUNDS} warm-up + {runs} rounds of {', '.join(COMMAND_CONTENDERS)}")
        report["command_mode"] = summarize_command(command_mode(runs), runs)
    if args.only != "command":
        log(f"store growth to {checkpoints[-1]:,} runs, {args.cap:g} s cap per contender")
        report["store_growth"] = store_growth(checkpoints, args.cap)

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / ("overhead_optuna-quick.json" if args.quick else "overhead_optuna.json")
    if args.only:
        out = out.with_name(out.stem + f"-{args.only}.json")
    out.write_text(json.dumps(report, indent=2) + "\n")
    log(f"wrote {out}")
    if args.only:
        print(json.dumps({k: v for k, v in report.items() if k in ("command_mode", "store_growth")}, indent=1)[:4000])
        return
    section = render(report)
    print(section, end="")
    if args.write:
        _common.write_section(SECTION, section)


if __name__ == "__main__":
    main()
