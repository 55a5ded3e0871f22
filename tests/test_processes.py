"""The local launcher's process pool (gf.processes) and recording outcomes in batches (settle_many)."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gf import processes, store
from gf.launch import Evaluation, Finished, LaunchContext, settle, settle_many

PROGRAM = Path(__file__).parent / "programs" / "evaluate.py"


def finished_of(context, evaluations):
    """Every Finished ``processes.run`` reports, and the batches it reported them in."""
    batches = list(processes.run(context, evaluations))
    return [finished for batch in batches for finished in batch], batches


def context(command, jobs=2, timeout=None, shell=True):
    return LaunchContext(db_path="/nonexistent/gf.db", command=command, jobs=jobs, timeout=timeout, shell=shell)


def test_every_evaluation_is_reported_once_in_batches_with_exit_code_and_stderr_tail():
    evaluations = [Evaluation(1, str(code)) for code in range(6)]
    found, batches = finished_of(context("echo oops-{} >&2; exit {}", jobs=3), evaluations)
    assert sorted(f.evaluation.dataset for f in found) == ["0", "1", "2", "3", "4", "5"]
    assert {f.evaluation.dataset: f.exit_code for f in found} == {str(code): code for code in range(6)}
    assert all(f.stderr == f"oops-{f.evaluation.dataset}\n" and f.error is None for f in found)
    assert all(f.started <= f.stopped and f.command.startswith("sh -c ") for f in found)
    assert len(batches) < len(found)  # outcomes that end close together are handed over together


def test_the_environment_carries_the_evaluation():
    evaluation = Evaluation(7, "some data")
    [found], _ = finished_of(context('echo "$GF_PARAM_GROUP|$GF_DATA|$GF_FAMILY|$GF_LAUNCH|$GF_DB" >&2'),
                             [evaluation])
    assert found.stderr.strip() == f"7|some data|some data|{evaluation.launch}|/nonexistent/gf.db"


def test_a_long_stderr_keeps_its_tail():
    [found], _ = finished_of(context("head -c 300000 /dev/zero | tr '\\0' x >&2; echo END >&2; exit 1"),
                             [Evaluation(1, "d")])
    assert found.exit_code == 1 and found.stderr.endswith("xxxEND\n") and len(found.stderr) == 2000


def test_a_child_that_closes_its_stderr_early_is_still_waited_for():
    start = time.monotonic()
    [found], _ = finished_of(context("exec 2>&-; sleep 0.3; exit 4"), [Evaluation(1, "d")])
    assert found.exit_code == 4 and found.error is None
    assert time.monotonic() - start >= 0.3


def test_children_that_close_their_stderr_early_still_count_against_jobs(tmp_path):
    log = tmp_path / "log"
    command = f"exec 2>&-; echo start >> {log}; sleep 0.3; echo end >> {log}"
    found, _ = finished_of(context(command, jobs=1), [Evaluation(1, str(i)) for i in range(3)])
    assert [f.exit_code for f in found] == [0, 0, 0]
    assert log.read_text().split() == ["start", "end"] * 3  # one at a time


@pytest.mark.parametrize("command", ["sleep 30", "exec 2>&-; sleep 30"])
def test_a_timeout_kills_the_session_whether_or_not_stderr_is_open(command):
    start = time.monotonic()
    found, _ = finished_of(context(f"echo started >&2; {command}", timeout=0.5), [Evaluation(1, "a"),
                                                                                Evaluation(1, "b")])
    assert time.monotonic() - start < 10
    assert [(f.exit_code, f.error) for f in found] == [(-9, "timed out after 0.5 s")] * 2


def test_a_command_that_cannot_start_is_exit_127_and_the_others_run():
    evaluations = [Evaluation(1, "a"), Evaluation(1, "b")]
    found, _ = finished_of(context("no-such-program-anywhere {}", shell=False), evaluations)
    assert [(f.exit_code, f.error) for f in found] == [
        (127, "cannot start 'no-such-program-anywhere': No such file or directory")] * 2


def test_other_children_of_the_process_keep_their_exit_status():
    """gf waits for its own pids only: a test runner's or notebook's children are not reaped behind its back."""
    other = subprocess.Popen(["sh", "-c", "exit 7"])
    time.sleep(0.1)
    found, _ = finished_of(context("exit 0"), [Evaluation(1, str(i)) for i in range(4)])
    assert [f.exit_code for f in found] == [0] * 4
    assert other.wait(timeout=10) == 7


def test_ctrl_c_kills_running_children_and_hands_over_what_ended_before(monkeypatch):
    monkeypatch.setattr(processes, "REPORT_EVERY", 30.0)  # nothing is handed over until Ctrl-C
    evaluations = [Evaluation(1, "quick"), Evaluation(1, "slow"), Evaluation(1, "slower")]
    command = "case {} in quick) exit 3;; *) echo $$ >&2; sleep 30;; esac"
    stream = processes.run(context(command, jobs=3), evaluations)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    handed = []
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        for batch in stream:
            handed.append(batch)
    timer.join()
    assert time.monotonic() - start < 10
    assert [[(f.evaluation.dataset, f.exit_code) for f in batch] for batch in handed] == [[("quick", 3)]]


def test_a_consumer_that_stops_early_kills_the_running_children(tmp_path):
    marker = tmp_path / "pids"
    stream = processes.run(context(f"echo $$ >> {marker}; case {{}} in quick) exit 0;; esac; sleep 30", jobs=3),
                           [Evaluation(1, "quick"), Evaluation(1, "slow"), Evaluation(1, "slower")])
    assert [f.evaluation.dataset for f in next(stream)] == ["quick"]
    deadline = time.monotonic() + 10
    while len(marker.read_text().split()) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    stream.close()
    pids = [int(line) for line in marker.read_text().split()]
    assert len(pids) == 3
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


# -- settling in batches ----------------------------------------------------------------


@pytest.fixture
def group_db(load_text, db_path):
    load_text("x = 1\n")
    return db_path


def test_settle_many_judges_each_outcome_as_if_alone(group_db):
    conn = store.connect(group_db)
    recorded_ok, recorded_then_failed, silent, failing, abandoned = (
        Evaluation(1, dataset) for dataset in ("ok", "recorded-then-failed", "silent", "failing", "abandoned"))
    store.hand_out_launches(conn, [recorded_ok, recorded_then_failed, silent, failing, abandoned])
    store.hand_out_launches(conn, [Evaluation(1, "abandoned")])  # another coordinator took that pair over
    for evaluation in (recorded_ok, recorded_then_failed):
        with store.transaction(conn):
            store.insert_run(conn, {"group_id": 1, "dataset": evaluation.dataset, "started": store.now(),
                                    "status": "ok", "launch": evaluation.launch}, [("a", "score", 1.0)])
    outcomes = settle_many(conn, [
        Finished(recorded_ok, exit_code=0),
        Finished(recorded_then_failed, exit_code=2, stderr="late trouble\n"),
        Finished(silent, exit_code=0),
        Finished(failing, exit_code=1, stderr="boom\n"),
        Finished(abandoned, exit_code=0),
    ])
    assert [ok for ok, _runs in outcomes] == [True, False, False, False, False]
    assert outcomes[-1] == (False, [])
    rows = dict((dataset, (status, code, error)) for dataset, status, code, error in conn.execute(
        "SELECT dataset, status, exit_code, error FROM runs"))
    assert rows == {
        "ok": ("ok", 0, None),
        "recorded-then-failed": ("failed", 2, "exited with status 2\nlate trouble"),
        "silent": ("failed", 0, "the command exited 0 but recorded no run: does it call g.report() or g.record()?"),
        "failing": ("failed", 1, "exited with status 1\nboom"),
    }
    statuses = dict(conn.execute("SELECT dataset, status FROM launches WHERE status != 'pending'"))
    assert statuses == {"ok": "done", "recorded-then-failed": "done", "silent": "done", "failing": "done",
                        "abandoned": "abandoned"}
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
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
