"""gf report, gf compare (text and HTML), gf rerun, and the default metric of the last loop."""

import json
import sys
from pathlib import Path

import pytest

from gf import GeneticFuckery, store

PROGRAM = f"{sys.executable} {Path(__file__).parent / 'programs' / 'evaluate.py'} {{}}"


def objective(params, dataset):
    return {"score": {"value": (params.x - 2) ** 2 + params.n_int, "profit": -params.x}}


@pytest.fixture
def bred(load_text, db_path):
    load_text("x = 5\nn_int = 3\nn_int >= 0\n")
    GeneticFuckery(dbfile=db_path).evolve(objective, metric="value", minimize=True, generations=2, population=4,
                                          datasets=["d1", "d2"], seed=1)
    return db_path


def test_report_defaults_to_the_last_loops_metric(bred, run_gf):
    result = run_gf("report", "--db", bred, "6")
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert text.startswith("group 6  bred by default  (generation 2, default, loop 1)")
    assert "lineage:\n  group 6 (generation 2, default)" in text
    assert "params:\n  name   type   value" in text and "constraints:\n  n_int >= 0" in text
    assert "best results by value (lowest first):" in text and "d1       score" in text
    data = json.loads(run_gf("report", "--db", bred, "1", "6", "--metric", "profit", "--json").stdout)
    assert [item["id"] for item in data] == [1, 6] and data[0]["metric"] == "profit"
    assert {(row["dataset"], row["algo"]) for row in data[0]["best"]} == {("d1", "score"), ("d2", "score")}
    assert data[0]["best"][0]["score"] == -5


def test_report_without_a_loop_shows_params_and_what_a_metric_could_rank(load_text, db_path, run_gf):
    """The seed's first steps (load, run a program) make no breed loop: the report still shows the group, and
    says which results a --metric could rank it by."""
    load_text("x = 1\n")
    result = run_gf("report", "--db", db_path, "1")
    assert result.exit_code == 0, result.stderr
    assert "params:\n  name  type   value  reads_as\n  x     float  1      1\n" in result.stdout
    assert result.stdout.endswith("results: no breed loop here to take a metric from; pass --metric NAME to rank this "
                                  "group's runs (none recorded yet)\n")
    GeneticFuckery(dbfile=db_path, pid=1).record({"bt": {"profit": 3, "trades": 2}}, dataset="d1")
    assert run_gf("report", "--db", db_path, "1").stdout.endswith("(recorded: bt.profit, bt.trades)\n")
    data = json.loads(run_gf("report", "--db", db_path, "1", "--json").stdout)[0]
    assert (data["metric"], data["best"], data["recorded"]) == (None, [], ["bt.profit", "bt.trades"])
    ranked = json.loads(run_gf("report", "--db", db_path, "1", "--metric", "profit", "--json").stdout)[0]
    assert ranked["best"][0]["score"] == 3 and ranked["recorded"] == ["bt.profit", "bt.trades"]


def test_report_ranks_each_dataset_even_with_a_metric_that_keeps_one_run_per_algo(load_text, db_path, run_gf):
    load_text("x = 5\n")

    def trading(params, dataset):
        edge = {"d1": 1.0, "d2": 2.0, "d3": 3.0}[dataset]
        return {"fast": {"profit": edge * 10 - params.x, "trades": 10}, "slow": {"profit": edge, "trades": 4}}

    GeneticFuckery(dbfile=db_path).evolve(trading, metric="max profit min trades", generations=1, population=2,
                                          datasets=["d1", "d2", "d3"], seed=1)
    data = json.loads(run_gf("report", "--db", db_path, "1", "--json").stdout)[0]
    assert data["metric"] == "max profit min trades"
    # every dataset and algo of the group, not one row per algo over all datasets
    assert {(row["dataset"], row["algo"]) for row in data["best"]} == {
        (dataset, algo) for dataset in ("d1", "d2", "d3") for algo in ("fast", "slow")}
    assert [row["score"] for row in data["best"]] == sorted((row["score"] for row in data["best"]), reverse=True)
    assert data["best"][0] == {"dataset": "d3", "algo": "fast", "score": 2.5, "run": data["best"][0]["run"]}


def test_report_with_an_sql_metric_whose_scores_are_text(bred, run_gf, tmp_path):
    sql = tmp_path / "score.sql"
    sql.write_text("SELECT r.id AS run, printf('%.3f', v.value) AS score FROM runs r JOIN results v ON v.run = r.id "
                   "WHERE v.name = 'value' AND r.dataset = :dataset ORDER BY score LIMIT :limit\n")
    result = run_gf("report", "--db", bred, "6", "--metric-sql", sql, "--minimize", "--json")
    assert result.exit_code == 0, result.stderr
    [data] = json.loads(result.stdout)
    assert {row["dataset"] for row in data["best"]} == {"d1", "d2"}
    assert all(isinstance(row["score"], str) for row in data["best"])


def test_report_of_a_missing_group_says_so_before_asking_for_a_metric(load_text, db_path, run_gf):
    load_text("x = 1\n")
    result = run_gf("report", "--db", db_path, "99")
    assert result.exit_code == 2 and "group 99 does not exist" in result.stderr


def test_compare_text_and_html(bred, tmp_path, run_gf, load_text):
    other = tmp_path / "other.db"
    (tmp_path / "o.js").write_text("x = 2\nn_int = 0\n")
    run_gf("load", "--db", other, tmp_path / "o.js")
    GeneticFuckery(dbfile=other, pid=1).record(objective(GeneticFuckery(dbfile=other, pid=1).params, "d1"),
                                               dataset="d1")
    page = tmp_path / "compare.html"
    result = run_gf("compare", bred, other, "--metric", "value", "--minimize", "--html", page)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [bred, str(other)]
    assert lines[1].split()[:2] == ["best", "group"] and lines[1].split()[-1] == "1"
    assert any(line.startswith("* x ") for line in lines)
    html = page.read_text()
    assert html.startswith("<!doctype html>") and "<tr class='differs'><th>x</th>" in html
    assert "<style>" in html and "http" not in html  # self-contained
    data = json.loads(run_gf("compare", bred, other, "--metric", "value", "--minimize", "--json").stdout)
    assert data["databases"][1]["group"] == 1 and {p["name"]: p["differs"] for p in data["params"]}["x"] in (True, False)


def test_compare_says_which_way_each_database_ranks_and_which_hold_outs_left_groups_out(tmp_path, run_gf):
    """Each database's best group is the best of those scored on the most of its datasets (as in gf best):
    a hold-out run on one group made it the best alone, with no word; the direction was in --json only."""
    databases = []
    for name, minimize in (("up.db", False), ("down.db", True)):
        path = str(tmp_path / name)
        for x in (1, 2, 3):
            (tmp_path / "p.js").write_text(f"x = {x}\n")
            run_gf("load", "--db", path, tmp_path / "p.js")
        for group, score in ((1, 1.0), (2, 5.0), (3, 3.0)):
            for dataset in ("d1", "d2"):
                GeneticFuckery(dbfile=path, pid=group).record({"a": {"v": score}}, dataset=dataset)
        conn = store.connect(path)
        with conn:  # a loop remembered the direction, as gf breed --minimize would have
            conn.execute("INSERT INTO loops (uid, key, args, started, status, target) VALUES (?, ?, ?, '2026', "
                         "'done', 1)", (name, name, json.dumps({"metric": "v", "minimize": minimize})))
        conn.close()
        databases.append(path)
    GeneticFuckery(dbfile=databases[0], pid=3).record({"a": {"v": 0.0}}, dataset="holdout-2024")
    page = tmp_path / "c.html"
    result = run_gf("compare", *databases, "--html", page)  # each by its own loop's metric and way
    assert result.exit_code == 0, result.stderr
    rows = {line.split()[0] + " " + line.split()[1]: line for line in result.stdout.splitlines()[1:3]}
    assert rows["best group"].split()[2:] == ["3", "1"]  # up.db: group 3 alone was on every dataset
    assert rows["metric v"].split("v ", 1)[1].split() == ["(higher", "is", "better)", "v", "(lower", "is", "better)"]
    assert f"note: {databases[0]}: 1 group(s) scored on the most datasets are ranked; 2 more lack holdout-2024: " \
        "rank over the other datasets with --datasets-deny holdout-2024" in result.stderr
    html = page.read_text()
    assert "<td>v (higher is better)</td><td>v (lower is better)</td>" in html and "lack holdout-2024" in html
    data = json.loads(run_gf("compare", *databases, "--json", "--datasets-deny", "holdout*").stdout)
    assert [(entry["group"], entry["score"], entry["note"]) for entry in data["databases"]] == [(2, 5.0, None),
                                                                                               (1, 1.0, None)]
    refused = run_gf("compare", *databases, "--metric", "v", "--datasets-allow", "nothing")
    assert refused.exit_code == 2 and "leave no dataset" in refused.stderr


def test_rerun_runs_again_with_each_runs_group_and_dataset(load_text, db_path, run_gf):
    load_text("x = 1\n")
    load_text("x = 2\n")
    assert run_gf("run", "--db", db_path, PROGRAM, "aa", "bbb").exit_code == 0
    conn = store.connect(db_path)
    run_of = {(group, dataset): run for run, group, dataset in conn.execute("SELECT id, group_id, dataset FROM runs")}
    wanted = [str(run_of[(1, "bbb")]), str(run_of[(2, "aa")])]  # runs finish in any order with -j 2
    printed = run_gf("rerun", "--db", db_path, PROGRAM, *wanted, "--print").stdout.splitlines()
    assert [line.split()[1:3] for line in printed] == [["GF_PARAM_GROUP=1", "GF_DATA=bbb"],
                                                       ["GF_PARAM_GROUP=2", "GF_DATA=aa"]]
    result = run_gf("rerun", "--db", db_path, PROGRAM, *wanted)
    assert result.exit_code == 0 and result.stdout == "2 rerun: 2 ok, 0 failed\n"
    assert conn.execute("SELECT group_id, dataset FROM runs WHERE id > 4 ORDER BY group_id").fetchall() == [
        (1, "bbb"), (2, "aa")]
    result = run_gf("rerun", "--db", db_path, PROGRAM, wanted[0], "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == {"rerun": 1, "ok": 1, "failed": 0}
    result = run_gf("rerun", "--db", db_path, PROGRAM, "99")
    assert result.exit_code == 2 and "run 99 does not exist" in result.stderr


def test_without_a_metric_a_metric_sql_loop_is_scored_by_the_query_it_stored(load_text, db_path, tmp_path, gf_process):
    """The loop's --metric-sql file was named by a path relative to its folder, and may change later: report,
    compare and plot (from anywhere) rank by the query the loop stored, in the direction it bred."""
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    load_text("x = 5\n")
    query = work / "score.sql"
    query.write_text("SELECT runs.id AS run, results.value AS score FROM runs JOIN results ON results.run = runs.id "
                     "WHERE runs.dataset = :dataset AND runs.status = 'ok' AND results.name = 'value' "
                     "ORDER BY score ASC LIMIT :limit\n")
    assert gf_process("run", "--db", db_path, PROGRAM, "d1", "-j", "1").returncode == 0
    bred = gf_process("breed", "--db", db_path, "--metric-sql", "score.sql", "--minimize", "--population", "3",
                      "--seed", "1", "-j", "1", PROGRAM, cwd=work)
    assert bred.returncode == 0, bred.stderr
    query.write_text("SELECT nonsense\n")  # edited since: the loop's own query still ranks
    for folder in (work, elsewhere):
        shown = gf_process("report", "1", "--db", db_path, "--json", cwd=folder)
        assert shown.returncode == 0, shown.stderr
        (found,) = json.loads(shown.stdout)
        assert (found["metric"], found["minimize"]) == ("sql:score.sql", True)
        assert [row["score"] for row in found["best"]] == [(5 - 3) ** 2 + len("d1")]
    compared = gf_process("compare", db_path, "--json", cwd=elsewhere)
    assert compared.returncode == 0, compared.stderr
    best = json.loads(compared.stdout)["databases"][0]
    conn = store.connect(db_path, create=False)
    lowest = conn.execute("SELECT min(value) FROM results WHERE name = 'value'").fetchone()[0]
    assert (best["metric"], best["minimize"], best["score"]) == ("sql:score.sql", True, lowest)
    plotted = gf_process("plot", "progress", "--db", db_path, "-o", elsewhere / "progress.png", cwd=elsewhere)
    assert plotted.returncode == 0, plotted.stderr
