"""Run one command and take it down with the process that started it: ``python -I -S guard.py PID PATH ARG...``.

A dask worker runs each command through this guard (see ``gf_plugins_builtin.distributed``).
When the worker dies outright (SIGKILL, the kernel's out-of-memory killer), nothing of it runs
to stop the command it started, which would run on to its end (minutes or hours on a
cluster) while the scheduler gives its evaluation to another worker. The guard starts the
command in its own process group (the session the worker started the guard in), waits for
it, and, should its parent (the worker) be gone, SIGKILLs the whole group: the command and
everything it started. Its exit status is the command's (a command killed by a signal
leaves the guard killed by the same signal), and a command that cannot start is told
back in one line (:data:`MARK`) for the worker to report as it does a command that
cannot start without a guard.

It is run as a script (``-I -S``), with the standard library's C modules only, so it starts as fast as Python
can: it adds 10-40 ms to a command's start here.
"""

import os
import _signal as signal  # the C module: `signal` imports enum, which doubles the start-up
import sys

#: The guard's stderr line when the command cannot start: ``MARK`` then the errno.
MARK = "gf-guard: cannot start: errno "
#: The guard's exit code then.
CANNOT_START = 127
#: How often (seconds) the guard checks that its parent still runs.
POLL = 0.2


def main(argv):
    parent, path, args = int(argv[1]), argv[2], argv[3:]  # PID: the process that started the guard
    if os.getppid() != parent:  # it died before the guard ran
        os.killpg(0, signal.SIGKILL)
    # Python ignores these; the command gets them back at their defaults, as gf starts commands
    restore = [getattr(signal, name) for name in ("SIGPIPE", "SIGXFSZ") if hasattr(signal, name)]
    try:
        pid = os.posix_spawn(path, args, os.environ, setsigdef=restore)
    except OSError as error:
        os.write(2, f"{MARK}{error.errno}\n".encode())
        os._exit(CANNOT_START)

    def watch(_signal, _frame):
        if os.getppid() != parent:  # reparented: the worker is gone
            os.killpg(0, signal.SIGKILL)

    # a timer rather than a thread: importing threading would double the guard's start-up
    signal.signal(signal.SIGALRM, watch)
    signal.setitimer(signal.ITIMER_REAL, POLL, POLL)
    _pid, status = os.waitpid(pid, 0)  # retried after each check (PEP 475)
    signal.setitimer(signal.ITIMER_REAL, 0)
    code = os.waitstatus_to_exitcode(status)
    if code < 0:  # killed by a signal: so is the guard (without a core file of its own)
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            signal.signal(-code, signal.SIG_DFL)
        except (ImportError, OSError, ValueError):  # SIGKILL's cannot be set: it kills all the same
            pass
        os.kill(os.getpid(), -code)
        code = 128 - code  # a signal that did not end it (none should): the shell's convention
    os._exit(code & 0xFF)


if __name__ == "__main__":
    main(sys.argv)
