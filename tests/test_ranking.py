"""Top-N ranking read best first gives what the plain (aggregating) queries give, and
no query but the best-first walks uses the index migration m004 adds."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gf import metrics, plugins, store
from gf.metrics import Ranked, ResultMetric

DATASETS = ["A", "B", "C"]
ALGOS = ["x", "y", "z"]
#: Few distinct values, so ties within and between groups are common; text as an old
#: database imported with `gf import-legacy` may hold.
PROFITS = st.sampled_from([None, -2, -1, 0, 1, 2, 2.0, 3.5, 7, "text"])
TRADES = st.sampled_from([None, -1, 0, 1, 2, 5, 150, 151, "text"])

run_strategy = st.tuples(
    st.integers(1, 6),                                         # group
    st.sampled_from(DATASETS + [None]),                        # dataset (None: recorded without one)
    st.sampled_from(["ok", "ok", "ok", "failed"]),             # status: a failed run keeps its results
    st.dictionaries(st.sampled_from(ALGOS), st.tuples(PROFITS, TRADES, st.booleans()), max_size=3),
)


def fill(conn, runs):
    """A fresh database's content: groups 1-6 and ``runs``."""
    with store.transaction(conn):
        conn.execute("DELETE FROM results")
        conn.execute("DELETE FROM runs")
        if not conn.execute("SELECT 1 FROM groups").fetchone():
            for group in range(1, 7):
                store.insert_group(conn, params=[("a", str(group), "float", str(group))], origin="test")
        for group, dataset, status, results in runs:
            rows = []
            for algo, (profit, trades, has_trades) in results.items():
                rows.append((algo, "profit", profit))
                if has_trades:
                    rows.append((algo, "trades", trades))
            store.insert_run(conn, {"group_id": group, "dataset": dataset, "started": store.now(), "status": status},
                             rows)


@pytest.fixture(scope="module")
def conn(tmp_path_factory):
    connection = store.connect(tmp_path_factory.mktemp("ranking") / "ranking.db")
    yield connection
    connection.close()


def holds(conn, row, result="profit"):
    """Whether ``row`` is an ok run of its group (and dataset) whose ``result`` of its algo is its score."""
    found = conn.execute(
        "SELECT r.group_id, r.dataset, r.status, res.value FROM runs r JOIN results res ON res.run = r.id "
        "WHERE r.id = ? AND res.algo = ? AND res.name = ?", (row.run, row.algo, result)).fetchone()
    return found is not None and found[:3] == (row.group, row.dataset, "ok") and found[3] == row.score


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(runs=st.lists(run_strategy, max_size=30), limit=st.integers(1, 7), minimize=st.booleans(),
       algo=st.sampled_from([None, "x", "y"]))
def test_result_metric_best_first_ranks_as_the_plain_query(conn, runs, limit, minimize, algo):
    fill(conn, runs)
    metric = ResultMetric("profit", algo)
    for dataset in DATASETS:
        plain = metric._aggregated(conn, dataset, None, limit, minimize, True)
        assert metric._best_first(conn, dataset, limit, minimize) == plain
        assert metric.rank(conn, dataset=dataset, limit=limit, minimize=minimize) == plain
    # Over every dataset the plain query's row of a group that holds its best value in
    # several runs depends on its plan; the groups, their order and scores do not.
    plain = metric._aggregated(conn, None, None, limit, minimize, True)
    best_first = metric._best_first(conn, None, limit, minimize)
    assert [(row.group, row.score) for row in best_first] == [(row.group, row.score) for row in plain]
    assert all(holds(conn, row) for row in best_first)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(runs=st.lists(run_strategy, max_size=30), limit=st.integers(1, 5), minimize=st.booleans(),
       per_group=st.booleans())
def test_max_profit_min_trades_best_first_ranks_as_the_seeds_query(conn, runs, limit, minimize, per_group):
    fill(conn, runs)
    metric = plugins.get_metrics()["max profit min trades"]
    for dataset in DATASETS:
        plain = metric._aggregated(conn, dataset, None, limit, minimize)
        assert metric._best_first(conn, dataset, limit, minimize) == plain
        ranked = metric.rank(conn, dataset=dataset, limit=limit, minimize=minimize, per_group=per_group)
        assert ranked == [Ranked(*row) for row in plain if not per_group or row == next(
            first for first in plain if first[0] == row[0])]


def test_a_walk_past_its_budget_gives_way_to_the_plain_query(conn, monkeypatch):
    # Dataset C holds 2 of 400 runs: its groups turn up only at the end of every walk.
    runs = [(1 + i % 5, "A", "ok", {"x": (i, 1, True), "y": (-i, 1, True)}) for i in range(398)]
    runs += [(6, "C", "ok", {"x": (-1000, 1, True), "y": (-1000, 1, True)}), (5, "C", "ok", {"x": (-999, 1, True)})]
    fill(conn, runs)
    monkeypatch.setattr(metrics, "MIN_WALK", 10)
    result, seed = ResultMetric("profit"), plugins.get_metrics()["max profit min trades"]
    assert result._best_first(conn, "C", 2, False) is None
    assert seed._best_first(conn, "C", 2, False) is None
    assert [(row.group, row.score) for row in result.rank(conn, dataset="C", limit=2)] == [(5, -999), (6, -1000)]
    assert [(row.group, row.score) for row in seed.rank(conn, dataset="C", limit=2)] == [(5, -999.0), (6, -1000.0)]
    # Dataset A's best rows come first: well within the budget.
    assert [row.group for row in result._best_first(conn, "A", 2, False)] == [3, 2]
    assert [group for group, *_rest in seed._best_first(conn, "A", 2, False)] == [3, 1]


# -- query plans ----------------------------------------------------------------------

#: The queries over results gf runs other than the best-first walks (ranking a dataset, a
#: group, an algo; reading a run's results; listing runs and result names), the browsing
#: views, an example plugin's, and users' SQL as --metric-sql runs it (the seed's own).
OTHER_QUERIES = [
    "SELECT r.group_id, res.run, r.dataset, res.algo, max(res.value) AS score FROM runs r JOIN results res"
    " ON res.run = r.id WHERE r.status = 'ok' AND res.name = 'profit' AND res.value IS NOT NULL AND r.dataset = 'A'"
    " GROUP BY r.group_id ORDER BY score DESC, r.group_id, res.run LIMIT 10",
    "SELECT r.group_id, res.run, r.dataset, res.algo, res.value AS score FROM runs r JOIN results res"
    " ON res.run = r.id WHERE r.status = 'ok' AND res.name = 'profit' AND res.value IS NOT NULL AND r.group_id = 1"
    " ORDER BY score DESC, r.group_id, res.run LIMIT 3",
    "SELECT r.group_id, res.run, r.dataset, res.algo, min(res.value) AS score FROM runs r JOIN results res"
    " ON res.run = r.id WHERE r.status = 'ok' AND res.name = 'profit' AND res.value IS NOT NULL AND res.algo = 'x'"
    " AND r.dataset = 'A' GROUP BY r.group_id ORDER BY score ASC, r.group_id, res.run LIMIT -1",
    # the example plugin gf-plugin-sharpe's queries
    "SELECT r.group_id, res.algo, avg(res.value) FROM runs r JOIN results res ON res.run = r.id"
    " WHERE r.status = 'ok' AND res.name = 'profit' AND res.value IS NOT NULL"
    " GROUP BY r.group_id, res.algo, r.dataset ORDER BY r.group_id, res.algo",
    "SELECT r.group_id, res.algo, max(res.value), res.run, r.dataset FROM runs r JOIN results res ON res.run = r.id"
    " WHERE r.status = 'ok' AND res.name = 'profit' AND res.value IS NOT NULL AND r.dataset = 'A'"
    " GROUP BY r.group_id, res.algo",
    "SELECT * FROM group_scores WHERE name = 'profit'",
    "SELECT * FROM best_groups",
    "SELECT algo, name, value FROM results WHERE run = 1 ORDER BY rowid",
    "SELECT DISTINCT algo, name FROM results ORDER BY algo, name LIMIT 50",
    "SELECT count(*) FROM results WHERE run = 1",
    "SELECT algo, max(profit), round(1.0 * profit / trades, 2) AS ppt FROM (SELECT p.algo, p.value AS profit,"
    " t.value AS trades FROM results t JOIN results p ON p.run = t.run AND p.algo = t.algo AND p.name = 'profit'"
    " JOIN run_meta USING (run) WHERE t.name = 'trades' AND t.value > 0 AND t.value <= 150 AND dataset = 'A')"
    " GROUP BY algo ORDER BY ppt DESC",
    "SELECT run, value FROM results JOIN run_meta USING (run) WHERE dataset = 'A' AND name = 'trades'"
    " ORDER BY value DESC LIMIT 10",
    "SELECT run, value FROM results WHERE name = 'profit' AND value > 5 ORDER BY value DESC LIMIT 10",
]


def plan(conn, sql):
    return " / ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql))


@pytest.mark.parametrize("analyzed", [False, True])
def test_no_other_query_uses_the_best_first_index(tmp_path, analyzed):
    # 300 runs of 5 groups on 3 datasets, 3 algos: with ANALYZE's statistics SQLite would
    # skip-scan an index on the plain (name, algo, value) columns for some of these.
    conn = store.connect(tmp_path / "plans.db")
    fill(conn, [(1 + i % 5, DATASETS[i % 3], "ok", {algo: (i % 7, i % 200, True) for algo in ALGOS})
                for i in range(300)])
    if analyzed:
        conn.execute("ANALYZE")
    assert [sql for sql in OTHER_QUERIES if store.BEST_FIRST_INDEX in plan(conn, sql)] == []


def recording(conn):
    """A connection stand-in that runs every statement on ``conn`` and keeps ``(sql, args)``."""
    recorded = []

    class Recorder:
        def execute(self, sql, args=()):
            recorded.append((sql, args))
            return conn.execute(sql, args)

    return Recorder(), recorded


def test_the_plain_queries_plan_as_before(conn):
    fill(conn, [(1, "A", "ok", {"x": (1, 1, True)})])
    recorder, recorded = recording(conn)
    ResultMetric("profit")._aggregated(recorder, "A", None, 10, False, True)
    plugins.get_metrics()["max profit min trades"]._aggregated(recorder, "A", None, 10, False)
    plans = [" / ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, args)) for sql, args in recorded]
    assert plans == [
        "SEARCH r USING INDEX runs_dataset_status (dataset=? AND status=?) / "
        "SEARCH res USING INDEX results_run_algo_name (run=?) / "
        "USE TEMP B-TREE FOR GROUP BY / USE TEMP B-TREE FOR ORDER BY",
        "SEARCH r USING INDEX runs_dataset_status (dataset=? AND status=?) / "
        "SEARCH t USING INDEX results_run_algo_name (run=?) / "
        "SEARCH p USING INDEX results_run_algo_name (run=? AND algo=? AND name=?) / "
        "USE TEMP B-TREE FOR GROUP BY / USE TEMP B-TREE FOR ORDER BY",
    ]


def test_the_walks_read_the_best_first_index_in_order(conn):
    fill(conn, [(1, "A", "ok", {"x": (1, 1, True)})])
    recorder, recorded = recording(conn)
    ResultMetric("profit")._best_first(recorder, "A", 10, False)
    plugins.get_metrics()["max profit min trades"]._best_first(recorder, "A", 10, False)
    walks = [(sql, args) for sql, args in recorded if "CROSS JOIN" in sql]
    assert len(walks) == 2
    plans = [" / ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, args)) for sql, args in walks]
    index = store.BEST_FIRST_INDEX
    assert plans[0] == (f"SEARCH res USING INDEX {index} (<expr>=? AND <expr>=?) / "
                        "SEARCH r USING INTEGER PRIMARY KEY (rowid=?) / USE TEMP B-TREE FOR RIGHT PART OF ORDER BY")
    assert plans[1] == (f"SEARCH p USING INDEX {index} (<expr>=? AND <expr>=?) / "
                        "SEARCH r USING INTEGER PRIMARY KEY (rowid=?) / "
                        "SEARCH t USING INDEX results_run_algo_name (run=? AND algo=? AND name=?) LEFT-JOIN / "
                        "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY")
