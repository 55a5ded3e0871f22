"""How fast gf ranks the top N groups per dataset in a database of 1,000,000 results,
and what the index that makes it fast does to every other query over results.

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
``top_per_dataset`` over all 10 datasets, median of ``--runs`` (interleaved, after
one warm-up). gf reads the top N best first from the index of migration m004
(``results_best_first``); the same rankings by the plain aggregating queries gf ran
before (``_aggregated``, on a copy of the database without that index, i.e. as
schema 3 had it) are timed alongside, and must agree.

Every other query over results (whole-dataset rankings, a group's report, the
browsing views, result names, a run's results, an example plugin's and users' SQL)
is timed on both copies, with its ``EXPLAIN QUERY PLAN``: the index must change
none of them. Last, the walk's worst case: a dataset holding a tiny share of the
results, where the best-first walk gives up after its budget and the plain query
answers.

Usage: ``python benchmarks/ranking.py [--runs N] [--other-runs N] [--json] [--write]``;
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
from gf.metrics import MIN_WALK, ResultMetric, top_per_dataset

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
#: The worst case: a dataset of this many runs added to a copy of the database.
TINY_RUNS = 100
#: Slower by more than this (and with another plan) counts as slower, not noise.
SLOWER = 1.25

#: Every other query over results, with what asks it; ``{dataset}``, ``{group}``, ``{run}`` filled in.
OTHER_QUERIES = [
    ("whole-dataset ranking, profit (overall(), history(), plots, compare)",
     lambda conn, d: ResultMetric("profit").rank(conn, dataset=d)),
    ("whole-dataset ranking, trend.profit (per-algo tags, merge-performers)",
     lambda conn, d: ResultMetric("profit", "trend").rank(conn, dataset=d)),
    ("whole-dataset ranking, max profit min trades",
     lambda conn, d: plugins.get_metrics()["max profit min trades"].rank(conn, dataset=d)),
    ("a group's rows (gf report, the classic breeder's group_rows)",
     lambda conn, d: ResultMetric("profit").rank(conn, group=GROUPS // 2, per_group=False)),
    ("view group_scores, one dataset and name",
     "SELECT * FROM group_scores WHERE dataset = '{dataset}' AND name = 'profit'"),
    ("the seed's hand-written SQL (--metric-sql)",
     "SELECT algo, max(profit), round(1.0 * profit / trades, 2) AS ppt FROM (SELECT p.algo, p.value AS profit,"
     " t.value AS trades FROM results t JOIN results p ON p.run = t.run AND p.algo = t.algo AND p.name = 'profit'"
     " JOIN run_meta USING (run) WHERE t.name = 'trades' AND t.value > 0 AND t.value <= 150"
     " AND dataset = '{dataset}') GROUP BY algo ORDER BY ppt DESC"),
    ("a user's SQL: top trades of a dataset (--metric-sql)",
     "SELECT run, value * 2 AS score FROM results JOIN run_meta USING (run) WHERE dataset = '{dataset}'"
     " AND name = 'trades' ORDER BY score DESC LIMIT 10"),
    ("a user's SQL: profits above 250, any dataset",
     "SELECT run, value FROM results WHERE name = 'profit' AND value > 250 ORDER BY value DESC"),
    ("example plugin gf-plugin-sharpe: per-dataset means",
     "SELECT r.group_id, res.algo, avg(res.value) FROM runs r JOIN results res ON res.run = r.id"
     " WHERE r.status = 'ok' AND res.name = 'profit' AND res.value IS NOT NULL"
     " GROUP BY r.group_id, res.algo, r.dataset ORDER BY r.group_id, res.algo"),
    ("result names (a metric that finds nothing)",
     "SELECT DISTINCT algo, name FROM results ORDER BY algo, name LIMIT 50"),
    ("gf runs --group (results per run)",
     "SELECT r.id, (SELECT count(*) FROM results WHERE run = r.id) FROM runs r WHERE r.group_id = {group}"),
    ("one run's results (gf merge, the dask launcher)",
     "SELECT algo, name, value FROM results WHERE run = {run} ORDER BY rowid"),
    ("count(*) FROM results", "SELECT count(*) FROM results"),
]


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


def add_dataset(path, name, runs, first_run):
    """Add ``runs`` runs of a dataset ``name`` (groups 1..runs, results as the others') to the database."""
    rng = random.Random(f"{SEED}:{name}")
    conn = sqlite3.connect(path, isolation_level=None)
    created = store.now()
    conn.execute("BEGIN")
    for index in range(runs):
        run_id = first_run + index
        status = "failed" if rng.random() < FAILED_SHARE else "ok"
        conn.execute("INSERT INTO runs (id, uid, group_id, dataset, family, started, stopped, status)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     (run_id, f"BENCHRUN{run_id:018d}", index + 1, name, name, created, created, status))
        conn.executemany("INSERT INTO results (run, algo, name, value) VALUES (?, ?, ?, ?)",
                         [(run_id, algo, result, round(rng.gauss(0, 100), 2) if result == "profit"
                           else rng.randint(0, 300)) for algo in ALGOS for result in RESULT_NAMES])
    conn.execute("COMMIT")
    conn.close()


class RecordingConnection:
    """A connection that remembers the SQL (and arguments) a metric runs, for EXPLAIN QUERY PLAN."""

    def __init__(self, conn):
        self.conn = conn
        self.statements = []

    def execute(self, sql, args=()):
        self.statements.append((sql, args))
        return self.conn.execute(sql, args)


class PlainQueries:
    """``metric`` as gf ranked before m004: by its plain aggregating query only."""

    def __init__(self, metric):
        self.metric = metric
        self.name = metric.name

    def rank(self, conn, **options):
        if not hasattr(self.metric, "_best_first"):  # a gf without best-first ranking
            return self.metric.rank(conn, **options)
        self.metric._best_first = lambda *args: None
        try:
            return self.metric.rank(conn, **options)
        finally:
            del self.metric._best_first


def plans_of(conn, call):
    """``[{"sql", "plan"}]`` of every distinct statement ``call(recording connection)`` runs."""
    recorder = RecordingConnection(conn)
    call(recorder)
    found = {}
    for sql, args in recorder.statements:
        key = " ".join(sql.split())
        if key not in found:
            found[key] = plan_lines(conn, sql, args)
    return [{"sql": sql, "plan": plan} for sql, plan in found.items()]


def plan_lines(conn, sql, args=()):
    depth = {0: 0}
    lines = []
    for node, parent, _unused, detail in conn.execute("EXPLAIN QUERY PLAN " + sql, args).fetchall():
        depth[node] = depth.get(parent, -1) + 1
        lines.append("  " * (depth[node] - 1) + detail)
    return lines


def time_rankings(variants, datasets, runs):
    """Per variant ``{label: (path, metric)}``: per-dataset ``rank()`` times and ``top_per_dataset``
    times, interleaved, after a warm-up."""
    conns = {label: open_db(path) for label, (path, _metric) in variants.items()}
    timings = {label: {"per_dataset": {d: [] for d in datasets}, "all": [], "ranked": {}} for label in variants}
    for round_ in range(runs + 1):
        for label, (_path, metric) in variants.items():
            conn = conns[label]
            for dataset in datasets:
                start = time.perf_counter()
                rows = metric.rank(conn, dataset=dataset, limit=TOP_N)
                elapsed = time.perf_counter() - start
                if round_:
                    timings[label]["per_dataset"][dataset].append(elapsed)
                timings[label]["ranked"][dataset] = [(r.group, r.run, r.algo, r.score) for r in rows]
            start = time.perf_counter()
            top = top_per_dataset(conn, metric, datasets, TOP_N)
            elapsed = time.perf_counter() - start
            if round_:
                timings[label]["all"].append(elapsed)
            if {d: [(r.group, r.run, r.algo, r.score) for r in rows] for d, rows in top.items()} != (
                    timings[label]["ranked"]):
                sys.exit(f"{label}: top_per_dataset and rank() disagree")
    for conn in conns.values():
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
        "rows_per_dataset": _common.median([len(rows) for rows in data["ranked"].values()]),
        "target_met_per_dataset": per_dataset[slowest] < TARGET_SECONDS if assessable else None,
        "target_met_all_datasets": all_datasets < TARGET_SECONDS if assessable else None,
        "ranked": data["ranked"],
    }


def copy_of(path, workdir, name):
    target = Path(workdir, name)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(path, target)
    return target


def before_and_after(built, workdir):
    """Two copies of the database ``built``: ``before``, as gf's schema 3 had it (no m004 index,
    user_version 3, vacuumed), and ``after``, that copy migrated to schema 4 by ``gf.store.connect``
    (the index appended, the tables where they were). Returns ``(before, after, seconds the
    migration took)``."""
    before = copy_of(built, workdir, "before-m004.db")
    conn = sqlite3.connect(before, isolation_level=None)
    conn.execute(f"DROP INDEX {store.BEST_FIRST_INDEX}")
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm004_results_best_first'")
    conn.execute("PRAGMA user_version = 3")
    conn.execute("VACUUM")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    after = copy_of(before, workdir, "after-m004.db")
    start = time.perf_counter()
    store.connect(after).close()
    migrate = time.perf_counter() - start
    return before, after, migrate


def open_db(path):
    """A plain connection (``gf.store.connect`` would migrate the schema 3 copy)."""
    return sqlite3.connect(path, isolation_level=None)


def time_other_queries(before, after, runs):
    """Each of :data:`OTHER_QUERIES` on the database without and with the m004 index, interleaved."""
    conns = {"before": open_db(before), "after": open_db(after)}
    (run,) = conns["after"].execute("SELECT min(id) FROM runs WHERE dataset = 'ds00' AND group_id = ?",
                                    (GROUPS // 2,)).fetchone()
    fill = {"dataset": "ds00", "group": GROUPS // 2, "run": run}
    found = []
    for label, query in OTHER_QUERIES:
        if callable(query):
            call = (lambda q: lambda conn: q(conn, fill["dataset"]))(query)
        else:
            call = (lambda sql: lambda conn: conn.execute(sql).fetchall())(query.format(**fill))
        times = {"before": [], "after": []}
        results = {}
        for _ in range(runs):
            for which, conn in conns.items():
                start = time.perf_counter()
                results[which] = call(conn)
                times[which].append(time.perf_counter() - start)
        plans = {which: plans_of(conn, call) for which, conn in conns.items()}
        found.append({
            "query": label,
            "sql": [" ".join(p["sql"].split()) for p in plans["after"]],
            "before_s": _common.median(times["before"]),
            "after_s": _common.median(times["after"]),
            "same_plan": [p["plan"] for p in plans["before"]] == [p["plan"] for p in plans["after"]],
            "plan_before": [line for p in plans["before"] for line in p["plan"]],
            "plan_after": [line for p in plans["after"] for line in p["plan"]],
            "same_rows": _comparable(results["before"]) == _comparable(results["after"]),
        })
    for conn in conns.values():
        conn.close()
    return found


def _comparable(rows):
    return sorted(repr(tuple(row) if not hasattr(row, "group") else row) for row in rows)


def worst_case(after, workdir, runs, metrics):
    """Datasets holding a tiny share of the results: rank() (best first, giving way to the plain
    query past its budget) against the plain query alone, on one copy of the database."""
    path = copy_of(after, workdir, "worst-case.db")
    first_run = DATASETS * RUNS_PER_DATASET + 1
    sizes = {"tiny": TINY_RUNS, "small": 10 * TINY_RUNS}
    for name, size in sizes.items():
        add_dataset(path, name, size, first_run)
        first_run += size
    conn = open_db(path)
    found = []
    for name, size in sizes.items():
        for label, metric in metrics.items():
            plain = PlainQueries(metric)
            times = {"rank": [], "plain": []}
            for round_ in range(runs + 1):
                for which, ranker in (("rank", metric), ("plain", plain)):
                    start = time.perf_counter()
                    rows = ranker.rank(conn, dataset=name, limit=TOP_N)
                    if round_:
                        times[which].append(time.perf_counter() - start)
            gave_up = hasattr(metric, "_best_first") and metric._best_first(conn, name, TOP_N, False) is None
            found.append({"dataset": name, "runs": size, "metric": label, "gave_up": gave_up,
                          "rank_s": _common.median(times["rank"]), "plain_s": _common.median(times["plain"]),
                          "same_ranking": rows == plain.rank(conn, dataset=name, limit=TOP_N)})
    conn.close()
    return found


def summarize(build_s, sizes, migrate_s, timings, plans, other, worst, runs, other_runs):
    return {
        "command": _common.command(__file__),
        "machine": _common.machine(),
        "runs": runs,
        "other_runs": other_runs,
        "setup": {
            "datasets": DATASETS,
            "runs": DATASETS * RUNS_PER_DATASET,
            "results": DATASETS * RUNS_PER_DATASET * len(ALGOS) * len(RESULT_NAMES),
            "groups": GROUPS,
            "failed_share": FAILED_SHARE,
            "top_n": TOP_N,
            "build_s": build_s,
            "db_bytes": sizes["after"],
            "db_bytes_before_m004": sizes["before"],
            "migrate_s": migrate_s,
        },
        "target": f"rank the top {TOP_N} of one dataset in under {TARGET_SECONDS} s (median of >= {TARGET_MIN_RUNS})",
        "timings": timings,
        "plans": plans,
        "other_queries": other,
        "worst_case": worst,
    }


def _ms(seconds):
    return f"{seconds * 1000:.1f}" if seconds < 0.01 else f"{seconds * 1000:.0f}"


def render(report):
    m, setup = report["machine"], report["setup"]
    timings = report["timings"]
    lines = [
        "## Ranking: the top 10 groups per dataset among 1,000,000 results",
        "",
        _common.machine_line(m) + "  ",
        f"Command: `{report['command']}` (median of {report['runs']} interleaved rounds after one warm-up;"
        f" the other queries median of {report['other_runs']}).",
        "",
        f"Database: gf's schema (`gf.store.connect`), {setup['groups']:,} groups, {setup['datasets']} datasets x"
        f" {setup['runs'] // setup['datasets']:,} runs x 10 results = {setup['results']:,} result rows"
        f" ({setup['failed_share']:.0%} of runs failed), filled with"
        f" `executemany` in one transaction in {setup['build_s']:.1f} s, then copied as gf's schema 3 had it"
        f" (`before`: without the index of migration m004, `{store.BEST_FIRST_INDEX}`; vacuumed:"
        f" {setup['db_bytes_before_m004'] / 2**20:.0f} MiB) and that copy migrated to schema 4 by"
        f" `gf.store.connect` (`after`: {setup['db_bytes'] / 2**20:.0f} MiB; the migration took"
        f" {setup['migrate_s']:.1f} s). Both files hold the tables in the same pages.",
        "",
        f"Target: {report['target']}; also shown for all {setup['datasets']} datasets at once"
        " (`gf.metrics.top_per_dataset`, what one breeding generation runs).",
        "",
        "| metric | ranked by | one dataset: median ms (slowest dataset) | one dataset: median ms (median dataset) |"
        " all 10 datasets: median ms | rows per dataset | target per dataset | target for all 10 |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for label, row in timings.items():
        metric, how = label.split(" | ")
        lines.append(
            f"| {metric} | {how} | {_ms(row['slowest_dataset_s'])} | {_ms(row['median_dataset_s'])} |"
            f" {_ms(row['all_datasets_s'])} | {row['rows_per_dataset']:.0f} |"
            f" **{_common.verdict(row['target_met_per_dataset'])}** |"
            f" **{_common.verdict(row['target_met_all_datasets'])}** |"
        )
    lines += [
        "",
        "`best first`: gf now (`metric.rank(conn, dataset=D, limit=10)`); `plain query`: the aggregating query"
        " gf ran before, on the copy without the index. " + "; ".join(
            f"{metric}: the same top 10 on {row['same']}" for metric, row in report["plans"]["agreement"].items())
        + ". Rows per dataset: \"max profit min trades\" groups by algo (the original tool's query), so it"
        " returns at most one group per algo (5 here) whatever N is.",
        "",
        "`EXPLAIN QUERY PLAN` of the statements one `rank(dataset=D, limit=10)` runs:",
        "",
    ]
    for label, statements in report["plans"]["statements"].items():
        lines += [f"* {label}:", ""]
        for statement in statements:
            lines += ["  ```", *[f"  {line}" for line in statement["plan"]], "  ```", ""]
    other = report["other_queries"]
    slower = [row for row in other if row["after_s"] > SLOWER * row["before_s"] and not row["same_plan"]]
    changed = [row for row in other if not row["same_plan"]]
    lines += [
        f"Every other query over results, on the database without the m004 index (before) and with it (after),"
        f" median of {report['other_runs']}: the whole-dataset rankings are gf's plain queries (no limit);"
        " the SQL ones as written.",
        "",
        "| query | before ms | after ms | after / before | same plan | same rows |",
        "|---|---:|---:|---:|---|---|",
    ]
    for row in other:
        lines.append(f"| {row['query']} | {_ms(row['before_s'])} | {_ms(row['after_s'])} |"
                     f" {row['after_s'] / row['before_s']:.2f} | {'yes' if row['same_plan'] else '**no**'} |"
                     f" {'yes' if row['same_rows'] else '**no**'} |")
    lines += ["", (f"Slower by more than {SLOWER}x with another plan: "
                   + (", ".join(row["query"] for row in slower) if slower else "none") + ". Plans that changed: "
                   + ("; ".join(f"{row['query']}: `{' / '.join(row['plan_before'])}` became"
                                f" `{' / '.join(row['plan_after'])}`" for row in changed) if changed else "none")
                   + ". (Ratios of equal plans are the machine's noise.)")]
    lines += [
        "",
        "Worst case for a best-first walk: a dataset holding a tiny share of the results, added to a copy of the"
        " database (its runs on groups 1..N, results drawn as the others'). The walk reads every dataset's rows"
        " best first, so it finds few of this dataset's; after its budget (a quarter as many rows as the dataset has ok runs,"
        f" at least {MIN_WALK:,}) it gives up and the plain query answers.",
        "",
        "| dataset | runs | metric | best first gave up | rank() ms | plain query ms | same ranking |",
        "|---|---:|---|---|---:|---:|---|",
    ]
    for row in report["worst_case"]:
        lines.append(f"| {row['dataset']} | {row['runs']:,} | {row['metric']} | {'yes' if row['gave_up'] else 'no'} |"
                     f" {_ms(row['rank_s'])} | {_ms(row['plain_s'])} | {'yes' if row['same_ranking'] else '**no**'} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed rounds of the rankings (default 5)")
    parser.add_argument("--other-runs", type=int, default=3, help="timed rounds of the other queries (default 3)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--write", action="store_true", help=f"update the section in {_common.BENCHMARKS_MD.name}")
    args = parser.parse_args()
    if args.runs < 1 or args.other_runs < 1:
        parser.error("--runs and --other-runs must be at least 1")

    metrics = {"profit": ResultMetric("profit"), "max profit min trades": plugins.get_metrics()["max profit min trades"]}
    names = dataset_names()
    with tempfile.TemporaryDirectory(prefix="gf-bench-") as workdir:
        built = Path(workdir, "ranking.db")
        build_s = make_db(built)
        before, after, migrate_s = before_and_after(built, workdir)
        built.unlink()
        sizes = {"after": after.stat().st_size, "before": before.stat().st_size}
        variants = {}
        for label, metric in metrics.items():
            variants[f"{label} | best first"] = (after, metric)
            variants[f"{label} | plain query"] = (before, PlainQueries(metric))
        timings = time_rankings(variants, names, args.runs)
        agreement = {}
        for label in metrics:
            best, plain = timings[f"{label} | best first"]["ranked"], timings[f"{label} | plain query"]["ranked"]
            agreement[label] = {"same": f"{sum(best[d] == plain[d] for d in names)}/{len(names)} datasets"}
        conn = open_db(after)
        statements = {}
        for label, metric in metrics.items():
            statements[f"{label}, best first"] = plans_of(conn, lambda c, m=metric: m.rank(c, dataset=names[0],
                                                                                          limit=TOP_N))
            statements[f"{label}, plain query"] = plans_of(
                conn, lambda c, m=metric: PlainQueries(m).rank(c, dataset=names[0], limit=TOP_N))
        conn.close()
        plans = {"agreement": agreement, "statements": statements}
        other = time_other_queries(before, after, args.other_runs)
        worst = worst_case(after, workdir, args.runs, metrics)
    for row in timings.values():
        row.pop("ranked")
    report = summarize(build_s, sizes, migrate_s, timings, plans, other, worst, args.runs, args.other_runs)
    section = render(report)

    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(section, end="")
        print("\nThe SQL of the other queries:")
        for row in other:
            print(f"  {row['query']}: {' ; '.join(row['sql'])}")
    if args.write:
        _common.write_section(SECTION, section)


if __name__ == "__main__":
    main()
