"""gf breed: the generation loop over real programs, resume after a kill, lineage, tags."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gf import GeneticFuckery, store
from conftest import GF, count_rows

ROOT = Path(__file__).resolve().parent.parent
BACKTEST = f"{sys.executable} {ROOT / 'examples' / 'backtest' / 'backtest.py'} {{}}"
PROGRAM = f"{sys.executable} {Path(__file__).parent / 'programs' / 'evaluate.py'} {{}}"


@pytest.fixture
def backtest_db(db_path, run_gf):
    assert run_gf("load", "--db", db_path, ROOT / "examples" / "backtest" / "params.js").exit_code == 0
    result = run_gf("run", "--db", db_path, BACKTEST, "SPY-2022-05", "TSLA-2022-05", "AMD-2022-05", "-j", "2")
    assert result.exit_code == 0, result.stderr
    return db_path


def pairs_evaluated_twice(db_path):
    conn = store.connect(db_path)
    return conn.execute("SELECT group_id, dataset FROM runs GROUP BY group_id, dataset HAVING count(*) > 1").fetchall()


def test_full_loop_over_the_example_backtest(backtest_db, run_gf):
    result = run_gf("breed", "--db", backtest_db, "--metric", "max profit min trades", "--top", "2", "--loop", "2",
                    "--population", "4", "--seed", "1", "-j", "2", BACKTEST)
    assert result.exit_code == 0, result.stderr
    summary = result.stdout.splitlines()
    assert summary[0].split() == ["generation", "children", "ok", "failed", "best"]
    assert [line.split()[:4] for line in summary[1:]] == [["1", "4", "12", "0"], ["2", "4", "12", "0"]]
    assert "generation 2/2: evaluations 12/12, 0 failed" in result.stderr
    # each generation's last progress line shows the best after it, as its summary line does
    for line in summary[1:]:
        generation, best = line.split()[0], line.split()[4]
        assert f"generation {generation}/2: evaluations 12/12, 0 failed, best {best}\n" in result.stderr
    conn = store.connect(backtest_db)
    generations = conn.execute("SELECT generation, count(*) FROM groups GROUP BY generation").fetchall()
    assert generations == [(None, 1), (1, 4), (2, 4)]
    assert count_rows(backtest_db, "runs") == 27 and pairs_evaluated_twice(backtest_db) == []
    assert conn.execute("SELECT status FROM loops").fetchall() == [("done",)]
    listed = run_gf("loops", "--db", backtest_db).stdout.splitlines()
    assert listed[0].split() == ["id", "status", "started", "last", "generation", "groups", "ok", "failed", "best",
                                 "breeder", "metric", "command", "reason"]
    assert listed[1].split()[:2] == ["1", "done"] and listed[1].split()[4:8] == ["2/2", "8", "24", "0"]
    assert listed[1].endswith(f"default  max profit min trades  {BACKTEST}")
    child = store.group_ids(conn)[-1]
    tree = run_gf("lineage", "--db", backtest_db, child).stdout.splitlines()
    assert tree[0] == f"group {child} (generation 2, default)"
    assert any("generation 1, default" in line for line in tree) and tree[-1].endswith(")")
    top = json.loads(run_gf("top", "--db", backtest_db, "--metric", "profit", "-n", "1", "--json").stdout)
    assert len(top) == 3


def test_top_and_best_without_a_metric_take_the_last_loops(backtest_db, run_gf):
    """As `gf report` and `gf plot` do: the newest loop's metric, said on stderr; before any loop, asked for."""
    assert run_gf("best", "--db", backtest_db).stderr.startswith("error: no metric: pass --metric NAME")
    assert run_gf("breed", "--db", backtest_db, "--metric", "profit", "--population", "2", "--loop", "1",
                  BACKTEST).exit_code == 0
    note = "note: ranked by 'profit', the last breed loop's metric (--metric to choose)\n"
    for command in ("top", "best"):
        plain = run_gf(command, "--db", backtest_db, "--json")
        assert plain.exit_code == 0 and plain.stderr == note
        assert json.loads(plain.stdout) == json.loads(
            run_gf(command, "--db", backtest_db, "--json", "--metric", "profit").stdout)


def test_top_with_an_algo_after_a_loop_by_sql_says_what_the_sql_needs(backtest_db, run_gf, tmp_path):
    """A loop's --metric-sql is no result name for --algo to filter: its stored label was read as 'algo.name'."""
    query = tmp_path / "s.sql"
    query.write_text("SELECT r.id AS run, res.value AS score FROM runs r JOIN results res ON res.run = r.id "
                     "WHERE r.dataset = :dataset AND res.name = 'profit' ORDER BY res.value DESC LIMIT :limit\n")
    assert run_gf("breed", "--db", backtest_db, "--metric-sql", query, "--population", "2", "--loop", "1",
                  BACKTEST).exit_code == 0
    result = run_gf("top", "--db", backtest_db, "--algo", "crossover")
    assert result.exit_code == 2 and result.stderr.splitlines()[-1] == (
        "error: --algo crossover filters a result name (--metric profit --algo crossover); with --metric-sql, "
        "choose the algo in the query")


def test_breed_without_command_prints_child_ids(backtest_db, run_gf):
    result = run_gf("breed", "--db", backtest_db, "--metric", "profit", "--breeder", "classic", "--top", "1",
                    "--json")
    children = json.loads(result.stdout)
    assert children and children == list(range(2, 2 + len(children)))
    conn = store.connect(backtest_db)
    assert {row for row in conn.execute("SELECT breeder, generation FROM groups WHERE id > 1")} == {("classic", 1)}
    assert store.group_parents(conn, children[0]) == [1] or store.group_parents(conn, children[0]) == [1, 1]


def test_a_generation_bred_but_never_scored_does_not_block_the_default_breeder(backtest_db, run_gf):
    # a loop gives the default breeder a history; at population 2 its first children are all proposals
    # (a model's optimum, the strategy's mean), the same on every call for the same scores
    result = run_gf("breed", "--db", backtest_db, "--metric", "profit", "--loop", "3", "--population", "4",
                    "--seed", "1", BACKTEST)
    assert result.exit_code == 0, result.stderr
    bred = []
    for seed in ("2", "3"):  # bred without a command: stored, never scored, so the history is the same
        result = run_gf("breed", "--db", backtest_db, "--metric", "profit", "--population", "2", "--seed", seed,
                        "--json")
        assert result.exit_code == 0, result.stderr  # the second used to end in "no valid new child"
        bred.append(json.loads(result.stdout))
    assert [len(ids) for ids in bred] == [2, 2] and not set(bred[0]) & set(bred[1])
    conn = store.connect(backtest_db)
    digests = [row[0] for row in conn.execute("SELECT digest FROM groups")]
    assert len(digests) == len(set(digests)) == 1 + 3 * 4 + 4


def test_a_generation_short_of_its_population_says_so(load_text, db_path, run_gf, tmp_path):
    load_text("x = 3\nflag_bool = true\nx >= 3\nx <= 3\n")  # x cannot move: two groups are all there are
    assert run_gf("run", "--db", db_path, PROGRAM, "aa").exit_code == 0
    result = run_gf("breed", "--db", db_path, "--metric", "value", "--minimize", "--population", "5", "--loop", "1",
                    PROGRAM)
    assert result.exit_code == 0, result.stderr
    [line] = [line for line in result.stdout.splitlines()[1:]]
    children = int(line.split()[1])
    assert 0 < children < 5
    assert result.stderr.startswith(f"warning: generation 1: bred {children} of 5 children; ")
    assert " came out as duplicates of stored groups or broke constraints\n" in result.stderr
    other = tmp_path / "other.db"
    (tmp_path / "three.js").write_text("x = 3\nflag_bool = true\nmode_choice = [\"a\", \"b\", \"c\"]\nx >= 3\nx <= 3\n")
    assert run_gf("load", "--db", other, tmp_path / "three.js").exit_code == 0  # 2 x 6 groups in all
    assert run_gf("run", "--db", other, PROGRAM, "aa").exit_code == 0
    result = run_gf("breed", "--db", other, "--metric", "value", "--minimize", "--population", "40", "--json")
    assert result.exit_code == 0, result.stderr
    bred = json.loads(result.stdout)
    assert 0 < len(bred) < 40
    assert result.stderr.startswith(f"warning: bred {len(bred)} of 40 children; ")
    assert result.stderr.endswith(" came out as duplicates of stored groups or broke constraints\n")
    third = tmp_path / "third.db"  # without --population: short of the breeder's own count
    assert run_gf("load", "--db", third, tmp_path / "params0.js").exit_code == 0
    assert run_gf("run", "--db", third, PROGRAM, "aa").exit_code == 0
    result = run_gf("breed", "--db", third, "--metric", "value", "--minimize", "--json")
    assert json.loads(result.stdout) == [2]  # the other flag: all there is
    assert result.stderr.startswith("warning: bred 1 of 8 children; ")


@pytest.mark.parametrize("breeder", ["default", "ga", "classic"])
def test_a_param_a_later_group_added_is_bred_too(load_text, db_path, run_gf, breeder):
    load_text("x = 1.0\n")
    assert run_gf("run", "--db", db_path, PROGRAM, "aa").exit_code == 0
    load_text("mode_choice = [\"a\", \"b\", \"c\"]\nrate = 0.5\n", "--parent", "1")  # the program grew params
    assert run_gf("run", "--db", db_path, PROGRAM, "aa").exit_code == 0
    result = run_gf("breed", "--db", db_path, "--metric", "value", "--minimize", "--population", "6", "--loop", "2",
                    "--breeder", breeder, "--seed", "1", PROGRAM)
    assert result.exit_code == 0, result.stderr
    conn = store.connect(db_path)
    names = {}
    for group, name in conn.execute("SELECT group_id, name FROM params WHERE group_id > 2"):
        names.setdefault(group, set()).add(name)
    assert len(names) >= 4 and all(found == {"x", "mode_choice", "rate"} for found in names.values()), names
    rates = {value for (value,) in conn.execute("SELECT value FROM params WHERE name = 'rate' AND group_id > 2")}
    assert len(rates) > 1 or breeder == "classic"  # the new float moves as the others do


def test_a_refused_breed_drops_an_earlier_row_of_its_loop_that_bred_nothing(backtest_db, run_gf):
    from gf import engine, launch, metrics, plugins

    # a row such as an older gf left, or a loop stopped before it bred: same arguments, no groups
    settings = engine.LoopSettings(metric=metrics.resolve("proft"), breeder=plugins.get_breeders()["default"],
                                   launcher=plugins.get_launcher("local"), datasets=["SPY-2022-05"], generations=1,
                                   top=2, key_args={"metric": "proft"})
    conn = store.connect(backtest_db)
    loop_id, _generation, _resumed = engine._open_loop(conn, settings)
    engine._close_loop(conn, loop_id, "stopped", "stopped before it bred")
    with pytest.raises(engine.InputError, match="no run is scored by metric 'proft'"):
        engine.run_loop(conn, settings, launch.LaunchContext(db_path=backtest_db, command=BACKTEST))
    assert count_rows(backtest_db, "loops") == 0  # resumed, refused, and gone


def test_breed_errors(backtest_db, run_gf, db_path):
    result = run_gf("breed", "--db", backtest_db, "--metric", "proft")
    assert result.exit_code == 2
    assert "no run is scored by metric 'proft'" in result.stderr and "crossover.profit" in result.stderr
    for loop in ("1", "3"):  # refused before it bred: no loop row is left behind
        result = run_gf("breed", "--db", backtest_db, "--metric", "proft", "--loop", loop, BACKTEST)
        assert result.exit_code == 2 and "no run is scored by metric 'proft'" in result.stderr
        assert count_rows(backtest_db, "loops") == 0 and count_rows(backtest_db, "groups") == 1
    assert json.loads(run_gf("loops", "--db", backtest_db, "--json").stdout) == []
    result = run_gf("breed", "--db", backtest_db, "--metric", "profit", "--breeder", "genius")
    assert result.exit_code == 2 and "unknown breeder 'genius'; choose one of: classic, default" in result.stderr
    result = run_gf("breed", "--db", backtest_db, "--metric", "profit", "--datasets-deny", "2022")
    assert result.exit_code == 2 and "leave no dataset" in result.stderr
    result = run_gf("breed", "--db", backtest_db)
    assert result.exit_code == 2 and "no metric" in result.stderr


def test_datasets_allow_and_deny(backtest_db, run_gf):
    result = run_gf("breed", "--db", backtest_db, "--metric", "profit", "--datasets-allow", "SPY", "--population",
                    "2", "--loop", "1", BACKTEST)
    assert result.exit_code == 0, result.stderr
    conn = store.connect(backtest_db)
    assert conn.execute("SELECT DISTINCT dataset FROM runs WHERE group_id > 1").fetchall() == [("SPY-2022-05",)]


def test_a_generation_where_everything_fails_stops_the_loop(backtest_db, run_gf):
    result = run_gf("breed", "--db", backtest_db, "--metric", "profit", "--loop", "5", "--population", "2",
                    f"{sys.executable} -c 'import sys; sys.exit(4)' {{}}")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith(
        "error: every evaluation of generation 1 failed; last error (exit 4)")
    assert store.connect(backtest_db).execute("SELECT max(generation) FROM groups").fetchone() == (1,)


def test_print_launcher_hands_out_lines_and_a_rerun_goes_on(backtest_db, run_gf, tmp_path):
    args = ["breed", "--db", backtest_db, "--metric", "profit", "--loop", "2", "--population", "2", "--seed", "5",
            "--launcher", "print", BACKTEST]
    printed = run_gf(*args)
    assert printed.exit_code == 0, printed.stderr
    lines = printed.stdout.splitlines()
    assert len(lines) == 6 and all(line.startswith("GF_DB=") for line in lines)
    script = tmp_path / "runme.sh"
    script.write_text("\n".join(lines) + "\n")
    subprocess.run(["sh", str(script)], check=True)
    again = run_gf(*args)
    assert again.exit_code == 0 and len(again.stdout.splitlines()) == 6  # generation 2's lines
    conn = store.connect(backtest_db)
    assert conn.execute("SELECT max(generation), count(DISTINCT loop_id) FROM groups").fetchone() == (2, 1)


def test_print_launcher_leaves_out_the_pairs_another_gf_is_evaluating(load_text, db_path, run_gf, tmp_path):
    """A print loop rerun while a `gf run` evaluated its printed pairs printed them again, and running the lines
    evaluated each pair twice."""
    load_text("x = 1\n")
    program = tmp_path / "slow.py"
    program.write_text("import os, time\nfrom gf import GeneticFuckery\ng = GeneticFuckery()\n"
                       "time.sleep(float(os.environ.get('SLOW', '0')))\ng.record({'a': {'score': g.x}})\n")
    command = f"{sys.executable} {program} {{}}"
    assert run_gf("run", "--db", db_path, command, "d1").exit_code == 0
    args = ["breed", "--db", db_path, "--metric", "score", "--population", "2", "--loop", "2", "--seed", "1",
            "--launcher", "print", command]
    assert len(run_gf(*args).stdout.splitlines()) == 2
    other = subprocess.Popen([GF, "run", "--db", db_path, command, "-j", "2"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env={**os.environ, "SLOW": "5"})
    conn = store.connect(db_path)
    deadline = time.time() + 30
    while conn.execute("SELECT count(*) FROM launches WHERE status = 'pending'").fetchone()[0] < 2:
        assert time.time() < deadline and other.poll() is None
        time.sleep(0.05)
    again = run_gf(*args)
    assert other.poll() is None  # not waited for: printing nothing, the loop is done for now
    assert again.exit_code == 0 and again.stdout == ""
    assert "2 evaluation(s) left to another gf that is evaluating them now" in again.stderr
    assert again.stderr.endswith("# waiting for generation 1's 2 evaluations, which another gf is running: rerun this "
                                 "command once they are done\n")
    as_json = run_gf(*args, "--json")  # lines, then a JSON list, would be neither
    assert as_json.exit_code == 2 and "--json with the print launcher: its output is the command lines" in as_json.stderr
    assert other.wait(timeout=30) == 0
    assert conn.execute("SELECT count(*) FROM runs GROUP BY group_id, dataset HAVING count(*) > 1").fetchall() == []
    assert len(run_gf(*args).stdout.splitlines()) == 2  # generation 2's lines, once generation 1 has run


def test_a_generation_partly_run_is_resumed_not_taken_for_one_that_failed_whole(load_text, db_path, run_gf, tmp_path):
    program = tmp_path / "raises.py"
    program.write_text("import os, sys\nfrom gf import GeneticFuckery\ng = GeneticFuckery()\n"
                       "with g.report('t') as r:\n    if os.path.exists(sys.argv[2]):\n        raise ValueError('down')\n"
                       "    r['score']['value'] = g.x\n")
    flag = tmp_path / "down"
    command = f"{sys.executable} {program} {{}} {flag}"
    load_text("x = 1\n")
    assert run_gf("run", "--db", db_path, command, "a", "b").exit_code == 0
    args = ["breed", "--db", db_path, "--metric", "value", "--minimize", "--population", "2", "--loop", "2",
            "--seed", "1", "--launcher", "print", command]
    lines = run_gf(*args).stdout.splitlines()
    assert len(lines) == 4
    flag.write_text("")
    assert subprocess.run(lines[0], shell=True, capture_output=True).returncode != 0  # its one run: failed
    conn = store.connect(db_path)
    assert conn.execute("SELECT status FROM runs r JOIN groups g ON g.id = r.group_id WHERE g.generation = 1"
                        ).fetchall() == [("failed",)]
    again = run_gf(*args)  # the three pairs never run are printed again; the failed one is not run again
    assert again.exit_code == 0, again.stderr
    assert again.stdout.splitlines() == lines[1:] and "failed before" not in again.stderr


def test_killed_loop_resumes_without_evaluating_anything_twice(load_text, db_path, run_gf):
    load_text("x = 1\n")
    assert run_gf("run", "--db", db_path, PROGRAM, "slow-a", "slow-b").exit_code == 0
    args = ["breed", "--db", db_path, "--metric", "value", "--minimize", "--loop", "3", "--population", "4",
            "--seed", "2", "-j", "2", PROGRAM]
    process = subprocess.Popen([GF, *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "GF_LOAD_PLUGINS": ""})
    conn = store.connect(db_path)
    deadline = time.time() + 60
    while time.time() < deadline:
        done = conn.execute("SELECT count(*) FROM runs r JOIN groups g ON g.id = r.group_id "
                            "WHERE g.generation = 2").fetchone()[0]
        if done >= 3:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert conn.execute("SELECT status FROM loops").fetchall() == [("running",)]
    interrupted = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
    assert interrupted < 2 + 3 * 8
    [loop] = json.loads(run_gf("loops", "--db", db_path, "--json").stdout)  # what a user sees the morning after
    assert (loop["status"], loop["alive"], loop["generation"], loop["target"], loop["groups"], loop["failed"]) == (
        "interrupted", False, 2, 3, 8, 0)
    assert loop["process_id"] == process.pid
    assert run_gf("loops", "--db", db_path).stdout.splitlines()[1].split()[1] == "interrupted"
    listed = {status: json.loads(run_gf("loops", "--db", db_path, "--status", status, "--json").stdout)
              for status in ("interrupted", "running", "done")}
    assert [row["id"] for row in listed["interrupted"]] == [loop["id"]] and listed["running"] == listed["done"] == []
    assert 8 + 3 <= loop["ok"] < 16 and loop["command"] == PROGRAM and loop["metric"] == "value"
    assert loop["started"] <= loop["last"] and loop["stopped"] is None

    result = run_gf(*args)
    assert result.exit_code == 0, result.stderr
    assert "(resumed)" in result.stderr
    assert result.stderr.splitlines()[0] == f"resuming breed loop {loop['id']}: 2 of its 3 generations bred so far"
    # the resumed generation 2 then 3: each with its 4 children, and all 8 of their evaluations (the resumed
    # one's row counts those the killed gf recorded too)
    assert [line.split()[:4] for line in result.stdout.splitlines()[1:]] == [["2", "4", "8", "0"],
                                                                            ["3", "4", "8", "0"]]
    time.sleep(1.0)  # evaluations the killed gf left running have finished (and were not recorded)
    assert pairs_evaluated_twice(db_path) == [], conn.execute(
        "SELECT id, group_id, dataset, status, started, stopped, process_id, launch, error FROM runs").fetchall()
    generations = conn.execute("SELECT generation, count(*) FROM groups GROUP BY generation").fetchall()
    assert generations == [(None, 1), (1, 4), (2, 4), (3, 4)]
    assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 2 + 3 * 4 * 2
    assert conn.execute("SELECT status FROM loops").fetchall() == [("done",)]
    [loop] = json.loads(run_gf("loops", "--db", db_path, "--json").stdout)
    assert (loop["status"], loop["generation"], loop["target"], loop["groups"], loop["ok"], loop["failed"]) == (
        "done", 3, 3, 12, 24, 0)
    assert loop["last"] == loop["stopped"] and loop["args"]["seed"] == 2


FLAKY = """
import os, sys, time
from gf import GeneticFuckery
g = GeneticFuckery()
time.sleep(0.15)
if os.path.exists(sys.argv[2]):  # the flag file: the command is broken for now
    sys.exit("the data server is down")
with g.report("flaky") as r:
    r["score"]["value"] = (g.x - 3) ** 2
"""


def test_a_resumed_generation_is_judged_whole_and_one_that_failed_whole_is_evaluated_again(load_text, db_path,
                                                                                          run_gf, tmp_path):
    program, flag = tmp_path / "flaky.py", tmp_path / "down"
    program.write_text(FLAKY)
    load_text("x = 1\n")
    command = f"{sys.executable} {program} {{}} {flag}"
    assert run_gf("run", "--db", db_path, command, "a", "b").exit_code == 0
    args = ["breed", "--db", db_path, "--metric", "value", "--minimize", "--loop", "3", "--population", "4",
            "--seed", "2", "-j", "2", command]
    process = subprocess.Popen([GF, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "GF_LOAD_PLUGINS": ""})
    conn = store.connect(db_path)
    deadline = time.time() + 60
    while conn.execute("SELECT count(*) FROM runs r JOIN groups g ON g.id = r.group_id "
                       "WHERE g.generation = 2").fetchone()[0] < 2:
        assert time.time() < deadline and process.poll() is None
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    ok_before = conn.execute("SELECT count(*) FROM runs r JOIN groups g ON g.id = r.group_id "
                             "WHERE g.generation = 2 AND r.status = 'ok'").fetchone()[0]
    assert 2 <= ok_before < 8
    flag.write_text("")  # the command breaks: the pairs generation 2 has left all fail
    result = run_gf(*args)
    # generation 2 has ok runs: the loop breeds on, and stops where a generation fails whole
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith("error: every evaluation of generation 3 failed; last error "
                                                     "(exit 1): the data server is down")
    statuses = conn.execute("SELECT g.generation, r.status, count(*) FROM runs r JOIN groups g ON g.id = r.group_id "
                            "WHERE g.generation >= 2 GROUP BY g.generation, r.status").fetchall()
    assert statuses == [(2, "failed", 8 - ok_before), (2, "ok", ok_before), (3, "failed", 8)]
    flag.unlink()  # fixed: the rerun evaluates generation 3 again, not breeds on from generation 2
    result = run_gf(*args)
    assert result.exit_code == 0, result.stderr
    assert "generation 3: every evaluation of it failed before; evaluating its 8 failed evaluation(s) again" in (
        result.stderr)
    assert [line.split()[:4] for line in result.stdout.splitlines()[1:]] == [["3", "4", "8", "0"]]
    generations = conn.execute("SELECT generation, count(*) FROM groups GROUP BY generation").fetchall()
    assert generations == [(None, 1), (1, 4), (2, 4), (3, 4)]
    assert conn.execute("SELECT status FROM loops").fetchall() == [("done",)]


def test_the_same_command_resumes_its_loop_the_way_it_ran_though_a_later_loop_ran_the_other_way(load_text, db_path,
                                                                                                 run_gf):
    load_text("x = 1\n")
    assert run_gf("run", "--db", db_path, PROGRAM, "a").exit_code == 0
    args = ["breed", "--db", db_path, "--metric", "value", "--loop", "3", "--population", "2", "--seed", "3", PROGRAM]
    first = run_gf(*args, "--max-time", "0.001s")  # one generation, then stopped: higher value is better
    assert first.exit_code == 0, first.stderr
    other = run_gf("breed", "--db", db_path, "--metric", "value", "--minimize", "--loop", "1", "--population", "2",
                   PROGRAM)
    assert other.exit_code == 0, other.stderr
    result = run_gf(*args, "--max-time", "0.001s")  # the same command: resumes loop 1, not a new one minimizing
    assert result.exit_code == 0, result.stderr
    assert "note: resuming breed loop 1, which had higher value better (pass --minimize or --maximize to choose)" in (
        result.stderr)
    assert "resuming breed loop 1: 1 of its 3 generations bred so far" in result.stderr
    loops = {loop["id"]: loop for loop in json.loads(run_gf("loops", "--db", db_path, "--json").stdout)}
    assert sorted(loops) == [1, 2] and loops[1]["generation"] == 2 and loops[1]["args"]["minimize"] is False
    # told which way, it is another loop
    result = run_gf(*args, "--minimize", "--max-time", "0.001s")
    assert result.exit_code == 0 and "resuming" not in result.stderr
    assert len(json.loads(run_gf("loops", "--db", db_path, "--json").stdout)) == 3


def test_a_loop_killed_after_its_last_generation_says_there_is_nothing_left_to_do(load_text, db_path, run_gf):
    load_text("x = 1\n")
    assert run_gf("run", "--db", db_path, PROGRAM, "a").exit_code == 0
    args = ["breed", "--db", db_path, "--metric", "value", "--minimize", "--loop", "2", "--population", "2", PROGRAM]
    assert run_gf(*args).exit_code == 0
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    conn = store.connect(db_path)
    with conn:  # as a gf killed after its last evaluation, before it closed the loop, leaves it
        conn.execute("UPDATE loops SET status = 'running', stopped = NULL, process_id = ?", (gone.pid,))
    result = run_gf(*args)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""  # no empty table
    assert result.stderr.splitlines()[-1] == "nothing left to do: all 2 generations of this loop were bred and evaluated"
    assert conn.execute("SELECT id, status FROM loops").fetchall() == [(1, "done")]


def test_a_loop_left_unfinished_is_not_resumed_once_the_same_arguments_ran_the_other_way_since(load_text, db_path,
                                                                                               run_gf):
    load_text("x = 1\n")
    assert run_gf("run", "--db", db_path, PROGRAM, "a").exit_code == 0
    args = ["breed", "--db", db_path, "--metric", "value", "--loop", "2", "--population", "2", "--seed", "3", PROGRAM]
    assert run_gf(*args, "--max-time", "0.001s").exit_code == 0  # forgot --minimize: loop 1 left stopped
    assert run_gf(*args, "--minimize").exit_code == 0  # loop 2, run to its end
    result = run_gf(*args)  # lower is better, as loop 2 had it: a new loop, not loop 1 maximizing
    assert result.exit_code == 0, result.stderr
    assert "resuming" not in result.stderr
    rows = json.loads(run_gf("loops", "--db", db_path, "--json").stdout)
    assert [(row["id"], row["status"], row["args"]["minimize"]) for row in sorted(rows, key=lambda row: row["id"])] == [
        (1, "stopped", False), (2, "done", True), (3, "done", True)]


def test_max_time_stops_breeding_and_a_rerun_goes_on(load_text, db_path, run_gf):
    load_text("x = 1.5\n")
    assert run_gf("run", "--db", db_path, PROGRAM, "slow-a").exit_code == 0
    args = ["breed", "--db", db_path, "--metric", "value", "--minimize", "--loop", "6", "--population", "2",
            "--seed", "4", "-j", "2", PROGRAM]
    result = run_gf(*args, "--max-time", "1s")  # a generation takes over 0.3 s (slow-a sleeps)
    assert result.exit_code == 0, result.stderr
    [loop] = json.loads(run_gf("loops", "--db", db_path, "--json").stdout)
    assert loop["status"] == "stopped" and 1 <= loop["generation"] < 6
    reason = (f"stopped after generation {loop['generation']} of 6: the time limit (1s) ran out; "
              "rerun with the same arguments to go on")
    assert result.stderr.endswith(reason + "\n") and loop["reason"] == reason
    assert len(result.stdout.splitlines()) == 1 + loop["generation"]  # the table: a header, a row per generation
    # a limit that has run out before the command starts breeding still lets it do one generation
    before = loop["generation"]
    result = run_gf(*args, "--max-time", "0.001")
    [loop] = json.loads(run_gf("loops", "--db", db_path, "--json").stdout)
    assert result.exit_code == 0 and loop["generation"] == before + 1 and loop["status"] == "stopped"
    result = run_gf(*args)  # the same loop goes on without a limit
    assert result.exit_code == 0, result.stderr
    [loop] = json.loads(run_gf("loops", "--db", db_path, "--json").stdout)
    assert (loop["status"], loop["generation"], loop["groups"], loop["reason"]) == ("done", 6, 12, None)
    assert pairs_evaluated_twice(db_path) == []


def test_patience_counts_generations_without_a_better_best(load_text, db_path, run_gf):
    load_text("x = 1.5\n")
    assert run_gf("run", "--db", db_path, PROGRAM, "a").exit_code == 0
    breed = ["breed", "--db", db_path, "--population", "2", "--seed", "1", "--patience", "2", PROGRAM, "--json"]
    # group_seen is the group's id: every generation's children beat the groups before them when it is
    # maximized, and never when it is minimized
    result = run_gf(*breed, "--metric", "group_seen", "--loop", "5")
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)) == 5 and "ended after" not in result.stderr
    result = run_gf(*breed, "--metric", "group_seen", "--minimize", "--loop", "5")
    assert result.exit_code == 0, result.stderr
    assert "breed loop" not in result.stderr  # a loop of its own: nothing done before with these arguments
    assert [row["generation"] for row in json.loads(result.stdout)] == [1, 2]
    reason = "ended after generation 2 of 5: no better best score in the last 2 generations (patience 2)"
    assert result.stderr.endswith(reason + "\n")
    loops = json.loads(run_gf("loops", "--db", db_path, "--json").stdout)
    assert [(loop["status"], loop["generation"], loop["stale"], loop["reason"]) for loop in loops] == [
        ("done", 5, 0, None), ("done", 2, 2, reason)]
    assert loops[1]["best"] == 1  # the start group's id: nothing bred beat it
    assert json.loads(run_gf("loops", "--db", db_path, "--last", "1", "--json").stdout) == loops[1:]
    assert json.loads(run_gf("loops", "--db", db_path, "--status", "done", "--last", "1", "--json").stdout) == loops[1:]
    both = run_gf("loops", "--db", db_path, "--status", "done", "--status", "stopped", "--last", "5")
    assert [line.split()[0] for line in both.stdout.splitlines()[1:]] == [str(loops[0]["id"]), str(loops[1]["id"])]
    bad = run_gf("loops", "--db", db_path, "--status", "finished")
    assert bad.exit_code == 2 and "'finished' is not one of 'running', 'interrupted', 'stopped', 'done'" in bad.stderr
    for bad, message in [(["--max-time", "8x"], "'8x': expected a duration such as 90s, 30m, 8h or 1d"),
                         (["--max-time", "1ms"], "'1ms': expected a duration such as 90s, 30m, 8h or 1d"),
                         (["--max-time", "0"], "'0': expected a duration"),
                         (["--patience", "0"], "0 is not in the range x>=1")]:
        result = run_gf("breed", "--db", db_path, "--metric", "value", *bad, PROGRAM)
        assert result.exit_code == 2 and message in result.stderr, result.stderr
    result = run_gf("breed", "--db", db_path, "--metric", "value", "--patience", "3")
    assert result.exit_code == 2 and "--max-time and --patience end a breed loop: give the COMMAND" in result.stderr


def test_patience_counts_across_the_commands_that_resume_a_loop(load_text, db_path, run_gf, tmp_path):
    (tmp_path / "x.js").write_text("x = 1.5\n")
    assert run_gf("load", "--db", db_path, tmp_path / "x.js").exit_code == 0
    assert run_gf("run", "--db", db_path, PROGRAM, "a").exit_code == 0
    breed = ["breed", "--db", db_path, "--metric", "argc", "--loop", "10", "--population", "2", "--seed", "1",
             "--patience", "3", PROGRAM]
    # argc is 2 for every run: no generation beats the start. One generation per command (the limit is
    # up at once), and the third command's generation is the third without a better best.
    for expected in (1, 2):
        result = run_gf(*breed, "--max-time", "0.001")
        [loop] = json.loads(run_gf("loops", "--db", db_path, "--json").stdout)
        assert (loop["status"], loop["generation"], loop["stale"]) == ("stopped", expected, expected)
    result = run_gf(*breed, "--max-time", "0.001")
    assert result.stderr.endswith("ended after generation 3 of 10: no better best score in the last 3 generations "
                                  "(patience 3)\n")
    [loop] = json.loads(run_gf("loops", "--db", db_path, "--json").stdout)
    assert (loop["status"], loop["generation"], loop["stale"]) == ("done", 3, 3)
    result = run_gf(*breed, "--max-time", "0.001")  # the same again: a new loop, and gf says so
    assert result.stderr.startswith("breed loop 1 with these arguments is done: this is a new one, loop 2\n")
    # with --launcher print each command prints a generation; the next counts it once its runs are in
    other = str(tmp_path / "printed.db")
    assert run_gf("load", "--db", other, tmp_path / "x.js").exit_code == 0
    assert run_gf("run", "--db", other, PROGRAM, "a").exit_code == 0
    printed = ["breed", "--db", other, "--metric", "argc", "--loop", "10", "--population", "2", "--seed", "2",
               "--patience", "2", "--launcher", "print", PROGRAM]
    for generation in (1, 2):
        lines = run_gf(*printed).stdout.splitlines()
        [loop] = json.loads(run_gf("loops", "--db", other, "--json").stdout)
        assert (loop["status"], loop["reason"]) == ("stopped", f"waiting for generation {generation}'s 2 printed "
                                                    "evaluations: run them, then rerun this command to go on")
        for line in lines:  # run what was printed, as GNU parallel would
            assert subprocess.run(line, shell=True, cwd=tmp_path).returncode == 0
    result = run_gf(*printed)
    assert result.exit_code == 0 and result.stdout == "", result.stderr
    assert result.stderr.endswith("ended after generation 2 of 10: no better best score in the last 2 generations "
                                  "(patience 2)\n")
    [loop] = json.loads(run_gf("loops", "--db", other, "--json").stdout)
    assert (loop["status"], loop["generation"], loop["stale"], loop["ok"]) == ("done", 2, 2, 4)


def test_tags_and_per_algo_breeding(backtest_db, run_gf, tmp_path):
    mapping = tmp_path / "map.json"
    # with the byte order mark an editor may put first
    mapping.write_bytes(b"\xef\xbb\xbf" + json.dumps({"crossover": ["crossover__*"],
                                                     "meanrev": ["meanrev__*", "nothing__here"]}).encode())
    result = run_gf("tag", "--db", backtest_db, "--map", mapping, "--json")
    assert json.loads(result.stdout) == [{"algo": "crossover", "patterns": ["crossover__*"]},
                                         {"algo": "meanrev", "patterns": ["meanrev__*", "nothing__here"]}]
    assert "pattern 'nothing__here' matches no parameter" in result.stderr
    result = run_gf("tag", "--db", backtest_db, "runtime", "runtime__*")
    assert "runtime" in result.stdout
    result = run_gf("breed", "--db", backtest_db, "--metric", "profit", "--population", "4", "--seed", "3",
                    "--loop", "1", BACKTEST)
    assert result.exit_code == 0, result.stderr
    result = run_gf("tag", "--db", backtest_db, "--clear", "--json")
    assert json.loads(result.stdout) == []
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": [1]}')
    result = run_gf("tag", "--db", backtest_db, "--map", bad)
    assert result.exit_code == 2 and 'expected {"algo": ["param__name", ...]}' in result.stderr


def test_a_loop_running_now_is_not_run_twice(load_text, db_path, run_gf):
    load_text("x = 1.5\n")
    assert run_gf("run", "--db", db_path, PROGRAM, "slow-a").exit_code == 0
    args = ["breed", "--db", db_path, "--metric", "value", "--minimize", "--loop", "3", "--population", "4",
            "--seed", "2", "-j", "1", PROGRAM]
    first = subprocess.Popen([GF, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "GF_LOAD_PLUGINS": ""})
    conn = store.connect(db_path)
    deadline = time.time() + 60
    while conn.execute("SELECT count(*) FROM groups WHERE loop_id IS NOT NULL").fetchone()[0] < 1:
        assert time.time() < deadline
        time.sleep(0.05)
    second = subprocess.run([GF, *args], capture_output=True, text=True, env={**os.environ, "GF_LOAD_PLUGINS": ""})
    assert second.returncode == 2
    assert second.stderr == (f"error: breed loop 1 with these arguments is running now (process {first.pid} on this "
                             "machine): wait for it, or stop it and rerun this command to go on\n")
    [loop] = json.loads(run_gf("loops", "--db", db_path, "--json").stdout)
    assert (loop["status"], loop["alive"]) == ("running", True)
    assert first.wait(timeout=120) == 0
    assert conn.execute("SELECT generation, count(*) FROM groups WHERE loop_id = 1 GROUP BY generation").fetchall() == [
        (1, 4), (2, 4), (3, 4)]  # bred once each


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_ctrl_c_stops_between_evaluations_and_a_rerun_resumes(load_text, db_path, run_gf, stop, sigint_raises):
    load_text("x = 1\n")
    assert run_gf("run", "--db", db_path, PROGRAM, "slow-a").exit_code == 0
    args = ["breed", "--db", db_path, "--metric", "value", "--minimize", "--loop", "2", "--population", "6",
            "--seed", "2", "-j", "1", PROGRAM]
    process = subprocess.Popen([GF, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "GF_LOAD_PLUGINS": ""}, preexec_fn=sigint_raises)
    conn = store.connect(db_path)
    deadline = time.time() + 60
    while conn.execute("SELECT count(*) FROM runs").fetchone()[0] < 3 and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(stop)  # SIGTERM (timeout, systemd, a batch scheduler), SIGHUP (ssh gone): as Ctrl-C does
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + stop  # 128 + the signal, as shells report
    said = f"interrupted ({stop.name}) after " if stop != signal.SIGINT else "interrupted after "
    assert stderr.splitlines()[-1].startswith(f"error: {said}")
    assert stderr.splitlines()[-1].endswith("rerun the same command to resume")
    [(status, reason)] = conn.execute("SELECT status, reason FROM loops").fetchall()
    assert status == "stopped" and reason.startswith(said)
    assert conn.execute("SELECT count(*) FROM runs WHERE status = 'failed'").fetchone() == (0,)

    result = run_gf(*args)
    assert result.exit_code == 0, result.stderr
    assert pairs_evaluated_twice(db_path) == []
    assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 1 + 2 * 6


def test_a_terminal_that_hangs_up_stops_the_loop_as_sighup_does(load_text, db_path, run_gf):
    """The ssh session closes: gf gets SIGHUP and its terminal is gone, so its last line cannot be written;
    that must not turn its exit status into a traceback's (1)."""
    import pty
    import select

    load_text("x = 1\n")
    assert run_gf("run", "--db", db_path, PROGRAM, "slow-a").exit_code == 0
    pid, terminal = pty.fork()
    if pid == 0:  # gf on a terminal of its own
        os.execve(GF, [GF, "breed", "--db", db_path, "--metric", "value", "--minimize", "--loop", "3",
                       "--population", "4", "-j", "1", PROGRAM], {**os.environ, "GF_LOAD_PLUGINS": ""})
    conn = store.connect(db_path)
    deadline = time.time() + 60
    while conn.execute("SELECT count(*) FROM runs").fetchone()[0] < 2:
        assert time.time() < deadline
        if select.select([terminal], [], [], 0.05)[0]:
            try:
                os.read(terminal, 65536)  # what gf shows, read so it never waits to write
            except OSError:
                break
    os.close(terminal)  # the terminal hangs up
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 129
    [(loop_status, reason)] = conn.execute("SELECT status, reason FROM loops").fetchall()
    assert loop_status == "stopped" and reason.startswith("interrupted (SIGHUP) after ")


def test_under_nohup_a_hangup_leaves_the_loop_running(load_text, db_path, run_gf):
    load_text("x = 1\n")
    assert run_gf("run", "--db", db_path, PROGRAM, "slow-a").exit_code == 0
    ignore_hangups = lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN)  # noqa: E731  (what nohup does)
    process = subprocess.Popen([GF, "breed", "--db", db_path, "--metric", "value", "--minimize", "--loop", "1",
                                "--population", "4", "--seed", "2", "-j", "1", PROGRAM], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, "GF_LOAD_PLUGINS": ""},
                               preexec_fn=ignore_hangups)
    conn = store.connect(db_path)
    deadline = time.time() + 60
    while conn.execute("SELECT count(*) FROM runs").fetchone()[0] < 2 and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGHUP)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert conn.execute("SELECT status FROM loops").fetchall() == [("done",)]


def test_a_loop_that_cannot_resume_for_a_new_dataset_says_which_loop_is_left_unfinished(load_text, db_path, capfd):
    """A dataset added after a loop was interrupted changes its arguments: the rerun starts a new loop,
    which was silent, leaving the first unfinished for good."""
    from gf import GeneticFuckery

    load_text("x = 5.0\n")
    g = GeneticFuckery(dbfile=db_path)
    calls = []

    def once_interrupted(params, dataset):
        calls.append(1)
        if len(calls) == 6:
            raise KeyboardInterrupt
        return {"m": {"v": -(params.x - 1) ** 2}}

    arguments = dict(metric="v", generations=3, population=4, seed=1)
    with pytest.raises(KeyboardInterrupt):
        g.evolve(once_interrupted, datasets=["a", "b"], **arguments)
    capfd.readouterr()
    g.evolve(once_interrupted, datasets=["a", "b", "c"], **arguments)
    assert ("warning: a new breed loop: loop 1 had these arguments but for datasets ['a', 'b'] -> ['a', 'b', 'c'], "
            "and is unfinished at generation 1 of 3; to finish it instead, call evolve again with "
            "datasets=['a', 'b']") in capfd.readouterr().err.splitlines()
    g.evolve(once_interrupted, datasets=["a", "b"], **arguments)  # loop 1 itself: resumed, nothing to say
    assert "warning" not in capfd.readouterr().err
    assert store.connect(db_path).execute("SELECT id, status FROM loops ORDER BY id").fetchall() == [
        (1, "done"), (2, "done")]


def test_a_seeded_loop_breeds_the_same_whatever_order_its_datasets_were_first_recorded_in(tmp_path, run_gf):
    """With -j 2 the datasets' first runs land in any order: the loop's datasets (and so the order its mean
    scores were summed in, and its key) followed that order, and the same seed bred children 1e-13 apart."""
    from gf import GeneticFuckery

    program = tmp_path / "p.py"
    program.write_text("import sys\nfrom gf import GeneticFuckery\ng = GeneticFuckery()\nwith g.report() as r:\n"
                       "    r['m']['v'] = -((g.x - 1.3) ** 2 + (g.y - 0.7) ** 2 + 0.1 * len(sys.argv[1]))\n")
    (tmp_path / "start.js").write_text("x = 5.0\ny = -2.0\n")
    digests, keys = [], []
    for name, order in (("one.db", ["a", "bb", "ccc"]), ("two.db", ["ccc", "a", "bb"])):
        db = str(tmp_path / name)
        assert run_gf("load", "--db", db, tmp_path / "start.js").exit_code == 0
        for dataset in order:  # first runs recorded in another order, as -j 2 may do
            x, y = 5.0, -2.0
            GeneticFuckery(dbfile=db, pid=1).record({"m": {"v": -((x - 1.3) ** 2 + (y - 0.7) ** 2 + 0.1 * len(dataset))}},
                                                    dataset=dataset)
        result = run_gf("breed", "--db", db, "--metric", "v", "--population", "6", "--loop", "4", "--seed", "7",
                        f"{sys.executable} {program} {{}}")
        assert result.exit_code == 0, result.stderr
        conn = store.connect(db)
        digests.append([digest for (digest,) in conn.execute("SELECT digest FROM groups ORDER BY id")])
        keys.append(conn.execute("SELECT key FROM loops").fetchone()[0])
    assert digests[0] == digests[1] and keys[0] == keys[1]


def test_per_algo_rankings_and_strengths_from_tags(load_text, db_path):
    """Tagged params come from their algo's best groups; the algo scoring worst is mutated twice as hard."""
    from gf import engine, tags
    from gf.metrics import resolve

    for x in (1, 2, 3):
        load_text(f"fast__a = {x}\nslow__b = {x}\nother = 1\n")
    for group, fast, slow in ((1, 5.0, 1.0), (2, 9.0, 0.5), (3, 1.0, 3.0)):
        GeneticFuckery(dbfile=db_path, pid=group).record({"fast": {"profit": fast}, "slow": {"profit": slow}},
                                                         dataset="d")
    conn = store.connect(db_path)
    tags.save(conn, {"fast": ["fast__*"], "slow": ["slow__*"]})
    names = ["fast__a", "slow__b", "other"]
    tagged, ranking, strength = engine.per_algo(conn, resolve("profit"), ["d"], names, minimize=False)
    assert tagged == {"fast": {"fast__a"}, "slow": {"slow__b"}}
    assert ranking == {"fast": [2, 1, 3], "slow": [3, 1, 2]}
    assert strength == {"fast": 1.0, "slow": 2.0}  # slow's best (3.0) is below fast's (9.0)


def test_parents_seen_on_fewer_datasets_rank_after_those_seen_on_all(load_text, db_path):
    """Group 1 tops d1 but never ran on d2: it counts as last there (rank `top`), behind group 2."""
    from gf import engine
    from gf.metrics import resolve

    for x in (1, 2, 3):
        load_text(f"x = {x}\n")
    for group, dataset, value in ((1, "d1", 9.0), (2, "d1", 5.0), (2, "d2", 5.0), (3, "d1", 1.0), (3, "d2", 9.0)):
        GeneticFuckery(dbfile=db_path, pid=group).record({"a": {"v": value}}, dataset=dataset)
    _ranking, groups = engine.rank_parents(store.connect(db_path), resolve("v"), ["d1", "d2"], top=3)
    assert groups == [2, 3, 1]  # positions summed: 2: 1 + 1, 3: 2 + 0 (ties by id), 1: 0 + 3 (missing on d2)


def test_lineage_goes_back_at_most_200_generations(tmp_path, run_gf):
    """A lineage deeper than Python's recursion limit once crashed ``gf lineage --depth 500``; the depth
    now stops at 200, in text and JSON, with one line for more."""
    params = tmp_path / "a.js"
    params.write_text("x = 1\n")
    db = str(tmp_path / "deep.db")
    assert run_gf("load", "--db", db, params).exit_code == 0
    conn = store.connect(db)
    with conn:
        for group in range(2, 302):  # a chain of 300 generations, each group the child of the one before
            conn.execute("INSERT INTO groups (id, uid, created, origin, generation) VALUES (?, ?, '2026', 'bred', ?)",
                         (group, f"u{group}", group - 1))
            conn.execute("INSERT INTO group_parents VALUES (?, ?, 0)", (group, group - 1))
    conn.close()
    tree = json.loads(run_gf("lineage", "--db", db, "--depth", "200", "--json", "301").stdout)
    depth = 0
    while tree["parents"]:
        [tree] = tree["parents"]
        depth += 1
    assert depth == 200 and tree["group"] == 101
    text = run_gf("lineage", "--db", db, "--depth", "200", "301")
    assert text.exit_code == 0 and len(text.stdout.splitlines()) == 201
    refused = run_gf("lineage", "--db", db, "--depth", "201", "301")
    assert refused.exit_code == 2 and "201 is too large (at most 200)" in refused.stderr


GATED = """import os, sys, time
from gf import GeneticFuckery
g = GeneticFuckery()
gate = os.environ["GATE"]
while g.group > 1 and not os.path.exists(gate):  # children wait for the test to open the gate
    time.sleep(0.02)
with g.report("r") as r:
    r["a"]["score"] = -(g.x - 3 - (0.5 if sys.argv[1] == "d1" else -0.5)) ** 2 - (g.y + 1) ** 2
"""


def test_a_resumed_loop_waits_for_the_pairs_another_gf_is_evaluating(tmp_path, run_gf):
    """A loop resumed while a `gf run` evaluated the rest of its generation left those pairs to it, then bred
    the next generation without their scores: a seeded loop bred other children than an uninterrupted one."""
    program = tmp_path / "gated.py"
    program.write_text(GATED)
    gate = tmp_path / "gate"
    env = {**os.environ, "GF_LOAD_PLUGINS": "", "GATE": str(gate)}
    (tmp_path / "start.js").write_text("x = 1\ny = -2\n")
    command = f"{sys.executable} {program} {{}}"

    def start(name):
        path = str(tmp_path / name)
        assert run_gf("load", "--db", path, tmp_path / "start.js").exit_code == 0
        assert run_gf("run", "--db", path, command, "d1", "d2", env=env).exit_code == 0
        return path, ["breed", "--db", path, "--metric", "score", "--top", "2", "--population", "4", "--loop", "2",
                      "--seed", "3", command]

    def digests(path):
        return store.connect(path).execute("SELECT generation, digest FROM groups ORDER BY generation, digest").fetchall()

    gate.touch()
    reference, args = start("reference.db")
    assert run_gf(*args, env=env).exit_code == 0
    gate.unlink()

    db_path, args = start("test.db")
    conn = store.connect(db_path)

    def until(condition):
        deadline = time.time() + 60
        while not condition():
            assert time.time() < deadline
            time.sleep(0.02)

    def pending_of(process):
        return conn.execute("SELECT count(*) FROM launches WHERE status = 'pending' AND process_id = ?",
                            (process.pid,)).fetchone()[0]

    try:
        killed = subprocess.Popen([GF, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        until(lambda: pending_of(killed))  # generation 1 handed out, its programs at the gate
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        other = subprocess.Popen([GF, "run", "--db", db_path, command], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True, env=env)
        until(lambda: pending_of(other) == 8)  # it took generation 1 over
        with open(tmp_path / "resumed.err", "w") as errors:
            resumed = subprocess.Popen([GF, *args], stdout=subprocess.DEVNULL, stderr=errors, env=env)
            # it waits for the other gf, or (before) bred generation 2 without generation 1's scores
            until(lambda: "waiting for" in (tmp_path / "resumed.err").read_text() or resumed.poll() is not None
                  or conn.execute("SELECT 1 FROM groups WHERE generation = 2").fetchone())
            gate.touch()
            assert other.wait(60) == 0, other.stderr.read()
            assert resumed.wait(60) == 0
    finally:
        gate.touch()  # the killed gf's programs end (their launches were abandoned: they record nothing)
    stderr = (tmp_path / "resumed.err").read_text()
    assert digests(db_path) == digests(reference)
    assert "generation 1/2 (resumed): waiting for 8 evaluation(s) another gf is running now" in stderr
    assert stderr.count("waiting for") == 1  # said once, not again as each of the 8 ends
    assert pairs_evaluated_twice(db_path) == []


@pytest.mark.parametrize("message, reason", [("SIGTERM", "interrupted (SIGTERM); rerun the same command to resume"),
                                             ("", "interrupted (Ctrl-C); rerun the same command to resume")])
def test_a_loop_stopped_while_breeding_says_by_what(load_text, db_path, monkeypatch, message, reason):
    """Stopped while breeding (not evaluating), a loop's reason was the bare "KeyboardInterrupt", SIGTERM
    (a batch scheduler, systemd) included: it names the signal and what to do."""
    from gf import GeneticFuckery
    from gf_plugins_builtin.evolution import EvolutionBreeder

    load_text("x = 5.0\n")
    breed, calls = EvolutionBreeder.breed, []

    def stopped_second_time(self, request):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt(message) if message else KeyboardInterrupt
        return breed(self, request)

    monkeypatch.setattr(EvolutionBreeder, "breed", stopped_second_time)
    with pytest.raises(KeyboardInterrupt):
        GeneticFuckery(dbfile=db_path).evolve(lambda params, dataset: {"m": {"v": -(params.x - 1) ** 2}},
                                              metric="v", generations=3, population=4, seed=1, datasets=["a"])
    assert store.connect(db_path).execute("SELECT status, reason FROM loops").fetchall() == [("stopped", reason)]


def test_a_dataset_every_child_failed_on_is_warned_of(tmp_path, db_path, load_text, run_gf):
    """A data feed down for one dataset: the loop went on printing only "4 failed", though none of its
    children could rank with the groups scored on every dataset. Each such generation now says which
    dataset, the last error there and where to look."""
    program = tmp_path / "p.py"
    program.write_text("import os, sys\nfrom gf import GeneticFuckery\ng = GeneticFuckery()\n"
                       "if sys.argv[1] == 'AMD' and int(os.environ['GF_PARAM_GROUP']) > 1:\n"
                       "    sys.exit('AMD feed down')\n"
                       "g.record({'bt': {'profit': -(g.x - 1.0) ** 2}}, 'bt')\n")
    load_text("x = 3.0\n")
    command = f"{sys.executable} {program} {{}}"
    assert run_gf("run", "--db", db_path, command, "SPY", "AMD").exit_code == 0
    result = run_gf("breed", "--db", db_path, "--metric", "profit", "--population", "4", "--loop", "2", command)
    assert result.exit_code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: generation {g}: every evaluation on 'AMD' failed; last error (exit 1): AMD feed "
                        "down; check the command there (`gf runs --dataset AMD --last 5`): the children rank below "
                        "every group scored on all datasets" for g in (1, 2)]
    healthy = run_gf("breed", "--db", db_path, "--metric", "profit", "--population", "4", "--loop", "1",
                     "--datasets-deny", "AMD", command)
    assert healthy.exit_code == 0 and "warning:" not in healthy.stderr
