"""Fixtures: a clean gf environment, the plugin registered by hand, and the gf CLI in-process."""

import pytest
from click.testing import CliRunner

import gf_plugin_sum_to_one
from gf import plugins
from gf.cli import cli


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """No gf environment and no installed plugin: each test registers what it uses."""
    for name in ("GF_DB", "GF_PARAM_GROUP", "GF_DATA", "GF_FAMILY", "GF_RESULTS", "GF_TRACE_HOOKS", "GF_SUM_TO_ONE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GF_LOAD_PLUGINS", "")
    plugins.reset()
    yield
    plugins.reset()


@pytest.fixture
def sum_to_one():
    """The plugin registered without installing it (as an entry point would, under its name)."""
    plugins.register(gf_plugin_sum_to_one, name="sum_to_one")
    yield gf_plugin_sum_to_one
    plugins.unregister("sum_to_one")


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "test.db")


@pytest.fixture
def run_gf():
    """``run_gf("load", "--db", db, file)`` -> click Result, the gf CLI in this process."""
    runner = CliRunner()

    def invoke(*args, env=None):
        return runner.invoke(cli, [str(arg) for arg in args], env=env, catch_exceptions=False)

    return invoke
