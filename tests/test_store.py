"""The SQLite store: pragmas, schema version, refusing files it cannot use, ULIDs, races."""

import sqlite3
import subprocess
import sys

import pytest

from gf import StoreError, store


def test_new_database_has_wal_foreign_keys_and_busy_timeout(db_path):
    conn = store.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == int(store.BUSY_TIMEOUT * 1000)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
    applied = conn.execute("SELECT migration_set, name FROM _sqlite_migrations").fetchall()
    assert applied == [("gf", "m001_initial"), ("gf", "m002_browsing_views"), ("gf", "m003_launches"),
                       ("gf", "m004_results_best_first"), ("gf", "m005_loop_progress"), ("gf", "m006_launch_owner")]


def test_seed_compatible_tables_and_views(db_path):
    conn = store.connect(db_path)

    def columns(name):
        return [row[1] for row in conn.execute(f"PRAGMA table_info({name})")]

    assert columns("results") == ["run", "algo", "name", "value"]
    assert columns("param_meta") == ["pid", "generated", "parents"]
    assert columns("run_meta") == ["run", "pid", "start", "stop", "family", "dataset"]


def test_reopening_a_current_database_does_not_migrate_again(db_path):
    store.connect(db_path).close()
    conn = store.connect(db_path)
    assert conn.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0] == 6


def test_database_from_a_newer_gf_is_refused(db_path):
    store.connect(db_path).execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError) as error:
        store.connect(db_path)
    assert str(error.value) == (
        f"{db_path}: written by a newer gf (schema 99, this gf knows {store.SCHEMA_VERSION}); "
        "upgrade gf (a newer checkout, then `pip install -e .` in it)"
    )


def test_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database" * 100)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a usable SQLite database"):
        store.connect(path)
    assert path.read_bytes() == before


def test_another_programs_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE params (pid, param, name, value)")
    other.commit()
    other.close()
    with pytest.raises(StoreError, match=r"not a gf one \(it has tables params\).*gf import-legacy"):
        store.connect(path)


@pytest.mark.parametrize("version, has", [(0, "it has tables contacts"), (1, "it has tables contacts"),
                                           (store.SCHEMA_VERSION, "it has tables contacts"),
                                           (store.SCHEMA_VERSION, "it has tables contacts, groups"),
                                           (99, "it has tables contacts"), (3, "it has no gf tables")])
def test_another_programs_database_is_refused_whatever_its_user_version(tmp_path, version, has):
    """Many programs set ``PRAGMA user_version`` too: a file with a version but without gf's tables is
    another program's, refused before anything is written (it was migrated into a gf database)."""
    path = tmp_path / "app.db"
    other = sqlite3.connect(path)
    if "contacts" in has:
        other.execute("CREATE TABLE contacts (id INTEGER PRIMARY KEY, name TEXT)")
    if "groups" in has:  # a table of gf's name is not enough
        other.execute("CREATE TABLE groups (id INTEGER PRIMARY KEY, name TEXT)")
    other.execute(f"PRAGMA user_version = {version}")
    other.commit()
    other.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match=rf"app.db: a SQLite database but not a gf one \({has}\); use a new file"):
        store.connect(path)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["app.db"]


def test_an_older_gf_database_on_storage_gf_cannot_write_says_so(tmp_path):
    """An older gf's file needs upgrading once; where gf cannot write it (read-only storage), the message
    says that, not that the file is unusable."""
    path = tmp_path / "old.db"
    store.connect(path).close()
    conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, isolation_level=None)
    with pytest.raises(StoreError, match=rf"old.db: written by an older gf \(schema 5, this gf uses "
                                         rf"{store.SCHEMA_VERSION}\) on storage gf cannot write: open it once where "
                                         "it is writable"):
        store._upgrade(conn, str(path), 5)
    conn.close()
    # where it can write, the same file upgrades as before
    writable = sqlite3.connect(path, isolation_level=None)
    assert not store._read_only(writable)
    writable.close()


def test_missing_database_without_create(tmp_path):
    with pytest.raises(StoreError, match="no such database"):
        store.connect(tmp_path / "missing.db", create=False)


def test_ulids_are_unique_sortable_crockford():
    ids = [store.new_ulid() for _ in range(2000)]
    assert len(set(ids)) == 2000
    assert all(len(i) == 26 and set(i) <= set(store._CROCKFORD) for i in ids)
    assert [i[:10] for i in ids] == sorted(i[:10] for i in ids)


def test_describe_ids():
    assert store.describe_ids([]) == "none"
    assert store.describe_ids([1, 2, 3, 5, 7, 8]) == "1-3, 5, 7-8"


def test_groups_and_runs_get_ulids(db_path):
    conn = store.connect(db_path)
    with store.transaction(conn):
        group = store.insert_group(conn, params=[("a", "1.0", "float", "1.0")], origin="test")
        run = store.insert_run(conn, {"group_id": group, "started": store.now(), "status": "ok"}, [("x", "y", 1)])
    (group_uid,) = conn.execute("SELECT uid FROM groups").fetchone()
    (run_uid,) = conn.execute("SELECT uid FROM runs WHERE id = ?", (run,)).fetchone()
    assert len(group_uid) == len(run_uid) == 26 and group_uid != run_uid


def test_failed_transaction_leaves_nothing(db_path):
    conn = store.connect(db_path)
    with pytest.raises(sqlite3.IntegrityError):
        with store.transaction(conn):
            store.insert_group(conn, params=[("a", "1.0", "float", "1.0")], origin="test")
            store.insert_run(conn, {"group_id": 99, "started": store.now(), "status": "ok"})
    assert conn.execute("SELECT count(*) FROM groups").fetchone()[0] == 0


OPEN_AT_ONCE = """
import sys, time
from gf import store
start = float(sys.argv[2])
while time.time() < start:
    pass
conn = store.connect(sys.argv[1])
with store.transaction(conn):
    store.insert_group(conn, params=[("a", "1.0", "float", "1.0")], origin="race")
print("ok")
"""


def test_eight_processes_creating_one_database_at_once_all_succeed(db_path):
    import time

    start = str(time.time() + 1.5)
    processes = [
        subprocess.Popen([sys.executable, "-c", OPEN_AT_ONCE, db_path, start], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(8)
    ]
    outcomes = [process.communicate(timeout=120) for process in processes]
    assert [p.returncode for p in processes] == [0] * 8, [err for _, err in outcomes]
    conn = store.connect(db_path)
    assert conn.execute("SELECT count(*) FROM groups").fetchone()[0] == 8
    assert conn.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0] == 6
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_an_older_database_is_migrated_forward(db_path):
    import sqlite_utils

    conn = store.connect(db_path)
    conn.execute("DROP VIEW best_groups")
    conn.execute("DROP VIEW group_scores")
    conn.execute("DROP VIEW lineage")
    conn.execute("DROP VIEW failures")
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm002_browsing_views'")
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    conn = store.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
    assert sqlite_utils.Database(conn).view_names() == [
        "param_meta", "run_meta", "group_scores", "best_groups", "lineage", "failures"]


def test_a_runs_duration_in_seconds_from_run_meta(load_text, db_path):
    """run_meta keeps times as ISO text (the original tool kept seconds since 1970): the README's SQL for a
    run's duration gives it in seconds."""
    import time

    from gf import GeneticFuckery

    load_text("x = 1\n")
    with GeneticFuckery(dbfile=db_path, pid=1).report(dataset="SPY") as r:
        time.sleep(0.2)
        r["bt"]["profit"] = 1
    conn = store.connect(db_path)
    (duration,) = conn.execute("SELECT (julianday(stop) - julianday(start)) * 86400 FROM run_meta").fetchone()
    assert 0.19 <= duration < 30  # times are kept to the millisecond


def test_browsing_views(load_text, db_path):
    from gf import GeneticFuckery

    load_text("x = 1\n")
    load_text("x = 2\n", "--parent", 1)
    load_text("x = 3\n", "--parent", 2)
    for group, profit in ((1, 5), (2, 9), (3, 7)):
        GeneticFuckery(dbfile=db_path, pid=group).record({"bt": {"profit": profit}}, dataset="SPY")
    with pytest.raises(RuntimeError):
        with GeneticFuckery(dbfile=db_path, pid=3).report(dataset="TSLA"):
            raise RuntimeError("no data")
    conn = store.connect(db_path)
    assert conn.execute("SELECT dataset, algo, name, group_id, best FROM best_groups").fetchall() == [
        ("SPY", "bt", "profit", 2, 9)]
    assert conn.execute("SELECT group_id, ancestor_id, depth FROM lineage WHERE group_id = 3 ORDER BY depth").fetchall() == [
        (3, 2, 1), (3, 1, 2)]
    assert conn.execute("SELECT group_id, dataset, error FROM failures").fetchall() == [
        (3, "TSLA", "RuntimeError: no data")]


def version_3_database(path):
    """A database as gf with schema 3 made it (migrations m001-m003), holding two groups,
    three runs and their results; returns what it holds."""
    from sqlite_utils import Database

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    store._migrations().apply(Database(conn), stop_before="m004_results_best_first")
    conn.execute("PRAGMA user_version = 3")
    with store.transaction(conn):
        for value in (1, 2):
            group = store.insert_group(conn, params=[("a", f"{value}.5", "float", f"{value}.5")], origin="v3")
            for dataset, profit in (("SPY", value * 10), ("QQQ", None)):
                store.insert_run(conn, {"group_id": group, "dataset": dataset, "started": store.now(), "status": "ok"},
                                 [("bt", "profit", profit), ("bt", "trades", 5), ("mr", "profit", -value)])
    conn.close()
    return snapshot(path)


def snapshot(path):
    conn = sqlite3.connect(path)
    held = {table: sorted(conn.execute(f"SELECT * FROM {table}"), key=repr)
            for table in ("groups", "params", "runs", "results", "group_parents", "constraints", "launches")}
    conn.close()
    return held


def test_a_version_3_database_is_migrated_to_the_current_schema_and_keeps_its_data(db_path):
    from gf.metrics import ResultMetric

    before = version_3_database(db_path)
    conn = store.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION == 6
    assert [name for (name,) in conn.execute("SELECT name FROM _sqlite_migrations ORDER BY rowid")][-3:] == [
        "m004_results_best_first", "m005_loop_progress", "m006_launch_owner"]
    assert [row[1] for row in conn.execute("PRAGMA table_info(launches)")][-3:] == [
        "host", "process_id", "process_start"]
    assert [row[1] for row in conn.execute("PRAGMA table_info(loops)")][-7:] == [
        "best", "stale", "counted", "reason", "host", "process_id", "process_start"]
    assert conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (store.BEST_FIRST_INDEX,)).fetchone() == (
        f"CREATE INDEX {store.BEST_FIRST_INDEX} ON results (+name, +algo, +value)",)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    assert snapshot(db_path) == before
    conn = store.connect(db_path)
    ranked = ResultMetric("profit").rank(conn, dataset="SPY", limit=5)
    assert [(row.group, row.algo, row.score) for row in ranked] == [(2, "bt", 20), (1, "bt", 10)]


def test_a_migration_that_fails_leaves_the_version_3_database_as_it_was(db_path):
    before = version_3_database(db_path)
    conn = sqlite3.connect(db_path)
    conn.execute(f"CREATE INDEX {store.BEST_FIRST_INDEX} ON results (run)")  # m004 cannot create its index
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="already exists"):
        store.connect(db_path)
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
    assert conn.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0] == 3
    conn.close()
    assert snapshot(db_path) == before


def test_a_write_waits_out_a_lock_held_past_the_busy_timeout_and_says_so_if_it_never_frees(tmp_path, monkeypatch):
    """The busy timeout (here 0.05 s) runs out while another writer holds the lock for 0.4 s: gf backs off
    and tries again (5 more times, the waits doubling from 0.05 s) instead of failing at once."""
    import threading

    monkeypatch.setattr(store, "BUSY_TIMEOUT", 0.05)
    path = tmp_path / "locked.db"
    writer = store.connect(path)
    held, release = threading.Event(), threading.Event()

    def hold(seconds):
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        held.set()
        release.wait(seconds)
        holder.execute("COMMIT")
        holder.close()

    thread = threading.Thread(target=hold, args=(0.4,))
    thread.start()
    held.wait()
    with store.transaction(writer):
        writer.execute("INSERT INTO groups (uid, created, origin) VALUES ('u1', 'now', 'test')")
    thread.join()
    held.clear()
    thread = threading.Thread(target=hold, args=(30,))  # held until released below
    thread.start()
    held.wait()
    try:
        with pytest.raises(StoreError, match=r"still locked by another writer after 6 waits of 0\.05 s"):
            with store.transaction(writer):
                pass
    finally:
        release.set()
        thread.join()


def test_a_transaction_that_reads_first_still_writes_when_another_writer_comes_in_between(tmp_path):
    """The write lock is taken when the transaction begins (BEGIN IMMEDIATE): a transaction that reads,
    then writes, is never refused because another connection wrote in between (with a deferred BEGIN,
    SQLite refuses its write at once: its snapshot is stale, and waiting cannot help)."""
    import threading

    path = tmp_path / "two.db"
    first = store.connect(path)
    done = []

    def other_writer():
        conn = store.connect(path)
        with store.transaction(conn):
            conn.execute("INSERT INTO groups (uid, created, origin) VALUES ('other', 'now', 'test')")
        done.append(True)

    with store.transaction(first):
        first.execute("SELECT count(*) FROM groups").fetchone()
        thread = threading.Thread(target=other_writer)
        thread.start()
        thread.join(0.3)  # it waits for our lock (with a deferred BEGIN it would commit now)
        first.execute("INSERT INTO groups (uid, created, origin) VALUES ('first', 'now', 'test')")
    thread.join()
    assert done == [True]
    assert sorted(uid for (uid,) in first.execute("SELECT uid FROM groups")) == ["first", "other"]
