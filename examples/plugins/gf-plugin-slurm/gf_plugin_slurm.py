"""gf-plugin-slurm: a gf launcher that runs evaluations as a Slurm job array.

For the evaluations of one ``gf run`` or one ``gf breed`` generation, the launcher

1. writes a job folder (``$GF_SLURM_DIR``, default ``gf-slurm/`` beside the
   database) holding a tasks file (line N+1 is array task N: group, dataset,
   launch id and the command's words, shell-quoted) and a job script;
2. submits the script with ``sbatch`` as one job array, one task per
   (group, dataset) pair; each task runs the command with ``GF_DB``,
   ``GF_PARAM_GROUP``, ``GF_DATA``, ``GF_FAMILY``, ``GF_LAUNCH`` and
   ``GF_RESULTS=<its own results file>`` set, so ``g.report()`` appends its runs to
   that file instead of writing the database, then writes the command's exit
   status beside it;
3. polls the folder; as each task's exit status appears it reads the task's
   results file with :func:`gf.read_results` and yields a :class:`gf.Finished`
   carrying those runs, which gf (the coordinator, the only writer) records. A task
   that left no results, or that Slurm killed before it could write its exit
   status (noticed through ``squeue``), becomes a failed evaluation with the reason.

The launcher is configured with ``--launcher-option NAME=VALUE`` (``gf launchers
list`` shows them) or with the environment variables in ``SETTINGS``; an option wins
over its variable. Only gf's public API is used.
"""

import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

from gf import Finished, GfError, InputError, Launcher, LoadError, command_line, hookimpl, read_results

__version__ = "0.1.0"

#: Environment variables that configure the launcher, with their defaults.
SETTINGS = {
    "GF_SLURM_SBATCH": ("sbatch --parsable", "the submit command; the job script's path is appended"),
    "GF_SLURM_SQUEUE": ("squeue --noheader --format=%i --jobs",
                        "asks whether the job still runs (its id is appended); empty: never ask"),
    "GF_SLURM_SCANCEL": ("scancel", "cancels the job on Ctrl-C or GF_SLURM_WAIT (its id is appended); empty: never"),
    "GF_SLURM_OPTIONS": ("", "more sbatch options, put before the script, e.g. \"--partition=short --mem=2G\""),
    "GF_SLURM_ARRAY_LIMIT": ("", "at most this many array tasks at once (sbatch --array=...%N)"),
    "GF_SLURM_MAX_ARRAY": ("1000", "the largest array (Slurm's MaxArraySize - 1): more evaluations are split"),
    "GF_SLURM_DIR": ("", "where job folders go (default: gf-slurm/ beside the database; a shared file system)"),
    "GF_SLURM_POLL": ("5", "seconds between looks at the job folder"),
    "GF_SLURM_WAIT": ("", "seconds to wait for the whole array before giving up on what has not finished"),
    "GF_SLURM_GRACE": ("60", "seconds to wait for a task's files after squeue stops listing the job"),
    "GF_SLURM_KEEP": ("", "1: keep job folders (by default a folder whose tasks all succeeded is removed; 0: remove)"),
}

#: How much of a task's stderr is kept with a failed run.
STDERR_TAIL = 2000

#: The exit status ``timeout`` gives a command it killed.
TIMED_OUT = 124


class SlurmError(GfError):
    """Slurm cannot be used (no sbatch, a refused submission): nothing was evaluated."""

    exit_code = 1


def option_name(name):
    """``GF_SLURM_ARRAY_LIMIT`` -> ``array-limit``: the ``--launcher-option`` that sets it."""
    if name == "GF_SLURM_OPTIONS":
        return "sbatch-options"
    return name[len("GF_SLURM_"):].lower().replace("_", "-")


def _source(name, given):
    """Where a setting's value comes from, for an error message."""
    return f"--launcher-option {option_name(name)}" if option_name(name) in (given or {}) else name


def setting(name, given=None):
    """The value of one of :data:`SETTINGS`: its launcher option in ``given``, else the environment, else the
    default."""
    if option_name(name) in (given or {}):
        return str(given[option_name(name)]).strip()
    return os.environ.get(name, SETTINGS[name][0]).strip()


def number_setting(name, minimum=0.0, integer=False, given=None):
    """A numeric setting, ``None`` when empty; a bad value is a one-line error."""
    text = setting(name, given)
    if not text:
        return None
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        value = None
    if value is None or value < minimum or (not integer and not math.isfinite(value)):
        kind = "a whole number" if integer else "a number of seconds"
        raise InputError(f"{_source(name, given)}={text!r}: expected {kind} of at least {minimum:g}")
    return value


def flag_setting(name, given=None):
    """A yes/no setting: empty, ``0``, ``no`` or ``false`` is no."""
    return setting(name, given).lower() not in ("", "0", "no", "false")


def settings(given=None):
    """Every setting the launcher reads once per launch, parsed; a bad value is a one-line error."""
    grace = number_setting("GF_SLURM_GRACE", minimum=0.0, given=given)
    for name in ("GF_SLURM_SBATCH", "GF_SLURM_SQUEUE", "GF_SLURM_SCANCEL"):  # read later, checked now
        command_setting(name, given)
    return {
        "poll": number_setting("GF_SLURM_POLL", minimum=0.01, given=given) or 5.0,
        "wait": number_setting("GF_SLURM_WAIT", minimum=0.0, given=given),
        "grace": 60.0 if grace is None else grace,
        "size": number_setting("GF_SLURM_MAX_ARRAY", minimum=1, integer=True, given=given) or 1000,
        "limit": number_setting("GF_SLURM_ARRAY_LIMIT", minimum=1, integer=True, given=given),
        "options": command_setting("GF_SLURM_OPTIONS", given),
        "dir": setting("GF_SLURM_DIR", given),
        "keep": flag_setting("GF_SLURM_KEEP", given),
    }


def command_setting(name, given=None):
    try:
        return shlex.split(setting(name, given))
    except ValueError as error:
        raise InputError(f"cannot split {_source(name, given)}={setting(name, given)!r} into words: {error}") from None


# -- the job script -------------------------------------------------------------------

SCRIPT = """\
#!/bin/bash
#SBATCH --job-name={name}
#SBATCH --array=0-{last}{limit}
#SBATCH {output}
{options}
# Written by gf-plugin-slurm. Array task N runs line N+1 of the tasks file:
# group, dataset, launch id, then the command's words (shell-quoted).
set -u
folder={folder_q}
task=${{SLURM_ARRAY_TASK_ID:?submit this script with sbatch: it is a job array}}
line=$(sed -n "$((task + 1))p" "$folder/tasks")
eval "set -- $line"
group=$1 dataset=$2 launch=$3
shift 3
export GF_DB={db_q} GF_PARAM_GROUP="$group" GF_DATA="$dataset" GF_FAMILY="$dataset" GF_LAUNCH="$launch"
export GF_RESULTS="$folder/task-$task.results"
rm -f "$GF_RESULTS" "$folder/task-$task.exit"   # a requeued task starts afresh
started=$(date -u +%Y-%m-%dT%H:%M:%S.%3N+00:00)
{run} "$@" 2> "$folder/task-$task.err"
code=$?
stopped=$(date -u +%Y-%m-%dT%H:%M:%S.%3N+00:00)
echo "$code $started $stopped" > "$folder/task-$task.exit.tmp"
mv "$folder/task-$task.exit.tmp" "$folder/task-$task.exit"
exit "$code"
"""


def job_script(folder, db_path, count, timeout=None, options=(), limit=None):
    """The text of the job-array script for ``count`` tasks whose files live in ``folder``.

    ``options`` (``GF_SLURM_OPTIONS``) go on sbatch's command line, not in the script;
    they only say whether a time limit is already given.
    """
    lines = []
    if timeout and not any(re.match(r"(--time\b|-t\b|-t\d)", option) for option in options):
        lines.append(f"#SBATCH --time={math.ceil((timeout + 30) / 60)}")  # minutes; timeout kills first
    run = f"timeout --kill-after=10 {timeout:g}" if timeout else ""
    return SCRIPT.format(
        name="gf", last=count - 1, limit=f"%{limit}" if limit else "",
        output=_directive(f"--output={folder}/slurm-%A_%a.out"),
        folder_q=shlex.quote(folder), db_q=shlex.quote(db_path), options="\n".join(lines), run=run,
    ).replace("\n\n# Written", "\n# Written")


def _directive(option):
    """An ``#SBATCH`` argument: as it is, or in double quotes when it holds spaces (sbatch reads those)."""
    if not any(char.isspace() for char in option):
        return option
    if '"' in option:
        raise InputError(f"an sbatch option cannot hold both spaces and double quotes: {option!r}")
    return f'"{option}"'


def task_line(evaluation, argv):
    """The tasks-file line of one evaluation."""
    words = [str(evaluation.group), evaluation.dataset, evaluation.launch, *argv]
    if any("\n" in word or "\r" in word for word in words):
        raise InputError(f"the slurm launcher cannot pass a line break in a dataset or command: {words!r}")
    return shlex.join(words)


# -- one submitted array --------------------------------------------------------------


class Job:
    """One job array: its folder, its evaluations by task index, what is still pending."""

    def __init__(self, folder, evaluations, argvs, given=None):
        self.folder = folder
        self.given = given or {}  # the launcher options gf was given
        self.evaluations = dict(enumerate(evaluations))
        self.argvs = dict(enumerate(argvs))
        self.pending = set(self.evaluations)
        self.job_id = None
        self.gone_since = None
        self.all_good = True

    def path(self, task, kind):
        return os.path.join(self.folder, f"task-{task}.{kind}")

    def write(self, db_path, timeout, options, limit):
        os.makedirs(self.folder)
        with open(os.path.join(self.folder, "tasks"), "w", encoding="utf-8") as handle:
            for task in sorted(self.evaluations):
                handle.write(task_line(self.evaluations[task], self.argvs[task]) + "\n")
        script = os.path.join(self.folder, "job.sh")
        with open(script, "w", encoding="utf-8") as handle:
            handle.write(job_script(self.folder, db_path, len(self.evaluations), timeout, options, limit))
        os.chmod(script, 0o755)
        return script

    def submit(self, script, options=()):
        argv = command_setting("GF_SLURM_SBATCH", self.given) + list(options) + [script]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
        except FileNotFoundError:
            raise SlurmError(f"cannot run {argv[0]!r} (not found): run gf where Slurm's sbatch is, "
                             f"or point {_source('GF_SLURM_SBATCH', self.given)} at it") from None
        except (OSError, subprocess.TimeoutExpired) as error:
            raise SlurmError(f"{shlex.join(argv)} failed: {error}") from None
        if done.returncode != 0:
            detail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or [""]
            raise SlurmError(f"{shlex.join(argv)} exited with status {done.returncode}: {detail[0][:300]}")
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        # --parsable prints "JOBID" or "JOBID;CLUSTER"; plain sbatch "Submitted batch job JOBID"
        self.job_id = lines[-1].split(";")[0].split()[-1] if lines else ""
        if not self.job_id:
            raise SlurmError(f"{shlex.join(argv)} printed no job id")
        return self.job_id

    def ready(self):
        """Pending tasks whose exit status is written."""
        return [task for task in sorted(self.pending) if os.path.exists(self.path(task, "exit"))]

    def running(self):
        """``True``/``False`` from squeue, or ``None`` when it cannot tell."""
        base = command_setting("GF_SLURM_SQUEUE", self.given)
        if not base or not self.job_id:
            return None
        try:
            done = subprocess.run(base + [self.job_id], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                  timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if done.returncode == 0:
            return bool(done.stdout.strip())
        if "invalid job id" in done.stderr.lower():  # purged from the controller: long done
            return False
        return None

    def cancel(self):
        base = command_setting("GF_SLURM_SCANCEL", self.given)
        if base and self.job_id and self.pending:
            try:
                subprocess.run(base + [self.job_id], capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                pass

    def finished(self, task, timeout=None, gave_up=None):
        """The :class:`gf.Finished` of one task, from its exit status and results files."""
        self.pending.discard(task)
        evaluation, argv = self.evaluations[task], self.argvs[task]
        exit_code, started, stopped = _read_exit(self.path(task, "exit"))
        stderr = _tail(self.path(task, "err"))
        runs, error = [], None
        results = self.path(task, "results")
        if os.path.exists(results) and os.path.getsize(results) > 0:
            try:
                runs = [{"run": run, "rows": rows} for _line, run, rows in read_results(results)]
            except LoadError as problem:
                error = f"cannot read the task's results: {problem}"
        where = f"slurm-{self.job_id}_{task}.out in {self.folder}"
        if gave_up:
            error = gave_up
        elif exit_code is None:
            error = ("the Slurm task ended without writing its exit status (cancelled, out of time or memory, "
                     f"node failure?); see {where}")
        elif timeout and exit_code == TIMED_OUT:
            error = f"timed out after {timeout:g} s"
        elif not runs and exit_code == 0 and error is None:
            error = (f"the command exited 0 but wrote no results to {results} (GF_RESULTS): "
                     "does it call g.report() or g.record()?")
        if error or exit_code != 0 or not runs:
            self.all_good = False
        return Finished(evaluation, exit_code=exit_code, stderr=stderr, error=error, runs=runs or None,
                        started=started, stopped=stopped, command=shlex.join(argv))


def _read_exit(path):
    """``(exit_code, started, stopped)`` from a task's exit file; ``(None, "", "")`` without one."""
    try:
        with open(path, encoding="utf-8") as handle:
            words = handle.read().split()
    except OSError:
        return None, "", ""
    try:
        code = int(words[0])
    except (IndexError, ValueError):
        return None, "", ""
    return code, (words[1:2] or [""])[0], (words[2:3] or [""])[0]


def _tail(path):
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - STDERR_TAIL))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


# -- the launcher ---------------------------------------------------------------------


class SlurmLauncher(Launcher):
    name = "slurm"
    description = "run evaluations as a Slurm job array (sbatch); results come back through GF_RESULTS files"
    commands = True
    functions = False
    #: ``--launcher-option NAME=VALUE`` for each of :data:`SETTINGS` (it wins over the variable)
    options = {option_name(name): f"{text} (env {name}" + (f"; default: {default})" if default else ")")
               for name, (default, text) in SETTINGS.items()}

    def check_options(self, options):
        settings(options)  # a bad value (poll=soon) is refused before gf breeds or runs anything

    def check_ready(self, options):
        """sbatch must be there: found missing before gf breeds or records anything (a launch would be left
        abandoned)."""
        import shutil

        program = (command_setting("GF_SLURM_SBATCH", options) or [""])[0]
        if shutil.which(program) is None:
            raise SlurmError(f"cannot run {program!r} (not found): run gf where Slurm's sbatch is, "
                             f"or point {_source('GF_SLURM_SBATCH', options)} at it")

    def launch(self, evaluations, context):
        evaluations = list(evaluations)
        if not evaluations:
            return
        given = context.options
        parsed = settings(given)
        poll, wait, grace, size, limit = (parsed[key] for key in ("poll", "wait", "grace", "size", "limit"))
        options = parsed["options"]
        base = parsed["dir"] or os.path.join(os.path.dirname(context.db_path), "gf-slurm")
        base = os.path.abspath(base)
        argvs = [command_line(context.command, evaluation.dataset, context.shell) for evaluation in evaluations]
        jobs = []
        for start in range(0, len(evaluations), size):
            # the first evaluation's launch ULID names the folder: unique, and sorted by time
            folder = os.path.join(base, f"job-{evaluations[start].launch}")
            jobs.append(Job(folder, evaluations[start:start + size], argvs[start:start + size], given))
        try:
            for job in jobs:
                job_id = job.submit(job.write(context.db_path, context.timeout, options, limit), options)
                print(f"gf-plugin-slurm: submitted job {job_id} ({len(job.evaluations)} tasks), files in {job.folder}",
                      file=sys.stderr)
            deadline = None if wait is None else time.monotonic() + wait
            while any(job.pending for job in jobs):
                for job in jobs:
                    for task in job.ready():
                        yield job.finished(task, context.timeout)
                if not any(job.pending for job in jobs) or _stopping(context):
                    break
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    for job in jobs:
                        job.cancel()
                        for task in sorted(job.pending):
                            yield job.finished(task, context.timeout, gave_up=(
                                f"not finished after {_source('GF_SLURM_WAIT', given)}={wait:g} s; "
                                f"Slurm job {job.job_id} was cancelled"))
                    break
                for job in jobs:
                    if not job.pending:
                        continue
                    if job.running() is False:
                        job.gone_since = job.gone_since or now
                        if now - job.gone_since >= grace:  # long enough for a shared file system to catch up
                            for task in sorted(job.pending):
                                yield job.finished(task, context.timeout)
                    else:
                        job.gone_since = None
                _sleep(context, poll)
        finally:
            # Ctrl-C, GF_SLURM_WAIT, or a consumer that stopped early: cancel what still runs
            for job in jobs:
                job.cancel()
            if not parsed["keep"]:
                for job in jobs:
                    if job.job_id and not job.pending and job.all_good:
                        shutil.rmtree(job.folder, ignore_errors=True)
                try:
                    os.rmdir(base)  # only when empty
                except OSError:
                    pass


def _stopping(context):
    return context.stopping is not None and context.stopping.is_set()


def _sleep(context, seconds):
    if context.stopping is not None:
        context.stopping.wait(seconds)
    else:
        time.sleep(seconds)


@hookimpl
def gf_register_launchers(register):
    register(SlurmLauncher())
