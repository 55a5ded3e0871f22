"""Dot access to a group, and recording runs with report() and record()."""

import math
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gf import GeneticFuckery, GroupNotFound, InputError, ResultError, StoreError, store
from conftest import count_rows

ISSUE_FILE = """\
seconds_15__stop_threshold__fast = 12.3
seconds_15__stop_threshold__slow = 7.2
overall__decay_rate_int  = 5
runtime__single_trigger_bool = 1
runtime__exit_check_choice = ["custom", "defined", "30 seconds", "on-demand"]
seconds_15__stop_threshold__slow < seconds_15__stop_threshold__fast
r__x_real_0 = 0.25
r__y_real_1 = 1.75
"""


@pytest.fixture
def g(load_text, db_path):
    load_text(ISSUE_FILE)
    return GeneticFuckery(dbfile=db_path, pid=1)


def test_dot_access_reads_typed_values(g):
    assert g.seconds_15.stop_threshold.fast == 12.3 and type(g.seconds_15.stop_threshold.fast) is float
    assert g.overall.decay_rate_int == 5 and type(g.overall.decay_rate_int) is int
    assert g.runtime.single_trigger_bool is True
    assert g.runtime.exit_check_choice == "custom"
    assert g.r.x_real_0 == 0.25 and g.r.y_real_1 == 1.75


def test_dot_access_is_case_insensitive_and_has_item_access(g):
    assert g.SECONDS_15.Stop_Threshold.FAST == 12.3
    assert g["seconds_15"]["stop_threshold"]["slow"] == 7.2
    assert "fast" in g.seconds_15.stop_threshold and "FAST" in g.seconds_15.stop_threshold


def test_sub_readers_are_passed_around_and_cannot_reach_up(g):
    def duration(seconds):
        return getattr(g, f"seconds_{seconds}")

    d15 = duration(15)
    assert (d15.stop_threshold.fast, d15.stop_threshold.slow) == (12.3, 7.2)
    assert not hasattr(d15, "overall")
    assert sorted(d15.stop_threshold) == ["fast", "slow"]


def test_unknown_name_raises_attribute_error_with_full_path_and_closest_names(g, db_path):
    with pytest.raises(AttributeError) as error:
        g.seconds_15.stop_threshold.fastt
    assert str(error.value) == (
        f"no parameter seconds_15.stop_threshold.fastt in group 1 of {db_path}; "
        "closest: seconds_15.stop_threshold.fast, seconds_15.stop_threshold.slow"
    )
    with pytest.raises(KeyError):
        g.seconds_15["nope"]
    assert hasattr(g, "overall") and not hasattr(g, "underall")


def test_the_original_tools_methods_say_what_gf_calls_them(g, db_path):
    """A program written for the original tool calls g.highest()/g.lowest()/g.pids(): the error says what to call."""
    with pytest.raises(AttributeError) as error:
        g.highest
    assert str(error.value) == (f"no parameter highest in group 1 of {db_path} (the original geneticfuckery's "
                                "highest() is g.top(metric, n) (g.best(metric) for the single best group) here)")
    with pytest.raises(AttributeError, match=r"lowest\(\) is g.top\(metric, n, minimize=True\) here"):
        g.lowest
    with pytest.raises(AttributeError, match="no parameter overall.highest in group 1 of [^(]*$"):
        g.overall.highest  # a param's own part of that name is no method


def test_dir_lists_parameters(g):
    assert {"seconds_15", "overall", "runtime", "r"} <= set(dir(g))
    assert dir(g.seconds_15.stop_threshold) == ["fast", "slow"]


def test_group_is_read_once_not_once_per_attribute(g):
    queries = []
    g.conn.set_trace_callback(queries.append)
    for _ in range(3):
        g.seconds_15.stop_threshold.fast
        g.overall.decay_rate_int
    assert [q for q in queries if "FROM params" in q] == [
        next(q for q in queries if "FROM params" in q)
    ]


def test_environment_chooses_database_group_and_dataset(g, db_path, monkeypatch):
    monkeypatch.setenv("GF_DB", db_path)
    monkeypatch.setenv("GF_PARAM_GROUP", "1")
    monkeypatch.setenv("GF_DATA", "SPY-2022-05")
    from_env = GeneticFuckery()
    assert (from_env.dbfile, from_env.group, from_env.pid, from_env.dataset) == (db_path, 1, 1, "SPY-2022-05")
    assert from_env.overall.decay_rate_int == 5


def test_missing_group_lists_the_ids_that_exist(g, db_path, load_text):
    load_text("a = 1")
    load_text("a = 2")
    with pytest.raises(GroupNotFound) as error:
        GeneticFuckery(dbfile=db_path, pid=7).overall
    assert str(error.value) == f"group 7 does not exist in {db_path}; groups there: 1-3"


@pytest.mark.parametrize("group", [2**70, -(2**70), 2**63, -1])
def test_an_unknown_group_id_even_beyond_sqlite_integers_is_group_not_found(g, db_path, group):
    """As a missing id: not an OverflowError from SQLite (from reading, recording or evolving); nothing written."""
    before = Path(db_path).read_bytes()
    message = f"group {group} does not exist in {db_path}; groups there: 1"
    with pytest.raises(GroupNotFound) as error:
        GeneticFuckery(dbfile=db_path, pid=group).overall
    assert str(error.value) == message
    with pytest.raises(GroupNotFound) as error:
        GeneticFuckery(dbfile=db_path, pid=group, dataset="d").record({"a": {"b": 1}})
    assert str(error.value) == message
    reader = GeneticFuckery(dbfile=db_path, pid=group)
    with pytest.raises(GroupNotFound) as error:
        reader.evolve(lambda params, dataset: {"a": {"b": 1}}, metric="b", generations=1, datasets=["d"],
                      progress=False)
    assert str(error.value) == message
    reader.close()
    assert Path(db_path).read_bytes() == before


def test_gf_param_group_beyond_sqlite_integers_names_the_missing_group(g, db_path, tmp_path):
    """A program run with GF_PARAM_GROUP=99999999999999999999 (a typo, a wrong variable) stops on
    gf.GroupNotFound, as with GF_PARAM_GROUP=-1, not on SQLite's OverflowError."""
    program = tmp_path / "program.py"
    program.write_text("import gf\nprint(gf.GeneticFuckery().overall.decay_rate_int)\n")
    env = {**os.environ, "GF_DB": db_path, "GF_PARAM_GROUP": "99999999999999999999"}
    done = subprocess.run([sys.executable, str(program)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (f"gf.errors.GroupNotFound: group 99999999999999999999 does not exist in "
                                            f"{db_path}; groups there: 1")


def test_no_group_chosen_and_bad_environment(g, db_path, monkeypatch, load_text):
    # the seed's first example, GeneticFuckery(dbfile=...) with no pid: the only group, recorded as such
    only = GeneticFuckery(dbfile=db_path)
    assert only.pid is None and only.overall.decay_rate_int == 5 and only.pid == 1 and "group=1" in repr(only)
    only.record({"a": {"b": 1}}, dataset="d")
    assert store.connect(db_path).execute("SELECT group_id FROM runs").fetchall() == [(1,)]
    load_text("a = 2")
    with pytest.raises(InputError, match=r"no parameter group chosen .* pass pid=N or set GF_PARAM_GROUP "
                                         r"\(groups there: 1-2\)"):
        GeneticFuckery(dbfile=db_path).overall
    monkeypatch.setenv("GF_PARAM_GROUP", "one")
    with pytest.raises(InputError, match="GF_PARAM_GROUP='one' is not a group id"):
        GeneticFuckery(dbfile=db_path)


def test_missing_database_is_not_created(tmp_path):
    path = tmp_path / "nope.db"
    with pytest.raises(StoreError, match="no such database"):
        GeneticFuckery(dbfile=path, pid=1).anything
    assert not path.exists()


def test_method_names_shadow_params_but_item_access_reads_them(load_text, db_path, run_gf, tmp_path):
    (tmp_path / "shadow.js").write_text("report__x = 1\nplain = 2\n")
    loaded = run_gf("load", "--db", db_path, tmp_path / "shadow.js")
    assert loaded.stderr == "warning: report is also a GeneticFuckery method: read it as g['report'], not g.report\n"
    (tmp_path / "instance.js").write_text("dataset__x = 1\n")  # set on every instance, not a method
    assert run_gf("load", "--db", db_path, tmp_path / "instance.js").stderr == (
        "warning: dataset is also a GeneticFuckery attribute: read it as g['dataset'], not g.dataset\n")
    g = GeneticFuckery(dbfile=db_path, pid=1)
    assert callable(g.report)
    assert g["report"].x == 1.0


# -- report() and record() ------------------------------------------------------------------


def rows(db_path, sql, args=()):
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def test_report_writes_one_run_with_lower_cased_results(g, db_path, monkeypatch):
    monkeypatch.setenv("GF_DATA", "SPY-2022-05")
    g = GeneticFuckery(dbfile=db_path, pid=1)
    with g.report("RESULT GROUP A") as r:
        r.update(dict(got=dict(count=3), failed=dict(widgets=9)))
        r["other"] = dict(Great=4)
        r["Nested"]["Auto"] = 2.5
    assert rows(db_path, "SELECT run, algo, name, value FROM results") == [
        (1, "got", "count", 3), (1, "failed", "widgets", 9), (1, "other", "great", 4), (1, "nested", "auto", 2.5)
    ]
    (run,) = rows(db_path, "SELECT group_id, dataset, family, label, status, host, process_id, command, "
                           "started <= stopped, error, length(uid) FROM runs")
    assert run[:5] == (1, "SPY-2022-05", "SPY-2022-05", "RESULT GROUP A", "ok")
    assert run[5] == os.uname().nodename and run[6] == os.getpid() and run[7]
    assert run[8:] == (1, None, 26)


def test_report_that_raises_records_a_failed_run_and_propagates(g, db_path):
    with pytest.raises(ZeroDivisionError):
        with g.report("boom") as r:
            r["a"]["b"] = 1
            1 / 0
    assert rows(db_path, "SELECT status, error FROM runs") == [("failed", "ZeroDivisionError: division by zero")]
    assert count_rows(db_path, "results") == 0


@pytest.mark.parametrize(
    "results, message",
    [
        ({"a": {"run": 1}}, "result name 'run' (in 'a') is reserved"),
        ({"a": {"Dataset": 1}}, "result name 'Dataset' (in 'a') is reserved"),
        ({"a": {"x": "12"}}, "result a.x = '12' is not a number or a boolean"),
        ({"a": {"x": None}}, "result a.x = None is not a number or a boolean"),
        ({"a": {"x": [1]}}, "is not a number or a boolean"),
        ({"a": 5}, "results['a'] must be a dict {name: number}, got int"),
        ({"a.b": {"x": 1}}, "algo 'a.b' contains '.'"),
        ({"a": {"": 1}}, "result name '' must be a non-empty string"),
        ({"a": {"X": 1, "x": 2}}, "collide once lower-cased"),
        ({"a": {1: 1}}, "result name 1 must be a non-empty string"),
    ],
)
def test_bad_results_raise_before_anything_is_written(g, db_path, results, message):
    with pytest.raises(ResultError) as error:
        g.record(results)
    assert message in str(error.value)
    with pytest.raises(ResultError):
        with g.report() as r:
            r.update(results)
    assert count_rows(db_path, "runs") == 0


def test_nan_and_infinity_are_kept_as_null_with_a_warning(g, db_path, capsys):
    run = g.record({"bt": {"sharpe": math.nan, "max": math.inf, "trades": 0, "ok": True}}, "no trades")
    assert run == 1
    assert rows(db_path, "SELECT name, value FROM results") == [("sharpe", None), ("max", None), ("trades", 0), ("ok", 1)]
    assert capsys.readouterr().err.splitlines()[0] == "gf warning: result bt.sharpe is nan: stored as NULL, never ranked"


def test_record_returns_run_ids_and_dataset_argument_wins(g, db_path, capsys, monkeypatch):
    import gf.params

    monkeypatch.setattr(gf.params, "_NO_DATASET_WARNED", [])  # as in a new process
    assert g.record({"a": {"x": 1}}, dataset="one") == 1
    with g.report(dataset="two") as r:
        r["a"]["x"] = 2
    assert rows(db_path, "SELECT id, dataset FROM runs") == [(1, "one"), (2, "two")]
    assert capsys.readouterr().err == ""
    assert g.record({"a": {"x": 3}}) == 3  # run by hand without GF_DATA: recorded, with a warning
    assert capsys.readouterr().err == (
        "gf warning: run of group 1 recorded with no dataset: GF_DATA is not set (gf run and gf breed set it; by "
        "hand, GF_DATA=NAME python ...); rankings by dataset leave it out\n")
    assert rows(db_path, "SELECT dataset FROM runs WHERE id = 3") == [(None,)]
    assert g.record({"a": {"x": 4}}) == 4 and capsys.readouterr().err == ""  # said once a process


def test_seed_scoring_sql_runs_unchanged(g, db_path):
    g.record({"crossover": {"profit": 10, "trades": 5}}, dataset="SPY")
    g.record({"crossover": {"profit": 30, "trades": 7}}, dataset="TSLA")
    found = rows(
        db_path,
        "SELECT pid, algo, value FROM results JOIN run_meta USING (run) WHERE dataset = ? AND name = 'profit'",
        ("TSLA",),
    )
    assert found == [(1, "crossover", 30)]
    assert rows(db_path, "SELECT pid, parents FROM param_meta") == [(1, None)]
