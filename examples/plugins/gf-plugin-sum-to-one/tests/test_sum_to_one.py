"""gf-plugin-sum-to-one: weight sets renormalized after breeding, through the hook and the gf CLI."""

import json
import math
import random
import sys
from importlib import metadata

import pytest

import gf
import gf_plugin_sum_to_one
from gf import GeneticFuckery, plugins
from gf_plugin_sum_to_one import normalize, weight_sets

START = """\
portfolio__weights__spy = 0.5
portfolio__weights__tlt = 0.3
portfolio__weights__gld = 0.2
portfolio__leverage = 2.0
hedge__weights__puts_real_0 = 0.25
hedge__weights__cash_real_0 = 0.75
hedge__weights__count_int = 3
portfolio__weights__spy <= 0.6
"""

WEIGHTS = ("portfolio__weights__spy", "portfolio__weights__tlt", "portfolio__weights__gld")
HEDGE = ("hedge__weights__puts_real_0", "hedge__weights__cash_real_0")


def fix(params, constraints=(), rng=None):
    """Run every gf_fix_child fixer, as gf does for a bred child; return their answers."""
    return plugins.call_hook("gf_fix_child", params=params, constraints=list(constraints), types=plugins.get_types(),
                             rng=rng or random.Random(0))


def total(params, names):
    return math.fsum(params[name] for name in names)


# -- which params form sets -----------------------------------------------------------


def test_default_sets_are_the_params_directly_under_a_weights_level():
    names = ["portfolio__weights__spy", "portfolio__weights__tlt", "weights__a", "weights__b", "hedge__weights__x",
             "portfolio__weights__us__spy", "portfolio__weight", "weights", "portfolio__weights_x__y", "leverage"]
    assert weight_sets(names) == {
        "portfolio__weights__": ["portfolio__weights__spy", "portfolio__weights__tlt"],
        "weights__": ["weights__a", "weights__b"],
        "hedge__weights__": ["hedge__weights__x"],
    }  # portfolio__weights__us__spy is under "us", not directly under "weights"


def test_configured_prefixes_take_everything_under_them_longest_first(monkeypatch):
    monkeypatch.setenv("GF_SUM_TO_ONE", " Mix, mix__inner__ ,,")
    configured = gf_plugin_sum_to_one.prefixes()
    assert configured == ["mix__inner__", "mix__"]
    names = ["mix__a", "mix__b__c", "mix__inner__x", "mixer__a", "portfolio__weights__spy"]
    assert weight_sets(names, configured) == {"mix__": ["mix__a", "mix__b__c"], "mix__inner__": ["mix__inner__x"]}


# -- normalizing ----------------------------------------------------------------------


@pytest.mark.parametrize("values, expected", [
    ([0.5, 0.3, 0.2], [0.5, 0.3, 0.2]),
    ([2.0, 1.0, 1.0], [0.5, 0.25, 0.25]),
    ([0.6, -0.2, 0.2], [0.75, 0.0, 0.25]),  # negative weights are clipped to 0 first
    ([0.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]),  # all zero: equal weights
    ([-1.0, -3.0], [0.5, 0.5]),
    ([7.0], [1.0]),
    ([1e-300, 1e300], [0.0, 1.0]),
])
def test_normalize(values, expected):
    weights = normalize(values)
    assert weights == pytest.approx(expected) and math.fsum(weights) == pytest.approx(1.0, abs=1e-12)


def test_normalize_keeps_limits_and_shares_the_rest():
    assert normalize([5, 1, 1, 1], [(0, 0.4)] * 4) == pytest.approx([0.4, 0.2, 0.2, 0.2])
    assert normalize([0.9, 0.1], [(0, 0.5), (0.4, 1)]) == pytest.approx([0.5, 0.5])
    assert normalize([1.0, 0.0, 0.0], [(0, 0.5), (0, 1), (0, 1)]) == pytest.approx([0.5, 0.25, 0.25])
    assert normalize([1.0, 0.0], [(0, 1), (0.1, 1)]) == pytest.approx([0.9, 0.1])


def test_normalize_refuses_limits_that_cannot_sum_to_one():
    assert normalize([5, 1, 1, 1], [(0, 0.2)] * 4) is None
    assert normalize([1, 1], [(0.6, 1)] * 2) is None
    assert normalize([1, 1], [(0.6, 0.5), (0, 1)]) is None


# -- the gf_fix_child hook ------------------------------------------------------------


def test_bred_weights_are_renormalized_other_params_untouched(sum_to_one):
    params = {"portfolio__weights__spy": 0.9, "portfolio__weights__tlt": -0.1, "portfolio__weights__gld": 0.3,
              "portfolio__leverage": 3.5, "hedge__weights__puts_real_0": 0.1, "hedge__weights__cash_real_0": 0.3,
              "hedge__weights__count_int": 7}
    assert False not in fix(params)
    assert params["portfolio__weights__spy"] == pytest.approx(0.75)
    assert params["portfolio__weights__tlt"] == 0.0
    assert params["portfolio__weights__gld"] == pytest.approx(0.25)
    assert total(params, WEIGHTS) == pytest.approx(1.0, abs=1e-12)
    assert total(params, HEDGE) == pytest.approx(1.0, abs=1e-12) and params[HEDGE[0]] == pytest.approx(0.25)
    assert params["portfolio__leverage"] == 3.5 and params["hedge__weights__count_int"] == 7  # not weights


def test_a_real_0_weight_stays_below_one(sum_to_one):
    params = {"hedge__weights__puts_real_0": 0.0, "hedge__weights__cash_real_0": 0.0, "hedge__weights__x": -1.0}
    fix(params)
    assert total(params, [*HEDGE, "hedge__weights__x"]) == pytest.approx(1.0)
    params = {"hedge__weights__puts_real_0": 5.0, "hedge__weights__cash_real_0": 0.0}
    fix(params)
    assert params["hedge__weights__puts_real_0"] < 1.0 and total(params, HEDGE) == pytest.approx(1.0)


def test_runs_after_the_builtin_constraint_fixer_and_keeps_numeric_bounds(sum_to_one):
    spy, tlt, gld = WEIGHTS
    constraints = [gf.Constraint(spy, "<=", 0.6), gf.Constraint(gld, ">=", 0.1), gf.Constraint(tlt, "<", gld)]
    params = {spy: 0.9, tlt: 0.5, gld: 0.05}
    assert False not in fix(params, constraints)
    # the built-in fixer swapped tlt and gld and clamped spy; then the weights were renormalized within bounds
    assert total(params, WEIGHTS) == pytest.approx(1.0, abs=1e-12)
    assert params[spy] <= 0.6 and params[gld] >= 0.1
    assert params[tlt] < params[gld]


def test_the_sum_holds_even_when_the_builtin_fixer_moves_a_weight(sum_to_one):
    """gf's built-in fixer repairs spy < max_spy by swapping the two values: 0.1 leaves the set."""
    spy, tlt, gld = WEIGHTS
    params = {spy: 0.5, tlt: 0.3, gld: 0.2, "portfolio__max_spy": 0.4}
    assert False not in fix(params, [gf.Constraint(spy, "<", "portfolio__max_spy")])
    assert params["portfolio__max_spy"] == 0.5  # swapped by the built-in fixer ...
    assert total(params, WEIGHTS) == pytest.approx(1.0, abs=1e-12)  # ... and renormalized after it
    assert params[spy] == pytest.approx(0.4 / 0.9) and params[spy] < params["portfolio__max_spy"]


def test_bounds_that_cannot_sum_to_one_reject_the_child(sum_to_one):
    spy, tlt, gld = WEIGHTS
    params = {spy: 0.5, tlt: 0.3, gld: 0.2}
    constraints = [gf.Constraint(name, "<", 0.3) for name in WEIGHTS]
    assert False in fix(params, constraints)


def test_gf_sum_to_one_chooses_the_sets(monkeypatch, sum_to_one):
    params = {"mix__a": 3.0, "mix__b": 1.0, "portfolio__weights__spy": 0.9, "portfolio__weights__tlt": 0.9}
    monkeypatch.setenv("GF_SUM_TO_ONE", "mix")
    fix(params)
    assert (params["mix__a"], params["mix__b"]) == (0.75, 0.25)
    assert params["portfolio__weights__spy"] == 0.9  # the default rule is off
    monkeypatch.setenv("GF_SUM_TO_ONE", "")
    params["mix__a"] = 5.0
    fix(params)
    assert params["mix__a"] == 5.0


# -- through the gf CLI ---------------------------------------------------------------


def load_and_score(run_gf, tmp_path, db_path, text=START):
    (tmp_path / "start.js").write_text(text)
    result = run_gf("load", "--db", db_path, tmp_path / "start.js")
    assert result.exit_code == 0, result.stderr
    g = GeneticFuckery(dbfile=db_path, pid=1)
    for dataset in ("a", "b"):
        g.record({"bt": {"profit": 1.0}}, dataset=dataset)


def values_of(run_gf, db_path, group):
    shown = json.loads(run_gf("show", "--db", db_path, "--json", group).stdout)
    return {param["name"]: param["value"] for param in shown["params"]}


@pytest.mark.parametrize("breeder", ["default", "ga", "classic"])
def test_gf_breed_children_have_weights_summing_to_one(sum_to_one, run_gf, tmp_path, db_path, breeder):
    load_and_score(run_gf, tmp_path, db_path)
    result = run_gf("breed", "--db", db_path, "--metric", "profit", "--breeder", breeder, "--population", "12",
                    "--seed", "4", "--json")
    assert result.exit_code == 0, result.stderr
    children = json.loads(result.stdout)
    assert children
    changed = 0
    for child in children:
        values = values_of(run_gf, db_path, child)
        assert total(values, WEIGHTS) == pytest.approx(1.0, abs=1e-9)
        assert total(values, HEDGE) == pytest.approx(1.0, abs=1e-9)
        assert all(values[name] >= 0 for name in (*WEIGHTS, *HEDGE)) and values["portfolio__weights__spy"] <= 0.6
        assert values["hedge__weights__count_int"] == int(values["hedge__weights__count_int"])
        changed += values["portfolio__weights__spy"] != 0.5
    assert changed > 0  # breeding did move the weights


def test_without_the_plugin_bred_weights_drift(run_gf, tmp_path, db_path):
    load_and_score(run_gf, tmp_path, db_path)
    result = run_gf("breed", "--db", db_path, "--metric", "profit", "--population", "12", "--seed", "4", "--json")
    sums = [total(values_of(run_gf, db_path, child), WEIGHTS) for child in json.loads(result.stdout)]
    assert any(abs(value - 1.0) > 0.01 for value in sums)


#: A program gf launches: it refuses weights that do not sum to 1, and prefers gold.
PROGRAM = """\
import math
from gf import GeneticFuckery

g = GeneticFuckery()
w = g.portfolio.weights
total = math.fsum([w.spy, w.tlt, w.gld])
assert abs(total - 1.0) < 1e-9 and min(w.spy, w.tlt, w.gld) >= 0, total
with g.report("bt") as r:
    r["bt"]["profit"] = w.gld - abs(w.spy - w.tlt)
"""


def test_a_gf_breed_loop_only_ever_runs_normalized_weights(sum_to_one, run_gf, tmp_path, db_path):
    (tmp_path / "start.js").write_text(START)
    assert run_gf("load", "--db", db_path, tmp_path / "start.js").exit_code == 0
    program = tmp_path / "backtest.py"
    program.write_text(PROGRAM)
    command = f"{sys.executable} {program} {{}}"
    assert run_gf("run", "--db", db_path, command, "a", "b", "-j", "2").exit_code == 0
    result = run_gf("breed", "--db", db_path, "--metric", "profit", "--top", "2", "--loop", "2", "--population", "4",
                    "--seed", "1", "-j", "2", command)
    assert result.exit_code == 0, result.stderr
    runs = json.loads(run_gf("runs", "--db", db_path, "--json").stdout)
    assert len(runs) == 2 + 2 * 4 * 2 and all(run["status"] == "ok" for run in runs), runs
    best = json.loads(run_gf("top", "--db", db_path, "--metric", "profit", "-n", "1", "--dataset", "a",
                             "--json").stdout)[0]
    assert best["score"] > 0.05  # the start scores 0.2 - |0.5 - 0.3| = 0


def test_installed_plugin_is_listed_with_its_hooks(monkeypatch, run_gf):
    try:
        version = metadata.version("gf-plugin-sum-to-one")
    except metadata.PackageNotFoundError:
        pytest.skip("gf-plugin-sum-to-one is not installed (pip install -e examples/plugins/gf-plugin-sum-to-one)")
    monkeypatch.setenv("GF_LOAD_PLUGINS", "sum_to_one")
    plugins.reset()
    listed = json.loads(run_gf("plugins", "list", "--json").stdout)
    assert listed == [{"name": "sum_to_one", "version": version, "hooks": ["gf_fix_child"]}]
    params = {"weights__a": 1.0, "weights__b": 3.0}
    fix(params)
    assert params == {"weights__a": 0.25, "weights__b": 0.75}
