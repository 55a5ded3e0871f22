"""gf merge and gf merge-performers on real database files."""

import json
import sqlite3

import pytest

from gf import GeneticFuckery, plugins, store
from gf.breeding import violations
from gf.loader import Constraint
from gf.merging import combine
from conftest import count_rows

START = "a__x = 1\na__y_int = 4\nb__z = -2\nb__w_bool = false\nmode_choice = [\"p\", \"q\"]\na__x < 10\n"


def objective(params, dataset):
    scale = {"d1": 1.0, "d2": 2.0}[dataset]
    return {
        "a": {"profit": -((params.a.x - 3) ** 2) * scale - abs(params.a.y_int - 6)},
        "b": {"profit": -((params.b.z + 1) ** 2) * scale + (1 if params.b.w_bool else 0)},
    }


def bred_database(tmp_path, run_gf, name, seed):
    path = tmp_path / name
    (tmp_path / "start.js").write_text(START)
    assert run_gf("load", "--db", path, tmp_path / "start.js").exit_code == 0
    GeneticFuckery(dbfile=path).evolve(objective, metric="profit", generations=3, population=6,
                                       datasets=["d1", "d2"], seed=seed)
    return str(path)


def top_rows(run_gf, path):
    listed = json.loads(run_gf("top", "--db", path, "--metric", "profit", "-n", "100", "--json").stdout)
    return listed


def test_merge_round_trip_top_agrees_with_the_union(tmp_path, run_gf):
    one = bred_database(tmp_path, run_gf, "one.db", seed=1)
    two = bred_database(tmp_path, run_gf, "two.db", seed=2)
    merged = str(tmp_path / "merged.db")
    result = run_gf("merge", merged, one, two, "--json")
    assert result.exit_code == 0, result.stderr
    counts = json.loads(result.stdout)
    # the start group, loaded on both with the same values and constraints, is one group once merged
    assert [(c["groups"], c["groups_skipped"]) for c in counts] == [(19, 0), (18, 1)]

    def scores(path, rows):
        conn = sqlite3.connect(path)
        return {(r["dataset"], r["score"], conn.execute("SELECT digest FROM groups WHERE id = ?",
                                                          (r["group"],)).fetchone()[0]) for r in rows}

    union = scores(one, top_rows(run_gf, one)) | scores(two, top_rows(run_gf, two))
    assert scores(merged, top_rows(run_gf, merged)) == union

    again = json.loads(run_gf("merge", merged, one, "--json").stdout)
    assert again == [{"database": one, "groups": 0, "groups_skipped": 19, "runs": 0, "runs_skipped": 38}]
    conn = store.connect(merged)
    assert conn.execute("SELECT count(*), count(DISTINCT digest) FROM groups").fetchone() == (37, 37)
    start = conn.execute("SELECT id FROM groups ORDER BY id LIMIT 1").fetchone()[0]
    assert conn.execute("SELECT count(*) FROM runs WHERE group_id = ?", (start,)).fetchone()[0] == 4  # 2 + 2
    loops = json.loads(run_gf("loops", "--db", merged, "--json").stdout)
    assert [(loop["status"], loop["generation"], loop["target"], loop["groups"], loop["ok"]) for loop in loops] == [
        ("done", 3, 3, 18, 36)] * 2
    assert [loop["command"] for loop in loops] == ["evolve(objective)"] * 2
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    # lineage survives the id remapping: every bred group's parents are groups of its own database (or the
    # start group both share)
    uid_db = {uid: "one" for (uid,) in sqlite3.connect(one).execute("SELECT uid FROM groups")}
    uid_db.update({uid: "two" for (uid,) in sqlite3.connect(two).execute("SELECT uid FROM groups")})
    shared = conn.execute("SELECT uid FROM groups WHERE id = ?", (start,)).fetchone()[0]
    for child_uid, parent_uid in conn.execute(
            "SELECT c.uid, p.uid FROM group_parents gp JOIN groups c ON c.id = gp.group_id "
            "JOIN groups p ON p.id = gp.parent_id"):
        assert uid_db[child_uid] == uid_db[parent_uid] or parent_uid == shared
    assert conn.execute("SELECT count(*) FROM group_parents").fetchone()[0] == sum(
        sqlite3.connect(p).execute("SELECT count(*) FROM group_parents").fetchone()[0] for p in (one, two))


def test_merging_a_later_copy_of_a_loop_marks_it_done(tmp_path, run_gf):
    one = bred_database(tmp_path, run_gf, "one.db", seed=1)
    snapshot = str(tmp_path / "snapshot.db")
    conn = store.connect(one)
    conn.execute(f"VACUUM INTO '{snapshot}'")
    # the snapshot as it was while the loop ran: still running, generation 3 not yet bred
    raw = sqlite3.connect(snapshot)
    with raw:
        raw.execute("UPDATE loops SET status = 'running', stopped = NULL, counted = 2, stale = 0, best = NULL")
        raw.execute("DELETE FROM results WHERE run IN (SELECT r.id FROM runs r JOIN groups g ON g.id = r.group_id "
                    "WHERE g.generation = 3)")
        raw.execute("DELETE FROM runs WHERE group_id IN (SELECT id FROM groups WHERE generation = 3)")
        raw.execute("DELETE FROM launches WHERE group_id IN (SELECT id FROM groups WHERE generation = 3)")
        raw.execute("DELETE FROM group_parents WHERE group_id IN (SELECT id FROM groups WHERE generation = 3)")
        raw.execute("DELETE FROM params WHERE group_id IN (SELECT id FROM groups WHERE generation = 3)")
        raw.execute("DELETE FROM groups WHERE generation = 3")
    raw.close()
    merged = str(tmp_path / "merged.db")
    assert run_gf("merge", merged, snapshot).exit_code == 0
    [loop] = json.loads(run_gf("loops", "--db", merged, "--json").stdout)
    assert (loop["status"], loop["generation"], loop["stopped"]) == ("running", 2, None)
    assert loop["reason"].startswith("copied by gf merge while it ran on another database: nothing runs it")
    assert "copied by gf merge" in run_gf("loops", "--db", merged).stdout
    # a loop without a host that no merge copied (its gf died before the host was kept, schema 5) is not one
    raw = sqlite3.connect(snapshot)
    with raw:
        raw.execute("UPDATE loops SET host = NULL, process_id = NULL")
    raw.close()
    [unmerged] = json.loads(run_gf("loops", "--db", snapshot, "--json").stdout)
    assert (unmerged["status"], unmerged["reason"]) == ("running", None)
    assert run_gf("merge", merged, one).exit_code == 0
    [loop] = json.loads(run_gf("loops", "--db", merged, "--json").stdout)
    [(stopped,)] = conn.execute("SELECT stopped FROM loops").fetchall()
    assert (loop["status"], loop["generation"], loop["stopped"], loop["groups"]) == ("done", 3, stopped, 18)
    progress = "SELECT status, stopped, best, stale, counted, reason FROM loops"
    assert store.connect(merged).execute(progress).fetchall() == conn.execute(progress).fetchall()
    # the earlier copy merged again (or first, into another file) does not take the loop back
    assert run_gf("merge", merged, snapshot).exit_code == 0
    other = str(tmp_path / "other.db")
    assert run_gf("merge", other, one).exit_code == 0 and run_gf("merge", other, snapshot).exit_code == 0
    for path in (merged, other):
        assert store.connect(path).execute(progress).fetchall() == conn.execute(progress).fetchall()
        # which gf ran the loop is not merged: it ran on the input, and nothing runs it on the output
        assert store.connect(path).execute("SELECT host, process_id FROM loops").fetchall() == [(None, None)]
    assert conn.execute("SELECT host IS NOT NULL, process_id IS NOT NULL FROM loops").fetchall() == [(1, 1)]
    assert conn.execute("SELECT counted, best IS NOT NULL FROM loops").fetchone() == (3, 1)


def test_merge_refuses_itself_and_missing_inputs(tmp_path, run_gf, load_text, db_path):
    load_text("x = 1\n")
    result = run_gf("merge", db_path, db_path)
    assert result.exit_code == 2 and "cannot merge a database into itself" in result.stderr
    result = run_gf("merge", tmp_path / "out.db", tmp_path / "missing.db")
    assert result.exit_code == 1 and "no such database" in result.stderr
    assert not (tmp_path / "out.db").exists()


def test_combine_rules():
    assert combine([1, 5, 2], "int") == 2 and combine([1, 2], "int") == 2  # median 1.5 rounds to 2
    assert combine([1.0, 2.0, 10.0], "float") == 2.0
    assert combine([True, False, False], "bool") is False
    assert combine([["a", "b"], ["b", "a"], ["a", "b"]], "choice") == ["a", "b"]
    assert combine([True, False], "bool") is True  # a tie goes to the better group


def test_merge_performers_takes_each_algos_params_from_its_best_groups(tmp_path, run_gf):
    path = bred_database(tmp_path, run_gf, "perf.db", seed=3)
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"a": ["a__*"], "b": ["b__z", "b__w_bool"]}))
    out = tmp_path / "merged.js"
    result = run_gf("merge-performers", "--db", path, "--metric", "profit", "--top", "2", mapping, "-o", out)
    assert result.exit_code == 0, result.stderr
    text = out.read_text()
    assert text.startswith("# merge-performers") and "a__x < 10" in text
    conn = store.connect(path)
    from gf.metrics import ResultMetric

    best_a = [r.group for d in ("d1", "d2") for r in ResultMetric("profit", "a").rank(conn, dataset=d, limit=2)]
    xs = sorted(json.loads(v) for (v,) in conn.execute(
        f"SELECT value FROM params WHERE name = 'x' AND group_id IN ({','.join(map(str, set(best_a)))})"))
    import statistics

    assert f"a__x = {json.dumps(float(statistics.median(xs)))}" in text
    loaded = run_gf("merge-performers", "--db", path, "--metric", "profit", mapping, "--load")
    group = int(loaded.stdout.strip())
    assert len(store.group_parents(conn, group)) >= 2
    values = {n: json.loads(v) for n, v, _, _ in store.group_params(conn, group)}
    constraints = [Constraint.from_stored(*row) for row in store.group_constraints(conn, group)]
    assert constraints and violations(values, constraints, plugins.get_types()) == []


def test_merge_performers_load_of_values_a_group_has_prints_that_group(tmp_path, gf_process):
    """As gf load: the merged values and constraints of a group already stored are that group, not a copy."""
    db = tmp_path / "same.db"
    (tmp_path / "start.js").write_text(START)
    assert gf_process("load", "start.js", "--db", db, cwd=tmp_path).stdout == "1\n"
    g = GeneticFuckery(dbfile=db, pid=1, dataset="d1")
    g.record({"a": {"profit": 1}, "b": {"profit": 2}})
    g.close()
    (tmp_path / "map.json").write_text(json.dumps({"a": ["a__*"], "b": ["b__*"]}))
    before = {path: path.read_bytes() for path in (db, tmp_path / "same.db-wal") if path.exists()}
    for _ in range(2):
        merged = gf_process("merge-performers", "map.json", "--metric", "profit", "--load", "--db", db, cwd=tmp_path)
        assert (merged.returncode, merged.stdout) == (0, "1\n"), merged.stderr
        assert merged.stderr == "warning: group 1 already has these values and constraints: nothing loaded\n"
    assert {path: path.read_bytes() for path in (db, tmp_path / "same.db-wal") if path.exists()} == before


def test_merge_performers_errors(tmp_path, run_gf, load_text, db_path):
    load_text("a__x = 1\n")
    GeneticFuckery(dbfile=db_path, pid=1).record({"a": {"profit": 1}}, dataset="d")
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"a": ["nothing__*"]}))
    result = run_gf("merge-performers", "--db", db_path, "--metric", "profit", mapping)
    assert result.exit_code == 2 and "patterns ['nothing__*'] match no parameter" in result.stderr
    result = run_gf("merge-performers", "--db", db_path, "--metric", "a.profit", mapping)
    assert result.exit_code == 2 and "scores every group by algo 'a': pass --metric profit" in result.stderr
    result = run_gf("merge-performers", "--db", db_path, "--metric", "max profit min trades", mapping)
    assert result.exit_code == 2 and "no run is scored by metric 'max profit min trades' on d" in result.stderr
    runs_only = tmp_path / "runs.sql"
    runs_only.write_text("SELECT run, value AS score FROM results JOIN run_meta USING (run) "
                         "WHERE dataset = :dataset ORDER BY score DESC")
    mapping.write_text(json.dumps({"a": ["a__*"]}))
    result = run_gf("merge-performers", "--db", db_path, "--metric-sql", runs_only, mapping)
    assert result.exit_code == 2 and "scores runs, not algos" in result.stderr and "`algo` column" in result.stderr
    result = run_gf("merge-performers", "--db", db_path, mapping)
    assert result.exit_code == 2 and "has no breed loop to take a metric from" in result.stderr


def test_merge_performers_with_the_seeds_metric_and_with_sql_that_scores_each_algo(tmp_path, run_gf):
    """The README's own flow: after `gf breed --metric "max profit min trades"`, merge-performers with no
    --metric takes that loop's metric, which scores each algo; a --metric-sql query can too, with an algo column."""
    path = tmp_path / "seed.db"
    (tmp_path / "start.js").write_text(START)
    assert run_gf("load", "--db", path, tmp_path / "start.js").exit_code == 0

    def trading(params, dataset):
        profits = objective(params, dataset)
        return {algo: {"profit": 100 + r["profit"], "trades": 10} for algo, r in profits.items()}

    GeneticFuckery(dbfile=path).evolve(trading, metric="max profit min trades", generations=2, population=6,
                                       datasets=["d1", "d2"], seed=4)
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"a": ["a__*"], "b": ["b__*"]}))
    result = run_gf("merge-performers", "--db", path, mapping, "--top", "2")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("# merge-performers") and "by max profit min trades" in result.stdout
    conn = store.connect(path)
    metric = plugins.get_metrics()["max profit min trades"]
    for algo in ("a", "b"):
        best = [row.group for d in ("d1", "d2") for row in metric.rank(conn, dataset=d, per_group=False)
                if row.algo == algo]
        assert f"# {algo}: from groups {', '.join(map(str, dict.fromkeys(best)))}" in result.stdout
    by_algo = tmp_path / "algo.sql"
    by_algo.write_text("SELECT run, algo, value AS score FROM results JOIN run_meta USING (run) "
                       "WHERE dataset = :dataset AND name = 'profit' ORDER BY score DESC")
    result = run_gf("merge-performers", "--db", path, "--metric-sql", by_algo, mapping, "--top", "1")
    assert result.exit_code == 0, result.stderr
    numbered = tmp_path / "numbered.sql"  # an algo column of numbers names no algo of the map
    numbered.write_text(by_algo.read_text().replace("SELECT run, algo,", "SELECT run, 7 AS algo,"))
    refused = run_gf("merge-performers", "--db", path, "--metric-sql", numbered, mapping)
    assert refused.exit_code == 2 and "algo 'a' is not scored by metric" in refused.stderr
    profit = {algo: {d: max(conn.execute("SELECT value FROM results JOIN run_meta USING (run) WHERE algo = ? AND "
                                         "dataset = ? AND name = 'profit'", (algo, d)))[0] for d in ("d1", "d2")}
              for algo in ("a", "b")}
    for algo in ("a", "b"):
        line = next(line for line in result.stdout.splitlines() if line.startswith(f"# {algo}: from groups "))
        for group in map(int, line.split("groups ")[1].split(", ")):
            assert any(conn.execute("SELECT 1 FROM results JOIN run_meta USING (run) WHERE pid = ? AND algo = ? "
                                    "AND name = 'profit' AND value = ?", (group, algo, profit[algo][d])).fetchone()
                       for d in ("d1", "d2"))


def test_two_copies_breeding_the_same_children_merge_into_one_group_each(tmp_path, run_gf):
    """The README's two-machine flow: copies of one database breed the same proposals (the default breeder's
    model and mean children come from the scores alone); merged, each is one group, with both machines' runs."""
    import shutil

    base = bred_database(tmp_path, run_gf, "base.db", seed=1)
    sqlite3.connect(base).execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the one file holds it all: copied whole
    copies = []
    for name, seed in (("c.db", "5"), ("d.db", "6")):
        shutil.copy(base, tmp_path / name)
        result = run_gf("breed", "--db", tmp_path / name, "--metric", "profit", "--population", "6", "--seed", seed,
                        "--json")
        assert result.exit_code == 0, result.stderr
        for group in json.loads(result.stdout):  # evaluated on each machine
            GeneticFuckery(dbfile=tmp_path / name, pid=group).record(objective(
                GeneticFuckery(dbfile=tmp_path / name, pid=group), "d1"), dataset="d1")
        copies.append(str(tmp_path / name))
    digests = [{digest for (digest,) in sqlite3.connect(path).execute(
        "SELECT digest FROM groups WHERE id > 19")} for path in copies]
    shared = digests[0] & digests[1]
    assert shared  # the same children bred on both
    merged = tmp_path / "merged.db"
    assert run_gf("merge", merged, *copies).exit_code == 0
    conn = store.connect(merged)
    assert conn.execute("SELECT count(*), count(DISTINCT digest) FROM groups").fetchone() == (
        19 + len(digests[0] | digests[1]),) * 2
    for digest in shared:  # evaluated on both machines: both runs kept, on the one group
        assert conn.execute("SELECT count(*) FROM runs JOIN groups g ON g.id = runs.group_id WHERE g.digest = ? "
                            "AND runs.dataset = 'd1'", (digest,)).fetchone() == (2,)


def test_merge_joins_a_group_only_to_one_of_the_same_values_constraints_and_place(tmp_path, run_gf):
    """Same values: in another written form of the same constraints, one group; with other constraints, or a
    copy within the same input, two (and merging again adds nothing)."""
    src, other = tmp_path / "src.db", tmp_path / "other.db"
    for path, text in ((src, "x = 1.0\ny = 2.0\nx < y\nx <= 2\n"), (src, "x = 1.0\ny = 2.0\n"),
                       (other, "x = 1.0\ny = 2.0\ny > x\nx <= 2.0\n")):
        (tmp_path / "p.js").write_text(text)
        assert run_gf("load", "--db", path, tmp_path / "p.js").exit_code == 0
    merged = tmp_path / "merged.db"
    first = json.loads(run_gf("merge", merged, other, src, "--json").stdout)
    assert [(c["groups"], c["groups_skipped"]) for c in first] == [(1, 0), (1, 1)]  # src's constrained one is other's
    again = json.loads(run_gf("merge", merged, other, src, "--json").stdout)
    assert [(c["groups"], c["groups_skipped"]) for c in again] == [(0, 1), (0, 2)]
    assert store.connect(merged).execute("SELECT count(*) FROM groups").fetchone() == (2,)


def test_merge_keeps_groups_of_other_loops_and_copies_within_one_input_apart(tmp_path, run_gf):
    """Two databases each breeding a loop of their own from one start, seed for seed: the same children, but
    each is a member of its loop's generations (the replay and resume go by them), so both are kept. And two
    copies within one input (as a legacy import can make) both stay."""
    import shutil

    (tmp_path / "start.js").write_text(START)
    base = tmp_path / "base.db"
    assert run_gf("load", "--db", base, tmp_path / "start.js").exit_code == 0
    copies = [tmp_path / "a.db", tmp_path / "b.db"]
    for path in copies:
        shutil.copy(base, path)
        GeneticFuckery(dbfile=path).evolve(objective, metric="profit", generations=2, population=6,
                                           datasets=["d1"], seed=7)
    same = [sorted(d for (d,) in sqlite3.connect(path).execute("SELECT digest FROM groups")) for path in copies]
    assert same[0] == same[1]  # seed for seed, the same children
    merged = tmp_path / "merged.db"
    counts = json.loads(run_gf("merge", merged, *map(str, copies), "--json").stdout)
    assert [(c["groups"], c["groups_skipped"]) for c in counts] == [(13, 0), (12, 1)]  # the shared start joins
    loops = json.loads(run_gf("loops", "--db", merged, "--json").stdout)
    assert [loop["groups"] for loop in loops] == [12, 12]
    twin = tmp_path / "twin.db"
    assert run_gf("load", "--db", twin, tmp_path / "start.js").exit_code == 0
    conn = store.connect(twin)
    rows = store.group_params(conn, 1)
    with store.transaction(conn):  # a second copy of group 1: same values, constraints and place
        store.insert_group(conn, params=rows, constraints=store.group_constraints(conn, 1), origin="copy")
    counts = json.loads(run_gf("merge", tmp_path / "twins.db", twin, "--json").stdout)
    assert [(c["groups"], c["groups_skipped"]) for c in counts] == [(2, 0)]


def test_a_source_written_during_its_merge_is_read_as_one_snapshot(tmp_path, load_text, db_path):
    """A loop that commits a group and its run while the source is merged (here between the merge's read
    of the groups and its read of the runs) cannot make the merge meet a run of a group it did not read:
    the source is read in one snapshot, and the next merge takes what came after."""
    from gf import merging

    load_text("x = 1\n")
    GeneticFuckery(dbfile=db_path, pid=1).record({"a": {"score": 1}}, "r", dataset="d1")
    writer = store.connect(db_path)
    wrote = []

    def write_before_the_runs_are_read(sql):  # the statement is about to run on the source
        if "FROM runs" in sql and not wrote:
            with store.transaction(writer):
                group = store.insert_group(writer, params=[("x", "2", "float", "2")], origin="bred")
                store.insert_run(writer, {"group_id": group, "dataset": "d1", "started": store.now(),
                                          "status": "ok"}, [("a", "score", 2)])
            wrote.append(group)

    source = store.connect(db_path, create=False)
    source.set_trace_callback(write_before_the_runs_are_read)
    out = store.connect(tmp_path / "out.db")
    with store.transaction(out):
        first = merging._merge_one(out, source)
    assert wrote == [2] and count_rows(db_path, "runs") == 2  # the writer did commit mid-merge
    assert first == {"groups": 1, "groups_skipped": 0, "runs": 1, "runs_skipped": 0}
    with store.transaction(out):
        second = merging._merge_one(out, source)
    assert second == {"groups": 1, "groups_skipped": 1, "runs": 1, "runs_skipped": 1}
    assert out.execute("SELECT count(*) FROM runs r JOIN groups g ON g.id = r.group_id").fetchone() == (2,)
