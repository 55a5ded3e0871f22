"""Metrics: result names, the seed's "max profit min trades", SQL files, and gf top."""

import json

import pytest

from gf import GeneticFuckery, InputError, plugins, store
from gf.metrics import ResultMetric, SqlFileMetric, resolve


@pytest.fixture
def scored(load_text, db_path):
    """Groups 1-3 with results on two datasets (and a failed run and a NaN that never rank)."""
    for value in (1, 2, 3):
        load_text(f"x = {value}\n")
    record = lambda group, dataset, results: GeneticFuckery(dbfile=db_path, pid=group).record(results, dataset=dataset)
    record(1, "SPY", {"crossover": {"profit": 10, "trades": 5}, "meanrev": {"profit": 30, "trades": 200}})
    record(2, "SPY", {"crossover": {"profit": 20, "trades": 4}, "meanrev": {"profit": -5, "trades": 10}})
    record(3, "SPY", {"crossover": {"profit": float("nan"), "trades": 0}})
    record(1, "TSLA", {"crossover": {"profit": 7, "trades": 7}})
    record(3, "TSLA", {"crossover": {"profit": 9, "trades": 3}})
    with pytest.raises(RuntimeError):
        with GeneticFuckery(dbfile=db_path, pid=2).report(dataset="TSLA"):
            raise RuntimeError("crashed")
    return store.connect(db_path)


def test_hook_gf_register_metrics():
    assert list(plugins.get_metrics()) == ["max profit min trades"]


def test_result_metric_ranks_one_row_per_group_per_dataset(scored):
    rows = ResultMetric("profit").rank(scored, dataset="SPY")
    assert [(r.group, r.algo, r.score) for r in rows] == [(1, "meanrev", 30), (2, "crossover", 20)]
    rows = ResultMetric("profit").rank(scored, dataset="SPY", minimize=True)
    assert [(r.group, r.score) for r in rows] == [(2, -5), (1, 10)]
    rows = ResultMetric("profit", algo="crossover").rank(scored, dataset="SPY", limit=1)
    assert [(r.group, r.score) for r in rows] == [(2, 20)]
    assert [r.group for r in ResultMetric("profit").rank(scored, dataset="TSLA")] == [3, 1]


def test_result_metric_per_run_rows_of_one_group(scored):
    rows = ResultMetric("profit").rank(scored, group=1, per_group=False)
    assert [(r.dataset, r.algo, r.score) for r in rows] == [("SPY", "meanrev", 30), ("SPY", "crossover", 10),
                                                           ("TSLA", "crossover", 7)]


def test_seed_metric_max_profit_min_trades(scored, db_path):
    metric = plugins.get_metrics()["max profit min trades"]
    # SPY: meanrev's 30 has 200 trades (out), -5/10 = -0.5; crossover best profit 20 (group 2), 20/4 = 5.0
    rows = metric.rank(scored, dataset="SPY", per_group=False)
    assert [(r.group, r.algo, r.score) for r in rows] == [(2, "crossover", 5.0), (2, "meanrev", -0.5)]
    # TSLA: crossover best profit 9 / 3 trades = 3.0
    assert [(r.group, r.score) for r in metric.rank(scored, dataset="TSLA")] == [(3, 3.0)]


def test_seed_metric_matches_the_seeds_hand_written_sql(scored):
    seed_sql = """
        SELECT algo, max(profit), round(1.0 * profit / trades, 2) AS ppt FROM (
            SELECT p.algo, p.value AS profit, t.value AS trades
            FROM results t JOIN results p ON p.run = t.run AND p.algo = t.algo AND p.name = 'profit'
            JOIN run_meta USING (run)
            WHERE t.name = 'trades' AND t.value > 0 AND t.value <= 150 AND dataset = ?)
        GROUP BY algo ORDER BY ppt DESC"""
    expected = [(algo, ppt) for algo, _profit, ppt in scored.execute(seed_sql, ("SPY",))]
    metric = plugins.get_metrics()["max profit min trades"]
    assert [(r.algo, r.score) for r in metric.rank(scored, dataset="SPY", per_group=False)] == expected


def test_sql_file_metric(scored, tmp_path):
    path = tmp_path / "score.sql"
    path.write_text("""
        SELECT run, value * 2 AS score FROM results JOIN run_meta USING (run)
        WHERE dataset = :dataset AND name = 'trades' ORDER BY score DESC LIMIT :limit""")
    rows = SqlFileMetric(path).rank(scored, dataset="SPY", limit=5)
    assert [(r.group, r.score) for r in rows] == [(1, 400), (2, 20), (3, 0)]
    assert [(r.group, r.score) for r in SqlFileMetric(path).rank(scored, group=1, per_group=False)] == [
        (1, 400), (1, 14), (1, 10)
    ]


def test_sql_file_metric_rows_must_be_best_first_as_minimize_says(scored, tmp_path, db_path, run_gf):
    """A query returning lower scores first is refused without --minimize (the breeder, `gf best` and every
    ranking across datasets go by --minimize, and would take its worst groups for its best), and so is one
    returning rows in no order of score."""
    low = tmp_path / "low.sql"
    low.write_text("SELECT run, value AS score FROM results JOIN run_meta USING (run) "
                   "WHERE dataset = :dataset AND name = 'trades' ORDER BY score ASC LIMIT :limit")
    assert [(r.group, r.score) for r in SqlFileMetric(low).rank(scored, dataset="SPY", minimize=True)] == [
        (3, 0), (2, 4), (1, 5)]
    with pytest.raises(InputError) as error:
        SqlFileMetric(low).rank(scored, dataset="SPY")
    assert str(error.value) == (f"{low}: the query returns lower scores first on dataset 'SPY', but with no "
                                "--minimize higher scores are better: pass --minimize if lower is better, else "
                                "ORDER BY the score DESC")
    for command in (["top", "--dataset", "SPY"], ["best"], ["breed", "--population", "2"]):
        result = run_gf(*command, "--db", db_path, "--metric-sql", str(low))
        assert result.exit_code == 2 and "pass --minimize if lower is better" in result.stderr, command
    assert store.connect(db_path).execute("SELECT count(*) FROM groups").fetchone()[0] == 3  # nothing bred
    result = run_gf("best", "--db", db_path, "--metric-sql", str(low), "--minimize", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)[0]["group"] == 3
    text = tmp_path / "text.sql"  # text scores rank a dataset, but cannot be averaged over datasets
    text.write_text("SELECT run, printf('%04d', value) AS score FROM results JOIN run_meta USING (run) "
                    "WHERE dataset = :dataset AND name = 'trades' ORDER BY score DESC")
    assert run_gf("top", "--db", db_path, "--metric-sql", str(text), "--dataset", "SPY").exit_code == 0
    result = run_gf("best", "--db", db_path, "--metric-sql", str(text))
    assert result.exit_code == 2 and "'0200', not a number: a ranking over datasets averages" in result.stderr
    unordered = tmp_path / "unordered.sql"
    unordered.write_text("SELECT run, value AS score FROM results JOIN run_meta USING (run) "
                         "WHERE dataset = :dataset AND name = 'trades' ORDER BY run")
    for minimize in (False, True):
        with pytest.raises(InputError, match="rows for dataset 'SPY' are not in order of score; the query must "
                                             "return them best first"):
            SqlFileMetric(unordered).rank(scored, dataset="SPY", minimize=minimize)


@pytest.mark.parametrize(
    "sql, message",
    [
        ("SELECT nonsense FROM nowhere", "SQL error: no such table: nowhere"),
        ("SELECT 1", "must return (run, score) columns"),
        ("DELETE FROM results", "SQL error: attempt to write a readonly database"),
    ],
)
def test_sql_file_metric_errors_name_the_file_and_change_nothing(scored, tmp_path, sql, message):
    path = tmp_path / "bad.sql"
    path.write_text(sql)
    with pytest.raises(InputError) as error:
        SqlFileMetric(path).rank(scored, dataset="SPY")
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)
    assert scored.execute("SELECT count(*) FROM results").fetchone()[0] == 14


def test_resolve_metric_specs(tmp_path):
    assert resolve("profit").name == "profit"
    assert (resolve("Crossover.Profit").algo, resolve("Crossover.Profit").result) == ("crossover", "profit")
    assert resolve("profit", algo="meanrev").name == "meanrev.profit"
    assert resolve("max profit min trades").name == "max profit min trades"
    with pytest.raises(InputError, match="unknown metric 'a.b.c': use a result name"):
        resolve("a.b.c")
    with pytest.raises(InputError, match="unknown metric ' ': use a result name"):
        resolve(" ")
    with pytest.raises(InputError, match="either --metric or --metric-sql"):
        resolve("profit", sql_file=tmp_path / "x.sql")
    with pytest.raises(InputError, match="with --metric-sql, choose the algo in the query"):
        resolve(sql_file=tmp_path / "x.sql", algo="crossover")
    with pytest.raises(InputError, match="cannot read metric SQL"):
        resolve(sql_file=tmp_path / "missing.sql")
    with pytest.raises(InputError, match="names algo a but --algo says b"):
        resolve("a.profit", algo="b")
    with pytest.raises(InputError, match="'max profit min trades' is a registered metric, which chooses its own "
                                         "rows: leave out --algo"):
        resolve("max profit min trades", algo="crossover")


def test_gf_top_per_dataset(scored, db_path, run_gf):
    listed = json.loads(run_gf("top", "--db", db_path, "--metric", "profit", "--json").stdout)
    assert [(r["dataset"], r["rank"], r["group"], r["score"]) for r in listed] == [
        ("SPY", 1, 1, 30), ("SPY", 2, 2, 20), ("TSLA", 1, 3, 9), ("TSLA", 2, 1, 7)
    ]
    one = json.loads(run_gf("top", "--db", db_path, "--metric", "profit", "-n", "1", "--dataset", "SPY",
                            "--algo", "crossover", "--minimize", "--json").stdout)
    assert [(r["group"], r["score"], r["algo"]) for r in one] == [(1, 10, "crossover")]
    text = run_gf("top", "--db", db_path, "--metric", "max profit min trades").stdout.splitlines()
    assert text[0].split() == ["dataset", "rank", "group", "score", "algo", "run"]
    result = run_gf("top", "--db", db_path, "--metric", "profit", "--dataset", "SYP")  # a typo is not "(none)"
    assert result.exit_code == 2
    assert result.stderr == f"error: --dataset 'SYP': no run in {db_path} is on it; datasets: SPY, TSLA\n"


def test_gf_best_over_every_dataset_agrees_with_python(scored, db_path, run_gf):
    listed = json.loads(run_gf("best", "--db", db_path, "--metric", "profit", "--json").stdout)
    # only group 1 was scored on both datasets (2 failed on TSLA, 3's SPY profit is NaN)
    assert listed == [{"rank": 1, "group": 1, "score": 18.5, "datasets": 2, "by_dataset": {"SPY": 30, "TSLA": 7}}]
    assert GeneticFuckery(dbfile=db_path).best("profit")["group"] == 1
    text = run_gf("best", "--db", db_path, "--metric", "trades", "--minimize").stdout.splitlines()
    assert text[0].split() == ["rank", "group", "score", "datasets"]
    assert text[1].split() == ["1", "3", "1.5", "2", "of", "2"]  # group 3: trades 0 on SPY, 3 on TSLA
    result = run_gf("best", "--db", db_path, "--metric", "proft")
    assert result.exit_code == 2  # the closest names first
    assert "is scored by metric 'proft'; results recorded: meanrev.profit, crossover.profit, crossover.trades" in (
        result.stderr)


def test_gf_metrics_list(run_gf):
    listed = json.loads(run_gf("metrics", "list", "--json").stdout)
    assert [m["name"] for m in listed] == ["max profit min trades"]


def test_a_metric_recorded_only_as_nan_says_so_where_nothing_ranks(load_text, db_path, run_gf):
    load_text("x = 1\n")
    for dataset in ("a", "b"):
        GeneticFuckery(dbfile=db_path, pid=1).record({"m": {"loss": float("nan"), "other": 1}}, dataset=dataset)
    for command in (["best"], ["breed", "--population", "2"]):
        result = run_gf(*command, "--db", db_path, "--metric", "loss", "--minimize")
        assert result.exit_code == 2, command
        assert "the 2 value(s) of 'loss' recorded were NaN or infinite (stored as NULL, never ranked)" in result.stderr
    result = run_gf("top", "--db", db_path, "--metric", "loss")
    assert result.exit_code == 0 and "note: nothing ranks; the 2 value(s) of 'loss' recorded were NaN" in result.stderr


def test_the_direction_a_metric_was_bred_in_is_remembered(load_text, db_path, run_gf, tmp_path):
    """A loss bred with --minimize: a later `gf best --metric loss` ranks lowest first (it listed the worst
    groups), says so, and --maximize turns it round; a metric never bred stays higher-is-better."""
    load_text("x = 5\n")
    g = GeneticFuckery(dbfile=db_path)
    g.evolve(lambda params, dataset: {"m": {"loss": (params.x - 1) ** 2, "gain": params.x}}, metric="loss",
             minimize=True, generations=2, population=6, datasets=["a"], seed=1)
    losses = sorted(value for (value,) in store.connect(db_path).execute(
        "SELECT value FROM results WHERE name = 'loss'"))
    result = run_gf("best", "--db", db_path, "--metric", "loss", "--json", "-n", "1")
    assert json.loads(result.stdout)[0]["score"] == losses[0]
    assert result.stderr == "note: lower loss is better, as breed loop 1 had it (--maximize for higher)\n"
    result = run_gf("top", "--db", db_path, "--metric", "loss", "--maximize", "--json", "-n", "1")
    assert (json.loads(result.stdout)[0]["score"], result.stderr) == (losses[-1], "")
    assert json.loads(run_gf("report", "--db", db_path, "1", "--metric", "loss", "--json").stdout)[0]["minimize"]
    assert g.best("loss")["score"] == losses[0] and g.best("loss", minimize=False)["score"] == losses[-1]
    gains = [value for (value,) in store.connect(db_path).execute("SELECT value FROM results WHERE name = 'gain'")]
    assert g.best("gain")["score"] == max(gains)  # never bred: higher is better
    result = run_gf("breed", "--db", db_path, "--metric", "loss", "--population", "2", "--json")
    assert result.exit_code == 0 and "lower loss is better" in result.stderr
    # evolve without minimize= follows it too (it maximized the loss, and then every ranking did)
    again = g.evolve(lambda params, dataset: {"m": {"loss": (params.x - 1) ** 2, "gain": params.x}}, metric="loss",
                     generations=1, population=4, datasets=["a"], seed=2, progress=False)
    assert again["score"] == min(value for (value,) in store.connect(db_path).execute(
        "SELECT value FROM results WHERE name = 'loss'"))
    # gf compare names one direction for every database: the first that remembers one
    other = tmp_path / "other.db"
    (tmp_path / "other.js").write_text("x = 2.0\n")
    assert run_gf("load", "--db", other, tmp_path / "other.js").exit_code == 0
    (tmp_path / "other2.js").write_text("x = 9.0\n")
    assert run_gf("load", "--db", other, tmp_path / "other2.js").exit_code == 0
    for group, loss in ((1, 1.0), (2, 64.0)):  # no loop there: it has no direction of its own
        GeneticFuckery(dbfile=other, pid=group).record({"m": {"loss": loss}}, dataset="a")
    result = run_gf("compare", "--metric", "loss", db_path, other, "--json")
    assert result.exit_code == 0, result.stderr
    compared = json.loads(result.stdout)
    assert [(entry["minimize"], entry["group"]) for entry in compared["databases"]][1] == (True, 1)


def register_metric(rank, name="plug"):
    """Register a plugin metric ``name`` whose rank() is ``rank(self, conn, **kwargs)`` (in place of one
    registered before)."""
    from gf import Metric, hookimpl

    plugins.reset()

    class Plug(Metric):
        description = "a plugin's metric"

    Plug.name, Plug.rank = name, rank

    class Plugin:
        @hookimpl
        def gf_register_metrics(self, register):
            register(Plug())

    plugins.register(Plugin(), name=f"{name}-metric")


def profits(conn, minimize=False, **kwargs):
    return ResultMetric("profit").rank(conn, minimize=minimize, **kwargs)


@pytest.mark.parametrize("rank, message", [
    (lambda self, conn, **kw: profits(conn), "metric 'plug': rank() returned a score of 20 after 30, but asked for "
                                             "lower is better (minimize=True); if higher is better for it, pass "
                                             "--maximize, else its rank() must honour minimize"),
    (lambda self, conn, **kw: [r.__class__(str(r.group), r.run, r.dataset, r.algo, r.score) for r in profits(conn)],
     "metric 'plug': rank() returned group '1', a str; group ids are ints"),
    (lambda self, conn, **kw: None, "metric 'plug': rank() returned NoneType None; it must return a list of "
                                    "gf.Ranked(group, run, dataset, algo, score) rows"),
    (lambda self, conn, **kw: [(1, 1, "SPY", "a", 3.0)], "metric 'plug': rank() returned tuple (1, 1, 'SPY', 'a', "
                                                          "3.0); it must return a list of gf.Ranked"),
    (lambda self, conn, **kw: [r.__class__(99, r.run, r.dataset, r.algo, r.score) for r in profits(conn, **kw)],
     "metric 'plug': rank() returned group 99, which is no group in the database"),
])
def test_a_plugin_metric_that_breaks_its_contract_is_named(scored, rank, message):
    """A ranking ignoring minimize bred from the worst groups, silently; the others failed in gf's own code."""
    register_metric(rank)
    with pytest.raises(plugins.PluginError) as caught:
        resolve("plug").rank(scored, dataset="SPY", minimize=True)
    assert str(caught.value).startswith(message)


def test_a_plugin_metric_reads_a_read_only_connection_and_gets_at_most_limit_rows(scored):
    import sqlite3

    register_metric(lambda self, conn, **kw: profits(conn, dataset=kw["dataset"], minimize=kw["minimize"]))
    assert [row.group for row in resolve("plug").rank(scored, dataset="SPY", limit=1)] == [1]  # its 2 rows, cut

    def deleting(self, conn, **kw):
        conn.execute("DELETE FROM results")
        return []

    register_metric(deleting)
    with pytest.raises(plugins.PluginError, match=r"metric 'plug': rank\(\) tried to write to the database \("):
        resolve("plug").rank(scored, dataset="SPY")

    def scratch(self, conn, **kw):  # a generator: its queries run as gf reads it
        conn.execute("CREATE TEMP TABLE scratch (x)")
        yield from profits(conn, **kw)

    register_metric(scratch)
    with pytest.raises(plugins.PluginError, match=r"metric 'plug': rank\(\) tried to write to the database \("):
        resolve("plug").rank(scored, dataset="SPY")
    assert scored.execute("SELECT count(*) FROM results").fetchone()[0] > 0
    scored.execute("DELETE FROM results WHERE value IS NULL")  # gf's own connection writes again afterwards


def test_max_profit_min_trades_keeps_runs_of_up_to_150_trades(load_text, db_path):
    """The seed's bound, at its edge: 150 trades qualify, 151 do not."""
    for value in (1, 2):
        load_text(f"x = {value}\n")
    GeneticFuckery(dbfile=db_path, pid=1).record({"bt": {"profit": 300, "trades": 150}}, dataset="SPY")
    GeneticFuckery(dbfile=db_path, pid=2).record({"bt": {"profit": 9000, "trades": 151}}, dataset="SPY")
    metric = plugins.get_metrics()["max profit min trades"]
    for limit in (None, 5):  # the aggregated query and the best-first walk
        assert [(r.group, r.score) for r in metric.rank(store.connect(db_path), dataset="SPY", limit=limit)] == [
            (1, 2.0)]


def test_the_newest_loop_by_a_metric_says_its_direction(load_text, db_path):
    from gf import metrics

    load_text("x = 5\n")
    g = GeneticFuckery(dbfile=db_path)
    objective = lambda params, dataset: {"m": {"loss": (params.x - 1) ** 2}}
    g.evolve(objective, metric="loss", minimize=True, generations=1, population=4, datasets=["a"], seed=1)
    g.evolve(objective, metric="loss", minimize=False, generations=1, population=4, datasets=["b"], seed=1)
    assert metrics.direction(g.conn, resolve("loss"), None) == (False, 2)
    assert metrics.direction(g.conn, resolve("loss"), True) == (True, None)


def test_the_best_score_of_a_loop_is_the_mean_of_each_datasets_best(load_text, db_path):
    """What `gf breed` reports, and patience compares: group 1 is best on d1, group 2 on d2."""
    from gf import engine

    for value in (1, 2):
        load_text(f"x = {value}\n")
    for group, d1, d2 in ((1, 10.0, 1.0), (2, 2.0, 4.0)):
        GeneticFuckery(dbfile=db_path, pid=group).record({"a": {"v": d1}}, dataset="d1")
        GeneticFuckery(dbfile=db_path, pid=group).record({"a": {"v": d2}}, dataset="d2")
    conn = store.connect(db_path)
    assert engine.best_score(conn, resolve("v"), ["d1", "d2"], minimize=False) == 7.0  # (10 + 4) / 2
    assert engine.best_score(conn, resolve("v"), ["d1", "d2"], minimize=True) == 1.5  # (2 + 1) / 2


def test_gf_best_says_when_one_group_alone_covers_the_most_datasets_and_can_leave_a_hold_out_out(load_text, db_path,
                                                                                                  run_gf):
    """One run on a hold-out dataset made that group the only one ranked; gf best says so, and
    --datasets-deny leaves the hold-out out."""
    for x in (1, 2, 3):
        load_text(f"x = {x}\n")
    for group, score in ((1, 1.0), (2, 5.0), (3, 3.0)):
        for dataset in ("d1", "d2"):
            GeneticFuckery(dbfile=db_path, pid=group).record({"a": {"v": score}}, dataset=dataset)
    GeneticFuckery(dbfile=db_path, pid=1).record({"a": {"v": 0.0}}, dataset="holdout-2024")
    result = run_gf("best", "--db", db_path, "--metric", "v", "--json")
    assert [row["group"] for row in json.loads(result.stdout)] == [1]
    assert result.stderr == ("note: 1 group(s) scored on the most datasets are ranked; 2 more lack holdout-2024: rank "
                             "over the other datasets with --datasets-deny holdout-2024\n")
    result = run_gf("best", "--db", db_path, "--metric", "v", "--json", "--datasets-deny", "holdout*")
    assert [(row["group"], row["score"]) for row in json.loads(result.stdout)] == [(2, 5.0), (3, 3.0), (1, 1.0)]
    assert result.stderr == ""
    # two hold-outs: both named, both in the suggestion
    GeneticFuckery(dbfile=db_path, pid=1).record({"a": {"v": 0.0}}, dataset="holdout-2025")
    result = run_gf("best", "--db", db_path, "--metric", "v")
    assert result.stderr == ("note: 1 group(s) scored on the most datasets are ranked; 2 more lack holdout-2024, "
                             "holdout-2025: rank over the other datasets with --datasets-deny holdout-2024 "
                             "--datasets-deny holdout-2025\n")


def test_gf_best_gives_no_hold_out_note_for_groups_lacking_different_datasets(tmp_path, load_text, db_path, run_gf):
    """A generation not yet evaluated everywhere: group 1 on d1 and d2, 2 on d1 only, 3 on d2 only."""
    for x in (1, 2, 3):
        load_text(f"x = {x}\n")
    for group, dataset in ((1, "d1"), (1, "d2"), (2, "d1"), (3, "d2")):
        GeneticFuckery(dbfile=db_path, pid=group).record({"a": {"v": 1.0}}, dataset=dataset)
    result = run_gf("best", "--db", db_path, "--metric", "v")
    assert result.exit_code == 0 and result.stderr == ""


def test_gf_best_suggests_a_deny_pattern_only_if_it_leaves_that_dataset_out_alone(load_text, db_path, run_gf):
    """`--datasets-deny d1` is a substring: it would leave d10 out too (and then no dataset at all)."""
    for x in (1, 2, 3):
        load_text(f"x = {x}\n")
    GeneticFuckery(dbfile=db_path, pid=1).record({"a": {"v": 1.0}}, dataset="d1")
    for group in (1, 2, 3):
        GeneticFuckery(dbfile=db_path, pid=group).record({"a": {"v": float(group)}}, dataset="d10")
    result = run_gf("best", "--db", db_path, "--metric", "v")
    assert result.stderr == ("note: 1 group(s) scored on the most datasets are ranked; 2 more lack d1: rank over the "
                             "other datasets with --datasets-deny (a glob or substring matching only those)\n")


def test_loops_that_disagree_on_a_metrics_direction_are_warned_of(load_text, db_path, run_gf, tmp_path, capfd):
    """Two loops by one metric, bred both ways (a merged database): the last opened decides, and gf says so."""
    load_text("x = 5\n")
    g = GeneticFuckery(dbfile=db_path)
    objective = lambda params, dataset: {"m": {"loss": (params.x - 1) ** 2}}
    g.evolve(objective, metric="loss", minimize=True, generations=1, population=4, datasets=["a"], seed=1)
    g.evolve(objective, metric="loss", minimize=False, generations=1, population=4, datasets=["b"], seed=1)
    result = run_gf("best", "--db", db_path, "--metric", "loss", "--json")
    losses = [row["score"] for row in json.loads(result.stdout)]
    assert losses == sorted(losses, reverse=True)  # loop 2's way: higher first
    from gf import metrics

    warning = (f"warning: breed loops by loss in {db_path} disagree on which way is better (loop 1: lower, loop 2: "
               "higher); going by loop 2, the newest by id (merged loops are numbered in merge order): pass "
               "--minimize or --maximize (minimize= in Python)\n")
    assert result.stderr == warning
    metrics._WARNED.clear()  # said once a process (each gf command is one; a notebook ranks often)
    assert run_gf("best", "--db", db_path, "--metric", "loss", "--minimize").stderr == ""
    # every command that ranks by it says so: merge-performers built groups from the worst, silently
    (tmp_path / "map.json").write_text('{"m": ["x"]}')
    assert run_gf("merge-performers", "--db", db_path, "--metric", "loss", tmp_path / "map.json").stderr == warning
    metrics._WARNED.clear()
    assert run_gf("report", "--db", db_path, "1").stderr == warning  # the newest loop's metric, taken
    metrics._WARNED.clear()
    capfd.readouterr()
    for _ in range(3):
        g.best("loss")  # and Python's best(), once
    assert capfd.readouterr().err == warning


def test_a_plugin_metric_named_like_a_recorded_result_is_warned_of(scored, db_path, run_gf):
    """It takes that name over (registered names are looked up first): said, not silent."""
    def rank(self, conn, **kw):
        return profits(conn, dataset=kw["dataset"], minimize=kw["minimize"], limit=kw["limit"])

    register_metric(rank, name="profit")
    result = run_gf("top", "--db", db_path, "--metric", "profit", "-n", "1")
    assert result.exit_code == 0 and result.stderr == (
        "warning: 'profit' is a metric a plugin registers, and also a result recorded here; the plugin's metric "
        "ranks (pass --metric-sql to rank by the result, or rename one)\n")


def test_scores_near_the_largest_float_average_without_overflowing(load_text, db_path, tmp_path, gf_process):
    """Two datasets' scores of sys.float_info.max add up past any float: the mean is still that score."""
    import sys

    from gf import engine, metrics

    load_text("x = 1\ny = 2\n")
    huge = sys.float_info.max
    for dataset in ("a", "b"):
        GeneticFuckery(dbfile=db_path, pid=1).record({"algo": {"loss": huge}}, dataset=dataset)
    conn = store.connect(db_path)
    assert metrics.overall(conn, resolve("loss"), ["a", "b"]) == [(1, huge, {"a": huge, "b": huge})]
    assert engine.best_score(conn, resolve("loss"), ["a", "b"], minimize=True) == huge
    assert metrics.mean([huge, -huge, huge]) == huge / 3
    best = gf_process("best", "--db", db_path, "--metric", "loss", "--minimize", "--json")
    assert best.returncode == 0, best.stderr
    assert json.loads(best.stdout)[0]["score"] == huge
    compared = gf_process("compare", db_path, "--metric", "loss", "--json")
    assert compared.returncode == 0, compared.stderr
    assert json.loads(compared.stdout)["databases"][0]["score"] == huge
    bred = gf_process("breed", "--db", db_path, "--metric", "loss", "--population", "2", "--seed", "1")
    assert bred.returncode == 0, bred.stderr
    assert len(bred.stdout.split()) == 2


def test_any_result_name_record_accepts_can_be_named_in_a_metric(load_text, db_path, gf_process):
    """record() refuses only '.' in names (and blank ones): spaces and any letters can be named in --metric
    (spaces around the whole name are dropped, as a shell variable may add them)."""

    load_text("x = 1\n")
    load_text("x = 2\n")
    for group, (rate, profit) in ((1, (0.5, 3)), (2, (0.75, 1))):
        GeneticFuckery(dbfile=db_path, pid=group).record({"Algo One": {"Win Rate": rate, "prófit": profit}},
                                                         dataset="SPY")
    assert (resolve("Algo One.Win Rate").algo, resolve("Algo One.Win Rate").result) == ("algo one", "win rate")
    for metric, groups in (("win rate", [2, 1]), ("Algo One.win rate", [2, 1]), ("prófit", [1, 2]),
                           ("algo one.PRÓFIT", [1, 2]), (" prófit ", [1, 2])):  # spaces around: a shell's
        ranked = gf_process("top", "--db", db_path, "--metric", metric, "--json")
        assert ranked.returncode == 0, ranked.stderr
        assert [row["group"] for row in json.loads(ranked.stdout)] == groups, metric


def test_one_algos_result_ranks_the_way_loops_by_the_result_bred(load_text, db_path, gf_process):
    """Bred by trades with --minimize: `--algo crossover` (crossover.trades, a name no loop has) ranks lowest
    first too, and says why; a loop by crossover.trades itself would decide for it."""
    from gf import metrics

    load_text("x = 5\n")
    GeneticFuckery(dbfile=db_path).evolve(
        lambda params, dataset: {"crossover": {"trades": abs(params.x - 1)}, "meanrev": {"trades": params.x}},
        metric="trades", minimize=True, generations=1, population=4, datasets=["a"], seed=1, progress=False)
    conn = store.connect(db_path)
    fewest = conn.execute("SELECT min(value) FROM results WHERE algo = 'crossover' AND name = 'trades'").fetchone()[0]
    assert metrics.direction(conn, resolve("trades", algo="crossover"), None) == (True, 1)
    for args in (("--metric", "trades", "--algo", "crossover"), ("--metric", "crossover.trades")):
        ranked = gf_process("top", "--db", db_path, *args, "--json", "-n", "1")
        assert ranked.returncode == 0, ranked.stderr
        assert json.loads(ranked.stdout)[0]["score"] == fewest
        assert ranked.stderr == "note: lower crossover.trades is better, as breed loop 1 by trades had it (--maximize for higher)\n"
    GeneticFuckery(dbfile=db_path).evolve(
        lambda params, dataset: {"crossover": {"trades": abs(params.x - 1)}}, metric="crossover.trades",
        minimize=False, generations=1, population=4, datasets=["a"], seed=2, progress=False)
    assert metrics.direction(conn, resolve("crossover.trades"), None) == (False, 2)


def test_a_registered_metric_misspelt_is_refused_before_anything_is_evaluated(load_text, db_path):
    """Taken for a result name, "max profit min trade" had evolve() evaluate every starting dataset before it
    said no run was scored by it; only its case differing, it is the registered metric."""
    load_text("x = 1\n")
    calls = []
    with pytest.raises(InputError, match="did you mean the registered metric 'max profit min trades'"):
        GeneticFuckery(dbfile=db_path).evolve(lambda g, d: calls.append(d) or {"a": {"profit": 1.0, "trades": 1}},
                                              metric="max profit min trade", generations=1, datasets=["a", "b"],
                                              progress=False)
    assert calls == []
    from gf.metrics import CheckedMetric, ResultMetric

    assert isinstance(resolve(" max profit min trades "), CheckedMetric)  # spaces around: a shell's
    assert isinstance(resolve("Max Profit Min Trades"), ResultMetric)  # another case: a result's name, unless...
    with pytest.raises(InputError, match="a registered metric's name with other capitals .they count.: write it "
                                         "'max profit min trades'"):
        GeneticFuckery(dbfile=db_path).evolve(lambda g, d: calls.append(d), metric="Max Profit Min Trades",
                                              generations=1, datasets=["a"], progress=False)
    assert calls == []  # ...no run recorded it
    assert resolve("win rate").name == "win rate"  # far from every registered name: a result's
    # a result of such a name that runs did record ranks as any result; so does one algo's, and a loop by it resumes
    for group, profit in ((1, 3.0), (2, 5.0)):
        if group == 2:
            load_text("x = 2\n")
        GeneticFuckery(dbfile=db_path, pid=group).record({"rsi": {"max profit min trade": profit,
                                                                  "max profit min trades": profit}}, dataset="a")
    best = GeneticFuckery(dbfile=db_path).best(metric="max profit min trade")
    assert best["group"] == 2
    assert GeneticFuckery(dbfile=db_path).best(metric="rsi.max profit min trades")["group"] == 2
    # a name without a space is a result's, however near: evolve() may record it first
    GeneticFuckery(dbfile=db_path).evolve(lambda g, d: {"a": {"max_profit_min_trades": -(g.x - 3) ** 2}},
                                          metric="max_profit_min_trades", generations=1, population=2,
                                          datasets=["b"], progress=False)
