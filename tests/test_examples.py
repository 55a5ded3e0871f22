"""The README's quick start, run as a new user would: the shipped script and example program."""

import os
import sqlite3
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quickstart_session_loads_runs_and_shows_results(tmp_path, monkeypatch):
    monkeypatch.delenv("GF_LOAD_PLUGINS")
    work = tmp_path / "qs"
    result = subprocess.run(
        ["bash", str(ROOT / "examples" / "quickstart.sh")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "GF_QUICKSTART_DIR": str(work)},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "SPY-2022-05   crossover  profit" in result.stdout
    conn = sqlite3.connect(work / "backtest.db")
    runs = conn.execute("SELECT dataset, status FROM runs ORDER BY id").fetchall()
    assert runs == [("SPY-2022-05", "ok"), ("TSLA-2022-05", "ok"), ("AMD-2022-05", "ok")]
    names = conn.execute("SELECT DISTINCT algo || '.' || name FROM results ORDER BY 1").fetchall()
    assert [n for (n,) in names] == [
        "crossover.profit", "crossover.trades", "crossover.win", "meanrev.profit", "meanrev.trades", "meanrev.win"
    ]


def test_example_backtest_is_deterministic_per_dataset(tmp_path, run_gf, monkeypatch):
    db = tmp_path / "bt.db"
    assert run_gf("load", "--db", db, ROOT / "examples" / "backtest" / "params.js").exit_code == 0
    env = {**os.environ, "GF_DB": str(db), "GF_PARAM_GROUP": "1"}
    for _ in range(2):
        subprocess.run(["python3", str(ROOT / "examples" / "backtest" / "backtest.py"), "SPY-2022-05"],
                       env=env, check=True)
    conn = sqlite3.connect(db)
    first, second = (conn.execute("SELECT algo, name, value FROM results WHERE run = ?", (run,)).fetchall()
                     for run in (1, 2))
    assert first == second and len(first) == 6
