"""Constraints: the built-in fixer, plugin fixers, and no stored child in violation."""

import random

import pytest

from gf import Constraint, GeneticFuckery, InputError, hookimpl, plugins, store
from gf.breeding import violations
from gf.loader import Constraint as LoaderConstraint

SPEC = """\
fast = 12.3
slow = 7.2
n_int = 5
r_real_0 = 0.5
slow < fast
n_int >= 2
n_int < 9
"""


def fix(params, constraints):
    types = plugins.get_types()
    answers = plugins.call_hook("gf_fix_child", params=params, constraints=constraints, types=types,
                                rng=random.Random(1))
    return answers, violations(params, constraints, types)


def test_hook_gf_fix_child_swaps_broken_orderings():
    params = {"fast": 3.0, "slow": 7.0}
    answers, broken = fix(params, [Constraint("slow", "<", "fast")])
    assert answers == [True] and broken == []
    assert params == {"fast": 7.0, "slow": 3.0}


def test_fixer_moves_equal_values_just_past_and_clamps_to_numbers():
    params = {"a": 5.0, "b": 5.0, "n_int": 12, "m_int": 1}
    constraints = [Constraint("a", "<", "b"), Constraint("n_int", "<", 9), Constraint("m_int", ">=", 2.5)]
    _, broken = fix(params, constraints)
    assert broken == []
    assert params["a"] < params["b"] == 5.0 and params["n_int"] == 8 and params["m_int"] == 3


def test_fixer_settles_chains_and_type_bounds():
    params = {"a": 9.0, "b": 5.0, "c": 1.0, "r_real_0": 1.7, "q_real_1": 0.2}
    constraints = [Constraint("a", "<", "b"), Constraint("b", "<", "c")]
    _, broken = fix(params, constraints)
    assert broken == [] and params["a"] < params["b"] < params["c"]
    assert 0 <= params["r_real_0"] < 1 and 1 <= params["q_real_1"] < 2


def test_constraint_is_public_and_the_loaders():
    assert Constraint is LoaderConstraint
    assert str(Constraint("a", "<=", 2.5)) == "a <= 2.5"


def test_every_stored_child_satisfies_its_constraints(load_text, db_path, run_gf):
    load_text(SPEC)
    g = GeneticFuckery(dbfile=db_path, pid=1)
    g.record({"bt": {"profit": 1}}, dataset="d1")
    load_text("fast = 30\nslow = 2\nn_int = 8\n", "--parent", 1)
    GeneticFuckery(dbfile=db_path, pid=2).record({"bt": {"profit": 2}}, dataset="d1")
    for breeder in ("classic", "default"):
        result = run_gf("breed", "--db", db_path, "--metric", "profit", "--breeder", breeder, "--population", "30",
                        "--seed", "4")
        assert result.exit_code == 0, result.stderr
    conn = store.connect(db_path)
    types = plugins.get_types()
    children = [g for g in store.group_ids(conn) if g > 2]
    assert len(children) >= 30
    for child in children:
        params = {name: __import__("json").loads(v) for name, v, _, _ in store.group_params(conn, child)}
        constraints = [Constraint.from_stored(*row) for row in store.group_constraints(conn, child)]
        assert len(constraints) == 3
        assert violations(params, constraints, types) == [], (child, params)


def test_child_a_fixer_rejects_is_bred_again_and_never_stored(load_text, db_path, run_gf):
    load_text("x = 1\n")
    GeneticFuckery(dbfile=db_path, pid=1).record({"bt": {"profit": 1}}, dataset="d")

    class OnlyPositive:
        @hookimpl
        def gf_fix_child(self, params):
            return params["x"] > 1.0

    plugins.register(OnlyPositive(), name="only-positive")
    result = run_gf("breed", "--db", db_path, "--metric", "profit", "--population", "8", "--seed", "1")
    assert result.exit_code == 0, result.stderr
    conn = store.connect(db_path)
    xs = [float(v) for (v,) in conn.execute("SELECT value FROM params WHERE group_id > 1")]
    assert len(xs) == 8 and all(x > 1.0 for x in xs)


def test_child_that_can_never_be_fixed_is_a_clear_error(load_text, db_path, run_gf):
    load_text("x = 1\n")
    GeneticFuckery(dbfile=db_path, pid=1).record({"bt": {"profit": 1}}, dataset="d")

    class Never:
        @hookimpl
        def gf_fix_child(self):
            return False

    plugins.register(Never(), name="never")
    result = run_gf("breed", "--db", db_path, "--metric", "profit")
    assert result.exit_code == 2
    assert "produced no valid new child in 25 attempts" in result.stderr
    assert store.group_ids(store.connect(db_path)) == [1]
