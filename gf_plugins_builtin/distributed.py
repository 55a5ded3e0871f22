"""The ``dask`` launcher: evaluations on dask.distributed workers, the coordinator the only writer.

A worker never opens the coordinator's database. Each task carries the group's
parameters; the worker writes them into a private scratch store, runs the command
against it (or calls the ``evolve`` function), and returns the run and its results,
which the coordinator records. dask is the optional extra ``[dask]``, imported only
when this launcher is chosen (its ``check_ready``, before gf writes anything) and runs.
"""

import os
from concurrent.futures import CancelledError

from gf import GfError, Launcher, hookimpl
from gf.launch import Finished, LaunchContext

#: How often (seconds) a worker running a command checks that dask still wants its result.
CANCEL_POLL = 0.2
#: How often (seconds) the coordinator, while no evaluation comes back, asks the scheduler whether it
#: has any worker left (see :func:`_completed`).
WORKER_POLL = 5.0


class MissingDask(GfError):
    exit_code = 1


class SchedulerUnreachable(GfError):
    exit_code = 1


class SchedulerLost(GfError):
    """The scheduler went away mid-run: what was not yet recorded stays pending, for a rerun."""

    exit_code = 1


def _connect_timeout():
    """Seconds to wait for the scheduler before giving up (``GF_DASK_TIMEOUT``, default 10)."""
    value = os.environ.get("GF_DASK_TIMEOUT", "10")
    try:
        return float(value)
    except ValueError:
        raise MissingDask(f"GF_DASK_TIMEOUT={value!r} is not a number of seconds") from None


def _worker_wait():
    """Seconds gf waits while the scheduler has no worker before it stops (``GF_DASK_WORKER_WAIT``), or
    ``None`` (unset: it waits for one as long as it takes, saying so)."""
    value = os.environ.get("GF_DASK_WORKER_WAIT", "")
    if not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise MissingDask(f"GF_DASK_WORKER_WAIT={value!r} is not a number of seconds (at least 0); leave it unset "
                          "to wait for a worker as long as it takes")
    return seconds


class _Watch:
    """Whether the scheduler still has a worker, asked every ``poll`` seconds while nothing comes back.
    When its last one has gone (spot machines taken back, a batch job's time up), gf says so once, and
    after ``limit`` seconds without one (``None``: never) raises :class:`SchedulerLost`, leaving what was
    not recorded pending. ``alone``: it had none at the start (already said)."""

    def __init__(self, client, address, limit, alone=False, poll=WORKER_POLL):
        import time

        self.client, self.address, self.limit = client, address, limit
        self.poll = poll if limit is None else min(poll, max(limit / 2, 0.1))  # often enough to keep the limit
        self.checked = time.monotonic()
        self.alone_since = self.checked if alone else None

    def progress(self):
        """Something came back: a worker is there."""
        import time

        self.alone_since, self.checked = None, time.monotonic()

    def idle(self, waiting):
        """Nothing came back lately; ``waiting`` evaluations are not done."""
        import sys
        import time

        now = time.monotonic()
        if not self.address or now - self.checked < self.poll:
            return
        self.checked = now
        if self.client.nthreads():
            self.alone_since = None
            return
        if self.alone_since is None:
            self.alone_since = now
            start = "\r\033[K" if sys.stderr.isatty() else ""  # on its own line, after any progress line
            sys.stderr.write(f"{start}gf: the dask scheduler at {self.address} has no worker now; {waiting} "
                             f"evaluation(s) wait for one (`dask worker {self.address}` starts one)\n")
        if self.limit is not None and now - self.alone_since >= self.limit:
            raise SchedulerLost(
                f"the dask scheduler at {self.address} had no worker for {self.limit:g} s (GF_DASK_WORKER_WAIT); "
                f"the {waiting} evaluation(s) not yet recorded are not done: rerun the same command once workers "
                "are back")


def _completed(distributed, futures, watch):
    """``futures`` as they complete (what ``distributed.as_completed`` gives), ``watch`` (a :class:`_Watch`)
    told while none does."""
    import time

    completed = distributed.as_completed(futures)
    woken = getattr(completed, "thread_condition", None)  # set when a future completes
    while not completed.is_empty():
        if completed.has_ready():
            watch.progress()
            yield from completed.next_batch(block=False)
            continue
        if woken is not None:
            with woken:
                woken.wait(timeout=0.1)
        else:
            time.sleep(0.1)
        watch.idle(completed.count())


def _result(future, watch, waiting):
    """``future.result()``, ``watch`` told while it waits: a result lost with the worker that held it
    (killed after the task finished) is computed again, and with no worker left that would be never."""
    import time

    while True:
        if future.done():  # (a result() that times out leaves dask's gather to complain at exit)
            try:
                return future.result(timeout=watch.poll)
            except TimeoutError:
                if future.status == "error":  # the task's own TimeoutError
                    raise
        else:
            time.sleep(0.1)
        watch.idle(waiting)


def _reachable(address, timeout):
    """Raise :class:`SchedulerUnreachable` if nothing listens at a ``tcp://HOST:PORT`` scheduler address (a
    typo, a scheduler not started): found before gf breeds or writes anything, by opening a TCP
    connection (no dask client: that takes seconds). Other protocols are left to dask."""
    import socket
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(address if "://" in address else f"tcp://{address}")
        scheme, host, port = parts.scheme, parts.hostname, parts.port
    except ValueError:  # a port that is no number, an unclosed [ of an IPv6 address: left to dask to say
        return
    if scheme != "tcp" or not host or not port:
        return
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as error:
        raise SchedulerUnreachable(f"cannot reach the dask scheduler at {address} within {timeout:g} s ({error}); "
                                   "is `dask scheduler` running there?") from None


def _distributed():
    try:
        import distributed
    except ImportError:
        raise MissingDask("the dask launcher needs dask.distributed (the [dask] extra): pip install 'dask[distributed]'") from None
    return distributed


def evaluate_remotely(task):
    """Run on a worker: one evaluation against a scratch store; return what the coordinator records."""
    import shutil
    import tempfile

    from gf import store
    from gf.launch import Evaluation
    from gf.params import build_tree

    evaluation = Evaluation(task["group"], task["dataset"], launch=task["launch"], params=task["params"])
    if task.get("function") is not None:
        started = store.now()
        try:
            results = task["function"](build_tree("(worker)", evaluation.group, evaluation.params), evaluation.dataset)
        except Exception as error:
            from gf.launch import function_error

            return {"error": function_error(error), "started": started, "stopped": store.now()}
        return {"results": results, "started": started, "stopped": store.now()}
    scratch = tempfile.mkdtemp(prefix="gf-worker-", dir=_worker_directory())
    try:
        path = os.path.join(scratch, "scratch.db")
        conn = store.connect(path)
        with store.transaction(conn):
            # the same id as on the coordinator, so the program sees its real GF_PARAM_GROUP
            store.insert_group(conn, params=task["rows"], origin="scratch copy", group_id=evaluation.group)
        context = LaunchContext(db_path=path, command=task["command"], timeout=task["timeout"], shell=task["shell"])
        finished = _run_until_cancelled(context, evaluation)
        cursor = conn.execute(
            "SELECT id, label, dataset, family, started, stopped, status, host, process_id, command, error FROM runs "
            "WHERE launch = ? ORDER BY id", (evaluation.launch,))
        names = [column[0] for column in cursor.description]
        runs = []
        for row in cursor.fetchall():
            run = dict(zip(names, row))
            rows = conn.execute("SELECT algo, name, value FROM results WHERE run = ? ORDER BY rowid", (run.pop("id"),))
            runs.append({"run": run, "rows": [list(result) for result in rows]})
        conn.close()
        return {"exit_code": finished.exit_code, "stderr": finished.stderr, "error": finished.error,
                "started": finished.started, "stopped": finished.stopped, "command": finished.command, "runs": runs}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _worker_directory():
    """The dask worker's own folder, or None (the system's temp folder) outside a worker.

    A worker killed mid-task leaves its scratch copy behind; inside the worker's folder it goes
    with the rest when dask purges a dead worker's folder, instead of piling up in /tmp.
    """
    try:
        import distributed

        return distributed.get_worker().local_directory
    except (ImportError, ValueError):
        return None


def _run_until_cancelled(context, evaluation):
    """Run the command; kill it (and all it started) as soon as dask cancels this task.

    dask does not interrupt a running task when its future is cancelled: gf stopped (Ctrl-C,
    SIGTERM, a crash that closed its client), yet the command would run on to its end. A
    watcher thread reads this worker's own state of the task (no network) and kills the
    command's session once the task is cancelled or forgotten. A worker that dies outright
    (SIGKILL, the out-of-memory killer) can kill nothing: the command runs through
    :mod:`gf.guard`, which kills it once the worker is gone (the scheduler has given its
    evaluation to another worker by then).
    """
    import threading

    from gf import processes

    try:
        import distributed

        worker = distributed.get_worker()
        key = worker.get_current_task()
    except (ImportError, ValueError, KeyError):  # not in a dask task (called directly): nothing to watch
        return processes.run_one(context, evaluation)
    pids, done = [], threading.Event()

    def watch():
        while not done.wait(CANCEL_POLL):
            task = worker.state.tasks.get(key)
            if pids and (task is None or task.state in ("cancelled", "released", "forgotten")):
                if _not_reaped(pids[0]):  # once reaped, its pid could be another process's
                    processes.kill_session(pids[0])
                return

    watcher = threading.Thread(target=watch, name=f"gf-cancel-{key}", daemon=True)
    watcher.start()
    try:
        return processes.run_one(context, evaluation, started=pids.append, guarded=True)
    finally:
        done.set()
        watcher.join()


def _not_reaped(pid):
    """Whether child ``pid`` still runs or awaits its reaping (its pid not yet free for reuse)."""
    try:
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return False
    return True


class DaskLauncher(Launcher):
    name = "dask"
    description = "run evaluations on dask.distributed workers (--scheduler ADDRESS, or a local cluster)"
    commands = True
    functions = True
    options = {"scheduler": "the scheduler's address, tcp://HOST:PORT (env GF_DASK_SCHEDULER); default: a local "
                            "cluster of --jobs processes"}

    def check_ready(self, options):
        _distributed()  # a missing extra is found before gf breeds or runs anything
        address = options.get("scheduler") or os.environ.get("GF_DASK_SCHEDULER")
        _worker_wait()  # a setting that is no number of seconds, too
        if address:
            _reachable(address, _connect_timeout())

    def launch(self, evaluations, context):
        import logging

        distributed = _distributed()
        # the client logs a lost scheduler as tracebacks (and a wrong reconnect time) before gf
        # says it in one line (SchedulerLost): gf's line is enough
        # and a result fetch given up when every worker had gone (see _result) leaves dask's gather task to
        # fail as the client closes, which asyncio logs as a traceback ("Task exception was never retrieved")
        logs = [logging.getLogger(name) for name in ("distributed.client", "asyncio")]
        levels = [log.level for log in logs]
        for log in logs:
            log.setLevel(logging.CRITICAL)
        try:
            yield from self._launch(distributed, evaluations, context)
        finally:
            import gc

            gc.collect()  # such a task is logged when collected: now, while the log is quiet
            for log, level in zip(logs, levels):
                log.setLevel(level)

    def _launch(self, distributed, evaluations, context):
        address = context.options.get("scheduler") or os.environ.get("GF_DASK_SCHEDULER")
        cluster = None
        if address:
            timeout = _connect_timeout()
            try:
                client = distributed.Client(address, timeout=timeout)
            except (OSError, TimeoutError) as error:
                raise SchedulerUnreachable(
                    f"cannot reach the dask scheduler at {address} within {timeout:g} s ({error}); "
                    "is `dask scheduler` running there?") from None

        else:
            cluster = distributed.LocalCluster(n_workers=max(1, context.jobs), threads_per_worker=1,
                                               processes=True, dashboard_address=None)
            client = distributed.Client(cluster)
        tasks = {}
        limit = _worker_wait()
        try:
            alone = bool(address and evaluations and not client.scheduler_info().get("workers"))
            if alone:
                import sys  # said, or gf would wait without a word; on its own line, after any progress line

                start = "\r\033[K" if sys.stderr.isatty() else ""
                within = "" if limit is None else f" for up to {limit:g} s (GF_DASK_WORKER_WAIT)"
                sys.stderr.write(f"{start}gf: the dask scheduler at {address} has no worker yet; waiting for one"
                                 f"{within} (`dask worker {address}` starts one)\n")
            for evaluation in evaluations:
                task = {"group": evaluation.group, "dataset": evaluation.dataset, "launch": evaluation.launch,
                        "params": evaluation.params, "rows": evaluation.rows,
                        "command": context.command, "timeout": context.timeout, "shell": context.shell,
                        "function": context.function}
                tasks[client.submit(evaluate_remotely, task, pure=False, key=f"gf-{evaluation.launch}")] = evaluation
            watch = _Watch(client, address, limit, alone)
            for future in _completed(distributed, tasks, watch):
                evaluation = tasks.pop(future)
                try:
                    outcome = _result(future, watch, len(tasks) + 1)
                except CancelledError as error:  # gf cancels only in `finally`: the scheduler cancelled it
                    raise SchedulerLost(
                        f"lost the dask scheduler at {address or 'the local cluster'} ({type(error).__name__}: "
                        f"{' '.join(str(error).split())[:200]}); the evaluations not yet recorded are not done: rerun the same "
                        "command once the scheduler and its workers are back") from None
                except Exception as error:  # the worker died (again and again), or the task could not run
                    # one line: the message's last line alone (a documentation URL) would say nothing
                    yield Finished(evaluation, error=f"the dask task failed: {type(error).__name__}: "
                                                     f"{' '.join(str(error).split())}")
                    continue
                finally:
                    # its result is taken (or lost): were it kept, dask would compute it again when the
                    # worker holding it dies
                    future.release()
                yield Finished(evaluation, exit_code=outcome.get("exit_code"), stderr=outcome.get("stderr", ""),
                               error=outcome.get("error"), results=outcome.get("results"), runs=outcome.get("runs"),
                               started=outcome.get("started", ""), stopped=outcome.get("stopped", ""),
                               command=outcome.get("command", ""))
        finally:
            for future in tasks:
                future.cancel()
            client.close()
            if cluster is not None:
                cluster.close()


@hookimpl
def gf_register_launchers(register):
    register(DaskLauncher())
