"""How fast gf ranks the top N groups per dataset in a database of 1,000,000 results.

Ranking is what every ``gf breed`` generation, ``gf top`` and ``best()`` start with:
``gf.metrics.top_per_dataset`` calls ``metric.rank(conn, dataset=D, limit=N)`` once
per dataset. Measured here on a database in gf's own schema (created by
``gf.store.connect``) filled directly with ``sqlite3`` (``executemany`` in one
transaction):

* 10 datasets x 10,000 runs x 10 results = 100,000 runs and 1,000,000 result rows;
* 10,000 groups, each run once on every dataset; 2% of the runs failed (their
  results stay, as when a program records and then exits non-zero);
* every run reports 5 algos x (``profit``, ``trades``): profit ~ N(0, 100) with a
  few NaN (NULL), trades uniform in 0..300, so about half pass the
  ``0 < trades <= 150`` filter of "max profit min trades".

Two metrics, ``ResultMetric("profit")`` (``--metric profit``) and the registered
"max profit min trades", each timed for the top N = 10: one ``rank()`` per dataset
(the target is read per dataset: the slowest dataset's median) and
``top_per_dataset`` over all 10 datasets, median of ``--runs`` (the metrics
interleaved, after one warm-up). The ``EXPLAIN QUERY PLAN`` of each query is
printed and kept. When a target is missed (for one dataset or for all 10), the
timings are repeated on scratch copies of the database (gf's schema and queries stay
as they are): with covering indexes for gf's queries, the same plus ``ANALYZE``, and
with value-order indexes plus rewritten top-k queries defined here
(:class:`TopKResultMetric`, :class:`PerAlgoMaxProfitMinTrades`), each checked to
give gf's top 10 on every dataset; gf's own queries are also timed once on the
value-order indexes, which the planner then prefers.

Usage: ``python benchmarks/ranking.py [--runs N] [--json] [--write]``;
``--write`` replaces the ranking section of BENCHMARKS.md.
"""

import argparse
import json
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import _common

from gf import plugins, store
from gf.metrics import Metric, Ranked, ResultMetric, top_per_dataset

SECTION = "ranking"
DATASETS = 10
RUNS_PER_DATASET = 10_000
ALGOS = ("trend", "revert", "breakout", "carry", "mixed")
RESULT_NAMES = ("profit", "trades")
GROUPS = 10_000
FAILED_SHARE = 0.02
NAN_SHARE = 0.001
TOP_N = 10
TARGET_SECONDS = 0.2
TARGET_MIN_RUNS = 5
SEED = 7

COVERING = [
    "CREATE INDEX bench_results_run_name_algo_value ON results (run, name, algo, value)",
    "CREATE INDEX bench_runs_dataset_status_group_id ON runs (dataset, status, group_id, id)",
]
#: What is tried on a scratch copy when the target is missed (gf's schema has none of it):
#: (name, statements, which metrics are timed: gf's own or the rewritten queries below).
VARIANTS = [
    ("covering indexes, gf's queries", COVERING, "gf"),
    ("covering indexes + ANALYZE, gf's queries", COVERING + ["ANALYZE"], "gf"),
    ("value-order indexes + rewritten queries", [
        "CREATE INDEX bench_results_name_value ON results (name, value)",
        "CREATE INDEX bench_results_name_algo_value ON results (name, algo, value)",
    ], "rewritten"),
]


class TopKResultMetric(Metric):
    """``ResultMetric`` rewritten as a top-k: read results best value first, stop at N groups.

    Needs an index on ``results (name, value)``; gives the same rows as
    ``ResultMetric(result).rank(conn, dataset=D, limit=N)`` (ties: lower group, then run).
    """

    SQL = """SELECT r.group_id, res.run, r.dataset, res.algo, res.value
             FROM results res CROSS JOIN runs r ON r.id = res.run
             WHERE res.name = ? AND res.value IS NOT NULL AND r.status = 'ok' AND r.dataset = ?
             ORDER BY res.value DESC, r.group_id, res.run"""

    def __init__(self, result):
        self.result = result
        self.name = f"{result} (rewritten)"

    def rank(self, conn, *, dataset=None, group=None, limit=None, minimize=False, per_group=True):
        assert dataset is not None and group is None and not minimize and per_group
        ranked, seen = [], set()
        cursor = conn.execute(self.SQL, (self.result, dataset))
        for row in cursor:
            if row[0] in seen:
                continue
            seen.add(row[0])
            ranked.append(Ranked(*row))
            if limit is not None and len(ranked) >= limit:
                break
        cursor.close()
        return ranked


class PerAlgoMaxProfitMinTrades(Metric):
    """"max profit min trades" rewritten: per algo, the best qualifying profit read from an index.

    Needs an index on ``results (name, algo, value)``: the algos are found by a loose
    index scan, then each algo's best profit with 0 < trades <= 150 on the dataset is
    the first row of its profits read best first.
    """

    ALGOS = """WITH RECURSIVE a(algo) AS (
                   SELECT (SELECT min(algo) FROM results WHERE name = 'profit')
                   UNION ALL
                   SELECT (SELECT min(algo) FROM results WHERE name = 'profit' AND algo > a.algo)
                   FROM a WHERE a.algo IS NOT NULL)
               SELECT algo FROM a WHERE algo IS NOT NULL"""
    BEST = """SELECT r.group_id, r.id, r.dataset, p.algo, round(1.0 * p.value / t.value, 2)
              FROM results p CROSS JOIN runs r ON r.id = p.run
              CROSS JOIN results t ON t.run = p.run AND t.algo = p.algo AND t.name = 'trades'
              WHERE p.name = 'profit' AND p.algo = ? AND p.value IS NOT NULL
                AND r.status = 'ok' AND r.dataset = ? AND t.value > 0 AND t.value <= 150
              ORDER BY p.value DESC LIMIT 1"""
    name = "max profit min trades (rewritten)"

    def rank(self, conn, *, dataset=None, group=None, limit=None, minimize=False, per_group=True):
        assert dataset is not None and group is None and not minimize and per_group
        rows = []
        for (algo,) in conn.execute(self.ALGOS).fetchall():
            best = conn.execute(self.BEST, (algo, dataset)).fetchone()
            if best is not None:
                rows.append(Ranked(*best))
        rows.sort(key=lambda row: (-row.score, row.group))
        ranked, seen = [], set()
        for row in rows:
            if row.group not in seen:
                seen.add(row.group)
                ranked.append(row)
        return ranked[:limit] if limit is not None else ranked


REWRITTEN = {"profit": TopKResultMetric("profit"), "max profit min trades": PerAlgoMaxProfitMinTrades()}


def dataset_names():
    return [f"ds{index:02d}" for index in range(DATASETS)]


def make_db(path):
    """Fill a new gf database with 100,000 runs and 1,000,000 results; return seconds spent."""
    started = time.perf_counter()
    store.connect(path).close()  # gf's schema, exactly as gf creates it
    rng = random.Random(SEED)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    created = store.now()
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO groups (id, uid, created, origin) VALUES (?, ?, ?, 'bench')",
        ((group, f"BENCH{group:021d}", created) for group in range(1, GROUPS + 1)),
    )
    runs, results = [], []
    run_id = 0
    for dataset in dataset_names():
        for index in range(RUNS_PER_DATASET):
            run_id += 1
            group = index % GROUPS + 1
            status = "failed" if rng.random() < FAILED_SHARE else "ok"
            runs.append((run_id, f"BENCHRUN{run_id:018d}", group, dataset, dataset, created, created, status))
            for algo in ALGOS:
                profit = None if rng.random() < NAN_SHARE else round(rng.gauss(0, 100), 2)
                results.append((run_id, algo, "profit", profit))
                results.append((run_id, algo, "trades", rng.randint(0, 300)))
    conn.executemany(
        "INSERT INTO runs (id, uid, group_id, dataset, family, started, stopped, status)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        runs,
    )
    conn.executemany("INSERT INTO results (run, algo, name, value) VALUES (?, ?, ?, ?)", results)
    conn.execute("COMMIT")
    count = conn.execute("SELECT count(*) FROM results").fetchone()[0]
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    expected = DATASETS * RUNS_PER_DATASET * len(ALGOS) * len(RESULT_NAMES)
    if count != expected:
        sys.exit(f"expected {expected} results, found {count}")
    return time.perf_counter() - started


class RecordingConnection:
    """A connection that remembers the SQL (and arguments) a metric runs, for EXPLAIN QUERY PLAN."""

    def __init__(self, conn):
        self.conn = conn
        self.statements = []

    def execute(self, sql, args=()):
        self.statements.append((sql, args))
        return self.conn.execute(sql, args)


def query_plan(conn, metric):
    """The SQL one ``rank(dataset=..., limit=N)`` runs and its ``EXPLAIN QUERY PLAN`` lines."""
    recorder = RecordingConnection(conn)
    metric.rank(recorder, dataset=dataset_names()[0], limit=TOP_N)
    sql, args = recorder.statements[-1]
    plan = conn.execute("EXPLAIN QUERY PLAN " + sql, args).fetchall()
    depth = {0: 0}
    lines = []
    for node, parent, _unused, detail in plan:
        depth[node] = depth.get(parent, -1) + 1
        lines.append("  " * (depth[node] - 1) + detail)
    return {"sql": " ".join(sql.split()), "plan": lines}


def time_metrics(path, metrics, runs):
    """Per metric: per-dataset ``rank()`` times and ``top_per_dataset`` times, interleaved, after a warm-up."""
    conn = store.connect(path, create=False)
    names = dataset_names()
    timings = {label: {"per_dataset": {d: [] for d in names}, "all": [], "rows": {}, "ranked": {}}
               for label in metrics}
    for round_ in range(runs + 1):
        for label, metric in metrics.items():
            for dataset in names:
                start = time.perf_counter()
                rows = metric.rank(conn, dataset=dataset, limit=TOP_N)
                elapsed = time.perf_counter() - start
                if round_:
                    timings[label]["per_dataset"][dataset].append(elapsed)
                timings[label]["rows"][dataset] = len(rows)
                timings[label]["ranked"][dataset] = [(row.group, row.score) for row in rows]
            start = time.perf_counter()
            top = top_per_dataset(conn, metric, names, TOP_N)
            elapsed = time.perf_counter() - start
            if round_:
                timings[label]["all"].append(elapsed)
            if {d: len(rows) for d, rows in top.items()} != timings[label]["rows"]:
                sys.exit(f"{label}: top_per_dataset and rank() disagree")
    conn.close()
    return {label: figures(data, runs) for label, data in timings.items()}


def figures(data, runs):
    per_dataset = {dataset: _common.median(values) for dataset, values in data["per_dataset"].items()}
    slowest = max(per_dataset, key=per_dataset.get)
    all_datasets = _common.median(data["all"])
    assessable = runs >= TARGET_MIN_RUNS
    return {
        "per_dataset_median_s": per_dataset,
        "slowest_dataset": slowest,
        "slowest_dataset_s": per_dataset[slowest],
        "median_dataset_s": _common.median(list(per_dataset.values())),
        "all_datasets_s": all_datasets,
        "rows_per_dataset": _common.median(list(data["rows"].values())),
        "target_met_per_dataset": per_dataset[slowest] < TARGET_SECONDS if assessable else None,
        "target_met_all_datasets": all_datasets < TARGET_SECONDS if assessable else None,
        "ranked": data["ranked"],
    }


def scratch_copy(path, workdir):
    scratch = Path(workdir, "scratch.db")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{scratch}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(path, scratch)
    return scratch


def once(conn, metric, dataset):
    start = time.perf_counter()
    metric.rank(conn, dataset=dataset, limit=TOP_N)
    return time.perf_counter() - start


def index_experiments(path, workdir, metrics, runs, reference):
    """The timings again on scratch copies of the database, each with one variant of :data:`VARIANTS`.

    ``reference``: gf's rankings on the plain database, which a rewritten query must reproduce.
    """
    results = {}
    for name, statements, which in VARIANTS:
        scratch = scratch_copy(path, workdir)
        conn = sqlite3.connect(scratch, isolation_level=None)
        start = time.perf_counter()
        for statement in statements:
            conn.execute(statement)
        build = time.perf_counter() - start
        timed = metrics if which == "gf" else REWRITTEN
        plans = {label: query_plan(conn, metric)["plan"] for label, metric in timed.items()}
        # gf's own queries on an index set meant for rewritten ones: plan and one timing.
        untouched = {}
        if which != "gf":
            untouched = {
                label: {"plan": query_plan(conn, metric)["plan"], "one_dataset_s": once(conn, metric, dataset_names()[0])}
                for label, metric in metrics.items()
            }
        conn.close()
        timings = time_metrics(scratch, timed, runs)
        for label, row in timings.items():
            same = sum(row["ranked"][d] == reference[label]["ranked"][d] for d in dataset_names())
            row["same_ranking_as_gf"] = f"{same}/{len(dataset_names())} datasets"
        results[name] = {
            "statements": statements,
            "queries": which,
            "build_s": build,
            "db_bytes": scratch.stat().st_size,
            "timings": timings,
            "plans": plans,
            "gf_queries_on_these_indexes": untouched,
        }
    return results


def summarize(build_s, db_bytes, timings, plans, experiments, runs):
    return {
        "command": _common.command(__file__),
        "machine": _common.machine(),
        "runs": runs,
        "setup": {
            "datasets": DATASETS,
            "runs": DATASETS * RUNS_PER_DATASET,
            "results": DATASETS * RUNS_PER_DATASET * len(ALGOS) * len(RESULT_NAMES),
            "groups": GROUPS,
            "failed_share": FAILED_SHARE,
            "top_n": TOP_N,
            "build_s": build_s,
            "db_bytes": db_bytes,
        },
        "target": f"rank the top {TOP_N} of one dataset in under {TARGET_SECONDS} s (median of >= {TARGET_MIN_RUNS})",
        "timings": timings,
        "plans": plans,
        "index_experiments": experiments,
    }


def _ms(seconds):
    return f"{seconds * 1000:.1f}" if seconds < 0.01 else f"{seconds * 1000:.0f}"


def render(report):
    m, setup = report["machine"], report["setup"]
    lines = [
        "## Ranking: the top 10 groups per dataset among 1,000,000 results",
        "",
        _common.machine_line(m) + "  ",
        f"Command: `{report['command']}` (median of {report['runs']} interleaved rounds, after one warm-up).",
        "",
        f"Database: gf's schema (`gf.store.connect`), {setup['groups']:,} groups, {setup['datasets']} datasets x"
        f" {setup['runs'] // setup['datasets']:,} runs x 10 results = {setup['results']:,} result rows"
        f" ({setup['failed_share']:.0%} of runs failed), {setup['db_bytes'] / 2**20:.0f} MiB, filled with"
        f" `executemany` in one transaction in {setup['build_s']:.1f} s.",
        "",
        f"Target: {report['target']}; also shown for all {setup['datasets']} datasets at once"
        " (`gf.metrics.top_per_dataset`, what one breeding generation runs).",
        "",
        "| metric | one dataset: median ms (slowest dataset) | one dataset: median ms (median dataset) |"
        " all 10 datasets: median ms | rows per dataset | target per dataset | target for all 10 |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for label, row in report["timings"].items():
        lines.append(
            f"| {label} | {_ms(row['slowest_dataset_s'])} | {_ms(row['median_dataset_s'])} |"
            f" {_ms(row['all_datasets_s'])} | {row['rows_per_dataset']:.0f} |"
            f" **{_common.verdict(row['target_met_per_dataset'])}** |"
            f" {_common.verdict(row['target_met_all_datasets'])} |"
        )
    lines += [
        "",
        "Rows per dataset: what `rank(dataset=D, limit=10)` returned. \"max profit min trades\" groups by algo"
        " (the original tool's query), so it returns at most one group per algo (5 here) whatever N is.",
        "",
        "`EXPLAIN QUERY PLAN` (gf's schema as it is):",
        "",
    ]
    for label, plan in report["plans"].items():
        lines += [f"* {label}:", "", "  ```", *[f"  {line}" for line in plan["plan"]], "  ```", ""]
    experiments = report["index_experiments"]
    if not experiments:
        lines += ["", "Every target was met: no index experiment was needed."]
        return "\n".join(lines) + "\n"
    lines += [
        "",
        "Experiments on a scratch copy of the database only (gf's schema and queries are unchanged):"
        " the indexes below, with gf's queries or with the rewritten queries the script defines"
        " (`TopKResultMetric`, `PerAlgoMaxProfitMinTrades`: read results best value first from an index"
        " and stop at N groups, instead of aggregating every run of the dataset). The rewritten queries read"
        " rows until N groups of the dataset turn up: here every dataset holds a tenth of the results; a"
        " dataset holding a small share of them reads more, at worst every row of that result name.",
        "",
        "| variant | index build s | DB MiB | metric | one dataset ms (slowest) | all 10 ms |"
        " same top 10 as gf | target per dataset | target for all 10 |",
        "|---|---:|---:|---|---:|---:|---|---|---|",
    ]
    for name, data in experiments.items():
        for label, row in data["timings"].items():
            lines.append(
                f"| {name} | {data['build_s']:.1f} | {data['db_bytes'] / 2**20:.0f} | {label} |"
                f" {_ms(row['slowest_dataset_s'])} | {_ms(row['all_datasets_s'])} | {row['same_ranking_as_gf']} |"
                f" {_common.verdict(row['target_met_per_dataset'])} | {_common.verdict(row['target_met_all_datasets'])} |"
            )
    lines += ["", "The statements, and the plans they give:", ""]
    for name, data in experiments.items():
        lines += [f"* {name}:", "", "  ```sql", *[f"  {s};" for s in data["statements"]], "  ```", ""]
        for label, plan in data["plans"].items():
            lines += [f"  {label}:", "", "  ```", *[f"  {line}" for line in plan], "  ```", ""]
        for label, row in data["gf_queries_on_these_indexes"].items():
            lines += [
                f"  **gf's own** {label} query on these indexes (no ANALYZE): {_ms(row['one_dataset_s'])} ms for one"
                f" dataset (once) instead of {_ms(report['timings'][label]['median_dataset_s'])} ms: the planner"
                " switches to the new index. Plan:",
                "",
                "  ```", *[f"  {line}" for line in row["plan"]], "  ```", "",
            ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--experiments", choices=("auto", "always", "never"), default="auto",
                        help="index experiments: when a target is missed (auto), always or never")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--write", action="store_true", help=f"update the section in {_common.BENCHMARKS_MD.name}")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    metrics = {"profit": ResultMetric("profit"), "max profit min trades": plugins.get_metrics()["max profit min trades"]}
    with tempfile.TemporaryDirectory(prefix="gf-bench-") as workdir:
        path = Path(workdir, "ranking.db")
        build_s = make_db(path)
        db_bytes = path.stat().st_size
        conn = store.connect(path, create=False)
        plans = {label: query_plan(conn, metric) for label, metric in metrics.items()}
        conn.close()
        timings = time_metrics(path, metrics, args.runs)
        missed = any(not row["target_met_per_dataset"] or not row["target_met_all_datasets"]
                     for row in timings.values())
        experiments = {}
        if args.experiments == "always" or (args.experiments == "auto" and missed):
            experiments = index_experiments(path, workdir, metrics, args.runs, timings)
    for row in [*timings.values(), *(r for e in experiments.values() for r in e["timings"].values())]:
        row.pop("ranked")
    report = summarize(build_s, db_bytes, timings, plans, experiments, args.runs)
    section = render(report)

    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(section, end="")
        print("\nThe SQL (one dataset):")
        for label, plan in plans.items():
            print(f"  {label}: {plan['sql']}")
    if args.write:
        _common.write_section(SECTION, section)


if __name__ == "__main__":
    main()
