"""Launching evaluations: run the user's command (or function) for (group, dataset) pairs.

A launcher (a plugin, see ``gf_register_launchers``) runs evaluations somewhere and
yields a :class:`Finished` for each (or a list of those that ended together); the
coordinator then *settles* them here, in its own thread and connection, a list in
one transaction: a run the program recorded is kept (and marked failed if the
program exited non-zero), a program that died or timed out gets a failed run with
its exit code and the tail of its stderr. The launcher never writes. The ``local``
launcher's child processes are in :mod:`gf.processes`.
"""

import functools
import os
import shlex
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
    :ivar options: the settings it takes, ``{name: one line of help}``: given as
        ``--launcher-option NAME=VALUE`` (``launcher_options={...}`` to ``evolve``), checked
        against this and by :meth:`check_options` before anything runs, and handed over
        as ``context.options`` (strings; absent when not given).

    A launcher that needs what may be missing (an optional extra) says so in :meth:`check_ready`.
    """

    name = ""
    description = ""
    waits = True
    commands = True
    functions = False
    options = {}

    def check_options(self, options):
        """Refuse a bad value among ``options`` (the given ones, by name) with an :class:`InputError`.

        Called before anything is bred or run; the default accepts every value.
        """

    def check_ready(self, options):
        """Refuse, with a :class:`gf.GfError` saying what to install or set, a launcher that cannot run here.

        Called with the checked ``options`` after :meth:`check_options`, before anything is bred, run or
        written: a launcher with optional dependencies imports them here (not at import time), so one that
        is missing leaves the database as it was. The default is ready.
        """

    def launch(self, evaluations, context):
        """Run ``evaluations``; yield a :class:`Finished` for each as it ends.

        A launcher may also yield a list of :class:`Finished` (those that ended since
        its last yield): gf records a list in one transaction.
        """
        raise NotImplementedError

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r}>"


#: How much of a failed function's traceback a run keeps (its end: the frames nearest the error).
TRACEBACK_CHARS = 4000


def function_error(error):
    """A failed function's run error: ``"ValueError: message"``, then the end of its traceback
    (as a failed command's run keeps the tail of its stderr); its last line is the exception's."""
    import traceback

    text = "".join(traceback.format_exception(type(error), error, error.__traceback__)).rstrip()
    if len(text) > TRACEBACK_CHARS:
        text = "..." + text[-TRACEBACK_CHARS:]
    return f"{type(error).__name__}: {error}\n{text}"


def launcher_options(launcher, given, scheduler=None):
    """``given`` (``"NAME=VALUE"`` strings, or a dict) as a dict of strings, checked by the launcher.

    ``scheduler`` (``--scheduler``) is one more, ``scheduler``. A name the launcher does not
    take, a string without ``=`` or a name given twice is an :class:`InputError` naming the
    option; then the launcher's :meth:`Launcher.check_options` sees the values, so a bad one
    is refused before anything is bred or run, and its :meth:`Launcher.check_ready` says whether
    it can run here at all (every command and ``evolve`` that launches comes through here first).
    A ``None`` value in a dict is left out.
    """
    known = launcher.options or {}
    if isinstance(given, dict):
        pairs = [(str(name), str(value)) for name, value in given.items() if value is not None]
    else:
        pairs = []
        for text in given:
            name, equals, value = text.partition("=")
            if not equals or not name.strip():
                example = next(iter(known), "name")
                raise InputError(f"--launcher-option {text!r}: expected NAME=VALUE, e.g. --launcher-option "
                                 f"{example}=value")
            pairs.append((name.strip(), value))
    if scheduler:
        pairs.append(("scheduler", str(scheduler)))
    options = {}
    for name, value in pairs:
        if name not in known:
            takes = f"it takes {', '.join(sorted(known))}" if known else "it takes none"
            raise InputError(f"launcher option {name!r}: the {launcher.name} launcher has no such option ({takes}; "
                             "see `gf launchers list`)")
        if name in options:
            also = " (--scheduler A is short for --launcher-option scheduler=A)" if name == "scheduler" else ""
            raise InputError(f"launcher option {name!r} is given twice ({options[name]!r} and {value!r}): "
                             f"give it once{also}")
        options[name] = value
    launcher.check_options(options)
    launcher.check_ready(options)
    return options


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
    return [word.replace("{}", dataset) for word in _words(template)]


@functools.lru_cache(maxsize=64)
def _words(template):
    """``template`` split into words once (shlex is slow, and a loop runs one template thousands of times)."""
    try:
        return tuple(shlex.split(template))
    except ValueError as error:
        raise InputError(f"cannot split COMMAND {template!r} into words: {error}") from None


def base_environment(context):
    """What every launched program's environment shares: gf's own, ``GF_DB``, no ``GF_RESULTS``."""
    env = {key: value for key, value in os.environ.items() if key != "GF_RESULTS"}  # gf records the run
    env["GF_DB"] = context.db_path
    return env


def evaluation_variables(evaluation):
    """The variables that tell a launched program which evaluation it is."""
    return {
        "GF_PARAM_GROUP": str(evaluation.group),
        "GF_DATA": evaluation.dataset,
        "GF_FAMILY": evaluation.dataset,
        "GF_LAUNCH": evaluation.launch,
    }


def environment(context, evaluation):
    """The environment a launched program runs with."""
    return {**base_environment(context), **evaluation_variables(evaluation)}


def run_command(context, evaluation):
    """Run the command for one evaluation as a child process; return a :class:`Finished`.

    The child gets its own session, so a timeout (or Ctrl-C in gf) kills it and
    everything it started. Many at once: :func:`gf.processes.run`.
    """
    from gf import processes

    return processes.run_one(context, evaluation)


def settle(conn, finished):
    """Record the outcome of one evaluation (one transaction); return ``(ok, run_ids)``."""
    return settle_many(conn, [finished])[0]


def settle_many(conn, batch):
    """Record the outcomes of ``batch`` (:class:`Finished`) in one transaction; return ``[(ok, run_ids)]``.

    Each outcome is judged as if alone: a run the program recorded is kept (and marked
    failed if the command failed), an evaluation that recorded nothing gets a failed
    run, and one whose launch was abandoned (a resumed coordinator took the pair over)
    records nothing and counts as failed. One transaction for the lot is what lets gf
    keep up with short commands: the write lock and the commit are paid once a batch.
    """
    from gf.errors import ResultError
    from gf.params import validate_results

    host, process_id = os.uname().nodename, os.getpid()
    outcomes = [None] * len(batch)
    with store.transaction(conn):
        abandoned = {uid for (uid,) in _launches_where(
            conn, "SELECT uid FROM launches WHERE status = 'abandoned' AND uid IN ({})",
            [finished.evaluation.launch for finished in batch])}
        settling = []
        for index, finished in enumerate(batch):
            if finished.evaluation.launch in abandoned:
                outcomes[index] = (False, [])
            else:
                settling.append(index)
        conn.executemany("UPDATE launches SET status = 'done' WHERE uid = ?",
                         [(batch[index].evaluation.launch,) for index in settling])
        bases, waiting = {}, []
        for index in settling:
            finished = batch[index]
            evaluation = finished.evaluation
            base = bases[index] = {
                "group_id": evaluation.group,
                "dataset": evaluation.dataset,
                "family": evaluation.dataset,
                "started": finished.started or store.now(),
                "stopped": finished.stopped or store.now(),
                "host": host,
                "process_id": process_id,
                "command": finished.command or None,
                "launch": evaluation.launch,
            }
            if finished.results is not None and finished.error is None:
                try:
                    rows = validate_results(finished.results)
                except ResultError as error:
                    finished.error = f"ResultError: {error}"
                else:
                    outcomes[index] = (True, [store.insert_run(conn, {**base, "status": "ok"}, rows)])
                    continue
            for remote in finished.runs or ():
                digest = remote["run"].get("group_digest")
                stored = _digest_of(conn, evaluation.group) if digest else None
                if digest and stored and digest != stored:
                    # read from a stale or other copy of the database: its values are not this group's
                    finished.error = finished.error or (
                        f"a run it reported was of a group holding other values than group {evaluation.group} "
                        "(did the program read another copy of the database?); not recorded")
                    continue
                columns = {key: value for key, value in remote["run"].items() if key in _REMOTE_COLUMNS}
                dataset = remote["run"].get("dataset")
                if isinstance(dataset, str) and dataset != evaluation.dataset:
                    # kept as the program recorded it, as a local run is, and no evaluation of this pair (below)
                    family = remote["run"].get("family")
                    columns.update(dataset=dataset, family=family if isinstance(family, str) else dataset)
                store.insert_run(conn, {**base, **columns}, [tuple(row) for row in remote["rows"]])
            waiting.append(index)
        recorded = {}
        for launch, run, status, group, dataset in _launches_where(
                conn, "SELECT launch, id, status, group_id, dataset FROM runs WHERE launch IN ({}) ORDER BY id",
                [batch[index].evaluation.launch for index in waiting]):
            recorded.setdefault(launch, []).append((run, status, group, dataset))
        for index in waiting:
            finished = batch[index]
            evaluation = finished.evaluation
            launch = evaluation.launch
            failed = finished.error is not None or finished.exit_code not in (0, None)
            reason = _reason(finished)
            runs = [(run, status) for run, status, group, dataset in recorded.get(launch, ())
                    if (group, dataset) == (evaluation.group, evaluation.dataset)]
            strays = [(group, dataset) for _run, _status, group, dataset in recorded.get(launch, ())
                      if (group, dataset) != (evaluation.group, evaluation.dataset)]
            if strays and not runs:  # kept as recorded, but it is no evaluation of this pair
                group, dataset = strays[0]
                reason = (f"the command recorded its run for group {group} on dataset {dataset!r}, not for group "
                          f"{evaluation.group} on {evaluation.dataset!r}: let GF_PARAM_GROUP and GF_DATA choose "
                          "(no pid= or dataset= in the program)" + ("\n" + reason if failed else ""))
                failed = True
            if runs:
                if failed:
                    conn.execute(
                        "UPDATE runs SET status = 'failed', exit_code = ?, error = coalesce(error || ?, ?) "
                        "WHERE launch = ? AND group_id = ? AND dataset IS ?",
                        (finished.exit_code, "\n" + reason, reason, launch, evaluation.group, evaluation.dataset))
                else:
                    conn.execute("UPDATE runs SET exit_code = ? WHERE launch = ? AND group_id = ? AND dataset IS ?",
                                 (finished.exit_code, launch, evaluation.group, evaluation.dataset))
                ok = not failed and all(status == "ok" for _, status in runs)
                outcomes[index] = (ok, [run for run, _ in runs])
                continue
            if not failed:
                reason = "the command exited 0 but recorded no run: does it call g.report() or g.record()?"
            run = store.insert_run(
                conn, {**bases[index], "status": "failed", "exit_code": finished.exit_code, "error": reason})
            outcomes[index] = (False, [run])
    return outcomes


def _launches_where(conn, sql, launches):
    """The rows of ``sql`` (its ``IN ({})`` filled with launch ids), a few hundred ids a query."""
    rows = []
    for start in range(0, len(launches), 500):
        chunk = launches[start:start + 500]
        rows += conn.execute(sql.format(",".join("?" * len(chunk))), chunk).fetchall()
    return rows


#: What a remote run keeps of its own record (group, dataset and launch are the coordinator's).
_REMOTE_COLUMNS = ("label", "started", "stopped", "status", "host", "process_id", "command", "error", "exit_code")


def _digest_of(conn, group):
    row = conn.execute("SELECT digest FROM groups WHERE id = ?", (group,)).fetchone()
    return row[0] if row else None


def _reason(finished):
    parts = [finished.error] if finished.error else []
    if finished.exit_code not in (0, None) and not finished.error:
        parts.append(f"exited with status {finished.exit_code}")
    if finished.stderr.strip():
        parts.append(finished.stderr.strip())
    return "\n".join(parts) or "failed"
