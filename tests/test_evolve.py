"""The Python API: evolve(), best(), top() with no shell command at all."""

import json
import re

import pytest

from gf import GeneticFuckery, InputError, store
from gf.engine import AllFailed
from conftest import GF

START = "x = -4\ny = 6\nn_int = 0\nflag_bool = false\nmode_choice = [\"slow\", \"fast\"]\nx < y\n"


def objective(params, dataset):
    offset = 1.0 if dataset == "a" else 2.0
    value = (params.x - offset) ** 2 + (params.y - 3) ** 2 + (params.n_int - 4) ** 2
    value += 0 if params.flag_bool else 1
    value += 0 if params.mode_choice == "fast" else 1
    return {"score": {"value": value}}


def evolve(db_path, seed=1, generations=15):
    g = GeneticFuckery(dbfile=db_path)
    return g, g.evolve(objective, metric="value", minimize=True, generations=generations, population=16,
                       datasets=["a", "b"], seed=seed)


def test_evolve_improves_and_best_reports_the_group(load_text, db_path):
    load_text(START)
    g, best = evolve(db_path)
    start = objective(GeneticFuckery(dbfile=db_path, pid=1).params, "a")["score"]["value"]
    assert best["group"] > 1 and best["value"] == best["score"] < start / 3
    assert set(best["datasets"]) == {"a", "b"}
    conn = store.connect(db_path)
    assert conn.execute("SELECT count(*) FROM groups").fetchone()[0] == 1 + 15 * 16
    assert conn.execute("SELECT count(DISTINCT status) FROM runs").fetchone()[0] == 1
    on_a = g.best(metric="value", minimize=True, dataset="a")
    assert on_a["dataset"] == "a" and on_a["value"] <= best["datasets"]["a"]
    top = g.top("value", n=3, minimize=True)
    assert [row["value"] for row in top] == sorted(row["value"] for row in top) and top[0] == best
    child = GeneticFuckery(dbfile=db_path, pid=best["group"])
    assert child.x < child.y  # the constraint holds in every bred group


def test_seeded_evolve_is_reproducible(tmp_path, run_gf):
    stored = []
    for name in ("one.db", "two.db"):
        path = tmp_path / name
        (tmp_path / "start.js").write_text(START)
        assert run_gf("load", "--db", path, tmp_path / "start.js").exit_code == 0
        evolve(str(path), seed=9, generations=4)
        conn = store.connect(path)
        stored.append(conn.execute("SELECT group_id, param, name, value FROM params ORDER BY 1, 2, 3").fetchall())
        stored.append(conn.execute("SELECT group_id, dataset, status FROM runs ORDER BY id").fetchall())
    assert stored[0] == stored[2] and stored[1] == stored[3]


def test_seeded_evolve_in_threads_breeds_the_same_groups(tmp_path, run_gf):
    """jobs=3: evaluations finish in any order (their runs' ids differ), the groups bred do not."""
    import random
    import time

    def jittery(params, dataset):
        time.sleep(random.random() * 0.003)
        return objective(params, dataset)

    bred = []
    for name in ("one.db", "two.db"):
        path = tmp_path / name
        (tmp_path / "start.js").write_text(START)
        assert run_gf("load", "--db", path, tmp_path / "start.js").exit_code == 0
        GeneticFuckery(dbfile=str(path)).evolve(jittery, metric="value", minimize=True, generations=4, population=8,
                                                datasets=["a", "b"], seed=9, jobs=3, progress=False)
        bred.append(store.connect(path).execute("SELECT id, digest FROM groups ORDER BY id").fetchall())
    assert bred[0] == bred[1] and len(bred[0]) == 1 + 4 * 8


def test_evolve_with_threads(load_text, db_path):
    load_text(START)
    g = GeneticFuckery(dbfile=db_path)
    threads = set()

    def watched(params, dataset):
        import threading
        import time

        threads.add(threading.get_ident())
        time.sleep(0.05)  # long enough that the pool's other threads take the next ones
        return objective(params, dataset)

    best = g.evolve(watched, metric="value", minimize=True, generations=2, population=8, datasets=["a"], jobs=3)
    conn = store.connect(db_path)
    assert conn.execute("SELECT count(*), count(DISTINCT group_id) FROM runs WHERE status = 'ok'").fetchone() == (17, 17)
    assert len(threads) > 1  # evaluated side by side
    assert best["score"] == conn.execute("SELECT min(value) FROM results WHERE name = 'value'").fetchone()[0]


def test_evolve_function_that_always_fails(load_text, db_path):
    load_text(START)

    def broken(params, dataset):
        raise KeyError("typo")

    with pytest.raises(AllFailed, match=r"^every evaluation of the starting groups failed; last error: "
                                        r"KeyError: 'typo'; check the function$"):
        GeneticFuckery(dbfile=db_path).evolve(broken, metric="value", generations=1, population=4,
                                              datasets=["a"])
    # the run keeps where it failed: the error, then the end of its traceback (as a command's stderr tail)
    [(error,)] = store.connect(db_path).execute("SELECT error FROM runs").fetchall()
    lines = error.splitlines()
    assert lines[0] == "KeyError: 'typo'" and lines[1] == "Traceback (most recent call last):"
    assert "in broken" in error and lines[-1] == "KeyError: 'typo'"
    # the function fixed, a second call scores the starting group again (it said nothing is scored)
    best = GeneticFuckery(dbfile=db_path).evolve(objective, metric="value", generations=1, population=4,
                                                 datasets=["a"], progress=False)
    assert best is not None and store.connect(db_path).execute(
        "SELECT status, count(*) FROM runs GROUP BY status ORDER BY status").fetchall() == [("failed", 1), ("ok", 5)]


def test_evolve_function_returning_no_dict_is_a_failed_run_saying_so(load_text, db_path):
    load_text(START)
    with pytest.raises(AllFailed, match=r"last error: the function returned list, not a dict of dicts "
                                        r"\{algo: \{name: number\}\}"):
        GeneticFuckery(dbfile=db_path).evolve(lambda params, dataset: [params.x], metric="value", generations=1,
                                              population=4, datasets=["a"])
    assert store.connect(db_path).execute("SELECT status FROM runs").fetchall() == [("failed",)]


def test_evolve_whose_children_all_fail_names_the_function(load_text, db_path):
    load_text(START)

    def only_the_start(params, dataset):
        if params.x != -4:
            raise ValueError("children break me")
        return objective(params, dataset)

    with pytest.raises(AllFailed, match=r"^every evaluation of generation [12] failed; last error: "
                                        r"ValueError: children break me; check the function$"):
        GeneticFuckery(dbfile=db_path).evolve(only_the_start, metric="value", minimize=True, generations=2,
                                              population=4, datasets=["a"], seed=1)


def test_evolve_needs_a_starting_group(tmp_path):
    path = tmp_path / "empty.db"
    store.connect(path).close()
    with pytest.raises(Exception, match="has no parameter group: load one first"):
        GeneticFuckery(dbfile=path).evolve(objective, metric="value", generations=1, population=4, datasets=["a"])


def test_best_with_nothing_scored(load_text, db_path):
    load_text(START)
    assert GeneticFuckery(dbfile=db_path).best("value") is None


def test_evolve_patience_and_max_time(load_text, db_path, log_messages):
    load_text(START)
    g = GeneticFuckery(dbfile=db_path)
    flat = lambda params, dataset: {"score": {"value": 1.0}}  # noqa: E731  (nothing can improve)
    g.evolve(flat, metric="value", minimize=True, generations=8, population=4, datasets=["a"], seed=1, patience=3)
    conn = store.connect(db_path)
    assert conn.execute("SELECT status, (SELECT max(generation) FROM groups) FROM loops").fetchall() == [("done", 3)]
    assert any("evolve ended after generation 3 of 8: no better best score in the last 3 generations" in message
               for message in log_messages)
    g.evolve(objective, metric="value", minimize=True, generations=8, population=4, datasets=["a"], seed=1,
             max_time="0.000001")  # up at once: one generation, the loop left to resume
    assert conn.execute("SELECT status FROM loops ORDER BY id").fetchall() == [("done",), ("stopped",)]
    assert conn.execute("SELECT max(generation) FROM groups WHERE loop_id = 2").fetchone() == (1,)
    assert any("evolve stopped after generation 1 of 8: the time limit (1e-06s) ran out" in message
               for message in log_messages)
    g.evolve(objective, metric="value", minimize=True, generations=8, population=4, datasets=["a"], seed=1)
    assert conn.execute("SELECT status, (SELECT max(generation) FROM groups WHERE loop_id = 2) FROM loops "
                        "WHERE id = 2").fetchall() == [("done", 8)]  # the same loop went on
    for bad, message in [({"max_time": "8 hours"}, "max_time='8 hours': expected a duration such as 90s"),
                         ({"max_time": -5}, "max_time=-5: expected a duration"),
                         ({"patience": 0}, "patience=0: expected a whole number of generations, at least 1"),
                         ({"patience": 2.5}, "patience=2.5: expected a whole number"),
                         ({"population": 0}, "population=0: expected a whole number of children per generation"),
                         ({"population": "8"}, "population='8': expected a whole number"),
                         ({"generations": 2.5}, "generations=2.5: expected a whole number of generations, at least 0"),
                         ({"generations": -1}, "generations=-1: expected a whole number"),
                         ({"top": 0}, "top=0: expected a whole number of parents per dataset, at least 1 (or None)"),
                         ({"population": 10**6}, "population=1000000: expected a whole number of children per "
                                                 "generation, from 1 to 100,000 (or None)")]:
        with pytest.raises(InputError, match=re.escape(message)):
            g.evolve(flat, metric="value", datasets=["b"], **{"generations": 2, "population": 4, **bad})
    assert conn.execute("SELECT count(*) FROM loops").fetchone() == (2,)  # refused before any loop was opened


def test_a_second_evolve_scores_every_group_on_its_datasets_first(load_text, db_path):
    load_text(START)
    g = GeneticFuckery(dbfile=db_path)
    g.evolve(objective, metric="value", minimize=True, generations=2, population=4, datasets=["a"], seed=1)
    conn = store.connect(db_path)
    (groups,) = conn.execute("SELECT count(*) FROM groups").fetchone()
    g.evolve(objective, metric="value", minimize=True, generations=1, population=4, datasets=["b"], seed=1)
    # every group the first call bred was scored on b before the second call bred from them
    assert conn.execute("SELECT count(DISTINCT group_id) FROM runs WHERE dataset = 'b' AND group_id <= ?",
                        (groups,)).fetchone() == (groups,)


def test_evolve_refuses_a_loop_another_live_process_runs_before_evaluating_anything(load_text, db_path):
    import socket
    import subprocess
    import sys

    from gf import engine

    load_text(START)
    g = GeneticFuckery(dbfile=db_path)
    args = dict(metric="value", minimize=True, generations=2, population=4, datasets=["a"], seed=1)
    g.evolve(objective, max_time="0.000001", **args)  # one generation; the loop left to resume
    conn = store.connect(db_path)
    (runs,) = conn.execute("SELECT count(*) FROM runs").fetchone()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = engine._process(other.pid)[1]
        claim = "UPDATE loops SET status = 'running', host = ?, process_id = ?, process_start = ?"
        with store.transaction(conn):
            conn.execute(claim, (socket.gethostname(), other.pid, started))
        with pytest.raises(InputError, match=f"breed loop 1 with these arguments is running now .process {other.pid} "
                                             "on this machine.: wait for it, or stop it"):
            g.evolve(objective, **args)
        assert conn.execute("SELECT count(*) FROM runs").fetchone() == (runs,)  # nothing evaluated
        # the same process id with another start time is another process: the gf that ran the loop is gone
        with store.transaction(conn):
            conn.execute(claim, (socket.gethostname(), other.pid, started + 1))
        assert engine.list_loops(conn)[0]["alive"] is False
    finally:
        other.kill()
    # a process that ended but was not yet waited for (a zombie) is gone too
    import time

    deadline = time.monotonic() + 30
    while engine._process(other.pid)[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    with store.transaction(conn):
        conn.execute(claim, (socket.gethostname(), other.pid, started))
    assert engine.list_loops(conn)[0]["alive"] is False
    other.wait()
    g.evolve(objective, **args)  # goes on
    assert conn.execute("SELECT status, counted FROM loops").fetchall() == [("done", 2)]


def test_two_threads_cannot_run_one_loop(load_text, db_path):
    import threading

    load_text(START)
    entered, release = threading.Event(), threading.Event()

    def slow(params, dataset):
        entered.set()
        release.wait(30)
        return objective(params, dataset)

    slow.__qualname__ = "objective"  # the same loop as the call below
    args = dict(metric="value", minimize=True, generations=2, population=4, datasets=["a"], seed=1)
    GeneticFuckery(dbfile=db_path).evolve(objective, generations=1, population=4, datasets=["a"], metric="value",
                                          minimize=True, seed=1)  # the starting group is scored: nothing pending
    errors = []
    first = threading.Thread(target=lambda: GeneticFuckery(dbfile=db_path).evolve(slow, **args))
    first.start()
    assert entered.wait(30)  # the first thread is inside its loop
    try:
        GeneticFuckery(dbfile=db_path).evolve(objective, **args)
    except InputError as error:
        errors.append(str(error))
    release.set()
    first.join(60)
    assert errors == ["breed loop 2 with these arguments is running now in this process: wait for it"]
    conn = store.connect(db_path)
    assert conn.execute("SELECT id, status FROM loops ORDER BY id").fetchall() == [(1, "done"), (2, "done")]
    GeneticFuckery(dbfile=db_path).evolve(objective, **args)  # released: the next call runs (a new loop)


def test_evolve_without_a_population_breeds_as_many_children_as_the_breeder_chooses(load_text, db_path):
    """As ``gf breed`` without ``--population``: the ga breeder breeds twice as many children as
    it has parents, at least 4 (one parent, then the best 3 of the one dataset). Counts may be
    numpy integers."""
    import numpy

    load_text(START)
    g = GeneticFuckery(dbfile=db_path)
    best = g.evolve(objective, metric="value", minimize=True, generations=numpy.int64(2), datasets=["a"], seed=1,
                    breeder="ga")
    conn = store.connect(db_path)
    assert conn.execute("SELECT generation, count(*) FROM groups GROUP BY 1 ORDER BY 1").fetchall() == [
        (None, 1), (1, 4), (2, 6)]
    assert best["group"] > 1
    [loop] = conn.execute("SELECT args FROM loops").fetchall()
    assert json.loads(loop[0])["generations"] == 2  # stored as a plain int


def test_top_and_best_refuse_what_would_silently_find_nothing(load_text, db_path, run_gf):
    load_text(START)
    g, _ = evolve(db_path, generations=1)
    for call, message in [
        (lambda: g.top("vlaue"), "no run in {} is scored by metric 'vlaue'; results recorded: score.value"),
        (lambda: g.best("score.vlaue"), "no run in {} is scored by metric 'score.vlaue'; results recorded"),
        (lambda: g.best(5), "metric 5: expected a name, a result such as 'profit' or a registered metric"),
        (lambda: g.top("value", n="3"), "n='3': expected a whole number of groups, at least 1"),
        (lambda: g.top("value", n=-1), "n=-1: expected a whole number of groups, at least 1"),
    ]:
        with pytest.raises(InputError, match=re.escape(message.format(db_path))):
            call()
    assert [row["group"] for row in g.top("value", n=2, minimize=True)] == [
        row["group"] for row in g.top("score.value", n=2, minimize=True)]
    result = run_gf("top", "--db", db_path, "--metric", "vlaue")
    assert result.exit_code == 2 and "scored by metric 'vlaue'; results recorded: score.value" in result.stderr


def test_evolve_takes_one_dataset_as_a_string_and_checks_jobs(load_text, db_path):
    load_text(START)
    g = GeneticFuckery(dbfile=db_path)
    with pytest.raises(InputError, match=re.escape("jobs=0: expected a whole number of evaluations at once, at least 1")):
        g.evolve(objective, metric="value", minimize=True, generations=1, population=4, datasets=["a"], jobs=0)
    g.evolve(objective, metric="value", minimize=True, generations=1, population=4, datasets="train", seed=1)
    assert store.datasets(store.connect(db_path)) == ["train"]


def test_evolve_returns_its_own_datasets_best_with_the_params_to_use(load_text, db_path):
    """A database with runs on other datasets: evolve's answer is over the datasets it was given (it was the
    best group over every dataset of the database, often an older group scored on more of them)."""
    load_text(START)
    g = GeneticFuckery(dbfile=db_path)
    g.evolve(objective, metric="value", minimize=True, generations=2, population=8, datasets=["a", "b"], seed=1)
    best = g.evolve(lambda params, dataset: {"score": {"value": (params.x - 7) ** 2}}, metric="value",
                    minimize=True, generations=3, population=8, datasets=["c"], seed=2)
    ranked = g.top("value", n=1000, minimize=True, dataset="c")
    assert best["group"] == ranked[0]["group"] and set(best["datasets"]) == {"c"}
    assert best["score"] == ranked[0]["score"]
    assert g.best("value", minimize=True)["datasets"].keys() == {"a", "b", "c"}  # by default: every dataset
    stored = {name: json.loads(typed) for name, _v, _t, typed in store.group_params(g.conn, best["group"])}
    assert best["params"] == stored and set(stored) == {"x", "y", "n_int", "flag_bool", "mode_choice"}
    assert json.loads(json.dumps(best["params"])) == best["params"]


def test_ctrl_c_in_evolve_is_a_keyboard_interrupt_and_calling_again_resumes(load_text, db_path):
    load_text(START)
    calls = []

    def interrupted_once(params, dataset):
        calls.append(dataset)
        if len(calls) == 12:
            raise KeyboardInterrupt  # as Ctrl-C would, in the middle of a generation
        return objective(params, dataset)

    g = GeneticFuckery(dbfile=db_path)
    arguments = dict(metric="value", minimize=True, generations=3, population=8, datasets=["a", "b"], seed=1)
    with pytest.raises(KeyboardInterrupt, match="call evolve again with the same arguments to resume"):
        g.evolve(interrupted_once, **arguments)
    # this process goes on (a notebook): it released what it handed out, so no other gf waits on it
    assert store.connect(db_path).execute("SELECT count(*) FROM launches WHERE status = 'pending'").fetchone() == (0,)
    best = g.evolve(interrupted_once, **arguments)
    conn = store.connect(db_path)
    assert conn.execute("SELECT count(*) FROM runs WHERE status = 'ok'").fetchone() == (2 + 3 * 8 * 2,)
    assert conn.execute("SELECT status FROM loops").fetchall() == [("done",)] and best["datasets"].keys() == {"a", "b"}


def test_evolve_shows_a_progress_line_per_generation_unless_asked_not_to(load_text, db_path, capfd):
    load_text(START)
    g = GeneticFuckery(dbfile=db_path)
    g.evolve(objective, metric="value", minimize=True, generations=2, population=4, datasets=["a"], seed=1)
    lines = capfd.readouterr().err.splitlines()
    assert lines[0] == "starting groups: evaluations 1/1, 0 failed"
    assert [line.split(":")[0] for line in lines[1:]] == ["generation 1/2", "generation 2/2"]
    assert all(", best " in line for line in lines[1:])
    g.evolve(objective, metric="value", minimize=True, generations=3, population=4, datasets=["a"], seed=1,
             progress=False)
    assert capfd.readouterr().err == ""


def test_evolve_breeds_from_scores_near_the_largest_float(load_text, db_path):
    """The default breeder's models square the scores: near the largest float they are fitted scaled down."""
    import sys

    load_text(START)
    huge = sys.float_info.max

    def near_the_top(params, dataset):
        return {"score": {"value": huge / (1 + (params.x - 1) ** 2 + (params.y - 3) ** 2)}}

    best = GeneticFuckery(dbfile=db_path).evolve(near_the_top, metric="value", generations=5, population=8,
                                                 datasets=["a", "b"], seed=1, progress=False)
    conn = store.connect(db_path)
    assert conn.execute("SELECT count(*) FROM groups").fetchone()[0] == 1 + 5 * 8
    assert huge / 2 < best["value"] <= huge


def test_evolve_waits_for_a_starting_pair_another_gf_is_evaluating(load_text, db_path, tmp_path):
    """evolve() left the starting group's pair to a `gf run` evaluating it and went on at once: with no score
    yet it raised "no run is scored" (with some, it would breed from part of them)."""
    import subprocess
    import sys
    import time

    load_text("x = 1\n")
    program = tmp_path / "slow.py"
    program.write_text("import time\nfrom gf import GeneticFuckery\ng = GeneticFuckery()\ntime.sleep(2)\n"
                       "g.record({'a': {'score': -(g.x - 3) ** 2}})\n")
    other = subprocess.Popen([GF, "run", "--db", db_path, f"{sys.executable} {program} {{}}", "train", "-j", "1"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    conn = store.connect(db_path)
    deadline = time.monotonic() + 30
    while not conn.execute("SELECT 1 FROM launches WHERE status = 'pending'").fetchone():
        assert time.monotonic() < deadline and other.poll() is None
        time.sleep(0.05)
    best = GeneticFuckery(dbfile=db_path).evolve(lambda g, dataset: {"a": {"score": -(g.x - 3) ** 2}},
                                                  metric="score", datasets=["train"], generations=1, population=4,
                                                  seed=1, progress=False)
    assert other.wait(timeout=30) == 0
    starting = conn.execute("SELECT count(*), min(command) FROM runs WHERE group_id = 1").fetchone()
    assert starting[0] == 1 and str(program) in starting[1]  # the other gf's run, not one of evolve's own
    assert conn.execute("SELECT count(*) FROM groups WHERE generation = 1").fetchone() == (4,)
    assert best["score"] >= -4


def test_the_same_evolve_call_resumes_its_loop_the_way_it_ran_though_a_later_loop_ran_the_other_way(load_text,
                                                                                                    db_path):
    load_text(START)
    g = GeneticFuckery(dbfile=db_path)
    reward = lambda params, dataset: {"score": {"gain": -objective(params, dataset)["score"]["value"]}}  # noqa: E731
    call = dict(metric="gain", generations=4, population=4, datasets=["a"], seed=2)
    g.evolve(reward, max_time="0.000001", **call)  # higher gain is better (no direction given, no loop before)
    g.evolve(reward, metric="gain", minimize=True, generations=1, population=4, datasets=["a"], seed=5)
    g.evolve(reward, **call)  # the same call: loop 1 goes on maximizing, though loop 2 minimized
    conn = store.connect(db_path)
    assert conn.execute("SELECT id, status, json_extract(args, '$.minimize') FROM loops ORDER BY id").fetchall() == [
        (1, "done", 0), (2, "done", 1)]
    assert conn.execute("SELECT max(generation) FROM groups WHERE loop_id = 1").fetchone() == (4,)
