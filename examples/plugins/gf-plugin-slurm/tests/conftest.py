import os
import sqlite3
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import gf.plugins
from gf.cli import cli

import fake_slurm
import gf_plugin_slurm

EVALUATE = Path(__file__).parent / "programs" / "evaluate.py"


@pytest.fixture(autouse=True)
def slurm_plugin(monkeypatch, tmp_path):
    """Only the built-ins and this plugin (registered by hand); a fake Slurm first on PATH."""
    for name in [*gf_plugin_slurm.SETTINGS, "GF_DB", "GF_PARAM_GROUP", "GF_DATA", "GF_FAMILY", "GF_LAUNCH",
                 "GF_RESULTS", "GF_TRACE_HOOKS", "FAKE_SBATCH_BACKGROUND", "FAKE_SBATCH_SKIP", "FAKE_SBATCH_FAIL"]:
        monkeypatch.delenv(name, raising=False)
    state = tmp_path / "slurm-state"
    state.mkdir()
    monkeypatch.setenv("FAKE_SLURM_STATE", str(state))
    monkeypatch.setenv("PATH", fake_slurm.install(str(tmp_path)) + os.pathsep + os.environ["PATH"])
    monkeypatch.setenv("GF_SLURM_POLL", "0.05")
    monkeypatch.setenv("GF_SLURM_GRACE", "0")
    monkeypatch.setenv("GF_LOAD_PLUGINS", "")
    gf.plugins.reset()
    gf.plugins.register(gf_plugin_slurm, name="slurm")
    yield state
    gf.plugins.unregister(name="slurm")
    gf.plugins.reset()


@pytest.fixture
def run_gf():
    """``run_gf("run", "--db", db, ...)`` -> click Result (stdout and stderr apart)."""
    runner = CliRunner()

    def invoke(*args, env=None):
        return runner.invoke(cli, [str(arg) for arg in args], env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def command():
    return f"{sys.executable} {EVALUATE} {{}}"


@pytest.fixture
def db(tmp_path):
    return tmp_path / "work" / "test.db"


@pytest.fixture
def load(tmp_path, db, run_gf):
    """``load("x = 1\\n")`` -> the new group id, loaded into ``db``."""
    db.parent.mkdir(exist_ok=True)
    counter = iter(range(1000))

    def load_text(text):
        path = tmp_path / f"params{next(counter)}.js"
        path.write_text(text)
        result = run_gf("load", "--db", db, path)
        assert result.exit_code == 0, result.output
        return int(result.stdout.strip())

    return load_text


@pytest.fixture
def query(db):
    def rows(sql, *args):
        conn = sqlite3.connect(db)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    return rows
