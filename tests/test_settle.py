"""Recording outcomes in batches (settle_many), and a coordinator killed before its batch is recorded."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gf import store
from gf.launch import Evaluation, Finished, settle, settle_many

PROGRAM = Path(__file__).parent / "programs" / "evaluate.py"


@pytest.fixture
def group_db(load_text, db_path):
    load_text("x = 1\n")
    return db_path


def test_settle_many_judges_each_outcome_as_if_alone(group_db):
    conn = store.connect(group_db)
    recorded_ok, recorded_then_failed, silent, failing, abandoned, recorded_failed = (
        Evaluation(1, dataset) for dataset in ("ok", "recorded-then-failed", "silent", "failing", "abandoned",
                                               "recorded-failed"))
    store.hand_out_launches(conn, [recorded_ok, recorded_then_failed, silent, failing, abandoned, recorded_failed])
    store.hand_out_launches(conn, [Evaluation(1, "abandoned")])  # another coordinator took that pair over
    for evaluation, status in ((recorded_ok, "ok"), (recorded_then_failed, "ok"), (recorded_failed, "failed")):
        with store.transaction(conn):
            store.insert_run(conn, {"group_id": 1, "dataset": evaluation.dataset, "started": store.now(),
                                    "status": status, "launch": evaluation.launch}, [("a", "score", 1.0)])
    outcomes = settle_many(conn, [
        Finished(recorded_ok, exit_code=0),
        Finished(recorded_then_failed, exit_code=2, stderr="late trouble\n"),
        Finished(silent, exit_code=0),
        Finished(failing, exit_code=1, stderr="boom\n"),
        Finished(abandoned, exit_code=0),
        Finished(recorded_failed, exit_code=0),  # the program recorded a failed run (a caught crash), exit 0
    ])
    assert [ok for ok, _runs in outcomes] == [True, False, False, False, False, False]
    assert outcomes[4] == (False, [])  # abandoned: nothing recorded
    rows = dict((dataset, (status, code, error)) for dataset, status, code, error in conn.execute(
        "SELECT dataset, status, exit_code, error FROM runs"))
    assert rows == {
        "ok": ("ok", 0, None),
        "recorded-then-failed": ("failed", 2, "exited with status 2\nlate trouble"),
        "silent": ("failed", 0, "the command exited 0 but recorded no run: does it call g.report() or g.record()?"),
        "failing": ("failed", 1, "exited with status 1\nboom"),
        "recorded-failed": ("failed", 0, None),
    }
    statuses = dict(conn.execute("SELECT dataset, status FROM launches WHERE status != 'pending'"))
    assert statuses == {"ok": "done", "recorded-then-failed": "done", "silent": "done", "failing": "done",
                        "abandoned": "abandoned", "recorded-failed": "done"}
    # one at a time gives the same
    again = Evaluation(1, "one")
    store.hand_out_launches(conn, [again])
    assert settle(conn, Finished(again, exit_code=5)) == (False, [conn.execute(
        "SELECT id FROM runs WHERE dataset = 'one'").fetchone()[0]])


def test_settle_many_of_more_outcomes_than_one_query_takes(group_db):
    conn = store.connect(group_db)
    evaluations = [Evaluation(1, f"d{index}") for index in range(1200)]
    store.hand_out_launches(conn, evaluations)
    outcomes = settle_many(conn, [Finished(evaluation, exit_code=1) for evaluation in evaluations])
    assert len(outcomes) == 1200 and not any(ok for ok, _ in outcomes)
    assert conn.execute("SELECT count(*), count(DISTINCT dataset) FROM runs").fetchone() == (1200, 1200)
    assert conn.execute("SELECT count(*) FROM launches WHERE status = 'done'").fetchone() == (1200,)


COORDINATOR = "import sys; import gf.processes as p; p.REPORT_EVERY = 60.0; from gf.cli import main; main()"


def test_coordinator_killed_with_outcomes_not_yet_recorded_loses_no_run_and_a_rerun_evaluates_each_pair_once(
        group_db, run_gf):
    """SIGKILL while every outcome so far waits in the coordinator's batch (REPORT_EVERY raised to 60 s)."""
    datasets = [f"d{index:02d}" for index in range(24)]
    args = ["run", "--db", group_db, f"{sys.executable} {PROGRAM} {{}}", *datasets, "-j", "2"]
    process = subprocess.Popen([sys.executable, "-c", COORDINATOR, *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env={**os.environ, "GF_LOAD_PLUGINS": ""})
    conn = store.connect(group_db)
    deadline = time.time() + 60
    while conn.execute("SELECT count(*) FROM runs").fetchone()[0] < 6 and time.time() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    time.sleep(1.0)  # the evaluations it left running finish and record their runs
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    recorded = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
    assert 6 <= recorded < len(datasets)
    # nothing was settled: the programs' own runs are there, their launches still pending
    assert conn.execute("SELECT count(*) FROM runs WHERE exit_code IS NOT NULL").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM launches WHERE status = 'done'").fetchone() == (0,)

    result = run_gf(*args, "--json")
    assert result.exit_code == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["evaluated"] + outcome["skipped"] == 24 and outcome["skipped"] >= recorded
    time.sleep(0.5)
    assert conn.execute("SELECT count(*), count(DISTINCT dataset) FROM runs").fetchone() == (24, 24)
    assert conn.execute("SELECT count(*) FROM runs WHERE status != 'ok'").fetchone() == (0,)
    # the rerun closed the launches whose programs had recorded their runs: none stays pending for good
    assert conn.execute("SELECT count(*) FROM launches WHERE status = 'pending'").fetchone() == (0,)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_runs_a_launcher_read_from_a_results_file_are_recorded_only_for_the_group_they_read(group_db):
    """A Slurm-like launcher hands over the runs its job wrote (gf.read_results): one of a stale copy of the
    database, whose group 1 held other values, is not recorded against this group 1."""
    conn = store.connect(group_db)
    good, stale = Evaluation(1, "good"), Evaluation(1, "stale")
    store.hand_out_launches(conn, [good, stale])
    digest = conn.execute("SELECT digest FROM groups WHERE id = 1").fetchone()[0]
    run = {"group_id": 1, "started": store.now(), "stopped": store.now(), "status": "ok"}
    outcomes = settle_many(conn, [
        Finished(good, exit_code=0, runs=[{"run": {**run, "group_digest": digest}, "rows": [("a", "score", 1.0)]}]),
        Finished(stale, exit_code=0, runs=[{"run": {**run, "group_digest": "0" * 40}, "rows": [("a", "score", 9.0)]}]),
    ])
    assert [ok for ok, _runs in outcomes] == [True, False]
    assert conn.execute("SELECT dataset, status, error FROM runs ORDER BY dataset").fetchall() == [
        ("good", "ok", None),
        ("stale", "failed", "a run it reported was of a group holding other values than group 1 (did the program "
                            "read another copy of the database?); not recorded")]


def test_a_pair_that_got_a_run_meanwhile_is_not_handed_out_again(group_db):
    """The pairs to evaluate are chosen before the write lock; a run recorded in between (an orphan of a
    killed gf that finished) drops its pair under the lock, unless --again; with --failed, only a run
    that did not fail does."""
    conn = store.connect(group_db)
    with store.transaction(conn):
        store.insert_run(conn, {"group_id": 1, "dataset": "done", "started": store.now(), "status": "ok"}, [])
        store.insert_run(conn, {"group_id": 1, "dataset": "crashed", "started": store.now(), "status": "failed"}, [])
    pairs = [Evaluation(1, "done"), Evaluation(1, "crashed"), Evaluation(1, "new")]
    assert [e.dataset for e in store.hand_out_launches(conn, pairs)] == ["new"]
    assert [e.dataset for e in store.hand_out_launches(conn, [Evaluation(1, "done"), Evaluation(1, "crashed")],
                                                       failed=True)] == ["crashed"]
    assert [e.dataset for e in store.hand_out_launches(conn, [Evaluation(1, "done")], again=True)] == ["done"]
