"""Importing the original geneticfuckery's database: files built by hand with sqlite3, read back with gf."""

import json
import os
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

from gf import GeneticFuckery, InputError, plugins, store
from gf.legacy import default_target, import_legacy

LEGACY_SCHEMA = [
    "CREATE TABLE param_meta (pid INTEGER PRIMARY KEY, generated, parents)",
    "CREATE TABLE params (pid INTEGER, param TEXT, name TEXT, value, PRIMARY KEY (pid, param, name))",
    "CREATE TABLE run_meta (run INTEGER PRIMARY KEY, pid INTEGER, start, stop, family, dataset)",
    "CREATE TABLE results (run INTEGER, algo TEXT, name TEXT, value)",
]

GROUPS = [
    # pid, generated (unix float, text, unix int), parents (free text)
    (1, 1671800000.5, None),
    (2, "2022-12-23 13:20:00", "1"),
    (3, 1671900000, "1, 2 TSLA-2022-05-24"),
]

PARAMS = [
    # values as JSON text, as raw REAL/INTEGER, and as JSON text of a JSON string
    (1, "seconds_15__stop_threshold", "fast", "12.3"),
    (1, "seconds_15__stop_threshold", "slow", 7.2),
    (1, "overall", "decay_rate_int", "5"),
    (1, "runtime", "single_trigger_bool", 1),
    (1, "runtime", "exit_check_choice", '["custom", "defined", "30 seconds"]'),
    (1, "runtime", "ratio_real_0", "0.25"),
    (2, "seconds_15__stop_threshold", "fast", 13),
    (2, "seconds_15__stop_threshold", "slow", "7.5"),
    (2, "overall", "decay_rate_int", 6),
    (2, "runtime", "single_trigger_bool", "false"),
    (2, "runtime", "exit_check_choice", json.dumps(json.dumps(["defined", "custom"]))),
    (2, "runtime", "ratio_real_0", 0.5),
    (3, "seconds_15__stop_threshold", "fast", "14.5"),
    (3, "seconds_15__stop_threshold", "slow", 8.0),
    (3, "overall", "decay_rate_int", "7.0"),
    (3, "runtime", "single_trigger_bool", "true"),
    (3, "runtime", "exit_check_choice", '["30 seconds", "custom"]'),
    (3, "runtime", "ratio_real_0", 0.75),
]

RUNS = [
    # run, pid, start, stop, family, dataset
    (1, 1, 1671800100, 1671800160.25, "TSLA-2022-05-24", "TSLA-2022-05-24"),
    (2, 1, 1671800200.0, 1671800230.0, "SHOP-2022-05-27", "SHOP-2022-05-27"),
    (3, 2, "2022-12-23 13:30:00", "2022-12-23 13:31:00", "TSLA-2022-05-24", "TSLA-2022-05-24"),
    (4, 3, 1671900100, None, "TSLA-2022-05-24", "TSLA-2022-05-24"),
]

RESULTS = [
    (1, "got", "count", 3),
    (1, "progress", "success", 99),
    (1, "trade", "profit", 12.5),
    (2, "got", "count", 4),
    (2, "trade", "profit", None),
    (3, "got", "count", 5),
    (3, "trade", "profit", -3.25),
    (4, "got", "count", 6),
    (4, "trade", "profit", 20.0),
]

SEED_QUERY = """SELECT run, pid, algo, name, value FROM results JOIN run_meta USING (run)
                WHERE dataset = ? ORDER BY run, algo, name"""


#: The same tables with no column types: the old tool's files may hold any value in any column.
UNTYPED_SCHEMA = [
    "CREATE TABLE param_meta (pid, generated, parents)",
    "CREATE TABLE params (pid, param, name, value)",
    "CREATE TABLE run_meta (run, pid, start, stop, family, dataset)",
    "CREATE TABLE results (run, algo, name, value)",
]


def make_legacy(path, groups=GROUPS, params=PARAMS, runs=RUNS, results=RESULTS, schema=LEGACY_SCHEMA):
    conn = sqlite3.connect(path)
    for statement in schema:
        conn.execute(statement)
    conn.executemany("INSERT INTO param_meta VALUES (?, ?, ?)", groups)
    conn.executemany("INSERT INTO params VALUES (?, ?, ?, ?)", params)
    conn.executemany("INSERT INTO run_meta VALUES (?, ?, ?, ?, ?, ?)", runs)
    conn.executemany("INSERT INTO results VALUES (?, ?, ?, ?)", results)
    conn.commit()
    conn.close()
    return str(path)


@pytest.fixture
def types():
    return plugins.get_types()


@pytest.fixture
def legacy(tmp_path):
    return make_legacy(tmp_path / "old.db")


@pytest.fixture
def target(tmp_path):
    return str(tmp_path / "new.db")


def rows(path, sql, *args):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def counts(path):
    return {table: rows(path, f"SELECT count(*) FROM {table}")[0][0]
            for table in ("groups", "params", "group_parents", "runs", "results")}


def test_the_original_tools_bred_groups_keep_their_parents(tmp_path, target, types, gf_process):
    """The original tool stored a bred group's parents as JSON bytes naming the two runs it was bred from
    (``pA``, ``pB``) and a loaded group's origin: the runs' groups become the lineage."""
    blob = lambda value: json.dumps(value, separators=(",", ":")).encode()  # what its orjson.dumps wrote
    groups = [(1, 1671800000.5, blob({"origin": "bootstrapping via a.js"})),
              (2, 1671800001.0, blob({"origin": "bootstrapping via b.js"})),
              (3, 1671800002.0, blob({"highest": True, "a": 0, "b": 1, "pA": 2, "pB": 1})),
              (4, 1671800003.0, blob({"highest": False, "a": 1, "b": 2, "pA": 1, "pB": 1})),
              (5, 1671800004.0, blob({"highest": True, "a": 0, "b": 1, "pA": 4, "pB": 99}))]
    params = [(pid, "p", "x", float(pid)) for pid in range(1, 6)]
    runs = [(1, 1, 1671800100, 1671800101, "spy", "SPY"), (2, 2, 1671800102, 1671800103, "spy", "SPY"),
            (4, 3, 1671800104, 1671800105, "{spy}", "SPY")]
    old = make_legacy(tmp_path / "bred.db", groups=groups, params=params, runs=runs, results=[])
    report = import_legacy(old, target, types)
    assert report["imported"]["parents"] == 4 and report["ignored_parent_words"] == 1  # run 99 is gone
    assert rows(target, "SELECT group_id, parent_id, position FROM group_parents ORDER BY 1, 3") == [
        (3, 2, 0), (3, 1, 1),  # pA's run 2 is group 2's, pB's run 1 group 1's
        (4, 1, 0),  # both runs of group 1: one parent
        (5, 3, 0)]  # run 4 is group 3's
    again = gf_process("import-legacy", old, "--into", tmp_path / "cli.db", cwd=tmp_path)  # what people read
    assert (again.returncode, again.stdout) == (0, (
        f"imported {old} into {tmp_path / 'cli.db'}: 5 groups (5 params, 4 parent links), 3 runs (0 results)\n"
        "1 parent reference named no legacy group or run: dropped (the lineage kept: `gf lineage ID`)\n"))


def test_breeding_from_a_kept_value_its_type_refuses_says_which_param_to_fix(tmp_path, types, gf_process):
    """A legacy value that does not fit its type is kept (warned): every child carrying it is refused, and the
    error names the param to rewrite, not constraints to widen."""
    old = make_legacy(tmp_path / "odd.db", params=PARAMS + [(pid, "", "mode_choice", '"abc"') for pid in (1, 2, 3)])
    import_legacy(old, tmp_path / "new.db", types)
    bred = gf_process("breed", "--db", tmp_path / "new.db", "--metric", "profit", "--seed", "1", cwd=tmp_path)
    assert bred.returncode == 2 and bred.stderr.count("\n") == 1
    assert bred.stderr.endswith("the last: mode_choice: expected a non-empty list of options, got the string 'abc'); "
                                "a value its type refuses: check mode_choice in the parents (gf show ID), and rewrite "
                                "it there (gf load --parent ID FILE)\n")


@pytest.mark.parametrize("breeder", ["classic", "ga", "default"])
def test_every_breeder_names_a_kept_string_where_a_number_belongs(tmp_path, types, gf_process, breeder):
    """A string kept in an _int (the original tool never checked types): the classic and ga breeders failed with
    an unexpected TypeError doing arithmetic on it; now each refuses its children naming the param."""
    old = make_legacy(tmp_path / "odd.db", params=[row for row in PARAMS if row[2] != "decay_rate_int"]
                      + [(pid, "overall", "decay_rate_int", '"abc"') for pid in (1, 2, 3)])
    import_legacy(old, tmp_path / "new.db", types)
    bred = gf_process("breed", "--db", tmp_path / "new.db", "--breeder", breeder, "--metric", "profit", "--seed", "1",
                      cwd=tmp_path)
    assert bred.returncode == 2 and bred.stderr.count("\n") == 1, bred.stderr
    assert ("the last: overall__decay_rate_int: expected a number, got the string 'abc'); a value its type refuses: "
            "check overall__decay_rate_int in the parents") in bred.stderr


def test_the_text_summary_prints_each_warning_as_a_line(tmp_path, gf_process):
    old = make_legacy(tmp_path / "odd.db", params=PARAMS + [(1, "", "n_int", "1.5")])
    done = gf_process("import-legacy", old, "--into", tmp_path / "new.db", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.splitlines()[-1] == (
        "warning: legacy group 1: n_int = 1.5 does not fit type int (expected a whole number, got 1.5); kept as it is")


def test_groups_keep_their_ids_and_read_back_typed(legacy, target, types):
    report = import_legacy(legacy, target, types)
    assert report["imported"] == {"groups": 3, "params": 18, "parents": 3, "runs": 4, "results": 9}
    assert report["skipped"] == {"groups": 0, "params": 0, "runs": 0, "results": 0}
    assert report["remapped"] == {"groups": {}, "runs": {}}
    assert report["warnings"] == []
    assert report["ignored_parent_words"] == 1  # the dataset name in group 3's family text
    assert json.loads(json.dumps(report))["target"] == target  # what `--json` prints

    g = GeneticFuckery(dbfile=target, pid=1)
    assert g.seconds_15.stop_threshold.fast == 12.3
    assert g.seconds_15.stop_threshold.slow == 7.2
    assert g.overall.decay_rate_int == 5 and type(g.overall.decay_rate_int) is int
    assert g.runtime.single_trigger_bool is True
    assert g.runtime.exit_check_choice == "custom"
    assert g.runtime.ratio_real_0 == 0.25
    g.close()
    g = GeneticFuckery(dbfile=target, pid=2)
    assert type(g.seconds_15.stop_threshold.fast) is float and g.seconds_15.stop_threshold.fast == 13.0
    assert g.runtime.single_trigger_bool is False
    assert g.runtime.exit_check_choice == "defined"  # the double-encoded list was decoded
    g.close()
    g = GeneticFuckery(dbfile=target, pid=3)
    assert g.overall.decay_rate_int == 7 and type(g.overall.decay_rate_int) is int
    assert g.runtime.exit_check_choice == "30 seconds"
    g.close()

    conn = store.connect(target, create=False)
    # breeding works on the stored value: a choice keeps its whole list, a bool is JSON true
    stored = {name: (value, type_name) for name, value, type_name, _ in store.group_params(conn, 2)}
    assert stored["runtime__exit_check_choice"] == ('["defined", "custom"]', "choice")
    assert stored["runtime__single_trigger_bool"] == ("false", "bool")
    assert [store.group_parents(conn, group) for group in (1, 2, 3)] == [[], [1], [1, 2]]
    conn.close()


def test_groups_and_runs_record_origin_times_and_ulid_shaped_uids(legacy, target, types):
    import_legacy(legacy, target, types)
    groups = rows(target, "SELECT id, uid, created, origin FROM groups ORDER BY id")
    assert [created for _, _, created, _ in groups] == [
        "2022-12-23T12:53:20.500+00:00", "2022-12-23 13:20:00", "2022-12-24T16:40:00.000+00:00"]
    assert {origin for *_, origin in groups} == {f"import-legacy {legacy}"}
    runs = rows(target, "SELECT id, group_id, started, stopped, status, family, dataset FROM runs ORDER BY id")
    assert runs[0] == (1, 1, "2022-12-23T12:55:00.000+00:00", "2022-12-23T12:56:00.250+00:00", "ok",
                       "TSLA-2022-05-24", "TSLA-2022-05-24")
    assert runs[2][2:4] == ("2022-12-23 13:30:00", "2022-12-23 13:31:00")
    assert runs[3][3] is None
    uids = [uid for _, uid, *_ in groups] + [uid for (uid,) in rows(target, "SELECT uid FROM runs")]
    assert len(set(uids)) == 7
    assert all(len(uid) == 26 and set(uid) <= set(store._CROCKFORD) for uid in uids)
    # the ULID's time part is the legacy timestamp, so uids sort like creation times
    assert uids[0][:10] < store.new_ulid()[:10]


def test_seed_results_query_returns_the_same_rows(legacy, target, types):
    import_legacy(legacy, target, types)
    for dataset in ("TSLA-2022-05-24", "SHOP-2022-05-27"):
        assert rows(target, SEED_QUERY, dataset) == rows(legacy, SEED_QUERY, dataset)
    assert rows(target, "SELECT value FROM results WHERE run = 2 AND name = 'profit'") == [(None,)]


def test_legacy_file_is_left_untouched(legacy, target, types):
    before = Path(legacy).read_bytes()
    import_legacy(legacy, target, types)
    assert Path(legacy).read_bytes() == before
    assert not os.path.exists(legacy + "-wal") and not os.path.exists(legacy + "-journal")


def test_second_import_adds_nothing_and_a_grown_file_adds_only_what_is_new(legacy, target, types, tmp_path):
    import_legacy(legacy, target, types)
    before = counts(target)
    again = import_legacy(legacy, target, types)
    assert counts(target) == before
    assert again["imported"] == {"groups": 0, "params": 0, "parents": 0, "runs": 0, "results": 0}
    assert again["skipped"] == {"groups": 3, "params": 18, "runs": 4, "results": 9}
    # a copy of the file elsewhere is the same legacy data
    copy = shutil.copy(legacy, tmp_path / "copy.db")
    assert import_legacy(copy, target, types)["imported"]["groups"] == 0
    # the old tool went on: one more group bred from 3, with one run
    conn = sqlite3.connect(legacy)
    conn.execute("INSERT INTO param_meta VALUES (4, 1672000000, '3')")
    conn.executemany("INSERT INTO params VALUES (4, ?, ?, ?)", [(p, n, v) for pid, p, n, v in PARAMS if pid == 3])
    conn.execute("INSERT INTO run_meta VALUES (5, 4, 1672000100, 1672000200, 'TSLA', 'TSLA-2022-05-24')")
    conn.execute("INSERT INTO results VALUES (5, 'got', 'count', 7)")
    conn.commit()
    conn.close()
    grown = import_legacy(legacy, target, types)
    assert grown["imported"] == {"groups": 1, "params": 6, "parents": 1, "runs": 1, "results": 1}
    assert grown["skipped"] == {"groups": 3, "params": 18, "runs": 4, "results": 9}
    assert rows(target, SEED_QUERY, "TSLA-2022-05-24") == rows(legacy, SEED_QUERY, "TSLA-2022-05-24")
    conn = store.connect(target, create=False)
    assert store.group_parents(conn, 4) == [3]
    conn.close()


def test_ids_are_remapped_when_the_target_already_has_groups(legacy, target, types):
    conn = store.connect(target)
    with store.transaction(conn):
        mine = store.insert_group(conn, params=[("x", "1.0", "float", "1.0")], origin="load mine.js")
        run = {"group_id": mine, "dataset": "mine", "started": store.now(), "status": "ok"}
        store.insert_run(conn, run, [("a", "b", 1)])
    conn.close()
    report = import_legacy(legacy, target, types)
    assert report["remapped"] == {"groups": {1: 2, 2: 3, 3: 4}, "runs": {1: 2, 2: 3, 3: 4, 4: 5}}
    with GeneticFuckery(dbfile=target, pid=2) as g:
        assert g.overall.decay_rate_int == 5
    with GeneticFuckery(dbfile=target, pid=1) as g:
        assert g.x == 1.0
    conn = store.connect(target, create=False)
    assert [store.group_parents(conn, group) for group in (2, 3, 4)] == [[], [2], [2, 3]]
    conn.close()
    mapped = {1: 2, 2: 3, 3: 4}
    expected = [(run + 1, mapped[pid], *rest) for run, pid, *rest in rows(legacy, SEED_QUERY, "TSLA-2022-05-24")]
    assert rows(target, SEED_QUERY, "TSLA-2022-05-24") == expected
    # a second import finds the remapped groups and reports the same mapping
    again = import_legacy(legacy, target, types)
    assert again["imported"]["groups"] == 0 and again["remapped"] == report["remapped"]


def test_a_value_that_does_not_fit_its_type_is_kept_and_warned(tmp_path, target, types):
    params = PARAMS + [(1, "overall", "window_int", "2.5"), (1, "runtime", "mode_choice", '"fast"'),
                       (1, "", "Level", "high")]
    legacy = make_legacy(tmp_path / "odd.db", params=params)
    report = import_legacy(legacy, target, types)
    assert report["imported"]["params"] == 21
    warned = {(w["pid"], w["name"], w["value"], w["type"]) for w in report["warnings"]}
    assert warned == {(1, "overall__window_int", "2.5", "int"),
                      (1, "runtime__mode_choice", '"fast"', "choice"),
                      (1, "level", '"high"', "float")}
    assert all(w["message"].startswith("legacy group 1: ") for w in report["warnings"])
    g = GeneticFuckery(dbfile=target, pid=1)
    assert g.overall.window_int == 2  # what the old tool's int(x) gave
    assert g.level == "high"
    g.close()


def test_orphans_and_repeated_results_are_left_out_with_warnings(tmp_path, target, types):
    runs = RUNS + [(9, 42, 1671800100, None, "x", "x")]
    results = RESULTS + [(1, "got", "count", 30), (9, "got", "count", 1), (77, "got", "count", 1)]
    legacy = make_legacy(tmp_path / "odd.db", runs=runs, results=results)
    report = import_legacy(legacy, target, types)
    assert report["imported"]["runs"] == 4 and report["imported"]["results"] == 9
    messages = [w["message"] for w in report["warnings"]]
    assert messages == [
        "runs 9 name no legacy group; left out with their results",
        "1 legacy results repeat an earlier (run, algo, name); the first value of each is kept",
        "2 legacy results belong to no imported run; left out",
    ]
    assert rows(target, "SELECT value FROM results WHERE run = 1 AND name = 'count'") == [(3,)]


def test_a_file_that_is_not_a_legacy_database_is_refused(tmp_path, target, types):
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE params (pid, param, name, value)")
    conn.close()
    with pytest.raises(InputError) as error:
        import_legacy(other, target, types)
    assert str(error.value) == (
        f"{other}: not an original geneticfuckery database (it has no param_meta, run_meta, results tables)")

    notes = tmp_path / "notes.db"
    notes.write_bytes(b"not a database at all " * 100)
    with pytest.raises(InputError, match=r"notes\.db: not an SQLite database"):
        import_legacy(notes, target, types)

    with pytest.raises(InputError, match=r"missing\.db: no such file"):
        import_legacy(tmp_path / "missing.db", target, types)

    gf_db = str(tmp_path / "gf.db")
    store.connect(gf_db).close()
    with pytest.raises(InputError, match="already a gf database"):
        import_legacy(gf_db, target, types)
    assert not os.path.exists(target)


def test_importing_into_the_legacy_file_itself_is_refused(legacy, types, tmp_path, monkeypatch):
    before = Path(legacy).read_bytes()
    with pytest.raises(InputError, match=r"old\.db: cannot import a legacy database into itself"):
        import_legacy(legacy, legacy, types)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="into itself"):
        import_legacy(legacy, "./old.db", types)
    assert Path(legacy).read_bytes() == before


def test_default_target_is_next_to_the_old_file(legacy, types, tmp_path):
    assert default_target("/data/runs/old.sqlite3") == "/data/runs/old-gf.db"
    report = import_legacy(legacy, None, types)
    assert report["target"] == str(tmp_path / "old-gf.db")
    assert counts(report["target"])["groups"] == 3


def test_legacy_results_that_are_no_finite_number_are_stored_null_and_warned(tmp_path, target, types):
    """'abc' ranked first of all (SQLite sorts text above numbers) and 1e999 as inf; "2.5" is a number."""
    results = RESULTS + [(1, "odd", "text", "abc"), (1, "odd", "huge", 1e999), (1, "odd", "written", "2.5")]
    legacy = make_legacy(tmp_path / "odd.db", results=results)
    report = import_legacy(legacy, target, types)
    assert "2 legacy results are no finite number (text, or infinite); stored as NULL, as report() stores NaN: " \
           "never ranked" in [w["message"] for w in report["warnings"]]
    assert rows(target, "SELECT name, value FROM results WHERE algo = 'odd' ORDER BY name") == [
        ("huge", None), ("text", None), ("written", 2.5)]


def test_a_plugin_type_that_breaks_its_contract_is_named_on_import(tmp_path, target):
    """As gf load does: a validate that forgets its return would store null for every value."""
    from gf import ParamType, PluginError, hookimpl

    class NoReturn(ParamType):
        name, suffix = "noreturn", "_nr"

        def validate(self, value):
            float(value)

    class Plugin:
        @hookimpl
        def gf_register_types(self, register):
            register(NoReturn())

    plugins.register(Plugin(), name="noreturn-type")
    legacy = make_legacy(tmp_path / "odd.db", params=PARAMS + [(1, "", "q_nr", "7")])
    with pytest.raises(PluginError, match=r"type 'noreturn': validate\(7\) returned None"):
        import_legacy(legacy, target, plugins.get_types())
    assert not os.path.exists(target)  # nothing imported, and no empty database left behind


HUGE = "99999999999999999999"  # beyond SQLite's integers


@pytest.mark.parametrize("change, message", [
    ({"groups": [(HUGE, 1671800000, None)], "params": [(HUGE, "", "x", 1)], "runs": [], "results": []},
     f"param_meta row with pid '{HUGE}': the id {HUGE} is beyond SQLite's integers (at most "
     "9,223,372,036,854,775,807); change or delete that row, then import again"),
    ({"runs": RUNS + [(HUGE, 1, 1671800100, None, "d", "d")]},
     f"run_meta row with run '{HUGE}', pid 1: the id {HUGE} is beyond SQLite's integers"),
    ({"params": PARAMS + [(1, "x y", "a.b", "1.5")]},
     "params row with pid 1, param 'x y', name 'a.b': 'x y__a.b' is not a parameter name: use letters, digits and "
     "_ (and __ to nest); rename it there, then import again"),
    ({"params": PARAMS + [(2, "overall__decay_rate_int", "fast", "1")]},
     "legacy group 2: overall__decay_rate_int__fast puts a group under overall__decay_rate_int, which is already a "
     "value; rename one of them in its params rows, then import again"),
    ({"runs": RUNS + [(5, 1, 1671800100, None, b"TSLA", b"\xff\xfeTSLA")]},
     "run_meta row with run 5, pid 1: its dataset is a blob that is not UTF-8 text; store it as text there, then "
     "import again"),
    ({"results": RESULTS + [(1, "trade", b"\xe9", 2)]},
     "results row with run 1, algo 'trade', name b'\\xe9': its name is a blob that is not UTF-8 text"),
], ids=["huge pid", "huge run id", "not a name", "a value and a group", "blob dataset not UTF-8",
        "blob result name not UTF-8"])
def test_a_legacy_row_gf_cannot_keep_is_refused_naming_it_and_nothing_is_written(tmp_path, gf_process, change,
                                                                                 message):
    """One line naming the legacy table and row (an id SQLite cannot hold, a name `gf load` would refuse, text
    that is not text), exit 2, and the target exactly as before; not an unexpected error, nor an import that
    `gf export`/`gf load` or a ranking fails on later."""
    old = make_legacy(tmp_path / "odd.db", schema=UNTYPED_SCHEMA, **change)
    target = tmp_path / "new.db"
    (tmp_path / "mine.js").write_text("mine = 1\n")
    assert gf_process("load", "mine.js", "--db", target, cwd=tmp_path).returncode == 0
    before = target.read_bytes()
    refused = gf_process("import-legacy", old, "--into", target, cwd=tmp_path)
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr.startswith(f"error: {old}: {message}") and refused.stderr.count("\n") == 1, refused.stderr
    assert target.read_bytes() == before and not Path(f"{target}-wal").exists()
    fresh = tmp_path / "fresh.db"
    assert gf_process("import-legacy", old, "--into", fresh, cwd=tmp_path).returncode == 2
    assert not fresh.exists()


def test_blobs_of_utf8_text_are_imported_as_text_and_every_command_reads_them(tmp_path, gf_process):
    """A dataset, family, algo, name or parents text stored as a blob: gf keeps text (a blob dataset made
    gf best, breed, template-run, report and run fail with TypeErrors about bytes)."""
    runs = [(run, pid, start, stop, family.encode(), dataset.encode()) for run, pid, start, stop, family, dataset
            in RUNS]
    results = [(run, algo.encode(), name, value) for run, algo, name, value in RESULTS]
    params = [(pid, param.encode(), name.encode(), value) for pid, param, name, value in PARAMS]
    groups = [(pid, generated, parents.encode() if parents else parents) for pid, generated, parents in GROUPS]
    old = make_legacy(tmp_path / "blobs.db", groups=groups, params=params, runs=runs, results=results,
                      schema=UNTYPED_SCHEMA)
    target = tmp_path / "new.db"
    imported = gf_process("import-legacy", old, "--into", target, "--json", cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["imported"] == {"groups": 3, "params": 18, "parents": 3, "runs": 4,
                                                       "results": 9}
    assert rows(target, "SELECT DISTINCT typeof(dataset), typeof(family) FROM runs") == [("text", "text")]
    assert rows(target, "SELECT DISTINCT typeof(algo), typeof(name) FROM results") == [("text", "text")]
    assert rows(target, SEED_QUERY, "TSLA-2022-05-24") == rows(make_legacy(tmp_path / "plain.db"), SEED_QUERY,
                                                              "TSLA-2022-05-24")
    (tmp_path / "run.py").write_text("import gf\ngf.GeneticFuckery().record({'trade': {'profit': 1}})\n")
    for args in (["best", "--metric", "profit"], ["report", "1", "--json", "--metric", "profit"],
                 ["template-run", "python run.py {}"], ["breed", "--metric", "profit", "--seed", "1"],
                 ["run", f"{sys.executable} run.py {{}}", "--group", "1", "--again"]):
        done = gf_process(*args, "--db", target, cwd=tmp_path)
        assert done.returncode == 0 and "bytes" not in done.stderr, (args, done.stderr)
    assert "GF_DATA=TSLA-2022-05-24 " in gf_process("template-run", "x {}", "--db", target, cwd=tmp_path).stdout


def test_a_choice_whose_options_are_lists_is_imported_and_bred(tmp_path, types, gf_process):
    """Any JSON value is an option (the original tool's own breeder failed on a list: unhashable); the seed's
    classic breeder crosses such a choice and keeps every option."""
    every = make_legacy(tmp_path / "every.db", params=PARAMS + [(pid, "", "nested_choice", "[[1, 2], [3]]")
                                                                 for pid in (1, 2, 3)])
    report = import_legacy(every, tmp_path / "every-gf.db", types)
    assert report["warnings"] == []
    bred = gf_process("breed", "--db", tmp_path / "every-gf.db", "--breeder", "classic", "--metric", "profit",
                      "--seed", "1", cwd=tmp_path)
    assert bred.returncode == 0, bred.stderr
    options = [json.loads(value) for (value,) in rows(
        tmp_path / "every-gf.db", "SELECT value FROM params WHERE name = 'nested_choice' AND group_id > 3")]
    assert options and all(sorted(option, key=json.dumps) == [[1, 2], [3]] for option in options)
