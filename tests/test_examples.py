"""The README's quick start, run as a new user would: the shipped script and example program."""

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quickstart_is_a_real_breeding_session(tmp_path, monkeypatch):
    """The script as a new user runs it; here without gf's console scripts on PATH (``pip install --user``
    without ~/.local/bin on it): it runs them as ``$PYTHON -m``, as the README says one can."""
    monkeypatch.delenv("GF_LOAD_PLUGINS")
    work = tmp_path / "qs"
    work.mkdir()
    (work / "mine.txt").write_text("a user's own folder")
    env = {**os.environ, "GF_QUICKSTART_DIR": str(work), "PATH": "/usr/bin:/bin", "PYTHON": sys.executable}

    def quickstart():
        return subprocess.run(["bash", str(ROOT / "examples" / "quickstart.sh")], cwd=tmp_path, capture_output=True,
                              text=True, env=env, timeout=300)

    refused = quickstart()  # a folder the script did not make is not deleted
    assert refused.returncode == 1 and refused.stderr == (
        f"quickstart.sh: {work} exists and was not made by this script; move it away, or set GF_QUICKSTART_DIR to "
        "another folder\n")
    assert [p.name for p in work.iterdir()] == ["mine.txt"]
    (tmp_path / "backup").mkdir()
    for mine in (tmp_path / "backup" / "backtest.db.mybackup", tmp_path / "backtest.db"):  # a backup; a file
        mine.write_text("a user's own file")
        env["GF_QUICKSTART_DIR"] = str(mine.parent if mine.parent.name == "backup" else mine)
        assert quickstart().returncode == 1 and mine.read_text() == "a user's own file"
    work = tmp_path / "qs2"
    env["GF_QUICKSTART_DIR"] = str(work)
    result = quickstart()
    assert result.returncode == 0, result.stderr
    assert "generation 3/3: evaluations 24/24, 0 failed" in result.stderr
    assert "== gf lineage" in result.stdout
    assert re.search(r"^group \d+ \((generation [123], default|load .*params\.js)\)$", result.stdout, re.M)
    conn = sqlite3.connect(work / "backtest.db")
    assert conn.execute("SELECT count(*), count(DISTINCT dataset) FROM runs WHERE status = 'ok'").fetchone() == (
        3 + 3 * 8 * 3, 3)
    assert conn.execute("SELECT generation, count(*) FROM groups GROUP BY generation").fetchall() == [
        (None, 1), (1, 8), (2, 8), (3, 8)]
    names = conn.execute("SELECT DISTINCT algo || '.' || name FROM results ORDER BY 1").fetchall()
    assert [n for (n,) in names] == [
        "crossover.profit", "crossover.trades", "crossover.win", "meanrev.profit", "meanrev.trades", "meanrev.win"
    ]


def test_example_backtest_is_deterministic_per_dataset(tmp_path, run_gf, monkeypatch):
    db = tmp_path / "bt.db"
    assert run_gf("load", "--db", db, ROOT / "examples" / "backtest" / "params.js").exit_code == 0
    env = {**os.environ, "GF_DB": str(db), "GF_PARAM_GROUP": "1"}
    for _ in range(2):
        subprocess.run([sys.executable, str(ROOT / "examples" / "backtest" / "backtest.py"), "SPY-2022-05"],
                       env=env, check=True)
    conn = sqlite3.connect(db)
    first, second = (conn.execute("SELECT algo, name, value FROM results WHERE run = ?", (run,)).fetchall()
                     for run in (1, 2))
    assert first == second and len(first) == 6
