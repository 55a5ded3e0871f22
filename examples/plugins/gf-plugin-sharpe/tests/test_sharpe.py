"""gf-plugin-sharpe: the Sharpe-ratio metric, on real gf databases, directly and through the gf CLI."""

import json
import sqlite3
import statistics
import sys
from importlib import metadata

import pytest

import gf
import gf_plugin_sharpe
from gf import GeneticFuckery, plugins
from gf_plugin_sharpe import SharpeMetric

DATASETS = ("d1", "d2", "d3")


@pytest.fixture
def load_groups(run_gf, tmp_path, db_path):
    """``load_groups(n)``: n more groups (``x = 1``, ``x = 2``, ... on from the last call) loaded with
    ``gf load``; their ids."""
    numbers = iter(range(1, 1000))

    def load(count):
        ids = []
        for _ in range(count):
            number = next(numbers)
            path = tmp_path / f"group{number}.js"
            path.write_text(f"x = {number}\n")
            result = run_gf("load", "--db", db_path, path)
            assert result.exit_code == 0, result.stderr
            ids.append(int(result.stdout))
        return ids

    return load


def record(db_path, group, dataset, results):
    """One ``ok`` run of ``group`` on ``dataset``, as a program records it."""
    return GeneticFuckery(dbfile=db_path, pid=group).record(results, dataset=dataset)


def profits(db_path, group, values, algo="bt", name="profit"):
    """Record ``values`` (one per dataset, ``None`` for no run) of ``algo.name``; return the run ids."""
    return [record(db_path, group, dataset, {algo: {name: value}})
            for dataset, value in zip(DATASETS, values) if value is not None]


def sharpe_of(values):
    return statistics.fmean(values) / statistics.stdev(values)


@pytest.fixture
def market(db_path, load_groups):
    """steady: good everywhere; lucky: great once; oneshot: one dataset only; loser: bad everywhere."""
    steady, lucky, oneshot, loser = load_groups(4)
    profits(db_path, steady, [10, 12, 11])
    profits(db_path, lucky, [100, -20, -10])
    profits(db_path, oneshot, [1000, None, None])
    profits(db_path, loser, [-5, -6, -4])
    return {"steady": steady, "lucky": lucky, "oneshot": oneshot, "loser": loser}


def rank(db_path, metric=None, **options):
    conn = sqlite3.connect(db_path)
    try:
        return (metric or SharpeMetric(name="sharpe")).rank(conn, **options)
    finally:
        conn.close()


# -- the ranking ----------------------------------------------------------------------


def test_good_everywhere_beats_great_once(db_path, market):
    ranked = rank(db_path)
    assert [row.group for row in ranked] == [market["steady"], market["lucky"], market["loser"]]
    assert [row.score for row in ranked] == pytest.approx(
        [sharpe_of([10, 12, 11]), sharpe_of([100, -20, -10]), sharpe_of([-5, -6, -4])])
    assert all(isinstance(row, gf.Ranked) and row.algo == "bt" for row in ranked)
    # with no dataset, a group's row names its best run overall
    steady = ranked[0]
    assert steady.dataset == "d2"
    assert sqlite3.connect(db_path).execute("SELECT group_id, dataset FROM runs WHERE id = ?",
                                            (steady.run,)).fetchone() == (market["steady"], "d2")


def test_groups_on_fewer_than_two_datasets_are_not_ranked(db_path, market):
    assert market["oneshot"] not in [row.group for row in rank(db_path)]
    assert rank(db_path, dataset="d1", group=market["oneshot"]) == []


def test_a_dataset_ranks_the_groups_evaluated_on_it_by_their_cross_dataset_score(db_path, market, load_groups):
    (partial,) = load_groups(1)
    runs = profits(db_path, partial, [50, 60, None])  # not on d3
    on_d1 = rank(db_path, dataset="d1")
    assert [row.group for row in on_d1] == [market["steady"], partial, market["lucky"], market["loser"]]
    assert on_d1[1].score == pytest.approx(sharpe_of([50, 60]))
    assert on_d1[1].run == runs[0] and all(row.dataset == "d1" for row in on_d1)
    assert partial not in [row.group for row in rank(db_path, dataset="d3")]
    assert rank(db_path, dataset="d3")[0].score == on_d1[0].score  # the same score on every dataset
    assert rank(db_path, dataset="nowhere") == []


def test_limit_group_and_minimize(db_path, market):
    assert [row.group for row in rank(db_path, limit=2)] == [market["steady"], market["lucky"]]
    assert [row.group for row in rank(db_path, group=market["lucky"])] == [market["lucky"]]
    lowest = rank(db_path, minimize=True)
    assert [row.group for row in lowest] == [market["loser"], market["lucky"], market["steady"]]
    assert lowest[0].score == pytest.approx(sharpe_of([-5, -6, -4]))  # the ratio itself, lowest first


def test_per_group_false_gives_one_row_per_dataset_and_algo_best_value_first(db_path, market):
    rows = rank(db_path, group=market["lucky"], per_group=False)
    assert [(row.dataset, row.algo) for row in rows] == [("d1", "bt"), ("d3", "bt"), ("d2", "bt")]
    assert len({row.score for row in rows}) == 1
    assert len(rank(db_path, per_group=False)) == 9  # the three ranked groups, three datasets each
    assert [row.dataset for row in rank(db_path, group=market["lucky"], per_group=False, minimize=True)] == [
        "d2", "d3", "d1"]


def test_reruns_count_once_as_their_mean_and_the_row_names_the_best_run(db_path, load_groups):
    (group,) = load_groups(1)
    low = record(db_path, group, "d1", {"bt": {"profit": 0}})
    high = record(db_path, group, "d1", {"bt": {"profit": 20}})
    profits(db_path, group, [None, 14, 6])
    (row,) = rank(db_path, dataset="d1")
    assert row.score == pytest.approx(sharpe_of([10, 14, 6]))  # d1 counts as 10, not as two datasets
    assert row.run == high
    assert rank(db_path, dataset="d1", minimize=True)[0].run == low


def test_failed_runs_and_null_values_are_ignored(db_path, load_groups):
    (group,) = load_groups(1)
    profits(db_path, group, [1, 3, None])
    g = GeneticFuckery(dbfile=db_path, pid=group)
    with pytest.raises(RuntimeError):
        with g.report(dataset="d3") as r:
            r["bt"]["profit"] = 1000
            raise RuntimeError("the backtest crashed")
    record(db_path, group, "d3", {"bt": {"profit": float("nan")}})  # stored as NULL
    record(db_path, group, "d3", {"bt": {"trades": 4}})  # another result
    (row,) = rank(db_path)
    assert row.score == pytest.approx(sharpe_of([1, 3]))


def test_the_same_value_everywhere_scores_high_but_finite_and_orders_by_mean(db_path, load_groups):
    flat_small, flat_large, flat_zero, noisy = load_groups(4)
    profits(db_path, flat_small, [2, 2, 2])
    profits(db_path, flat_large, [3, 3, 3])
    profits(db_path, flat_zero, [0, 0, 0])
    profits(db_path, noisy, [30, 31, 32])
    ranked = rank(db_path)
    assert [row.group for row in ranked] == [flat_large, flat_small, noisy, flat_zero]
    assert ranked[0].score == pytest.approx(3 / gf_plugin_sharpe.MIN_STD)
    assert ranked[-1].score == 0.0


def test_the_best_algo_scores_a_group_and_an_algo_can_be_chosen(db_path, load_groups):
    (group,) = load_groups(1)
    for dataset, fast, slow in zip(DATASETS, [1, 9, 2], [5, 5.5, 4.5]):
        record(db_path, group, dataset, {"fast": {"profit": fast}, "slow": {"profit": slow, "win": 1}})
    (row,) = rank(db_path)
    assert (row.algo, row.score) == ("slow", pytest.approx(sharpe_of([5, 5.5, 4.5])))
    (row,) = rank(db_path, metric=SharpeMetric("profit", "fast"))
    assert (row.algo, row.score) == ("fast", pytest.approx(sharpe_of([1, 9, 2])))
    assert rank(db_path, metric=SharpeMetric("win")) != []
    assert rank(db_path, metric=SharpeMetric("win", "fast")) == []


def test_scores_follow_every_change_to_the_database(db_path, market):
    """The whole database's scores are kept between rank() calls, until anything changes."""
    metric = SharpeMetric(name="sharpe")
    conn = sqlite3.connect(db_path)
    assert metric.rank(conn, dataset="d1", limit=1)[0].group == market["steady"]
    assert metric.rank(conn, dataset="d2", limit=1)[0].group == market["steady"]
    assert metric.scores(conn) is metric.scores(conn)  # computed once while nothing changes
    # another connection commits (a program reporting a rerun): d2 is now the mean of -20 and 200
    record(db_path, market["lucky"], "d2", {"bt": {"profit": 200}})
    lucky = {row.group: row.score for row in metric.rank(conn, dataset="d1")}[market["lucky"]]
    assert lucky == pytest.approx(sharpe_of([100, 90, -10]))
    # a change through the same connection, not yet committed
    conn.execute("UPDATE results SET value = 11 WHERE run IN (SELECT id FROM runs WHERE group_id = ?)",
                 (market["loser"],))
    assert metric.rank(conn, limit=1)[0].group == market["loser"]
    assert metric.rank(conn, limit=1)[0].score == pytest.approx(11 / gf_plugin_sharpe.MIN_STD)
    conn.rollback()
    other = sqlite3.connect(db_path)
    assert metric.rank(other, limit=1)[0].group == market["steady"]
    conn.close()
    other.close()


# -- registration ---------------------------------------------------------------------


def test_gf_sharpe_registers_more_metrics(monkeypatch, sharpe, run_gf):
    monkeypatch.setenv("GF_SHARPE", "win, crossover.Profit,,win")
    plugins.reset()
    plugins.register(gf_plugin_sharpe, name="sharpe")
    listed = {row["name"]: row["description"] for row in json.loads(run_gf("metrics", "list", "--json").stdout)}
    assert {"sharpe", "sharpe:win", "sharpe:crossover.profit", "max profit min trades"} == set(listed)
    assert listed["sharpe"].startswith("mean / stdev of profit across datasets")
    metric = plugins.get_metrics()["sharpe:crossover.profit"]
    assert (metric.algo, metric.result) == ("crossover", "profit")


def test_a_bad_gf_sharpe_is_a_one_line_error(monkeypatch, sharpe, run_gf):
    monkeypatch.setenv("GF_SHARPE", "profit per trade")
    plugins.reset()
    plugins.register(gf_plugin_sharpe, name="sharpe")
    result = run_gf("metrics", "list")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: plugin 'sharpe' failed inside gf_register_metrics: ValueError: GF_SHARPE: 'profit per trade' "
        "is not a result name (profit) or algo.result (crossover.profit)\n")


# -- through the gf CLI ---------------------------------------------------------------


def test_gf_top_and_gf_breed_use_the_sharpe_ranking(sharpe, db_path, market, run_gf):
    top = json.loads(run_gf("top", "--db", db_path, "--metric", "sharpe", "-n", "2", "--json").stdout)
    assert [(row["dataset"], row["group"]) for row in top] == [
        ("d1", market["steady"]), ("d1", market["lucky"]), ("d2", market["steady"]), ("d2", market["lucky"]),
        ("d3", market["steady"]), ("d3", market["lucky"])]
    assert top[0]["score"] == pytest.approx(sharpe_of([10, 12, 11]))
    by_profit = json.loads(run_gf("top", "--db", db_path, "--metric", "profit", "-n", "1", "--dataset", "d1",
                                  "--json").stdout)
    assert by_profit[0]["group"] == market["oneshot"]  # what sharpe is for
    result = run_gf("breed", "--db", db_path, "--metric", "sharpe", "--top", "1", "--population", "3", "--seed",
                    "1", "--json")
    assert result.exit_code == 0, result.stderr
    children = json.loads(result.stdout)
    groups = {row["id"]: row for row in json.loads(run_gf("groups", "--db", db_path, "--json").stdout)}
    assert len(children) == 3 and all(groups[child]["parents"] == [market["steady"]] for child in children)


#: A program gf launches: profit = 1 + risk * swing(dataset). Mean profit grows with risk;
#: the Sharpe ratio, (1 + risk) / (2 * risk), falls with it.
PROGRAM = """\
import sys
from gf import GeneticFuckery

swing = {"up": 3.0, "down": -1.0, "flat": 1.0}[sys.argv[1]]
g = GeneticFuckery()
with g.report("bt") as r:
    r["bt"]["profit"] = 1.0 + g.risk * swing
"""


def test_a_gf_breed_loop_by_sharpe_lowers_the_risk(sharpe, run_gf, tmp_path, db_path):
    (tmp_path / "start.js").write_text("risk = 4.0\nrisk > 0\n")
    assert run_gf("load", "--db", db_path, tmp_path / "start.js").exit_code == 0
    program = tmp_path / "backtest.py"
    program.write_text(PROGRAM)
    command = f"{sys.executable} {program} {{}}"
    assert run_gf("run", "--db", db_path, command, "up", "down", "flat", "-j", "2").exit_code == 0
    result = run_gf("breed", "--db", db_path, "--metric", "sharpe", "--top", "2", "--loop", "2", "--population", "4",
                    "--seed", "3", "-j", "2", command)
    assert result.exit_code == 0, result.stderr
    best = json.loads(run_gf("top", "--db", db_path, "--metric", "sharpe", "--dataset", "up", "-n", "1",
                             "--json").stdout)[0]
    shown = json.loads(run_gf("show", "--db", db_path, "--json", best["group"]).stdout)
    risk = shown["params"][0]["value"]
    assert risk < 4.0 and best["score"] == pytest.approx((1 + risk) / (2 * risk))
    loops = json.loads(run_gf("runs", "--db", db_path, "--json").stdout)
    assert len(loops) == 3 + 2 * 4 * 3 and all(run["status"] == "ok" for run in loops)


def test_evolve_by_sharpe_prefers_consistency_to_a_high_mean(sharpe, run_gf, tmp_path, db_path):
    """The same trade-off in-process (gf's Python API), many generations: risk goes down, not up."""
    (tmp_path / "start.js").write_text("risk = 4.0\nrisk > 0\n")
    assert run_gf("load", "--db", db_path, tmp_path / "start.js").exit_code == 0
    swing = {"up": 3.0, "down": -1.0, "flat": 1.0}

    def backtest(params, dataset):
        return {"bt": {"profit": 1.0 + params.risk * swing[dataset]}}

    g = GeneticFuckery(dbfile=db_path, pid=1)
    best = g.evolve(backtest, metric="sharpe", generations=8, population=8, datasets=list(swing), seed=1)
    risk = GeneticFuckery(dbfile=db_path, pid=best["group"]).risk
    assert risk < 1.0 and best["score"] == pytest.approx((1 + risk) / (2 * risk))


def test_installed_plugin_is_listed_with_its_hooks(monkeypatch, run_gf):
    try:
        version = metadata.version("gf-plugin-sharpe")
    except metadata.PackageNotFoundError:
        pytest.skip("gf-plugin-sharpe is not installed (pip install -e examples/plugins/gf-plugin-sharpe)")
    monkeypatch.setenv("GF_LOAD_PLUGINS", "gf-plugin-sharpe")
    plugins.reset()
    listed = json.loads(run_gf("plugins", "list", "--json").stdout)
    assert listed == [{"name": "sharpe", "version": version, "hooks": ["gf_register_metrics"]}]
    assert "sharpe" in [row["name"] for row in json.loads(run_gf("metrics", "list", "--json").stdout)]
