import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gf import plugins, store
from gf.cli import cli


def console_script(name):
    """The console script ``name`` installed beside this interpreter (this environment's, not the first on
    PATH: a pyenv shim or another venv's would test another copy of gf), else the one on PATH."""
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else shutil.which(name) or name


GF = console_script("gf")
DASK = console_script("dask")


@pytest.fixture
def gf_process():
    """Run the installed ``gf`` in a process of its own: ``gf_process("top", "--db", db, cwd=folder)`` -> a
    ``subprocess.CompletedProcess``, stdout and stderr as text (the test's environment, which
    ``clean_environment`` cleaned)."""

    def run(*args, cwd=None):
        return subprocess.run([GF, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120)

    return run


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Each test starts with no gf environment and only the built-in plugins."""
    for name in ("GF_DB", "GF_PARAM_GROUP", "GF_DATA", "GF_FAMILY", "GF_TRACE_HOOKS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GF_LOAD_PLUGINS", "")
    plugins.reset()
    yield
    plugins.reset()


@pytest.fixture
def sigint_raises():
    """SIGINT raises KeyboardInterrupt in this process and the children it starts, even when the
    suite itself was started with SIGINT ignored (``pytest &`` in a script, nohup): yields a
    ``preexec_fn`` for ``subprocess.Popen`` that gives a child the default SIGINT action."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGINT, previous)


@pytest.fixture
def log_messages():
    """What gf logs through loguru during the test, as text lines."""
    from loguru import logger

    messages = []
    sink = logger.add(lambda message: messages.append(str(message)), level="DEBUG", format="{level}: {message}")
    yield messages
    logger.remove(sink)


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "test.db")


@pytest.fixture
def run_gf():
    """Invoke the gf CLI in-process: ``run_gf("load", "--db", db, file)`` -> click Result."""
    runner = CliRunner()

    def invoke(*args, env=None):
        return runner.invoke(cli, [str(arg) for arg in args], env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def load_text(tmp_path, db_path, run_gf):
    """Write ``text`` to a parameter file and ``gf load`` it; return the new group id."""
    counter = iter(range(1000))

    def load(text, *extra):
        path = tmp_path / f"params{next(counter)}.js"
        path.write_text(text)
        result = run_gf("load", "--db", db_path, *extra, path)
        assert result.exit_code == 0, result.output
        return int(result.stdout.strip())

    return load


def count_rows(db_path, table):
    conn = store.connect(db_path, create=False)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()
