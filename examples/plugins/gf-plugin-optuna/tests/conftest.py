import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import gf
import gf.plugins
from gf.cli import cli

import gf_plugin_optuna

EVALUATE = Path(__file__).parent / "programs" / "evaluate.py"


@pytest.fixture(autouse=True)
def optuna_plugin(monkeypatch):
    """Only the built-ins and this plugin, registered by hand; no gf environment."""
    for name in ("GF_DB", "GF_PARAM_GROUP", "GF_DATA", "GF_FAMILY", "GF_LAUNCH", "GF_RESULTS", "GF_TRACE_HOOKS",
                 "GF_OPTUNA_STARTUP_TRIALS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GF_LOAD_PLUGINS", "")
    gf.plugins.reset()
    gf.plugins.register(gf_plugin_optuna, name="optuna")
    yield gf_plugin_optuna
    gf.plugins.unregister(name="optuna")
    gf.plugins.reset()


@pytest.fixture
def run_gf():
    """``run_gf("load", "--db", db, file)`` -> click Result (stdout and stderr apart)."""
    runner = CliRunner()

    def invoke(*args, env=None):
        return runner.invoke(cli, [str(arg) for arg in args], env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def evaluate_command():
    return f"{sys.executable} {EVALUATE} {{}}"
