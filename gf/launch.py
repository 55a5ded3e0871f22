"""Launching evaluations: run the user's command (or function) for (group, dataset) pairs.

A launcher (a plugin, see ``gf_register_launchers``) runs evaluations somewhere and
yields a :class:`Finished` for each; the coordinator then *settles* it here, in its
own thread and connection: a run the program recorded is kept (and marked failed if
the program exited non-zero), a program that died or timed out gets a failed run
with its exit code and the tail of its stderr. The launcher never writes.
"""

import functools
import os
import shlex
import subprocess
from dataclasses import dataclass, field

from gf import store
from gf.errors import InputError

#: How much of a failed command's stderr is kept with its run.
STDERR_TAIL = 2000


@dataclass
class Evaluation:
    """One (group, dataset) pair to evaluate.

    :ivar launch: a ULID given to the program as ``GF_LAUNCH``; the run it records carries it.
    :ivar params: ``[(full_name, value_as_read)]`` of the group, for launchers that
        run away from the database (in-process, remote workers).
    :ivar rows: the group's stored ``(name, value, type, typed)`` rows, for launchers that
        recreate the group in a scratch store.
    """

    group: int
    dataset: str
    launch: str = field(default_factory=store.new_ulid)
    params: list = field(default_factory=list)
    rows: list = field(default_factory=list)


@dataclass
class Finished:
    """What a launcher reports about one evaluation.

    :ivar exit_code: the command's exit status (negative: killed by that signal), or
        ``None`` for an in-process evaluation.
    :ivar error: why it failed, if the launcher knows (a timeout, an exception).
    :ivar results: for an in-process evaluation, the ``{algo: {name: value}}`` it returned.
    :ivar runs: runs the program recorded somewhere else (a remote worker's scratch
        store): ``[{"run": {column: value}, "rows": [(algo, name, value)]}]``; the
        coordinator records them as this evaluation's.
    """

    evaluation: Evaluation
    exit_code: object = None
    stderr: str = ""
    error: object = None
    results: object = None
    runs: object = None
    started: str = ""
    stopped: str = ""
    command: str = ""


@dataclass
class LaunchContext:
    """What every launcher is given besides the evaluations.

    :ivar db_path: the database's absolute path (for ``GF_DB``).
    :ivar command: the command template (``{}`` = the dataset), or ``None``.
    :ivar function: for in-process evaluation, ``fn(params, dataset) -> results``.
    :ivar jobs: how many evaluations may run at once.
    :ivar timeout: seconds before a command is killed, or ``None``.
    :ivar shell: run the command through ``sh -c`` (only when the user asks).
    :ivar echo: where launchers that print (``print``) write a line.
    :ivar stopping: a ``threading.Event`` set on Ctrl-C: start nothing new.
    :ivar options: launcher-specific settings (``{"scheduler": "tcp://..."}`` for dask).
    """

    db_path: str
    command: object = None
    function: object = None
    jobs: int = 1
    timeout: object = None
    shell: bool = False
    echo: object = print
    stopping: object = None
    options: dict = field(default_factory=dict)


class Launcher:
    """Base class of a launcher; register instances with the ``gf_register_launchers`` hook.

    :ivar name: what ``--launcher`` selects.
    :ivar description: one line for ``gf launchers list``.
    :ivar waits: ``False`` for launchers that only hand work out (``print``): the
        breed loop then stops after breeding, and a rerun picks up the results.
    :ivar commands: whether it runs a command template (``gf run``, ``gf breed``).
    :ivar functions: whether it calls a Python function (``GeneticFuckery.evolve``).
    """

    name = ""
    description = ""
    waits = True
    commands = True
    functions = False

    def launch(self, evaluations, context):
        """Run ``evaluations``; yield a :class:`Finished` for each as it ends."""
        raise NotImplementedError

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r}>"


def check_template(template, datasets_needed=True, shell=False):
    """Refuse a command template that cannot run each dataset (before anything is launched)."""
    if not template or not template.strip():
        raise InputError("the command is empty: give the program to run, e.g. \"python backtest.py {}\"")
    if datasets_needed and "{}" not in template:
        raise InputError(
            f"COMMAND {template!r} has no {{}}: put {{}} where the dataset goes, e.g. \"python run.py {{}}\""
        )
    command_line(template, "dataset", shell)  # a template that cannot be split into words fails here


def command_line(template, dataset, shell=False):
    """The argv for one dataset: ``{}`` replaced in every word; ``sh -c`` only with ``shell``."""
    if shell:
        return ["sh", "-c", template.replace("{}", shlex.quote(dataset))]
    try:
        words = shlex.split(template)
    except ValueError as error:
        raise InputError(f"cannot split COMMAND {template!r} into words: {error}") from None
    return [word.replace("{}", dataset) for word in words]


def environment(context, evaluation):
    """The environment a launched program runs with."""
    env = {key: value for key, value in os.environ.items() if key != "GF_RESULTS"}  # gf records the run
    return {
        **env,
        "GF_DB": context.db_path,
        "GF_PARAM_GROUP": str(evaluation.group),
        "GF_DATA": evaluation.dataset,
        "GF_FAMILY": evaluation.dataset,
        "GF_LAUNCH": evaluation.launch,
    }


def run_command(context, evaluation, register_process=None):
    """Run the command for one evaluation as a child process; return a :class:`Finished`.

    The child gets its own session, so a timeout (or Ctrl-C in gf) kills it and
    everything it started.
    """
    argv = command_line(context.command, evaluation.dataset, context.shell)
    started = store.now()
    if not _executable(argv[0]):
        return Finished(evaluation, exit_code=127, error=f"cannot start {argv[0]!r}: No such file or directory",
                        started=started, stopped=store.now(), command=shlex.join(argv))
    try:
        process = subprocess.Popen(
            argv,
            env=environment(context, evaluation),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as error:
        return Finished(evaluation, exit_code=127, error=f"cannot start {argv[0]!r}: {error.strerror or error}",
                        started=started, stopped=store.now(), command=shlex.join(argv))
    if register_process:
        register_process(process)
    error = None
    try:
        _, stderr = process.communicate(timeout=context.timeout)
    except subprocess.TimeoutExpired:
        kill(process)
        _, stderr = process.communicate()
        error = f"timed out after {context.timeout:g} s"
    return Finished(
        evaluation,
        exit_code=process.returncode,
        stderr=stderr.decode("utf-8", "replace")[-STDERR_TAIL:],
        error=error,
        started=started,
        stopped=store.now(),
        command=shlex.join(argv),
    )


@functools.lru_cache(maxsize=64)
def _executable(program):
    """Whether ``program`` can be started (a path to an executable, or a name on PATH)."""
    import shutil

    return shutil.which(program) is not None


def kill(process):
    """Kill a child started by :func:`run_command` and its whole session."""
    import signal

    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def settle(conn, finished):
    """Record the outcome of one evaluation (one transaction); return ``(ok, run_ids)``."""
    from gf.errors import ResultError
    from gf.params import validate_results

    evaluation = finished.evaluation
    base = {
        "group_id": evaluation.group,
        "dataset": evaluation.dataset,
        "family": evaluation.dataset,
        "started": finished.started or store.now(),
        "stopped": finished.stopped or store.now(),
        "host": os.uname().nodename,
        "process_id": os.getpid(),
        "command": finished.command or None,
        "launch": evaluation.launch,
    }
    with store.transaction(conn):
        if store.launch_abandoned(conn, evaluation.launch):  # another coordinator took the pair over
            return False, []
        conn.execute("UPDATE launches SET status = 'done' WHERE uid = ?", (evaluation.launch,))
        if finished.results is not None and finished.error is None:
            try:
                rows = validate_results(finished.results)
            except ResultError as error:
                finished.error = f"ResultError: {error}"
            else:
                run = store.insert_run(conn, {**base, "status": "ok"}, rows)
                return True, [run]
        for remote in finished.runs or ():
            columns = {key: value for key, value in remote["run"].items() if key in _REMOTE_COLUMNS}
            store.insert_run(conn, {**base, **columns}, [tuple(row) for row in remote["rows"]])
        recorded = [
            (run, status)
            for run, status in conn.execute("SELECT id, status FROM runs WHERE launch = ?", (evaluation.launch,))
        ]
        failed = finished.error is not None or finished.exit_code not in (0, None)
        reason = _reason(finished)
        if recorded:
            if failed:
                conn.execute(
                    "UPDATE runs SET status = 'failed', exit_code = ?, error = coalesce(error || ?, ?) WHERE launch = ?",
                    (finished.exit_code, "\n" + reason, reason, evaluation.launch),
                )
            else:
                conn.execute("UPDATE runs SET exit_code = ? WHERE launch = ?", (finished.exit_code, evaluation.launch))
            ok = not failed and all(status == "ok" for _, status in recorded)
            return ok, [run for run, _ in recorded]
        if not failed:
            reason = "the command exited 0 but recorded no run: does it call g.report() or g.record()?"
        run = store.insert_run(
            conn, {**base, "status": "failed", "exit_code": finished.exit_code, "error": reason}
        )
        return False, [run]


#: What a remote run keeps of its own record (group, dataset and launch are the coordinator's).
_REMOTE_COLUMNS = ("label", "started", "stopped", "status", "host", "process_id", "command", "error", "exit_code")


def _reason(finished):
    parts = [finished.error] if finished.error else []
    if finished.exit_code not in (0, None) and not finished.error:
        parts.append(f"exited with status {finished.exit_code}")
    if finished.stderr.strip():
        parts.append(finished.stderr.strip())
    return "\n".join(parts) or "failed"
