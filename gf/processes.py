"""Launched commands as child processes, ``-j`` at a time: one thread per slot.

This is what the ``local`` launcher (and :func:`gf.launch.run_command`) runs on. Each
slot thread takes the next evaluation, starts its command in a session of its own
(stdin and stdout on ``/dev/null``, stderr on a pipe), reads its stderr to the end
and waits for its pid, so ``-j`` children run at once and no more. The coordinator's
thread only collects what ended and hands it over in batches (lists of
:class:`gf.launch.Finished`), at most :data:`REPORT_EVERY` seconds after the first of
a batch ended, so it records many in one transaction while the slots go on.

How a child is started matters as much as the child itself when the command is
short: on Linux, ``subprocess.Popen`` and ``os.posix_spawn`` both use vfork, which
keeps the caller waiting until the child has called exec, and on a busy machine that
wait (the child's first turn on a CPU) can be longer than a short command's whole
run. ``Popen``'s C helper, ``_posixsubprocess.fork_exec``, lets go of the GIL while
it waits (gh-104372: CPython 3.12, and 3.11 since the fix was backported; checked on
3.11.7), so the other slots keep reaping and starting; ``os.posix_spawn`` keeps it,
and each child's start would stall every slot (measured under load: 2,000 ``true``
took 5-9 s from one thread on ``os.posix_spawn``, 3.4-3.7 s from slot threads).
``Popen`` itself adds about 0.15 ms of Python per child (it encodes every environment
variable each time, builds file objects), as much as the start itself; so gf calls
the helper directly, with the arguments ``Popen`` gives it, on the CPython versions
whose argument list is known (see :data:`_FORK_EXEC`), and ``os.posix_spawn``
elsewhere. The executable is found once and the environment encoded once.
"""

import collections
import errno
import math
import os
import select
import shlex
import sys
import threading
import time

try:
    import _posixsubprocess
except ImportError:  # not CPython on POSIX
    _posixsubprocess = None

from gf import store
from gf.launch import STDERR_TAIL, Finished, base_environment, command_line, evaluation_variables

#: Seconds an outcome may wait to be handed over with the ones that end after it.
#: This bounds what a SIGKILLed gf loses: the outcomes of the commands that ended in
#: its last REPORT_EVERY seconds (their launches stay pending and a resumed loop
#: evaluates those pairs again; a run the program recorded itself is never lost).
#: Short batches beat long ones: 2,000 ``true`` at -j 2 (gf run, load average ~5)
#: took 3.5 s at 2-5 ms, 3.7 s at 10 ms, 4.4 s at 50 ms and 5.2 s at 250 ms, as
#: recording a long batch holds the GIL and a core while the slots wait to start the
#: next children; 0 (record whatever has ended at once) took 3.6 s.
REPORT_EVERY = 0.005

#: Bytes of a child's stderr kept: enough for the last STDERR_TAIL characters of any UTF-8.
_TAIL_BYTES = 4 * STDERR_TAIL

#: Seconds a child's stderr is read after it exited or was killed, while something else holds it open
#: (what it left running, a ``2> >(filter)`` still writing, something that left its session).
_KILL_GRACE = 1.0

#: Whether a running child has exited (leaving its stderr held open by something it started, ``cmd &``)
#: is checked after this many seconds, then twice as long each time, up to :data:`_CHECK_MOST`: a short
#: command's end is its stderr's, and it is never checked.
_CHECK_FIRST, _CHECK_MOST = 0.01, 0.25


_found = {}


def executable(program):
    """The path to run for ``program`` (as given when it has a ``/``, else found on PATH), or ``None``.
    A path found is kept (a loop runs one program thousands of times); ``None`` is not (it may be fixed)."""
    path = _found.get(program)
    if path is None:
        import shutil

        path = shutil.which(program)
        if path is not None and len(_found) < 64:
            _found[program] = path
    return path


def unrunnable(program):
    """Why ``program`` cannot be started, in a few words with what to do, or ``None`` if it can
    (as far as can be told before trying: an exec format error shows when it starts)."""
    import shutil

    if shutil.which(program) is not None:
        return None
    if "/" in program:
        if not os.path.exists(program):
            return "No such file or directory"
        if os.path.isdir(program):
            return "it is a directory"
        return ("it is not executable: make it so (chmod +x), or run it through its interpreter "
                "(python3 script.py {})")
    found = [folder for folder in os.environ.get("PATH", "").split(os.pathsep)
             if os.path.isfile(os.path.join(folder or ".", program))]
    if found:
        return f"{os.path.join(found[0], program)} is not executable (chmod +x)"
    return "not found on PATH (give its path, e.g. ./backtest.py, or the interpreter: python3 backtest.py {})"


def kill_session(pid):
    """SIGKILL the session (process group) led by child ``pid``: the child and everything it started."""
    import signal  # only when killing: importing it costs gf run's start-up a few ms

    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


#: The variables :func:`gf.launch.evaluation_variables` sets, different for every child.
_PER_EVALUATION = ("GF_PARAM_GROUP", "GF_DATA", "GF_FAMILY", "GF_LAUNCH")


def encoded_environment(context):
    """:func:`gf.launch.base_environment` as ``KEY=value`` bytes, encoded once for every child,
    without the variables each evaluation sets."""
    return [os.fsencode(key) + b"=" + os.fsencode(value) for key, value in base_environment(context).items()
            if key not in _PER_EVALUATION]


def run_one(context, evaluation, environment=None, devnull=None, started=None, guarded=False):
    """Run the command of one evaluation in this thread; return its :class:`gf.launch.Finished`.

    :param environment: from :func:`encoded_environment` (computed here if not given).
    :param devnull: a file descriptor open on ``/dev/null``, for stdin and stdout.
    :param started: called with the child's pid once it runs (a pool tracks it to kill it).
    :param guarded: run the command through :mod:`gf.guard`, which kills it should this process
        die outright (a dask worker's commands; gf's own run on, their results still recorded).
    """
    if devnull is None:
        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            return _run(context, evaluation, environment, devnull, started, guarded)[0]
        finally:
            os.close(devnull)
    return _run(context, evaluation, environment, devnull, started, guarded)[0]


def _run(context, evaluation, environment, devnull, started, guarded=False):
    """``(Finished, pid or None)``. Whatever interrupts the wait kills the child's session first."""
    argv = command_line(context.command, evaluation.dataset, context.shell)
    begun = store.now()
    path = executable(argv[0])
    if path is None:
        return _not_started(evaluation, argv, begun, unrunnable(argv[0]) or "No such file or directory"), None
    env = (environment if environment is not None else encoded_environment(context)) + [
        os.fsencode(f"{key}={value}") for key, value in evaluation_variables(evaluation).items()]
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    try:
        if guarded:
            from gf import guard

            guarding = [sys.executable, "-I", "-S", guard.__file__, str(os.getpid()), path, *argv]
            pid = _start(sys.executable, guarding, env, devnull, read_end, write_end)
        else:
            pid = _start(path, argv, env, devnull, read_end, write_end)
    except OSError as error:
        os.close(read_end)
        return _not_started(evaluation, argv, begun, _start_error(error.errno, error.strerror or str(error))), None
    finally:
        os.close(write_end)
    reaped = []
    try:
        if started is not None:
            started(pid)
        tail, timed_out = _wait(pid, read_end, context.timeout, reaped)
    except BaseException:
        if not reaped:
            kill_session(pid)
            _waitpid(pid, 0)
        raise
    finally:
        os.close(read_end)
    if guarded and os.waitstatus_to_exitcode(reaped[0]) == 127 and not timed_out:
        from gf import guard

        line = tail.decode("utf-8", "replace")
        if line.startswith(guard.MARK) and line[len(guard.MARK):].strip().isdigit():  # the command could not start
            number = int(line[len(guard.MARK):])
            return _not_started(evaluation, argv, begun, _start_error(number, os.strerror(number))), pid
    return Finished(
        evaluation,
        exit_code=os.waitstatus_to_exitcode(reaped[0]),
        stderr=tail.decode("utf-8", "replace")[-STDERR_TAIL:],
        error=f"timed out after {context.timeout:g} s" if timed_out else None,
        started=begun,
        stopped=store.now(),
        command=shlex.join(argv),
    ), pid


def _start(path, argv, env_list, devnull, read_end, write_end):
    """Start ``argv`` (``path`` is the file to execute) in a new session, stdin and stdout on
    ``devnull``, stderr on ``write_end``; return its pid. :class:`OSError` if it cannot start."""
    if not _FORK_EXEC:
        return _posix_spawn(path, argv, env_list, devnull, write_end)
    error_read, error_write = os.pipe2(os.O_CLOEXEC)  # closed by a successful exec
    if error_write < 3:  # gf started with a standard stream closed; fork_exec needs it above them
        import fcntl

        moved = fcntl.fcntl(error_write, fcntl.F_DUPFD_CLOEXEC, 3)
        os.close(error_write)
        error_write = moved
    try:
        try:
            pid = _posixsubprocess.fork_exec(
                argv, (os.fsencode(path),), True, (error_write,), None, env_list,
                devnull, -1, -1, devnull, read_end, write_end, error_read, error_write,
                True, True, -1, None, None, None, -1, None, True)
        finally:
            os.close(error_write)
        failure = os.read(error_read, 50000)
    finally:
        os.close(error_read)
    if failure:  # b"OSError:<errno in hex>:...", as subprocess reads it
        _waitpid(pid, 0)
        _name, number, _detail = (failure.split(b":", 2) + [b"", b""])[:3]
        number = int(number or b"0", 16)
        raise OSError(number, os.strerror(number) if number else failure.decode("utf-8", "replace"))
    return pid


def _posix_spawn(path, argv, env_list, devnull, write_end):
    global _SESSION
    import signal

    # signals Python ignores that a program should get back at their defaults, as restore_signals does
    restore = [getattr(signal, name) for name in ("SIGPIPE", "SIGXFSZ") if hasattr(signal, name)]
    env = dict(entry.split(b"=", 1) for entry in env_list)
    actions = [(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, devnull, 1),
               (os.POSIX_SPAWN_DUP2, write_end, 2)]
    try:
        return os.posix_spawn(path, argv, env, file_actions=actions, setsigdef=restore, **_SESSION)
    except NotImplementedError:
        if "setsid" not in _SESSION:
            raise
        _SESSION = {"setpgroup": 0}  # still killable as a group, and out of the terminal's Ctrl-C
        return os.posix_spawn(path, argv, env, file_actions=actions, setsigdef=restore, **_SESSION)


#: Whether ``_posixsubprocess.fork_exec`` takes the arguments :func:`_start` passes:
#: those ``subprocess.Popen`` passes it on CPython 3.11 (new session, close_fds,
#: restore_signals, vfork allowed). It is private and its arguments change between
#: versions, so it is used only on the version its test pins; elsewhere gf uses
#: ``os.posix_spawn``, which works the same but keeps the GIL while the child starts.
_FORK_EXEC = (sys.implementation.name == "cpython" and sys.version_info[:2] == (3, 11)
              and _posixsubprocess is not None)

#: How ``os.posix_spawn`` starts a new session (a new process group where it cannot).
_SESSION = {"setsid": True}


def _wait(pid, fd, timeout, reaped):
    """Read the child's stderr from ``fd`` to its end and wait for it; ``(stderr tail, timed out)``.

    Its wait status is appended to ``reaped``. Past ``timeout`` seconds its session
    is killed. A child that closes its stderr early is still waited for (and killed
    at its deadline). A child is done when it exits, however long what it started
    (``cmd &``, a ``2> >(tee log)`` filter) holds its stderr open: whether it has exited
    is checked every so often while it runs (see :data:`_CHECK_FIRST`; a short command's
    stderr ends with it, and it is never checked), its stderr is read on for at most
    :data:`_KILL_GRACE` seconds after, and then what it left in its session is killed.
    """
    tail = bytearray()
    now = time.monotonic()
    deadline = now + timeout if timeout else None  # when its session is killed
    timed_out = False
    ended = None  # once it has exited (or been killed): until when its stderr is read
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    pause = _CHECK_FIRST
    check = now + pause
    while True:
        now = time.monotonic()
        if ended is None and (now >= check or deadline is not None and now >= deadline):
            if _exited(pid):  # (at its deadline too: one that has just ended did not time out)
                ended = now + _KILL_GRACE
            elif deadline is not None and now >= deadline:
                kill_session(pid)
                timed_out, ended = True, now + _KILL_GRACE
            else:
                pause = min(2 * pause, _CHECK_MOST)
                check = now + pause
        if ended is not None and now >= ended:
            break  # its stderr is held open by what it left running (or by what left its session)
        until = ended if ended is not None else (check if deadline is None else min(check, deadline))
        if poller.poll(max(0, math.ceil((until - now) * 1000))) and not _read_into(tail, fd):
            # its stderr's end: as a rule, its own end too
            if deadline is None or timed_out:
                _reap(pid, reaped)
            elif not _reap(pid, reaped, deadline - time.monotonic()):  # it closed its stderr and ran on
                kill_session(pid)
                _reap(pid, reaped)
                timed_out = True
            return tail, timed_out
    # not reaped yet, so its process group (its pid) is still its own to kill
    kill_session(pid)
    _reap(pid, reaped)
    return tail, timed_out


def _exited(pid):
    """Whether child ``pid`` has exited, leaving it to be reaped (its pid, and its process group's id, stay
    its own until then)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:  # reaped behind gf's back (SIGCHLD ignored by the program gf runs in)
        return True


def _read_into(tail, fd):
    """Add what ``fd`` has to ``tail`` (keeping its end); whether there was anything (no: its end)."""
    data = os.read(fd, 65536)
    if not data:
        return False
    tail += data
    if len(tail) > 2 * _TAIL_BYTES:
        del tail[:-_TAIL_BYTES]
    return True


def _waitpid(pid, options):
    """``os.waitpid``, except that a child reaped behind gf's back (SIGCHLD ignored by the program
    gf runs in) counts as having exited 0, as ``subprocess`` does."""
    try:
        return os.waitpid(pid, options)
    except ChildProcessError:
        return pid, 0


def _reap(pid, reaped, timeout=None):
    """Wait for child ``pid`` (at most ``timeout`` seconds); append its wait status to ``reaped``.

    :returns: whether it was reaped.
    """
    if timeout is None:
        reaped.append(_waitpid(pid, 0)[1])
        return True
    deadline, pause = time.monotonic() + timeout, 0.0005
    while True:
        done, status = _waitpid(pid, os.WNOHANG)
        if done:
            reaped.append(status)
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(pause, left))
        pause = min(2 * pause, 0.05)


def run(context, evaluations):
    """Run the command of each evaluation as a child process, ``context.jobs`` at a time.

    Yields lists of :class:`gf.launch.Finished`. A command that cannot start is a
    Finished with exit code 127; one that passes ``context.timeout`` has its session
    killed and says so in ``error``. Once ``context.stopping`` is set nothing new
    starts. Ctrl-C kills every running child (they are not reported: their launches
    stay pending), hands over the outcomes that ended before it, then raises
    :class:`KeyboardInterrupt`; a consumer that stops iterating also kills them.
    """
    pending = collections.deque(evaluations)
    slots = min(max(1, context.jobs or 1), len(pending))
    if not slots:
        return
    stopping = context.stopping
    environment = encoded_environment(context)
    lock = threading.Lock()
    changed = threading.Condition(lock)
    ended = []  # outcomes not handed over yet
    running = {}  # pid -> whether gf killed it (Ctrl-C, or the consumer stopped)
    failures = []  # what a slot raised
    state = {"stop": False, "slots": slots}
    devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)

    def started(pid):
        with lock:
            running[pid] = state["stop"]
            if state["stop"]:  # started just as everything was being killed
                kill_session(pid)

    def slot():
        try:
            while True:
                with lock:
                    if state["stop"] or not pending or (stopping is not None and stopping.is_set()):
                        return
                    evaluation = pending.popleft()
                finished, pid = _run(context, evaluation, environment, devnull, started)
                with lock:
                    if pid is not None and running.pop(pid):
                        continue  # killed by gf: not an outcome
                    ended.append(finished)
                    if len(ended) == 1:
                        changed.notify()
        except BaseException as error:  # handed to the coordinator's thread, which raises it
            with lock:
                failures.append(error)
        finally:
            with lock:
                state["slots"] -= 1
                changed.notify()

    def stop():
        with lock:
            state["stop"] = True
            for pid, killed in running.items():
                if not killed:
                    running[pid] = True
                    kill_session(pid)
        for thread in threads:
            if thread.ident is not None:  # started
                thread.join()

    def take():
        handed = ended[:]
        ended.clear()
        return handed

    threads = [threading.Thread(target=slot, name=f"gf-slot-{index}", daemon=True) for index in range(slots)]
    try:
        for thread in threads:
            thread.start()
        while True:
            with lock:
                while not ended and state["slots"] and not failures:
                    changed.wait()
                if not failures and ended:
                    due = time.monotonic() + REPORT_EVERY
                    while state["slots"] and not failures and (left := due - time.monotonic()) > 0:
                        changed.wait(left)
                if failures:
                    raise failures[0]
                if not ended:
                    break
                handed = take()
            yield handed
    except KeyboardInterrupt:
        stop()
        with lock:
            handed = take()
        if handed:
            yield handed  # what ended before Ctrl-C is still recorded
        raise
    finally:
        stop()
        os.close(devnull)


def _start_error(number, reason):
    """Why a command could not start, from its errno and message."""
    if number == errno.ENOEXEC:
        reason += " (a script without a #! line? run it through its interpreter: python3 script.py {})"
    return reason


def _not_started(evaluation, argv, started, reason):
    return Finished(evaluation, exit_code=127, error=f"cannot start {argv[0]!r}: {reason}",
                    started=started, stopped=store.now(), command=shlex.join(argv))
