"""Launched commands as child processes: many at once, waited for from one thread.

This is what the ``local`` launcher (and :func:`gf.launch.run_command`) runs on. Each
child starts with ``os.posix_spawn`` in a session of its own, stdin and stdout on
``/dev/null`` and stderr on a pipe. glibc's posix_spawn is a vfork-like clone, so
starting a child costs gf about a tenth of a millisecond whatever gf's memory;
``subprocess.Popen`` with a new session costs several times that in Python code
around its own fork.

One ``poll()`` over the read ends of those pipes waits for every child: end-of-file
on a pipe means the child, and anything it started that kept its stderr, has closed
it, and ``waitpid`` on that pid collects the exit status. A child that closes its
stderr and goes on running is checked with ``waitpid(WNOHANG)`` at growing intervals
until it exits. No thread per child, no busy polling, no pidfd (Linux >= 5.3 only),
and no ``waitpid(-1)``, which would steal the exit status of children that other
code in the same process (a test runner, a notebook) is waiting for.

Outcomes are handed over in batches (lists of :class:`gf.launch.Finished`), at most
:data:`REPORT_EVERY` seconds after the first of a batch ended, so the coordinator
records many in one transaction while the next children already run.
"""

import functools
import math
import os
import select
import shlex
import signal
import time

from gf import store
from gf.launch import STDERR_TAIL, Finished, base_environment, child_environment, command_line

#: Seconds an outcome may wait to be handed over with the ones that end after it.
#: This bounds what a SIGKILLed gf loses: the outcomes of the commands that ended in
#: its last REPORT_EVERY seconds (their launches stay pending and a resumed loop
#: evaluates those pairs again; a run the program recorded itself is never lost).
REPORT_EVERY = 0.05

#: Bytes of a child's stderr kept: enough for the last STDERR_TAIL characters of any UTF-8.
_TAIL_BYTES = 4 * STDERR_TAIL

#: waitpid(WNOHANG) intervals for a child whose stderr closed before it exited.
_FIRST_CHECK, _LAST_CHECK = 0.0005, 0.05

#: A process closes its files a little before it can be waited for (for ``true``, one
#: time in five the end-of-file on its stderr comes first); rather than wait a whole
#: poll interval with its slot idle, look again after these pauses (seconds).
_EXIT_PAUSES = (0.00002, 0.00005, 0.0001, 0.0002)

#: Seconds a killed child's stderr may stay open (held by something that left its session).
_KILL_GRACE = 1.0


@functools.lru_cache(maxsize=64)
def executable(program):
    """The path to run for ``program`` (as given when it has a ``/``, else found on PATH), or ``None``."""
    import shutil

    return shutil.which(program)


def kill_session(pid):
    """SIGKILL the session (process group) led by child ``pid``: the child and everything it started."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class _Child:
    __slots__ = ("evaluation", "argv", "pid", "fd", "started", "deadline", "tail", "timed_out", "check")

    def __init__(self, evaluation, argv, pid, fd, started, deadline):
        self.evaluation, self.argv, self.pid, self.fd = evaluation, argv, pid, fd
        self.started, self.deadline = started, deadline
        self.tail = bytearray()
        self.timed_out = False
        self.check = None  # once its stderr closed first: [next waitpid(WNOHANG), interval]


def _above_stdio(fd):
    """``fd``, moved above 0-2 if it landed there (gf started with a standard stream closed)."""
    if fd > 2:
        return fd
    import fcntl

    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    os.close(fd)
    return moved


#: Signals Python ignores that a launched program should get back at their defaults,
#: as subprocess's restore_signals does.
_RESTORE = tuple(getattr(signal, name) for name in ("SIGPIPE", "SIGXFSZ") if hasattr(signal, name))
#: posix_spawn's own way to a new session (glibc >= 2.26, macOS); a new process group otherwise.
_SESSION = {"setsid": True}


def _spawn(path, argv, env, devnull, stderr):
    """Start ``argv`` (``path`` is the file to execute) in a new session; return its pid."""
    global _SESSION
    actions = [(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, devnull, 1),
               (os.POSIX_SPAWN_DUP2, stderr, 2)]
    try:
        return os.posix_spawn(path, argv, env, file_actions=actions, setsigdef=_RESTORE, **_SESSION)
    except NotImplementedError:
        if "setsid" not in _SESSION:
            raise
        _SESSION = {"setpgroup": 0}  # still killable as a group, and out of the terminal's Ctrl-C
        return os.posix_spawn(path, argv, env, file_actions=actions, setsigdef=_RESTORE, **_SESSION)


def run(context, evaluations):
    """Run the command of each evaluation as a child process, ``context.jobs`` at a time.

    Yields lists of :class:`gf.launch.Finished`. A command that cannot start is a
    Finished with exit code 127; one that passes ``context.timeout`` has its session
    killed and says so in ``error``. Once ``context.stopping`` is set nothing new
    starts. Ctrl-C kills every running child (they are not reported: their launches
    stay pending), hands over the outcomes that ended before it, then raises
    :class:`KeyboardInterrupt`; a consumer that stops iterating also kills them.
    """
    pending = list(evaluations)
    pending.reverse()  # pop() from the end: first come, first started
    jobs = max(1, context.jobs or 1)
    stopping = context.stopping
    timed = bool(context.timeout)
    base = base_environment(context)
    running = {}  # stderr read end -> _Child
    lingering = []  # children whose stderr closed before they exited
    poller = select.poll()
    batch, due = [], None
    devnull = _above_stdio(os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC))

    def start(evaluation):
        argv = command_line(context.command, evaluation.dataset, context.shell)
        started = store.now()
        path = executable(argv[0])
        if path is None:
            return _not_started(evaluation, argv, started, "No such file or directory")
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        read_end, write_end = _above_stdio(read_end), _above_stdio(write_end)
        try:
            pid = _spawn(path, argv, child_environment(base, evaluation), devnull, write_end)
        except OSError as error:
            os.close(read_end)
            return _not_started(evaluation, argv, started, error.strerror or str(error))
        finally:
            os.close(write_end)
        deadline = time.monotonic() + context.timeout if timed else None
        running[read_end] = _Child(evaluation, argv, pid, read_end, started, deadline)
        poller.register(read_end, select.POLLIN)
        return None

    def finish(child, status):
        error = f"timed out after {context.timeout:g} s" if child.timed_out else None
        batch.append(Finished(
            child.evaluation,
            exit_code=os.waitstatus_to_exitcode(status),
            stderr=child.tail.decode("utf-8", "replace")[-STDERR_TAIL:],
            error=error,
            started=child.started,
            stopped=store.now(),
            command=shlex.join(child.argv),
        ))

    def stderr_closed(child):
        poller.unregister(child.fd)
        del running[child.fd]
        os.close(child.fd)
        pid, status = os.waitpid(child.pid, os.WNOHANG)
        for pause in _EXIT_PAUSES:
            if pid:
                break
            time.sleep(pause)
            pid, status = os.waitpid(child.pid, os.WNOHANG)
        if pid:
            finish(child, status)
        else:  # it closed its stderr and runs on
            child.check = [time.monotonic() + _FIRST_CHECK, _FIRST_CHECK]
            lingering.append(child)

    def reap_lingering():
        now = time.monotonic()
        for child in list(lingering):
            if now >= child.check[0]:
                pid, status = os.waitpid(child.pid, os.WNOHANG)
                if pid:
                    lingering.remove(child)
                    finish(child, status)
                else:
                    child.check[1] = min(2 * child.check[1], _LAST_CHECK)
                    child.check[0] = now + child.check[1]

    def expire():
        """Kill the children past their deadline; finish those killed whose stderr something else holds."""
        now = time.monotonic()
        for child in [*running.values(), *lingering]:
            if now < child.deadline:
                continue
            child.deadline = now + _KILL_GRACE
            if not child.timed_out:
                kill_session(child.pid)
                child.timed_out = True
            elif running.get(child.fd) is child:
                pid, status = os.waitpid(child.pid, os.WNOHANG)
                if pid:  # dead, but its stderr is held open by something that left its session
                    poller.unregister(child.fd)
                    del running[child.fd]
                    os.close(child.fd)
                    finish(child, status)

    try:
        while True:
            while pending and len(running) + len(lingering) < jobs and not (stopping and stopping.is_set()):
                not_started = start(pending.pop())
                if not_started is not None:
                    batch.append(not_started)
            if batch and due is None:
                due = time.monotonic() + REPORT_EVERY
            if not running and not lingering:  # and nothing more may start
                break
            now = time.monotonic()
            if batch and now >= due:
                handed, batch, due = batch, [], None
                yield handed
                continue
            wake = [due] if batch else []
            wake += [child.check[0] for child in lingering]
            if timed:
                wake += [child.deadline for child in [*running.values(), *lingering]]
            timeout = max(0, math.ceil((min(wake) - now) * 1000)) if wake else None
            for fd, _event in poller.poll(timeout):
                child = running[fd]
                data = os.read(fd, 65536)
                if data:
                    child.tail += data
                    if len(child.tail) > 2 * _TAIL_BYTES:
                        del child.tail[:-_TAIL_BYTES]
                else:
                    stderr_closed(child)
            if lingering:
                reap_lingering()
            if timed:
                expire()
        if batch:
            yield batch
    except KeyboardInterrupt:
        _kill_all(running, lingering)
        if batch:
            handed, batch = batch, []
            yield handed  # what ended before Ctrl-C is still recorded
        raise
    finally:
        _kill_all(running, lingering)
        os.close(devnull)


def _kill_all(running, lingering):
    """Kill and reap every child still running; close their pipes."""
    for child in [*running.values(), *lingering]:
        kill_session(child.pid)
    for child in [*running.values(), *lingering]:
        try:
            os.waitpid(child.pid, 0)
        except ChildProcessError:
            pass
    for fd in running:
        os.close(fd)
    running.clear()
    lingering.clear()


def _not_started(evaluation, argv, started, reason):
    return Finished(evaluation, exit_code=127, error=f"cannot start {argv[0]!r}: {reason}",
                    started=started, stopped=store.now(), command=shlex.join(argv))
