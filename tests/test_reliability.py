"""Promises about data under stress: concurrent writers, kills, full disks, results files."""

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest
from pathlib import Path

from gf import GeneticFuckery, store
from gf.errors import LoadError, ResultError
from conftest import GF, count_rows

WRITER = textwrap.dedent("""
    import sys
    from gf import GeneticFuckery
    g = GeneticFuckery(dbfile=sys.argv[1], pid=1, dataset="d")
    for i in range(int(sys.argv[3])):
        with g.report("stress") as r:
            r["a"] = {"i": i, "writer": int(sys.argv[2])}
            r["b"] = {"x": 1.5}
""")


def test_sixteen_writers_lose_nothing_and_never_see_a_lock(load_text, db_path):
    load_text("x = 1\n")
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, db_path, str(n), "300"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for n in range(16)]
    outcomes = [writer.communicate(timeout=600) for writer in writers]
    assert [w.returncode for w in writers] == [0] * 16, [err[-500:] for _, err in outcomes if err]
    assert not any("locked" in err for _, err in outcomes)
    conn = store.connect(db_path)
    assert conn.execute("SELECT count(*) FROM runs WHERE status = 'ok'").fetchone() == (4800,)
    assert conn.execute("SELECT count(*) FROM results").fetchone() == (14400,)
    per_writer = conn.execute("SELECT value, count(*) FROM results WHERE name = 'writer' GROUP BY value").fetchall()
    assert per_writer == [(n, 300) for n in range(16)]
    assert conn.execute("SELECT count(DISTINCT value) FROM results WHERE name = 'i'").fetchone() == (300,)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


BIG_REPORT = textwrap.dedent("""
    import sys
    from gf import GeneticFuckery
    g = GeneticFuckery(dbfile=sys.argv[1], pid=1, dataset="d")
    with g.report("big") as r:
        for algo in range(300):
            r[f"a{algo}"] = {f"n{i}": i * 0.5 for i in range(1000)}
    print("done")
""")


def test_evaluator_killed_mid_report_leaves_no_partial_run(load_text, db_path):
    load_text("x = 1\n")
    wal = db_path + "-wal"
    before = os.path.getsize(wal) if os.path.exists(wal) else 0
    process = subprocess.Popen([sys.executable, "-c", BIG_REPORT, db_path], stdout=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and (not os.path.exists(wal) or os.path.getsize(wal) < before + 2_000_000):
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.stdout.read() == b""  # it was killed while writing, before it finished
    conn = store.connect(db_path)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM results").fetchone() == (0,)


def _limit_file_size(limit):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_full_disk_gives_a_clear_error_and_keeps_what_was_recorded(load_text, db_path, tmp_path):
    load_text("x = 1\n")
    GeneticFuckery(dbfile=db_path, pid=1).record({"a": {"kept": 1}}, dataset="d")
    conn = store.connect(db_path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    big = tmp_path / "big.js"
    big.write_text("".join(f"p{i}__value = {i}.5\n" for i in range(20000)))
    limit = os.path.getsize(db_path) + 64 * 1024
    result = subprocess.run([GF, "load", "--db", db_path, str(big)], capture_output=True, text=True,
                            preexec_fn=_limit_file_size(limit), env={**os.environ, "GF_LOAD_PLUGINS": ""})
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {os.path.realpath(db_path)}: ")
    assert "size limit" in result.stderr and "what was recorded before is kept" in result.stderr
    assert result.stderr.count("\n") == 1
    conn = store.connect(db_path)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert conn.execute("SELECT count(*) FROM groups").fetchone() == (1,)
    assert conn.execute("SELECT value FROM results WHERE name = 'kept'").fetchall() == [(1,)]


@pytest.fixture
def read_only_copy(load_text, db_path, tmp_path):
    """The database behind a read-only bind mount (root can write through file permissions)."""
    load_text("x = 1\n")
    conn = store.connect(db_path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    mount = tmp_path / "ro"
    mount.mkdir()
    source = os.path.dirname(db_path)
    if subprocess.run(["mount", "--bind", source, str(mount)], capture_output=True).returncode != 0:
        pytest.skip("cannot bind-mount here (needs root): the read-only case is not exercised")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(mount)], check=True, capture_output=True)
        yield str(mount / os.path.basename(db_path))
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=True)  # connections may still be open


def test_read_only_database_reads_and_refuses_writes_clearly(read_only_copy, run_gf, tmp_path):
    code = textwrap.dedent(f"""
        from gf import GeneticFuckery
        g = GeneticFuckery(dbfile={read_only_copy!r}, pid=1)
        print(g.x)
        g.record({{"a": {{"b": 1}}}})
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout == "1.0\n" and result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"gf.errors.StoreError: {read_only_copy}: the database is read-only; make the file and its folder "
        "writable, or work on a copy (attempt to write a readonly database)")
    (tmp_path / "more.js").write_text("y = 2\n")
    loaded = run_gf("load", "--db", read_only_copy, tmp_path / "more.js")
    assert loaded.exit_code == 1 and "the database is read-only" in loaded.stderr
    assert json.loads(run_gf("groups", "--db", read_only_copy, "--json").stdout)[0]["id"] == 1


def test_a_database_read_only_by_its_permissions_is_read(load_text, db_path):
    """A folder and file owned by root, read by another user (a shared results store): the program reads
    its parameters (it was refused: "not a usable SQLite database (attempt to write a readonly database)")."""
    import shutil
    import tempfile

    python = shutil.which("python3", path="/usr/bin:/usr/local/bin")
    if os.geteuid() != 0 or not shutil.which("setpriv") or not python:
        pytest.skip("needs root, setpriv and a python3 another user may run")
    load_text("x = 1\n")
    conn = store.connect(db_path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    shared = tempfile.mkdtemp(dir="/tmp")  # a path the other user can reach (pytest's folders are private)
    try:
        os.chmod(shared, 0o755)
        shutil.copytree(Path(store.__file__).parent, f"{shared}/gf")  # gf reads with the standard library alone
        shutil.copy(db_path, f"{shared}/ro.db")
        for folder, _subfolders, files in os.walk(shared):
            os.chmod(folder, 0o755)
            for name in files:
                os.chmod(os.path.join(folder, name), 0o644)
        code = f"from gf import GeneticFuckery; print(GeneticFuckery(dbfile={shared + '/ro.db'!r}, pid=1).x)"
        result = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "env",
                                 f"PYTHONPATH={shared}", python, "-c", code], capture_output=True, text=True,
                                cwd="/")
        assert (result.stdout, result.returncode) == ("1.0\n", 0), result.stderr
    finally:
        shutil.rmtree(shared)


def test_results_file_and_ingest(load_text, db_path, tmp_path, run_gf):
    load_text("x = 1\n")
    results = tmp_path / "results.jsonl"
    env = {**os.environ, "GF_DB": db_path, "GF_PARAM_GROUP": "1", "GF_RESULTS": str(results), "GF_DATA": "d"}
    code = "from gf import GeneticFuckery\nwith GeneticFuckery().report('r') as r: r['a']['b'] = 2; r['a']['nan'] = float('nan')"
    for _ in range(3):
        subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    assert count_rows(db_path, "runs") == 0 and len(results.read_text().splitlines()) == 3
    first = run_gf("ingest", "--db", db_path, results, "--json")
    assert json.loads(first.stdout) == {"runs": 3, "skipped": 0, "results": 6}
    again = run_gf("ingest", "--db", db_path, results, "--json")
    assert json.loads(again.stdout) == {"runs": 0, "skipped": 3, "results": 0}
    conn = store.connect(db_path)
    assert conn.execute("SELECT dataset, label, status FROM runs").fetchall() == [("d", "r", "ok")] * 3
    assert conn.execute("SELECT count(*) FROM results WHERE value IS NULL").fetchone() == (3,)


def test_a_results_file_that_cannot_be_written_is_named_by_report(load_text, db_path, tmp_path):
    load_text("x = 1\n")
    code = "from gf import GeneticFuckery\nwith GeneticFuckery().report('r') as r: r['a']['b'] = 2"
    for where in (tmp_path / "no-such-folder" / "results.jsonl", tmp_path):
        env = {**os.environ, "GF_DB": db_path, "GF_PARAM_GROUP": "1", "GF_RESULTS": str(where), "GF_DATA": "d"}
        failed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        assert failed.returncode != 0  # the program's traceback ends in gf's own error, not an OSError
        assert failed.stderr.strip().splitlines()[-1].startswith(
            f"gf.errors.StoreError: GF_RESULTS={where}: cannot write the results file (")
    assert count_rows(db_path, "runs") == 0


def test_report_refuses_a_results_file_that_is_a_database(load_text, db_path, tmp_path):
    """GF_RESULTS set to the database itself (or another SQLite file): a line appended to it would be
    overwritten by the database's next write and the run lost without a word; report() refuses."""
    load_text("x = 1\n")
    code = "from gf import GeneticFuckery\nwith GeneticFuckery().report('r') as r: r['a']['b'] = 2"
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    for where in (db_path, other):
        before = Path(where).read_bytes()
        env = {**os.environ, "GF_DB": db_path, "GF_PARAM_GROUP": "1", "GF_RESULTS": str(where), "GF_DATA": "d"}
        failed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        assert failed.returncode != 0
        assert failed.stderr.strip().splitlines()[-1] == (
            f"gf.errors.StoreError: GF_RESULTS={where}: a SQLite database (the gf database itself?), not a results "
            "file; point GF_RESULTS at a file of its own, e.g. results.jsonl")
        assert Path(where).read_bytes() == before
    assert count_rows(db_path, "runs") == 0


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", "not a JSON line"),
        ('{"gf_run": 1, "uid": "01JX0000000000000000000000", "group_id": 1, "status": "ok", "started": "2026-01-01T00:00:00Z", "results": [["a", "run", 1]]}',
         "result name 'run' (in 'a') is reserved"),
        ('{"gf_run": 1, "uid": "01JX0000000000000000000000", "group_id": 1, "status": "ok", "started": "2026-01-01T00:00:00Z", "results": [["a", "b", "high"]]}',
         "is not a number or a boolean"),
        ('{"gf_run": 1, "uid": "01JX0000000000000000000000", "group_id": 9, "status": "ok", "started": "2026-01-01T00:00:00Z", "results": []}', "group 9 does not exist"),
        ('{"hello": 1}', "not a gf results line"),
        ('{"gf_run": 1, "uid": "run-1", "group_id": 1, "status": "ok", "started": "2026-01-01T00:00:00Z", "results": []}',
         "uid must be the run's ULID (26 characters of Crockford base32, as report() writes them), got \"run-1\""),
        ('{"gf_run": 1, "uid": "01JX000000000000000000000L", "group_id": 1, "status": "ok", "started": "2026-01-01T00:00:00Z", "results": []}',
         "uid must be the run's ULID"),
        ('{"gf_run": 1, "uid": "81JX0000000000000000000000", "group_id": 1, "status": "ok", "started": "2026-01-01T00:00:00Z", "results": []}',
         "uid must be the run's ULID"),
        ('{"gf_run": 1, "uid": "01JX0000000000000000000000", "group_id": 1, "status": "ok", "started": "yesterday", "results": []}',
         'started must be an ISO 8601 time such as 2026-01-31T09:30:00.000+00:00 (as report() writes it), got "yesterday"'),
        ('{"gf_run": 1, "uid": "01JX0000000000000000000000", "group_id": 1, "status": "ok", "started": "2026-01-01T00:00:00Z", "stopped": "2026-13-01T00:00:00Z", "results": []}',
         'stopped must be an ISO 8601 time'),
        ('{"gf_run": 1, "uid": "01JX0000000000000000000000", "group_id": 1, "status": "ok", "started": "20260131T093000", "results": []}',
         'started must be an ISO 8601 time'),  # ISO, but no time SQLite's date functions read
        ('{"gf_run": 1, "uid": "01JX0000000000000000000000", "group_id": 1, "status": "ok", "started": "now", "results": []}',
         'started must be an ISO 8601 time'),  # SQLite reads it, as a time that changes on every read
        ('{"gf_run": 1, "uid": "01JX0000000000000000000000", "group_id": 1, "status": "ok", "started": "\\ud800", "results": []}',
         'started must be an ISO 8601 time'),  # a lone surrogate: no text SQLite holds
    ],
)
def test_ingest_rejects_bad_lines_with_their_location(load_text, db_path, tmp_path, run_gf, line, message):
    load_text("x = 1\n")
    path = tmp_path / "bad.jsonl"
    good = GeneticFuckery(dbfile=db_path, pid=1)
    path.write_text(line + "\n")
    before = open(db_path, "rb").read()
    result = run_gf("ingest", "--db", db_path, path)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{path}:1: ") and message in result.stderr
    assert open(db_path, "rb").read() == before and good.group == 1


def _line(uid, dataset, started="2026-01-01T00:00:00Z"):
    return json.dumps({"gf_run": 1, "uid": uid, "group_id": 1, "dataset": dataset, "status": "ok",
                       "started": started, "results": [["a", "b", 1]]}) + "\n"


def test_ingest_reads_a_byte_order_mark_and_names_what_is_no_results_file(load_text, db_path, tmp_path, run_gf):
    """An editor's byte order mark is no fault; a binary file or a database given by mistake gets a line saying
    what it is, not a codec's message."""
    load_text("x = 1\n")
    marked = tmp_path / "marked.jsonl"
    marked.write_bytes(b"\xef\xbb\xbf" + _line("01JX0000000000000000000009", "d1").encode())
    assert run_gf("ingest", "--db", db_path, marked).exit_code == 0 and count_rows(db_path, "runs") == 1
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(_line("01JX0000000000000000000008", "d2").encode() + b"\xfb\x00\n")
    result = run_gf("ingest", "--db", db_path, binary)
    assert result.exit_code == 2 and result.stderr == (
        f"{binary}:2: not a text file: byte 0xfb is not UTF-8; a results file holds the JSON lines report() writes "
        "with GF_RESULTS set\n")
    result = run_gf("ingest", "--db", db_path, db_path)
    assert result.exit_code == 2 and result.stderr.startswith(
        f"{db_path}: a SQLite database, not a results file (the JSON lines report() writes with GF_RESULTS set); "
        "to combine gf databases, use gf merge")
    assert count_rows(db_path, "runs") == 1


def test_record_and_ingest_take_the_same_times(load_text, db_path, tmp_path, run_gf):
    """A start time record() takes (a date alone, too) is one gf ingest takes from a results file; one SQLite
    cannot read is refused by both, before anything is written."""
    load_text("x = 1\n")
    results = tmp_path / "results.jsonl"
    g = GeneticFuckery(dbfile=db_path, pid=1, dataset="d1")
    with pytest.raises(ResultError, match="started '20260131T093000' is not a time SQLite reads"):
        g.record({"a": {"b": 1}}, started="20260131T093000")
    assert count_rows(db_path, "runs") == 0
    code = ("from gf import GeneticFuckery\nGeneticFuckery().record({'a': {'b': 1}}, started='2026-01-31')")
    env = {**os.environ, "GF_DB": db_path, "GF_PARAM_GROUP": "1", "GF_RESULTS": str(results), "GF_DATA": "d1"}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    assert run_gf("ingest", "--db", db_path, results).exit_code == 0 and count_rows(db_path, "runs") == 1


def test_ingest_refuses_one_uid_on_two_different_runs(load_text, db_path, tmp_path, run_gf):
    """A results line's uid is what tells it is recorded already: two runs sharing one (hand-written
    lines) would have the second skipped without a word, so ingest refuses them, recording nothing."""
    load_text("x = 1\n")
    uid = "01JX0000000000000000000001"
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text(_line(uid, "d1") + _line("01JX0000000000000000000002", "d2"))
    second.write_text(_line(uid, "d3"))
    before = open(db_path, "rb").read()
    result = run_gf("ingest", "--db", db_path, first, second)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"{second}:1: run {uid} is also on {first}:1, with another dataset "
                                    '("d1" there, "d3" here): each run needs a uid of its own')
    assert open(db_path, "rb").read() == before

    # the same run twice (a file ingested twice over, or copied into two) is one run, recorded once
    assert run_gf("ingest", "--db", db_path, first, first).exit_code == 0
    assert count_rows(db_path, "runs") == 2
    # ... and a later file reusing a recorded run's uid for another run is refused
    second.write_text(_line("01JX0000000000000000000003", "d3") + _line(uid, "d1", "2026-01-02T00:00:00Z"))
    result = run_gf("ingest", "--db", db_path, second)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{second}:2: run {uid} is recorded in {db_path} already, with another start "
                                    'time ("2026-01-01T00:00:00Z" there, "2026-01-02T00:00:00Z" here)')
    assert count_rows(db_path, "runs") == 2
    assert run_gf("ingest", "--db", db_path, first).exit_code == 0 and count_rows(db_path, "runs") == 2


def _report_into(results_file, db_path, dataset, count, limit=None):
    """A program that reports ``count`` results of group 1 into ``results_file`` (under a file-size ``limit``)."""
    code = ("import os\nfrom gf import GeneticFuckery\nwith GeneticFuckery().report('r') as r:\n"
            "    for i in range(int(os.environ['COUNT'])): r['a'][f's{i}'] = i")
    env = {**os.environ, "GF_DB": db_path, "GF_PARAM_GROUP": "1", "GF_RESULTS": str(results_file),
           "GF_DATA": dataset, "COUNT": str(count)}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          preexec_fn=_limit_file_size(limit) if limit else None)


def test_a_results_line_a_full_disk_cut_short_is_cut_back_off(load_text, db_path, tmp_path, run_gf):
    """report() into a results file on a full disk (here a file-size limit) raised and left half its line in
    the file: the next run's line was glued to it, and `gf ingest` refused the file, every run in it."""
    load_text("x = 1\n")
    results = tmp_path / "results.jsonl"
    assert _report_into(results, db_path, "one", 1).returncode == 0
    size = results.stat().st_size
    full = _report_into(results, db_path, "two", 20000, limit=size + 64 * 1024)
    assert full.returncode != 0 and "File too large" in full.stderr
    assert results.stat().st_size == size
    assert _report_into(results, db_path, "three", 1).returncode == 0
    result = run_gf("ingest", "--db", db_path, results, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"runs": 2, "skipped": 0, "results": 2}
    conn = store.connect(db_path)
    assert conn.execute("SELECT dataset FROM runs ORDER BY dataset").fetchall() == [("one",), ("three",)]


def test_a_line_cut_short_by_a_writer_that_died_is_ended_and_skipped_by_ingest(load_text, db_path, tmp_path,
                                                                                run_gf):
    """A writer killed mid-line left no line break: the next run's line was glued to the cut one, and `gf ingest`
    refused the file. Now the next writer ends the cut line first, and ingest skips it, saying so."""
    load_text("x = 1\n")
    results = tmp_path / "results.jsonl"
    assert _report_into(results, db_path, "one", 1).returncode == 0
    whole = results.read_text()
    results.write_text(whole + whole[:len(whole) // 2])  # the second writer died halfway through its line
    assert _report_into(results, db_path, "two", 1).returncode == 0
    assert len(results.read_text().splitlines()) == 3
    result = run_gf("ingest", "--db", db_path, results, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"runs": 2, "skipped": 0, "results": 2}
    assert f"warning: {results}:2: skipped a line cut short by a writer that died mid-write" in result.stderr
    conn = store.connect(db_path)
    assert conn.execute("SELECT dataset FROM runs ORDER BY dataset").fetchall() == [("one",), ("two",)]


def test_a_line_cut_at_any_point_is_skipped_and_no_other(load_text, db_path, tmp_path):
    """Guessing a cut line from how its JSON broke missed cuts inside ``null``, ``1.5e`` or the line's first
    characters (the whole file was refused), and skipped a whole line damaged near its end. The line after
    a cut now says so, and only that cut line is skipped, wherever the cut fell."""
    from gf import ingest

    load_text("x = 1\n")
    source = tmp_path / "one.jsonl"
    assert _report_into(source, db_path, "one", 1).returncode == 0
    whole = source.read_text()
    record = json.loads(whole)
    run = {field: record[field] for field in ingest.FIELDS if field in record}
    rows = [tuple(row) for row in record["results"]]
    results = tmp_path / "results.jsonl"
    for cut in range(1, len(whole) - 1):  # every prefix short of the whole line
        results.write_text(whole + whole[:cut])
        ingest.append(results, run, rows, group_digest=record["group_digest"])
        torn = []
        parsed = ingest.read(results, torn)
        assert [number for number, _run, _rows in parsed] == [1, 3] and torn == [2], cut
    results.write_text(whole + whole[:-1])  # all but its line break: a whole line, kept
    ingest.append(results, run, rows, group_digest=record["group_digest"])
    torn = []
    assert [number for number, _run, _rows in ingest.read(results, torn)] == [1, 2, 3] and torn == []
    marked = json.dumps({"after_cut": True, **record})
    for cut in range(1, len(marked)):  # two writers in a row died mid-line, the second after a cut
        results.write_text(whole + whole[:40] + "\n" + marked[:cut])
        ingest.append(results, run, rows, group_digest=record["group_digest"])
        torn = []
        assert [number for number, _run, _rows in ingest.read(results, torn)] == [1, 4] and torn == [2, 3], cut
    damaged = whole.replace('"s0"', '"s0', 1)  # a whole line broken near its end, not by a cut: refused
    assert damaged != whole
    results.write_text(damaged + whole)
    with pytest.raises(LoadError, match="results.jsonl:1: not a JSON line"):
        ingest.read(results, [])


def test_ingest_refuses_a_broken_line_that_is_not_a_cut_one(load_text, db_path, tmp_path, run_gf):
    """Only a line cut short is skipped: one broken in its middle (a hand edit) is refused, with its location."""
    load_text("x = 1\n")
    results = tmp_path / "results.jsonl"
    assert _report_into(results, db_path, "one", 1).returncode == 0
    whole = results.read_text()
    results.write_text(whole.replace('"dataset"', '"dataset', 1) + whole)
    result = run_gf("ingest", "--db", db_path, results)
    assert result.exit_code == 2 and result.stderr.startswith(f"{results}:1: not a JSON line")


def test_ingest_points_at_an_unfinished_last_line(load_text, db_path, tmp_path, run_gf):
    load_text("x = 1\n")
    path = tmp_path / "cut.jsonl"
    path.write_text('{"gf_run": 1, "uid": "01ABC", "group_id": 1, "sta')
    result = run_gf("ingest", "--db", db_path, path)
    assert result.exit_code == 2 and "did a writer die mid-write?" in result.stderr


def test_a_run_whose_launch_was_abandoned_is_not_recorded(load_text, db_path):
    """What an evaluation orphaned by a killed gf finds when it finally reports."""
    from gf.launch import Evaluation

    load_text("x = 1\n")
    conn = store.connect(db_path)
    orphan = Evaluation(1, "d")
    store.hand_out_launches(conn, [orphan])
    store.hand_out_launches(conn, [Evaluation(1, "d")])  # the resumed loop takes the pair over
    env = {**os.environ, "GF_DB": db_path, "GF_PARAM_GROUP": "1", "GF_DATA": "d", "GF_LAUNCH": orphan.launch}
    code = "from gf import GeneticFuckery\nwith GeneticFuckery().report() as r: r['a']['b'] = 1"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0 and "was abandoned (its gf stopped, or another took the pair over)" in result.stderr
    assert conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)
    assert conn.execute("SELECT status FROM launches ORDER BY created, rowid").fetchall() == [
        ("abandoned",), ("pending",)]


def test_sigterm_marks_done_the_launch_whose_program_recorded_its_run(load_text, db_path, tmp_path):
    """gf stopped (SIGTERM) while a program that had recorded its run still worked on: its launch was marked
    abandoned, which says its run should not exist."""
    load_text("x = 1\n")
    program = tmp_path / "after.py"
    program.write_text("import time\nfrom gf import GeneticFuckery\nGeneticFuckery().record({'a': {'v': 1}})\n"
                       "while True: time.sleep(1)  # work after recording (uploading logs...)\n")
    gf = subprocess.Popen([GF, "run", "--db", db_path, f"{sys.executable} {program} {{}}", "d1", "d2", "-j", "1"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    conn = store.connect(db_path)
    deadline = time.time() + 30
    while conn.execute("SELECT count(*) FROM runs").fetchone()[0] < 1:
        assert time.time() < deadline and gf.poll() is None
        time.sleep(0.05)
    gf.send_signal(signal.SIGTERM)
    _, stderr = gf.communicate(timeout=60)
    assert gf.returncode == 143
    # its evaluation counts as done: it has its run, and a rerun does not evaluate it again
    assert stderr.splitlines()[-1].startswith("error: interrupted (SIGTERM) after 1 of 2 evaluations")
    assert conn.execute("SELECT r.dataset, r.status, l.status FROM runs r JOIN launches l ON l.uid = r.launch"
                        ).fetchall() == [("d1", "ok", "done")]
    assert conn.execute("SELECT dataset, status FROM launches ORDER BY dataset").fetchall() == [
        ("d1", "done"), ("d2", "abandoned")]


def test_a_second_gf_run_leaves_the_pairs_a_live_gf_evaluates_to_it(load_text, db_path, tmp_path):
    """Two `gf run` at once on one database: the second took the first's pending pairs over, so the first
    discarded its programs' runs and reported them as failures (exit 1)."""
    load_text("x = 1\n")
    program = tmp_path / "slow.py"
    program.write_text("import time\nfrom gf import GeneticFuckery\ntime.sleep(2)\n"
                       "with GeneticFuckery().report() as r:\n    r['s']['v'] = 1\n")
    command = [GF, "run", "--db", db_path, f"{sys.executable} {program} {{}}", "d1", "d2", "d3", "-j", "2", "--json"]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    conn = store.connect(db_path)
    deadline = time.time() + 30
    while conn.execute("SELECT count(*) FROM launches WHERE status = 'pending'").fetchone()[0] < 3:
        assert time.time() < deadline and first.poll() is None
        time.sleep(0.05)
    second = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout) == {"evaluated": 0, "ok": 0, "failed": 0, "skipped": 0, "skipped_failed": 0,
                                         "held_by_another_gf": 3}
    assert "3 evaluation(s) left to another gf that is evaluating them now on this database" in second.stderr
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert json.loads(out) == {"evaluated": 3, "ok": 3, "failed": 0, "skipped": 0, "skipped_failed": 0}
    assert conn.execute("SELECT dataset, status FROM runs ORDER BY dataset").fetchall() == [
        ("d1", "ok"), ("d2", "ok"), ("d3", "ok")]
    assert conn.execute("SELECT count(*) FROM launches WHERE status = 'abandoned'").fetchone() == (0,)


def test_an_earlier_process_with_this_pid_is_dead_not_this_one():
    """gf as pid 1 in a restarted container: the launches and loops of the gf that had its pid before
    (same host, same pid, another start time) are a dead process's, not held by a live one."""
    from gf import engine

    host, pid, started = engine._me()
    assert engine._alive(host, pid, started) is True
    assert engine._alive(host, pid, started - 1) is False
    assert engine._alive(host, pid, None) is True  # no start time recorded: cannot tell, taken as alive
    assert engine._alive("another-host", pid, started) is None


def test_damage_found_mid_command_is_one_line_saying_what_to_do(load_text, db_path, run_gf):
    """The first pages open fine; the last one, read by `gf show`, is damaged (an unexpected DatabaseError
    naming gf's own file before)."""
    load_text("".join(f"p{i} = {i}.5\n" for i in range(400)))
    conn = store.connect(db_path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    size = os.path.getsize(db_path)
    with open(db_path, "r+b") as handle:
        handle.seek(size - 4096 + 8)
        handle.write(b"\xff" * 300)
    message = ("error: the database file is damaged (database disk image is malformed); check it with sqlite3 FILE "
               "'PRAGMA integrity_check', and restore a copy\n")
    result = run_gf("show", "--db", db_path, "1")
    assert (result.exit_code, result.stderr) == (1, message)
    merged = Path(db_path).with_name("merged.db")
    result = run_gf("merge", merged, db_path)  # and the merge it stopped leaves no empty database behind
    assert (result.exit_code, result.stderr, merged.exists()) == (1, message, False)


def test_a_results_file_ingested_again_into_a_merged_database_adds_nothing(load_text, db_path, tmp_path, run_gf):
    """Merged, the run's group has another id; the run is there all the same (it was refused as a run of
    another group's values)."""
    load_text("x = 1\n")
    results = tmp_path / "results.jsonl"
    env = {**os.environ, "GF_DB": db_path, "GF_PARAM_GROUP": "1", "GF_RESULTS": str(results), "GF_DATA": "d"}
    code = "from gf import GeneticFuckery; GeneticFuckery().record({'a': {'v': 1.0}})"
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    assert run_gf("ingest", "--db", db_path, results).exit_code == 0
    merged = tmp_path / "merged.db"
    (tmp_path / "other.js").write_text("y = 2\n")
    assert run_gf("load", "--db", merged, tmp_path / "other.js").exit_code == 0  # group 1 there: other values
    assert run_gf("merge", merged, db_path).exit_code == 0
    result = run_gf("ingest", "--db", merged, results, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"runs": 0, "skipped": 1, "results": 0}


FULL_DISK_PROGRAM = """\
import os, resource, sys
from gf import GeneticFuckery
g = GeneticFuckery()
if os.path.exists(sys.argv[2]):  # no file may grow past 1 byte: the database's write fails as on a full disk
    resource.setrlimit(resource.RLIMIT_FSIZE, (1, resource.RLIM_INFINITY))
if len(sys.argv) > 3:
    raise SystemExit("the program's own failure")
g.record({"a": {"v": g.x}})
"""


def test_a_run_gf_could_not_record_for_a_full_disk_is_evaluated_again(load_text, db_path, tmp_path, run_gf):
    """gf's message said "free space and rerun", but the rerun skipped the pair: its failed run counted as
    its evaluation. A run that failed because gf could not write the database is no evaluation now; a
    run the program failed on its own still is (``--failed`` redoes it)."""
    load_text("x = 1\n")
    program, flag = tmp_path / "full.py", tmp_path / "full.flag"
    program.write_text(FULL_DISK_PROGRAM)
    command = f"{sys.executable} {program} {{}} {flag}"
    flag.touch()
    failed = run_gf("run", "--db", db_path, command, "d1", "-j", "1")
    assert failed.exit_code == 1 and "could not write: a full disk" in failed.stderr
    flag.unlink()  # space freed
    again = run_gf("run", "--db", db_path, command, "d1", "-j", "1")
    assert again.exit_code == 0 and again.stdout.startswith("1 evaluated: 1 ok, 0 failed")
    assert run_gf("run", "--db", db_path, command, "d1", "-j", "1").stdout.startswith("0 evaluated")
    conn = store.connect(db_path)
    assert conn.execute("SELECT status FROM runs ORDER BY id").fetchall() == [("failed",), ("ok",)]
    assert run_gf("run", "--db", db_path, command + " own", "d2", "-j", "1").exit_code == 1
    assert run_gf("run", "--db", db_path, command, "d2", "-j", "1").stdout.startswith("0 evaluated")
    assert conn.execute("SELECT count(*) FROM runs WHERE dataset = 'd2'").fetchone() == (1,)


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_database_deleted_or_replaced_under_gf_is_named(load_text, db_path, tmp_path, how):
    """gf went on writing into the unlinked file, its programs all failed for want of the database, and
    it ended with "check the command"; a file replaced mid-loop mixed the old log into the new file."""
    load_text("x = 1\n")
    GeneticFuckery(dbfile=db_path, pid=1).record({"a": {"v": 1.0}}, dataset="d1")
    backup = tmp_path / "backup.db"
    store.connect(db_path).execute("VACUUM INTO ?", (str(backup),))
    program = tmp_path / "gone.py"
    program.write_text(textwrap.dedent(f"""\
        import os, shutil, sys
        if not os.path.exists({str(tmp_path / 'done')!r}):
            open({str(tmp_path / 'done')!r}, "w").close()
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists({db_path!r} + suffix):
                    os.unlink({db_path!r} + suffix)
            if {how!r} == "replaced":
                shutil.copy({str(backup)!r}, {db_path!r})
        from gf import GeneticFuckery
        g = GeneticFuckery()
        g.record({{"a": {{"v": g.x}}}})
    """))
    result = subprocess.run([GF, "breed", "--db", db_path, "--metric", "v", "--population", "2", "--loop", "2",
                             "-j", "1", f"{sys.executable} {program} {{}}"], capture_output=True, text=True,
                            env={**os.environ, "GF_DB": ""})
    assert result.returncode == 1
    assert f"error: {db_path}: the database file was {how} while gf had it open" in result.stderr
    assert "check the command" not in result.stderr


def test_a_resumed_loop_makes_again_the_runs_gf_could_not_record(load_text, db_path, tmp_path, run_gf):
    load_text("x = 1\n")
    program, flag = tmp_path / "full.py", tmp_path / "full.flag"
    program.write_text(FULL_DISK_PROGRAM)
    command = f"{sys.executable} {program} {{}} {flag}"
    assert run_gf("run", "--db", db_path, command, "d1", "-j", "1").exit_code == 0
    breed = ["breed", "--db", db_path, "--metric", "v", "--population", "3", "--loop", "2", "--seed", "1", "-j", "1",
             command]
    flag.touch()
    stopped = run_gf(*breed)
    assert stopped.exit_code == 1 and "could not write: a full disk" in stopped.stderr
    flag.unlink()
    resumed = run_gf(*breed)
    assert resumed.exit_code == 0, resumed.stderr
    assert "generation 1/2 (resumed): evaluations 3/3, 0 failed" in resumed.stderr
    conn = store.connect(db_path)
    assert conn.execute("SELECT count(*) FROM groups g WHERE generation = 1 AND EXISTS "
                        "(SELECT 1 FROM runs r WHERE r.group_id = g.id AND r.status = 'ok')").fetchone() == (3,)
