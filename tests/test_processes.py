"""The local launcher's process pool (gf.processes): slots, timeouts, stderr, Ctrl-C, both ways to start a child."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gf import processes
from gf.launch import Evaluation, LaunchContext

#: Whether gf starts children with _posixsubprocess.fork_exec on this Python (tests switch it).
FORK_EXEC_HERE = processes._FORK_EXEC


@pytest.fixture(autouse=True, params=["fork_exec", "posix_spawn"])
def start_with(request, monkeypatch):
    """Every pool test runs with both ways of starting a child (see gf.processes._FORK_EXEC)."""
    if request.param == "fork_exec" and not FORK_EXEC_HERE:
        pytest.skip("this Python's _posixsubprocess.fork_exec arguments are not known to gf")
    monkeypatch.setattr(processes, "_FORK_EXEC", request.param == "fork_exec")
    return request.param


def finished_of(context, evaluations):
    """Every Finished ``processes.run`` reports, and the batches it reported them in."""
    batches = list(processes.run(context, evaluations))
    return [finished for batch in batches for finished in batch], batches


def context(command, jobs=2, timeout=None, shell=True):
    return LaunchContext(db_path="/nonexistent/gf.db", command=command, jobs=jobs, timeout=timeout, shell=shell)


def test_every_evaluation_is_reported_once_in_batches_with_exit_code_and_stderr_tail(monkeypatch):
    monkeypatch.setattr(processes, "REPORT_EVERY", 1.0)  # however busy the machine, they end within it
    evaluations = [Evaluation(1, str(code)) for code in range(6)]
    found, batches = finished_of(context("echo oops-{} >&2; exit {}", jobs=3), evaluations)
    assert sorted(f.evaluation.dataset for f in found) == ["0", "1", "2", "3", "4", "5"]
    assert {f.evaluation.dataset: f.exit_code for f in found} == {str(code): code for code in range(6)}
    assert all(f.stderr == f"oops-{f.evaluation.dataset}\n" and f.error is None for f in found)
    assert all(f.started <= f.stopped and f.command.startswith("sh -c ") for f in found)
    assert len(batches) < len(found)  # outcomes that end close together are handed over together


def test_the_environment_carries_the_evaluation_not_gfs_own(monkeypatch):
    monkeypatch.setenv("GF_DATA", "gf's own")  # gf itself run from inside an evaluation
    monkeypatch.setenv("GF_RESULTS", "/tmp/results.jsonl")
    monkeypatch.setenv("SOMETHING_ELSE", "kept")
    evaluation = Evaluation(7, "some data")
    command = ('echo "$GF_PARAM_GROUP|$GF_DATA|$GF_FAMILY|$GF_LAUNCH|$GF_DB|${GF_RESULTS-unset}|$SOMETHING_ELSE" >&2;'
               ' env | grep -c "^GF_DATA=" >&2')
    [found], _ = finished_of(context(command), [evaluation])
    assert found.stderr.splitlines() == [
        f"7|some data|some data|{evaluation.launch}|/nonexistent/gf.db|unset|kept", "1"]


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


@pytest.mark.parametrize("timeout", [None, 5])
def test_a_command_is_done_when_it_exits_though_what_it_left_running_holds_its_stderr(tmp_path, timeout):
    pid_file = tmp_path / "pid"
    start = time.monotonic()
    found, _ = finished_of(context(f"echo started >&2; sleep 30 & echo $! > {pid_file}; exit 3", timeout=timeout),
                           [Evaluation(1, "a")])
    assert time.monotonic() - start < 5  # not the 30 s the background sleep holds stderr open for
    assert [(f.exit_code, f.stderr, f.error) for f in found] == [(3, "started\n", None)]  # not timed out
    deadline = time.monotonic() + 10
    while _alive(int(pid_file.read_text())):  # what it left in its session went with it (SIGKILL takes a moment)
        assert time.monotonic() < deadline, "what the command left running outlived it"
        time.sleep(0.02)


def test_what_a_command_wrote_to_a_filter_of_its_stderr_is_read_after_it_exits():
    # bash does not wait for a process substitution: the filter writes on after the command's end
    command = "exec bash -c 'exec 2> >(sleep 0.2; cat >&2); echo REAL-ERROR >&2; exit 3'"
    found, _ = finished_of(context(command), [Evaluation(1, "a")])
    assert [(f.exit_code, f.stderr, f.error) for f in found] == [(3, "REAL-ERROR\n", None)]


@pytest.mark.parametrize("command, exit_code", [
    # what it left running writes to its stderr all the time: its end is still seen
    ("while :; do echo x >&2; sleep 0.05; done & sleep 0.3; exit 0", 0),
    # it ends shortly before its deadline, holding its stderr open
    ("sleep 30 & sleep 0.9; exit 4", 4),
])
def test_a_command_that_ends_before_its_deadline_has_not_timed_out(command, exit_code):
    start = time.monotonic()
    found, _ = finished_of(context(command, timeout=1.5), [Evaluation(1, "a")])
    assert time.monotonic() - start < 5
    assert [(f.exit_code, f.error) for f in found] == [(exit_code, None)]


def test_a_command_that_cannot_start_is_exit_127_and_the_others_run():
    evaluations = [Evaluation(1, "a"), Evaluation(1, "b")]
    found, _ = finished_of(context("no-such-program-anywhere {}", shell=False), evaluations)
    assert [(f.exit_code, f.error) for f in found] == [
        (127, "cannot start 'no-such-program-anywhere': not found on PATH (give its path, e.g. ./backtest.py, or the "
              "interpreter: python3 backtest.py {})")] * 2


def test_a_program_that_exec_refuses_is_exit_127_with_the_reason(tmp_path):
    program = tmp_path / "not-a-program"
    program.write_bytes(b"\x00\x01\x02\x03")
    program.chmod(0o755)
    [found], _ = finished_of(context(f"{program} {{}}", shell=False), [Evaluation(1, "d")])
    assert (found.exit_code, found.error) == (127, f"cannot start '{program}': Exec format error (a script without a "
                                                   "#! line? run it through its interpreter: python3 script.py {})")


def test_the_fork_exec_arguments_are_those_popen_passes_on_this_python():
    """gf calls _posixsubprocess.fork_exec as subprocess does; this fails if a Python it allows changed the call."""
    if not FORK_EXEC_HERE:
        pytest.skip("gf uses os.posix_spawn on this Python")
    source = " ".join(Path(subprocess.__file__).read_text().split())
    assert ("_fork_exec( args, executable_list, close_fds, tuple(sorted(map(int, fds_to_keep))), cwd, env_list, "
            "p2cread, p2cwrite, c2pread, c2pwrite, errread, errwrite, errpipe_read, errpipe_write, "
            "restore_signals, start_new_session, process_group, gid, gids, uid, umask, preexec_fn, _USE_VFORK)"
            ) in source


def test_other_children_of_the_process_keep_their_exit_status():
    """gf waits for its own pids only: a test runner's or notebook's children are not reaped behind its back."""
    other = subprocess.Popen(["sh", "-c", "exit 7"])
    time.sleep(0.1)
    found, _ = finished_of(context("exit 0"), [Evaluation(1, str(i)) for i in range(4)])
    assert [f.exit_code for f in found] == [0] * 4
    assert other.wait(timeout=10) == 7


def test_ctrl_c_kills_running_children_and_hands_over_what_ended_before(monkeypatch, sigint_raises):
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


# -- gf.guard: a dask worker's commands die with the worker -------------------------------------


def test_a_guarded_command_reports_as_an_unguarded_one(tmp_path):
    program = tmp_path / "not-a-program"
    program.write_bytes(b"\x00\x01\x02\x03")
    program.chmod(0o755)
    cases = [(context("echo oops-{} >&2; exit 3"), "x"), (context("kill -TERM $$"), "x"),
             (context("no-such-program-anywhere {}", shell=False), "x"), (context(f"{program} {{}}", shell=False), "x"),
             (context("echo start >&2; sleep 30", timeout=0.5), "x")]
    for launch, dataset in cases:
        plain = processes.run_one(launch, Evaluation(1, dataset))
        guarded = processes.run_one(launch, Evaluation(1, dataset), guarded=True)
        assert (guarded.exit_code, guarded.stderr, guarded.error, guarded.command) == (
            plain.exit_code, plain.stderr, plain.error, plain.command)
    assert (plain.exit_code, plain.error) == (-9, "timed out after 0.5 s")  # the last case: its session killed


GUARDED_PARENT = """
import sys
from gf import processes
from gf.launch import Evaluation, LaunchContext
processes.run_one(LaunchContext(db_path="/nonexistent/gf.db", command=sys.argv[1], shell=True),
                  Evaluation(1, "d"), guarded=True)
"""


def test_a_guarded_command_dies_with_the_process_that_started_it(tmp_path):
    pids = tmp_path / "pids"
    # the command and a child of its own both sleep; each writes its pid first
    command = f"sleep 30 & echo $! >> {pids}; echo $$ >> {pids}; wait"
    parent = subprocess.Popen([sys.executable, "-c", GUARDED_PARENT, command], start_new_session=True)
    deadline = time.monotonic() + 30
    while not pids.exists() or len(pids.read_text().split()) < 2:
        assert time.monotonic() < deadline and parent.poll() is None
        time.sleep(0.05)
    started = [int(pid) for pid in pids.read_text().split()]
    assert all(_alive(pid) for pid in started)
    parent.kill()  # SIGKILL: the worker dies outright and can stop nothing itself
    parent.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in started):
        assert time.monotonic() < deadline, "the command ran on after the process that started it died"
        time.sleep(0.05)


def _alive(pid):
    """Whether ``pid`` runs (a zombie awaiting its reaping does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
