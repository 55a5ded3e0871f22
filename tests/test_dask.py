"""The dask launcher against a real scheduler and two real workers on 127.0.0.1."""

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from gf import GeneticFuckery, store
from conftest import DASK, GF

distributed = pytest.importorskip("distributed")

PROGRAM = f"{sys.executable} {Path(__file__).parent / 'programs' / 'evaluate.py'} {{}}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """`dask scheduler` and two `dask worker` processes, each in a folder of its own."""
    home = tmp_path_factory.mktemp("dask")
    scheduler_file = home / "scheduler.json"
    workers_dir = home / "workers"
    workers_dir.mkdir()
    # a task whose worker dies fails at once instead of being retried on the other worker
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False",
           "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    processes = [subprocess.Popen(
        [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
         "--scheduler-file", str(scheduler_file)],
        cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)]
    deadline = time.time() + 60
    while not scheduler_file.exists() and time.time() < deadline:
        time.sleep(0.1)
    for number in range(2):
        folder = workers_dir / f"w{number}"
        folder.mkdir()
        processes.append(subprocess.Popen(
            [DASK, "worker", "--scheduler-file", str(scheduler_file), "--nthreads", "1", "--nworkers", "1",
             "--no-dashboard", "--host", "127.0.0.1", "--local-directory", str(folder)],
            cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True))
    address = json.loads(scheduler_file.read_text())["address"]
    with distributed.Client(address, timeout=60) as client:
        client.wait_for_workers(2, timeout=60)
    yield address, workers_dir
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a worker still closing down on a busy machine (seen once in CI)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """The coordinator's folder: the database is `bt.db` here, a path the workers cannot reach."""
    folder = tmp_path / "coordinator"
    folder.mkdir()
    monkeypatch.chdir(folder)
    (folder / "start.js").write_text("x = 1\n")
    return folder


def test_breed_loop_through_dask_workers(cluster, workdir, run_gf):
    address, workers_dir = cluster
    assert run_gf("load", "--db", "bt.db", "start.js").exit_code == 0
    result = run_gf("run", "--db", "bt.db", PROGRAM, "aa", "bbb", "fail-x", "--launcher", "dask",
                    "--scheduler", address, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"evaluated": 3, "ok": 2, "failed": 1, "skipped": 0, "skipped_failed": 0}
    result = run_gf("breed", "--db", "bt.db", "--metric", "value", "--minimize", "--loop", "2", "--population", "4",
                    "--seed", "1", "--datasets-deny", "fail", "--launcher", "dask", "--scheduler", address, PROGRAM)
    assert result.exit_code == 0, result.stderr
    conn = store.connect("bt.db")
    runs = conn.execute("SELECT group_id, dataset, status, process_id, exit_code, error FROM runs ORDER BY id").fetchall()
    assert len(runs) == 3 + 2 * 4 * 2
    failed = [run for run in runs if run[2] == "failed"]
    assert [(run[1], run[4]) for run in failed] == [("fail-x", 3)] and "something broke" in failed[0][5]
    # every recorded run was made by a worker process, not by the coordinator
    assert os.getpid() not in {run[3] for run in runs if run[2] == "ok"}
    values = conn.execute("SELECT count(*) FROM results WHERE name = 'value'").fetchone()[0]
    assert values == len(runs) - 1
    # the program saw its group's real id, though it ran against a scratch copy
    seen = conn.execute("SELECT DISTINCT r.group_id = v.value FROM runs r JOIN results v ON v.run = r.id "
                        "WHERE v.name = 'group_seen'").fetchall()
    assert seen == [(1,)]
    assert conn.execute("SELECT max(generation) FROM groups").fetchone() == (2,)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert not list(workers_dir.rglob("bt.db"))


def test_a_run_recorded_for_another_dataset_on_a_worker_is_no_evaluation_of_the_pair(cluster, workdir, run_gf):
    """As with the local launcher: the coordinator recorded the program's run under the launched pair, whatever
    dataset the program recorded it for."""
    address, _ = cluster
    assert run_gf("load", "--db", "u.db", "start.js").exit_code == 0
    upper = workdir / "upper.py"
    upper.write_text("import sys\nfrom gf import GeneticFuckery\n"
                     "GeneticFuckery().record({'a': {'v': 1}}, dataset=sys.argv[1].upper())\n")
    result = run_gf("run", "--db", "u.db", f"{sys.executable} {upper} {{}}", "bb", "--launcher", "dask",
                    "--scheduler", address)
    assert result.exit_code == 1
    conn = store.connect("u.db")
    runs = conn.execute("SELECT group_id, dataset, status, error, family FROM runs ORDER BY dataset").fetchall()
    assert [run[:3] for run in runs] == [(1, "BB", "ok"), (1, "bb", "failed")]
    assert runs[0][4] == "bb"  # as the program recorded it: its family from GF_DATA, as on the local launcher
    assert runs[1][3].startswith("the command recorded its run for group 1 on dataset 'BB', not for group 1 on 'bb'")


def test_a_timeout_and_a_dying_worker_come_back_as_failed_runs(cluster, workdir, run_gf):
    address, _ = cluster
    assert run_gf("load", "--db", "w.db", "start.js").exit_code == 0
    result = run_gf("run", "--db", "w.db", PROGRAM, "sleep-x", "ok", "--launcher", "dask",
                    "--scheduler", address, "--timeout", "2", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"evaluated": 2, "ok": 1, "failed": 1, "skipped": 0, "skipped_failed": 0}
    # alone, so that no other task shares the worker it kills
    leftovers = set(Path(tempfile.gettempdir()).glob("gf-worker-*"))
    killer = f"killparent-{os.getpid()}"
    result = run_gf("run", "--db", "w.db", PROGRAM, killer, "--launcher", "dask", "--scheduler", address)
    assert result.exit_code == 1 and "every evaluation of this run failed" in result.stderr
    deadline = time.time() + 10
    while _commands_running(killer):  # the command (which sleeps 30 s) died with its worker
        assert time.time() < deadline, "the command ran on after its worker was killed"
        time.sleep(0.1)
    # the dead worker's scratch copy was in its own folder (dask purges it), not left in the temp folder
    assert set(Path(tempfile.gettempdir()).glob("gf-worker-*")) == leftovers
    conn = store.connect("w.db")
    errors = dict(conn.execute("SELECT dataset, error FROM runs WHERE status = 'failed'"))
    assert errors["sleep-x"].startswith("timed out after 2 s")
    assert errors[killer].startswith("the dask task failed: KilledWorker")
    with distributed.Client(address, timeout=30) as client:  # the nannies bring the worker back
        client.wait_for_workers(2, timeout=60)


def _commands_running(marker):
    """Pids of the evaluated programs (evaluate.py, not gf itself) whose command line holds ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    argv = handle.read().split(b"\0")
            except OSError:
                continue
            if any(arg.endswith(b"evaluate.py") for arg in argv) and any(marker.encode() in arg for arg in argv):
                found.append(int(entry))
    return found


def test_stopping_gf_stops_the_commands_running_on_the_workers(cluster, workdir, run_gf):
    address, _ = cluster
    assert run_gf("load", "--db", "stop.db", "start.js").exit_code == 0
    marker = f"sleep-stop-{os.getpid()}"  # evaluate.py sleeps 30 s on a dataset named sleep*
    gf = subprocess.Popen([GF, "run", "--db", "stop.db", PROGRAM, f"{marker}-a", f"{marker}-b", "--launcher", "dask",
                           "--scheduler", address], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "GF_LOAD_PLUGINS": ""})
    deadline = time.time() + 60
    while len(_commands_running(marker)) < 2:  # both commands run, one on each worker
        assert time.time() < deadline and gf.poll() is None, gf.communicate()
        time.sleep(0.1)
    gf.send_signal(signal.SIGTERM)
    _, stderr = gf.communicate(timeout=60)
    assert gf.returncode == 143 and "interrupted (SIGTERM) after 0 of 2 evaluations" in stderr
    deadline = time.time() + 15
    while _commands_running(marker):  # the workers kill them, well before their 30 s are up
        assert time.time() < deadline, "the commands ran on after gf stopped"
        time.sleep(0.1)
    conn = store.connect("stop.db")
    assert conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)  # nothing recorded for them
    # a gf killed outright: its connection drops, the scheduler cancels its tasks all the same
    gf = subprocess.Popen([GF, "run", "--db", "stop.db", PROGRAM, f"{marker}-c", "--launcher", "dask",
                           "--scheduler", address], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          env={**os.environ, "GF_LOAD_PLUGINS": ""})
    deadline = time.time() + 60
    while not _commands_running(f"{marker}-c"):  # the command runs on a worker
        assert time.time() < deadline and gf.poll() is None
        time.sleep(0.1)
    gf.kill()
    gf.wait(timeout=30)
    deadline = time.time() + 15
    while _commands_running(marker):
        assert time.time() < deadline, "the command ran on after gf was killed"
        time.sleep(0.1)
    with distributed.Client(address, timeout=30) as client:  # both workers free again
        assert sum(client.run(lambda: 1).values()) == 2


NAPPER = """
import os, sys, time
from gf import GeneticFuckery
dataset = sys.argv[1]
with open(os.environ["NAP_LOG"], "a") as log:
    log.write(f"start {dataset}\\n")
time.sleep(float(dataset.split("-")[0][3:]))  # nap2-a sleeps 2 s
g = GeneticFuckery()
with g.report("nap") as r:
    r["score"]["value"] = g.x
with open(os.environ["NAP_LOG"], "a") as log:
    log.write(f"end {dataset}\\n")
"""


@pytest.fixture
def own_cluster(tmp_path):
    """A scheduler and two workers for one test, which may kill them; the workers log to ``naps.log``."""
    home = tmp_path / "cluster"
    home.mkdir()
    scheduler_file, log = home / "scheduler.json", home / "naps.log"
    env = {**os.environ, "NAP_LOG": str(log), "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    started = [subprocess.Popen(
        [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file",
         str(scheduler_file)], cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        start_new_session=True)]
    deadline = time.time() + 60
    while not scheduler_file.exists() and time.time() < deadline:
        time.sleep(0.1)
    for number in range(2):
        started.append(subprocess.Popen(
            [DASK, "worker", "--scheduler-file", str(scheduler_file), "--nthreads", "1", "--no-dashboard",
             "--host", "127.0.0.1", "--local-directory", str(home / f"w{number}")],
            cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True))
    address = json.loads(scheduler_file.read_text())["address"]
    with distributed.Client(address, timeout=60) as client:
        client.wait_for_workers(2, timeout=60)
    yield address, started, log
    for process in started:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=30)


def test_a_dead_worker_redoes_no_recorded_evaluation_and_a_lost_scheduler_leaves_them_pending(own_cluster, workdir,
                                                                                           run_gf, tmp_path):
    address, started, log = own_cluster
    napper = tmp_path / "napper.py"
    napper.write_text(NAPPER)
    command = f"{sys.executable} {napper} {{}}"
    assert run_gf("load", "--db", "nap.db", "start.js").exit_code == 0
    datasets = [f"nap1-{letter}" for letter in "abcdefgh"]
    gf = subprocess.Popen([GF, "run", "--db", "nap.db", command, *datasets, "--launcher", "dask", "--scheduler",
                           address], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "GF_LOAD_PLUGINS": ""})
    with distributed.Client(address, timeout=30) as client:
        doomed = sorted(client.run(os.getpid).values())[0]
    conn = store.connect("nap.db")
    deadline = time.time() + 60
    while True:  # both workers hold results gf has recorded, and none it has not
        ended = log.read_text().count("end ") if log.exists() else 0
        if ended >= 4 and conn.execute("SELECT count(*) FROM runs").fetchone()[0] == ended:
            break
        assert time.time() < deadline and gf.poll() is None
        time.sleep(0.02)
    os.kill(doomed, signal.SIGKILL)  # one worker dies (its nanny starts it again)
    _, stderr = gf.communicate(timeout=120)
    assert gf.returncode == 0, stderr
    assert conn.execute("SELECT dataset, status FROM runs ORDER BY dataset").fetchall() == [
        (dataset, "ok") for dataset in datasets]
    starts = log.read_text().count("start ")
    assert starts <= len(datasets) + 1  # only the evaluation the dead worker was running ran again

    # the scheduler dies mid-run: a clear error, nothing recorded as failed, the pairs still to do
    more = [f"nap5-{letter}" for letter in "xy"]
    gf = subprocess.Popen([GF, "run", "--db", "nap.db", command, *more, "--launcher", "dask", "--scheduler",
                           address], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "GF_LOAD_PLUGINS": ""})
    deadline = time.time() + 60
    while log.read_text().count("start nap5") < 2:
        assert time.time() < deadline and gf.poll() is None
        time.sleep(0.05)
    os.killpg(started[0].pid, signal.SIGKILL)
    _, stderr = gf.communicate(timeout=120)
    assert gf.returncode == 1 and stderr.splitlines()[-1].startswith(f"error: lost the dask scheduler at {address}")
    assert stderr.splitlines()[-1].endswith("rerun the same command once the scheduler and its workers are back")
    assert "Traceback" not in stderr and "distributed.client" not in stderr  # gf's line, not dask's log
    assert conn.execute("SELECT count(*) FROM runs WHERE status = 'failed'").fetchone() == (0,)
    # the two it was waiting for are not evaluated: their launches released (no run of them will be recorded)
    assert conn.execute("SELECT count(*) FROM launches WHERE status = 'abandoned'").fetchone() == (2,)
    assert conn.execute("SELECT count(*) FROM launches WHERE status = 'pending'").fetchone() == (0,)


def test_evolve_runs_the_function_on_dask_workers(cluster, workdir, run_gf):
    address, _ = cluster
    assert run_gf("load", "--db", "evo.db", "start.js").exit_code == 0
    g = GeneticFuckery(dbfile="evo.db")
    best = g.evolve(lambda params, dataset: {"score": {"value": (params.x - 4) ** 2, "worker_pid": os.getpid()}},
                    metric="value", minimize=True, generations=2, population=4, datasets=["a"], seed=2,
                    launcher="dask", scheduler=address)
    assert best["group"] >= 1
    conn = store.connect("evo.db")
    pids = {row[0] for row in conn.execute("SELECT value FROM results WHERE name = 'worker_pid'")}
    assert pids and os.getpid() not in pids


def test_a_scheduler_address_the_check_cannot_read_is_left_to_dask():
    from gf_plugins_builtin.distributed import _reachable

    for address in ("tcp://[::1:8786", "tcp://[bad]:8786", "tls://127.0.0.1:9", "tcp://127.0.0.1", "inproc://x"):
        assert _reachable(address, 0.5) is None  # no connection tried, no error of its own


def test_dask_missing_scheduler_is_a_clear_failure(workdir, run_gf, monkeypatch):
    """A scheduler nothing listens at (a typo, one not started) is found before anything is bred or written."""
    monkeypatch.setenv("GF_DASK_TIMEOUT", "2")
    assert run_gf("load", "--db", "bt.db", "start.js").exit_code == 0
    assert run_gf("run", "--db", "bt.db", PROGRAM, "aa", "bb").exit_code == 0  # scored: gf breed has parents
    def dump():  # what a reader sees, the WAL's pages included (the main file's bytes lag behind them)
        conn = sqlite3.connect(workdir / "bt.db")
        try:
            return list(conn.iterdump())
        finally:
            conn.close()

    before = dump()
    for args in (("run", "--db", "bt.db", PROGRAM, "cc"), ("breed", "--db", "bt.db", "--metric", "value", PROGRAM)):
        result = run_gf(*args, "--launcher", "dask", "--scheduler", "tcp://127.0.0.1:9")
        assert result.exit_code == 1
        assert result.stderr.startswith("error: cannot reach the dask scheduler at tcp://127.0.0.1:9 within 2 s")
        assert result.stderr.count("\n") == 1
        assert dump() == before


@pytest.fixture
def lone_scheduler(tmp_path):
    """The address of a `dask scheduler` with no worker."""
    scheduler_file = tmp_path / "alone.json"
    scheduler = subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                  "--scheduler-file", str(scheduler_file)], cwd=tmp_path, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 60
        while not scheduler_file.exists():
            assert time.time() < deadline
            time.sleep(0.1)
        yield json.loads(scheduler_file.read_text())["address"]
    finally:
        os.killpg(scheduler.pid, signal.SIGKILL)
        scheduler.wait(timeout=30)


def test_a_scheduler_without_workers_stops_gf_after_the_wait_allowed(workdir, run_gf, lone_scheduler):
    """Workers gone overnight (spot machines, a batch job's time up): gf waited without end. With
    GF_DASK_WORKER_WAIT it stops after that long, one line, what was not recorded left to a rerun;
    a value that is no number of seconds is refused before anything is written."""
    address = lone_scheduler
    assert run_gf("load", "--db", "alone.db", "start.js").exit_code == 0
    command = [GF, "run", "--db", "alone.db", PROGRAM, "aa", "bb", "--launcher", "dask", "--scheduler", address]
    started = time.time()
    gf = subprocess.run(command, capture_output=True, text=True, timeout=120,
                        env={**os.environ, "GF_LOAD_PLUGINS": "", "GF_DASK_WORKER_WAIT": "1"})
    assert gf.returncode == 1 and time.time() - started < 60
    assert gf.stderr.splitlines()[-1] == (
        f"error: the dask scheduler at {address} had no worker for 1 s (GF_DASK_WORKER_WAIT); the 2 evaluation(s) "
        "not yet recorded are not done: rerun the same command once workers are back")
    assert (f"gf: the dask scheduler at {address} has no worker yet; waiting for one for up to 1 s "
            "(GF_DASK_WORKER_WAIT)") in gf.stderr
    conn = store.connect("alone.db")
    assert conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM launches WHERE status = 'pending'").fetchone() == (0,)
    before = conn.execute("SELECT count(*) FROM launches").fetchone()
    bad = subprocess.run(command, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "GF_LOAD_PLUGINS": "", "GF_DASK_WORKER_WAIT": "soon"})
    assert bad.returncode == 1 and bad.stderr == (
        "error: GF_DASK_WORKER_WAIT='soon' is not a number of seconds (at least 0); leave it unset to wait for a "
        "worker as long as it takes\n")
    assert conn.execute("SELECT count(*) FROM launches").fetchone() == before


def test_a_scheduler_without_workers_is_said_while_gf_waits(workdir, run_gf, lone_scheduler, tmp_path):
    address = lone_scheduler
    deadline = time.time() + 60
    assert run_gf("load", "--db", "alone.db", "start.js").exit_code == 0
    errors = tmp_path / "gf.err"
    with open(errors, "w") as sink:
        gf = subprocess.Popen([GF, "run", "--db", "alone.db", PROGRAM, "aa", "--launcher", "dask", "--scheduler",
                               address], stdout=subprocess.DEVNULL, stderr=sink,
                              env={**os.environ, "GF_LOAD_PLUGINS": ""})
        said = f"gf: the dask scheduler at {address} has no worker yet; waiting for one (`dask worker {address}`"
        while said not in errors.read_text():
            assert time.time() < deadline and gf.poll() is None
            time.sleep(0.1)
        gf.send_signal(signal.SIGTERM)
        assert gf.wait(timeout=60) == 143


def test_workers_all_gone_mid_run_are_said_and_stop_gf_after_the_wait_allowed(own_cluster, workdir, run_gf, tmp_path):
    """Both workers killed while evaluations wait: gf says the scheduler has no worker now, and with
    GF_DASK_WORKER_WAIT stops (what was recorded stays, the rest is left to a rerun)."""
    address, started, log = own_cluster
    napper = tmp_path / "napper.py"
    napper.write_text(NAPPER)
    assert run_gf("load", "--db", "nap.db", "start.js").exit_code == 0
    datasets = [f"nap1-{letter}" for letter in "abcdef"]
    gf = subprocess.Popen([GF, "run", "--db", "nap.db", f"{sys.executable} {napper} {{}}", *datasets, "--launcher",
                           "dask", "--scheduler", address], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "GF_LOAD_PLUGINS": "", "GF_DASK_WORKER_WAIT": "3"})
    deadline = time.time() + 60
    while not (log.exists() and "end" in log.read_text()):  # one evaluation done: the others wait or run
        assert time.time() < deadline and gf.poll() is None
        time.sleep(0.05)
    for worker in started[1:]:
        os.killpg(worker.pid, signal.SIGKILL)
    _, stderr = gf.communicate(timeout=120)
    assert gf.returncode == 1, stderr
    assert re.search(rf"gf: the dask scheduler at {re.escape(address)} has no worker now; [1-6] evaluation\(s\) wait "
                     "for one", stderr), stderr
    assert re.fullmatch(rf"error: the dask scheduler at {re.escape(address)} had no worker for 3 s "
                        r"\(GF_DASK_WORKER_WAIT\); the [1-6] evaluation\(s\) not yet recorded are not done: rerun the "
                        "same command once workers are back", stderr.splitlines()[-1]), stderr
    recorded = store.connect("nap.db").execute("SELECT count(*) FROM runs WHERE status = 'ok'").fetchone()[0]
    assert 0 <= recorded < len(datasets)
