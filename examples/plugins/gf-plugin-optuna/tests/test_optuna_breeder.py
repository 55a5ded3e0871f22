"""The optuna breeder: its search space from gf types, ask/tell with TPE, seeding, and real gf breed loops."""

import json
import random
import sqlite3
import statistics

import pytest

import gf
import gf.plugins

PARAMS = """\
x = 8.0
n_int = 7
fast_bool = false
mode_choice = ["a", "b", "c"]
share_real_0 = 0.5
scale_real_1 = 1.5
x < 100
"""


def request_for(history, population=None, minimize=True, seed=1, extra_params=None):
    params = {group: values for group, values, _score in history}
    params.update(extra_params or {})
    return gf.BreedRequest(
        ranking={}, groups=[group for group, _v, _s in history], params=params, types=gf.plugins.get_types(),
        population=population, compare=6, rng=random.Random(seed), group_rows=lambda group, limit: [],
        history=lambda: list(history), minimize=minimize)


def bowl_history(count=30, seed=0, minimize=True):
    """Groups scored by (x - 3)^2 (+ penalties), best first, like request.history()."""
    rng = random.Random(seed)
    rows = []
    for group in range(1, count + 1):
        values = {"x": rng.uniform(-10, 10), "n_int": rng.randint(0, 9), "fast_bool": rng.random() < 0.5,
                  "mode_choice": rng.sample(["a", "b", "c"], 3), "share_real_0": rng.random(),
                  "scale_real_1": 1 + rng.random()}
        loss = (values["x"] - 3) ** 2 + (values["n_int"] - 2) ** 2 + (0 if values["fast_bool"] else 4)
        rows.append((group, values, loss if minimize else -loss))
    rows.sort(key=lambda row: row[2] if minimize else -row[2])
    return rows


def breeder():
    return gf.plugins.get_breeders()["optuna"]


def test_registered_as_a_breeder(run_gf):
    assert isinstance(breeder(), gf.Breeder)
    listed = json.loads(run_gf("breeders", "list", "--json").stdout)
    assert {"name": "optuna", "description": breeder().description} in listed


def test_children_keep_every_param_and_its_type():
    history = bowl_history()
    children = breeder().breed(request_for(history))
    assert len(children) == 8  # no --population: the breeder's default
    best, second = history[0][0], history[1][0]
    for child in children:
        assert isinstance(child, gf.Child)
        assert child.parents == [best, second]
        assert set(child.params) == set(history[0][1])
        p = child.params
        assert isinstance(p["x"], float) and isinstance(p["n_int"], int) and isinstance(p["fast_bool"], bool)
        assert 0 <= p["share_real_0"] < 1 and 1 <= p["scale_real_1"] < 2
        assert sorted(p["mode_choice"]) == ["a", "b", "c"]
        # the chosen head first, then the best group's list in its order
        best_list = history[0][1]["mode_choice"]
        assert p["mode_choice"][1:] == [o for o in best_list if o != p["mode_choice"][0]]
    assert len(breeder().breed(request_for(history, population=3))) == 3


def test_ranges_come_from_the_observed_values_widened_and_the_types_bounds():
    history = bowl_history()
    xs = [values["x"] for _g, values, _s in history]
    ns = [values["n_int"] for _g, values, _s in history]
    span = max(xs) - min(xs)
    children = breeder().breed(request_for(history, population=60))
    assert all(min(xs) - 0.25 * span <= c.params["x"] <= max(xs) + 0.25 * span for c in children)
    assert all(min(ns) - 3 <= c.params["n_int"] <= max(ns) + 3 for c in children)
    assert all(0 <= c.params["share_real_0"] < 1 for c in children)


def test_a_param_that_never_moved_is_widened_around_its_value():
    history = [(1, {"x": 0.0, "k_int": 5, "r_real_1": 2.0}, 1.0)]
    children = breeder().breed(request_for(history, population=20))
    assert len({c.params["x"] for c in children}) > 1
    assert all(-1 <= c.params["x"] <= 1 for c in children)
    assert len({c.params["k_int"] for c in children}) > 1
    assert all(1 <= c.params["r_real_1"] < 2 for c in children)  # the bound is never produced


def test_a_number_always_seen_positive_stays_positive_and_negative_stays_negative():
    history = [(1, {"w_int": 1, "v": 0.5, "neg": -2.0}, 1.0), (2, {"w_int": 9, "v": 40.0, "neg": -30.0}, 2.0)]
    children = breeder().breed(request_for(history, population=40))
    assert min(c.params["w_int"] for c in children) >= 1
    assert min(c.params["v"] for c in children) >= 0.25
    assert max(c.params["neg"] for c in children) <= -1.0


def test_tpe_focuses_on_the_good_region_in_either_direction():
    for minimize in (True, False):
        history = bowl_history(40, minimize=minimize)
        children = breeder().breed(request_for(history, population=24, minimize=minimize))
        distance = statistics.median(abs(c.params["x"] - 3) for c in children)
        rng = random.Random(5)
        uniform = statistics.median(abs(rng.uniform(-10, 10) - 3) for _ in range(24))
        assert distance < 2.5 < uniform, (minimize, distance)
        assert sum(c.params["fast_bool"] for c in children) > 12


def test_the_same_seed_breeds_the_same_children():
    history = bowl_history()
    first = [c.params for c in breeder().breed(request_for(history, seed=3))]
    again = [c.params for c in breeder().breed(request_for(history, seed=3))]
    other = [c.params for c in breeder().breed(request_for(history, seed=4))]
    assert first == again
    assert first != other


def test_plugin_types_and_values_it_cannot_model():
    class Level(gf.ParamType):
        name, suffix, numeric = "level", "_level", False

    class LevelPlugin:
        @gf.hookimpl
        def gf_register_types(self, register):
            register(Level())

    gf.plugins.register(LevelPlugin(), name="level")
    try:
        history = [(1, {"a_level": "high", "n_int": 3}, 1.0), (2, {"a_level": "low", "n_int": 4}, 2.0)]
        children = breeder().breed(request_for(history, population=10))
        assert {c.params["a_level"] for c in children} <= {"high", "low"}
    finally:
        gf.plugins.unregister(name="level")


def test_without_history_it_samples_around_the_ranked_parents():
    request = request_for([(1, {"x": 2.0}, 1.0)])
    request.history = lambda: []
    children = breeder().breed(request)
    assert len(children) == 8 and all(c.parents == [1] for c in children)


# -- gf itself, through the CLI, on real SQLite files ---------------------------------


def load_and_run(run_gf, tmp_path, db, evaluate_command):
    (tmp_path / "params.js").write_text(PARAMS)
    assert run_gf("load", "--db", db, tmp_path / "params.js").stdout.strip() == "1"
    result = run_gf("run", "--db", db, evaluate_command, "d1", "d2", "-j", "2")
    assert result.exit_code == 0, result.output


def test_gf_breed_loop_with_the_optuna_breeder(run_gf, tmp_path, evaluate_command):
    db = tmp_path / "a.db"
    load_and_run(run_gf, tmp_path, db, evaluate_command)
    result = run_gf("breed", "--db", db, "--breeder", "optuna", "--metric", "loss", "--minimize", "--loop", "3",
                    "--population", "6", "--seed", "7", "-j", "4", "--json", evaluate_command)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [(s["generation"], s["children"], s["ok"], s["failed"]) for s in summary] == [
        (g, 6, 12, 0) for g in (1, 2, 3)]
    start = (8 - 3) ** 2 + (7 - 2) ** 2 + 4 + 2 + 0.25  # group 1's mean loss over d1 and d2
    assert summary[-1]["best"] < start
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT breeder, count(*) FROM groups WHERE generation >= 1 GROUP BY breeder").fetchall() == [
        ("optuna", 18)]
    assert conn.execute("SELECT count(*) FROM runs WHERE status = 'ok'").fetchone()[0] == 2 + 18 * 2
    # every child keeps the group's constraint and has parents recorded
    assert conn.execute("SELECT count(*) FROM constraints").fetchone()[0] == 19
    assert conn.execute("SELECT count(DISTINCT group_id) FROM group_parents").fetchone()[0] == 18
    children = json.loads(run_gf("show", "--db", db, "19", "--json").stdout)
    assert children  # gf show reads a bred group back


def test_seed_reproduces_a_generation_in_another_database(run_gf, tmp_path, evaluate_command):
    bred = []
    for name in ("a", "b"):
        db = tmp_path / f"{name}.db"
        load_and_run(run_gf, tmp_path, db, evaluate_command)
        result = run_gf("breed", "--db", db, "--breeder", "optuna", "--metric", "loss", "--minimize",
                        "--population", "4", "--seed", "11")
        assert result.exit_code == 0, result.output
        conn = sqlite3.connect(db)
        bred.append(conn.execute("SELECT group_id, param, name, value FROM params WHERE group_id > 1 ORDER BY 1, 2, 3")
                    .fetchall())
    assert bred[0] == bred[1] and len(bred[0]) == 4 * 6


def test_plugins_list_shows_the_installed_entry_point(run_gf, monkeypatch):
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("gf-plugin-optuna")
    except PackageNotFoundError:
        pytest.skip("gf-plugin-optuna is not installed (pip install -e .)")
    gf.plugins.unregister(name="optuna")
    monkeypatch.setenv("GF_LOAD_PLUGINS", "optuna")
    gf.plugins.reset()
    listed = json.loads(run_gf("plugins", "list", "--json").stdout)
    assert {"name": "optuna", "version": installed, "hooks": ["gf_register_breeders"]} in listed
    assert "optuna" in json.dumps(json.loads(run_gf("breeders", "list", "--json").stdout))


def test_startup_trials_setting(run_gf, tmp_path, evaluate_command, monkeypatch):
    history = bowl_history(4)
    monkeypatch.setenv("GF_OPTUNA_STARTUP_TRIALS", "2")
    assert len(breeder().breed(request_for(history))) == 8
    monkeypatch.setenv("GF_OPTUNA_STARTUP_TRIALS", "many")
    db = tmp_path / "a.db"
    load_and_run(run_gf, tmp_path, db, evaluate_command)
    result = run_gf("breed", "--db", db, "--breeder", "optuna", "--metric", "loss")
    assert (result.exit_code, result.stderr) == (
        2, "error: GF_OPTUNA_STARTUP_TRIALS='many': expected a whole number such as 5\n")
