"""The bad-input corpus: every file in ``tests/bad_inputs/`` is one wrong command.

Each case is a small TOML file::

    what = "a value that is not JSON"             # one line: what the case is about
    setup = "loaded"                              # the database state (see SETUPS below)
    args = ["load", "{file:params.js}"]           # gf's arguments; `--db {db}` is appended
    db = "none"                                   # optional: do not append `--db {db}`
    exit = 2                                      # 2 bad input or usage, 1 environment
    message = "{file:params.js}:2: invalid JSON value"   # the one stderr line starts with this
    absent = ["{dir}/new.db"]                     # optional: paths that must not exist afterwards
    [files]                                       # optional: text files written in {dir}
    "params.js" = "a = {oops\\n"
    [files_hex]                                   # optional: binary files, as hex
    "latin1.js" = "61203d2031e90a"
    [env]                                         # optional: extra environment variables
    GF_DATA = "d1"

Placeholders in ``args``, ``message`` and ``absent``: ``{db}`` the database path,
``{file:NAME}`` the path of a file written from ``[files]``/``[files_hex]``, ``{dir}``
the case's temporary directory.

Every case runs gf in a real subprocess (the installed ``gf`` console script; only
``raising_plugin``, a plugin registered in-process, runs through click's CliRunner)
and must: exit with the given status; print exactly one stderr line, starting with
the message, and no traceback; leave the database file and its ``-wal`` byte for
byte as they were (a missing database stays missing).
"""

import concurrent.futures
import gc
import hashlib
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from gf import hookimpl, plugins, store

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli", reason="the bad-input corpus is TOML: needs Python 3.11+ or tomli")

CASES_DIR = Path(__file__).parent / "bad_inputs"
CASES = sorted(CASES_DIR.glob("*.toml"))

#: The installed console script beside this interpreter (not a pyenv shim or another venv's gf).
GF = str(Path(sys.executable).with_name("gf")) if Path(sys.executable).with_name("gf").exists() else shutil.which("gf")

SETUPS = {
    "empty": "no database file at all",
    "loaded": "group 1 (with constraints) and runs of it on d1 and d2 with results bt.profit, bt.trades",
    "not_sqlite": "the database path is a text file",
    "truncated": "a real gf database (as loaded) cut to half its size",
    "newer": "a gf database (as loaded) whose user_version is above this gf's schema",
    "foreign": "a SQLite database of another program",
    "readonly": "the loaded database behind a read-only bind mount",
    "broken_plugin": "loaded, plus an installed entry-point plugin whose import fails",
    "raising_plugin": "loaded, plus an in-process plugin whose gf_register_types raises",
}

KEYS = {"what", "setup", "args", "db", "exit", "message", "absent", "files", "files_hex", "env"}

LOADED_PARAMS = """\
# the `loaded` setup: group 1
fast = 12.3
slow = 7.2
decay_rate_int = 5
flag_bool = 1
mode_choice = ["a", "b"]
share_real_0 = 0.25

slow < fast
decay_rate_int >= 1
"""

# Two recorded runs of group 1 (d1 and d2), written as results lines and recorded by `gf ingest`.
LOADED_RESULTS = "".join(
    f'{{"gf_run": 1, "uid": "01J0ADEDRVN{index:015d}", "group_id": 1, "dataset": "{dataset}", '
    f'"family": "{dataset}", "label": "setup", "started": "2024-01-0{index}T00:00:00.000+00:00", '
    f'"stopped": "2024-01-0{index}T00:01:00.000+00:00", "status": "ok", '
    f'"results": [["bt", "profit", {profit}], ["bt", "trades", {trades}]]}}\n'
    for index, (dataset, profit, trades) in enumerate([("d1", 12.5, 14), ("d2", -3.25, 9)], start=1)
)

BROKEN_PLUGIN = "import numpy_that_is_not_there\n"


def gf_env(plugins_allowed=""):
    """The environment of a gf subprocess: no GF_* variables but GF_LOAD_PLUGINS (None: unset)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("GF_")}
    if plugins_allowed is not None:
        env["GF_LOAD_PLUGINS"] = plugins_allowed
    return env


def run_gf_subprocess(args, cwd, env):
    completed = subprocess.run([GF, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    return completed.returncode, completed.stdout, completed.stderr


@pytest.fixture(scope="module")
def loaded_template(tmp_path_factory):
    """A gf database in the `loaded` state, built once with the real CLI; cases copy it."""
    folder = tmp_path_factory.mktemp("loaded")
    db = folder / "loaded.db"
    (folder / "params.js").write_text(LOADED_PARAMS)
    (folder / "runs.jsonl").write_text(LOADED_RESULTS)
    for args in (["load", "params.js"], ["ingest", "runs.jsonl"]):
        code, out, err = run_gf_subprocess([*args, "--db", str(db)], folder, gf_env())
        assert code == 0, f"building the loaded setup: gf {' '.join(args)} failed: {err}"
    _checkpoint(db)
    return db


def _checkpoint(db):
    """Fold any WAL into the main file so that copying the one file copies the database."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    for suffix in ("-wal", "-shm"):
        assert not Path(f"{db}{suffix}").exists() or Path(f"{db}{suffix}").stat().st_size == 0
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def prepare_setup(setup, folder, loaded_template, finalizers):
    """Create the database state ``setup`` in ``folder``; return ``(db_path, env_or_None, skip_reason)``.

    The env is the subprocess environment; ``None`` means: run in-process (raising_plugin).
    ``finalizers`` collects what undoes the setup (the read-only mount).
    """
    db = folder / "test.db"
    env = gf_env()
    skip = None
    if setup == "empty":
        pass
    elif setup in ("loaded", "broken_plugin", "raising_plugin"):
        shutil.copyfile(loaded_template, db)
    elif setup == "not_sqlite":
        db.write_text("fast = 12.3\nthis is a parameter file, not a database\n")
    elif setup == "truncated":
        data = loaded_template.read_bytes()
        db.write_bytes(data[: len(data) // 2])
    elif setup == "newer":
        shutil.copyfile(loaded_template, db)
        conn = sqlite3.connect(db)
        conn.execute(f"PRAGMA user_version = 99")
        conn.close()
        _checkpoint(db)
    elif setup == "foreign":
        conn = sqlite3.connect(db)
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, email TEXT)")
        conn.execute("INSERT INTO customers (name, email) VALUES ('Ada', 'ada@example.org')")
        conn.commit()
        conn.close()
    elif setup == "readonly":
        shelf = folder / "readonly"
        shelf.mkdir()
        db = shelf / "test.db"
        shutil.copyfile(loaded_template, db)
        skip = _read_only_mount(shelf, finalizers)
    else:
        raise AssertionError(f"unknown setup {setup!r}; known: {', '.join(SETUPS)}")
    if setup == "broken_plugin":
        site = folder / "site"
        site.mkdir()
        (site / "gf_plugin_broken.py").write_text(BROKEN_PLUGIN)
        info = site / "gf_plugin_broken-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: gf-plugin-broken\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text("[gf]\nbroken = gf_plugin_broken\n")
        env = gf_env(plugins_allowed=None)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    if setup == "raising_plugin":
        env = None
    return str(db), env, skip


def _read_only_mount(folder, finalizers):
    """Make ``folder`` read-only with a bind mount (root ignores file modes); a skip reason if impossible."""
    bound = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True, text=True)
    if bound.returncode != 0:
        return f"the readonly setup needs `mount --bind` (root, in a mount namespace): {bound.stderr.strip()}"
    finalizers.append(lambda: subprocess.run(["umount", "--lazy", str(folder)], capture_output=True))
    remounted = subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], capture_output=True, text=True)
    if remounted.returncode != 0:
        return f"the readonly setup could not remount read-only: {remounted.stderr.strip()}"
    try:
        (folder / "probe").write_text("x")
    except OSError:
        return None
    return "the readonly setup: the read-only bind mount still accepts writes"


class RaisingPlugin:
    """The `raising_plugin` setup: a plugin whose type hook raises."""

    @hookimpl
    def gf_register_types(self, register):
        raise RuntimeError("kaboom")


def run_gf_in_process(args, cwd):
    """``(exit_status, stdout, stderr)`` of the CLI run in this process with the raising plugin."""
    from gf.cli import cli

    plugins.register(RaisingPlugin(), name="raises")
    old = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(cli, args, prog_name="gf", catch_exceptions=True)
    finally:
        os.chdir(old)
    status, stdout, stderr = result.exit_code, result.stdout, result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(*result.exc_info))
    # What a process exit would do: the frames the exception kept alive go, and with them
    # any connection gf left open (closing the last one folds and removes the -wal file).
    del result
    gc.collect()
    return status, stdout, stderr


def fingerprint(db):
    """SHA-256 of the database file and of its -wal (``None`` for a missing file)."""
    found = {}
    for path in (db, f"{db}-wal"):
        found[path] = hashlib.sha256(Path(path).read_bytes()).hexdigest() if os.path.exists(path) else None
    return found


def load_case(path):
    spec = tomllib.loads(path.read_text(encoding="utf-8"))
    unknown = set(spec) - KEYS
    assert not unknown, f"{path.name}: unknown keys {sorted(unknown)}; known: {sorted(KEYS)}"
    for key in ("what", "setup", "args", "exit", "message"):
        assert key in spec, f"{path.name}: missing {key!r}"
    assert spec["setup"] in SETUPS, f"{path.name}: unknown setup {spec['setup']!r}; known: {', '.join(SETUPS)}"
    assert spec.get("db", "default") in ("default", "none"), f"{path.name}: db must be \"none\" if given"
    assert spec["exit"] in (1, 2), f"{path.name}: exit must be 1 (environment) or 2 (bad input)"
    return spec


def substitute(text, db, folder, files):
    def replace(match):
        if match.group(0) == "{db}":
            return db
        if match.group(0) == "{dir}":
            return str(folder)
        name = match.group(1)
        assert name in files, f"placeholder {{file:{name}}} names no file of [files]/[files_hex]"
        return files[name]

    return re.sub(r"\{db\}|\{dir\}|\{file:([^{}]+)\}", replace, text)


@dataclass
class Outcome:
    """One case, prepared and (once run) with what gf did."""

    path: Path
    folder: Path
    spec: dict
    db: str
    env: object  # the subprocess environment, or None to run in-process
    args: list
    sub: object  # placeholder substitution for this case
    skip: str = None
    before: dict = None
    after: dict = None
    status: int = None
    out: str = ""
    err: str = ""


def prepare_case(path, folder, loaded_template, finalizers, debug=False):
    """Set up one case in ``folder``: database state, files, arguments; nothing run yet."""
    spec = load_case(path)
    db, env, skip = prepare_setup(spec["setup"], folder, loaded_template, finalizers)
    files = {}
    for name, text in spec.get("files", {}).items():
        (folder / name).write_text(text, encoding="utf-8")
        files[name] = str(folder / name)
    for name, hex_text in spec.get("files_hex", {}).items():
        (folder / name).write_bytes(bytes.fromhex(hex_text))
        files[name] = str(folder / name)

    def sub(text):
        return substitute(text, db, folder, files)

    args = [sub(arg) for arg in spec["args"]]
    if spec.get("db") != "none":
        args += ["--db", db]
    if debug:
        args = ["--debug", *args]
    if env is not None:
        env.update({name: sub(value) for name, value in spec.get("env", {}).items()})
    return Outcome(path, folder, spec, db, env, args, sub, skip)


def execute(outcome):
    """Run the prepared case: checksums before, gf, checksums after."""
    if outcome.skip:
        return outcome
    outcome.before = fingerprint(outcome.db)
    if outcome.env is None:
        outcome.status, outcome.out, outcome.err = run_gf_in_process(outcome.args, outcome.folder)
    else:
        outcome.status, outcome.out, outcome.err = run_gf_subprocess(outcome.args, outcome.folder, outcome.env)
    outcome.after = fingerprint(outcome.db)
    return outcome


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory, loaded_template):
    """Every selected subprocess case, run concurrently (each gf start costs a few tenths of a second).

    The in-process cases (raising_plugin) run in their own test, one at a time.
    """
    selected = [item.callspec.params["case"] for item in request.session.items
                if item.module is request.module and item.originalname == "test_bad_input"]
    finalizers = []
    prepared = {}
    try:
        for path in selected:
            if load_case(path)["setup"] == "raising_plugin":
                continue
            prepared[path] = prepare_case(path, tmp_path_factory.mktemp(path.stem), loaded_template, finalizers)
        workers = min(8, 2 * (os.cpu_count() or 1))
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(execute, prepared.values()))
        yield prepared
    finally:
        for finalize in reversed(finalizers):
            finalize()


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_bad_input(case, request, tmp_path, loaded_template):
    if load_case(case)["setup"] == "raising_plugin":
        finalizers = []
        request.addfinalizer(lambda: [finalize() for finalize in reversed(finalizers)])
        outcome = execute(prepare_case(case, tmp_path, loaded_template, finalizers))
    else:
        outcome = request.getfixturevalue("outcomes")[case]
    if outcome.skip:
        pytest.skip(outcome.skip)
    spec, sub = outcome.spec, outcome.sub
    expected = sub(spec["message"])
    lines = outcome.err.splitlines()
    problems = []
    if outcome.status != spec["exit"]:
        problems.append(f"exit status {outcome.status}, expected {spec['exit']}")
    if "Traceback" in outcome.err or "Traceback" in outcome.out:
        problems.append("a traceback was printed")
    if len(lines) != 1:
        problems.append(f"stderr has {len(lines)} lines, expected exactly 1")
    if not lines or not lines[0].startswith(expected):
        problems.append(f"stderr does not start with the expected message {expected!r}")
    for file, digest in outcome.before.items():
        if outcome.after[file] != digest:
            change = "created" if digest is None else "deleted" if outcome.after[file] is None else "changed"
            problems.append(f"{file} was {change}")
    for absent in spec.get("absent", []):
        if os.path.exists(sub(absent)):
            problems.append(f"{sub(absent)} exists, expected it not to")
    how = "in-process (CliRunner)" if outcome.env is None else "subprocess"
    assert not problems, (
        f"{case.stem}: {spec['what']} [setup {spec['setup']}, {how}]\n"
        f"  command: gf {shlex.join(outcome.args)}\n"
        f"  problems: {'; '.join(problems)}\n"
        f"  exit status: {outcome.status}\n"
        f"  stderr:\n{_indent(outcome.err)}\n"
        f"  stdout:\n{_indent(outcome.out)}"
    )


def _indent(text):
    return "\n".join(f"    | {line}" for line in text.splitlines()) or "    | (empty)"


def test_debug_shows_the_traceback(tmp_path, loaded_template):
    """--debug trades the one-line error for the traceback (same case, same message, nothing written)."""
    case = CASES_DIR / "json_invalid_value.toml"
    outcome = execute(prepare_case(case, tmp_path, loaded_template, [], debug=True))
    assert outcome.status != 0
    assert "Traceback (most recent call last)" in outcome.err, outcome.err
    assert outcome.sub(outcome.spec["message"]) in outcome.err.splitlines()[-1], outcome.err
    assert outcome.after == outcome.before


def test_corpus_is_complete():
    """At least 45 cases, and every setup is used by one."""
    assert len(CASES) >= 45, len(CASES)
    used = {load_case(case)["setup"] for case in CASES}
    assert used == set(SETUPS), set(SETUPS) - used
