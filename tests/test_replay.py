"""The default breeder resumes its replay of a database's generations where the last one in this
process left off (``gf_plugins_builtin.replay``): what it breeds is what a replay from the start
breeds, and it reads only the groups it needs."""

import random
import shutil

import pytest

from gf import GeneticFuckery, engine, loader, plugins, store, values
from gf.metrics import ResultMetric
from gf_plugins_builtin import evolution, replay

START = "x = 3.0\ny = -2.0\nk_int = 4\nflag_bool = true\nmode_choice = [\"a\", \"b\", \"c\"]\nx >= -10.0\nx <= 10.0\n"


@pytest.fixture(autouse=True)
def fresh_replays():
    replay.forget()
    yield
    replay.forget()


def new_db(tmp_path, name, text=START):
    path = tmp_path / name
    source = tmp_path / f"{name}.js"
    source.write_text(text)
    conn = store.connect(str(path))
    loader.load(conn, [str(source)], plugins.get_types(), db_path=str(path))
    conn.close()
    return str(path)


def loss(p, _dataset):
    mode = {"a": 1.0, "b": 0.0, "c": 2.0}[p.mode_choice[0]]
    return {"s": {"loss": (p.x - 1.5) ** 2 + (p.y + 0.5) ** 2 + (p.k_int - 7) ** 2 + (0.0 if p.flag_bool else 1.0) + mode}}


def evolve(db, generations, seed, fn=loss):
    with GeneticFuckery(dbfile=db) as g:
        g.evolve(fn, metric="loss", minimize=True, generations=generations, population=6, datasets=["a"], seed=seed,
                 progress=False)


def children(db, tmp_path, seed, *, fresh):
    """The values of the children one more generation of the default breeder gives, bred on a copy of
    ``db``: its replay resumed from what this process kept, or (``fresh``) replayed from the start."""
    copied = tmp_path / f"copy-{random.random()}.db"
    shutil.copy(db, copied)
    if fresh:
        replay.forget()
    conn = store.connect(str(copied), create=False)
    try:
        ids, _, _ = engine.breed_generation(conn, metric=ResultMetric("loss"), breeder=plugins.get_breeders()["default"],
                                            datasets=["a"], top=6, population=6, minimize=True,
                                            rng=random.Random(seed), generation=1000)
        found = values.many(conn, ids)
        return [found[group] for group in ids]
    finally:
        conn.close()


def replayed_groups(monkeypatch):
    """A list that gets every group id the default breeder replays from now on."""
    read = []
    pairs = replay.History.pairs
    monkeypatch.setattr(replay.History, "pairs", lambda self, groups: read.extend(groups) or pairs(self, groups))
    return read


def generation_of(db, generation):
    conn = store.connect(db, create=False)
    try:
        return [g for (g,) in conn.execute("SELECT id FROM groups WHERE generation = ? ORDER BY id", (generation,))]
    finally:
        conn.close()


def test_a_resumed_replay_breeds_what_a_full_one_does(tmp_path, monkeypatch):
    db = new_db(tmp_path, "a.db")
    evolve(db, 6, seed=1)
    read = replayed_groups(monkeypatch)
    warm = children(db, tmp_path, 7, fresh=False)  # resumed where the loop's last generation left off
    assert read == generation_of(db, 6)  # only the newest batch was replayed
    read.clear()
    assert children(db, tmp_path, 7, fresh=False) == warm and read == []  # nothing new
    assert children(db, tmp_path, 7, fresh=True) == warm
    assert read == [1] + [g for generation in range(1, 7) for g in generation_of(db, generation)]  # everything
    evolve(db, 2, seed=2)  # two more generations, in this process: each resumed from the one before
    assert children(db, tmp_path, 3, fresh=False) == children(db, tmp_path, 3, fresh=True)


def test_the_same_process_breeds_alike_on_every_database(tmp_path):
    """Group ids say nothing across databases: another database's groups 1, 2, 3... are other values."""
    one, two = new_db(tmp_path, "one.db"), new_db(tmp_path, "two.db", START.replace("x = 3.0", "x = -4.0"))
    evolve(one, 4, seed=1)
    evolve(two, 4, seed=1)
    kept = children(one, tmp_path, 5, fresh=False), children(two, tmp_path, 5, fresh=False)
    assert kept[0] != kept[1]
    assert kept == (children(one, tmp_path, 5, fresh=True), children(two, tmp_path, 5, fresh=True))


def test_a_score_that_changed_is_replayed_again(tmp_path):
    db = new_db(tmp_path, "a.db")
    evolve(db, 5, seed=1)
    before = children(db, tmp_path, 4, fresh=False)
    conn = store.connect(db, create=False)
    old = conn.execute("SELECT id FROM groups WHERE generation = 2 ORDER BY id DESC LIMIT 1").fetchone()[0]
    conn.close()
    with GeneticFuckery(dbfile=db, pid=old, dataset="a") as g:
        g.record({"s": {"loss": -100.0}})  # the worst of generation 2 is now the best there is
    after = children(db, tmp_path, 4, fresh=False)
    assert after != before and after == children(db, tmp_path, 4, fresh=True)


def test_a_param_a_later_group_added_restarts_the_replay(tmp_path, run_gf):
    """``gf load --parent`` with a new line: the strategy has the param from its start."""
    db = new_db(tmp_path, "a.db")
    evolve(db, 3, seed=1)
    children(db, tmp_path, 2, fresh=False)  # kept at the last batch
    extra = tmp_path / "extra.js"
    extra.write_text(START.replace("x = 3.0", "x = 1.0") + "z = 0.25\n")
    assert run_gf("load", "--db", db, "--parent", "2", str(extra)).exit_code == 0
    evolve(db, 2, seed=3, fn=lambda p, d: {"s": {"loss": loss(p, d)["s"]["loss"] + (p.z - 2.0) ** 2}})
    warm = children(db, tmp_path, 6, fresh=False)
    assert all("z" in child for child in warm)
    assert warm == children(db, tmp_path, 6, fresh=True)


def test_kept_states_are_not_changed_by_what_the_breeder_does_with_them(tmp_path, run_gf):
    """With tags the breeder moves the mean towards each algo's best groups after the replay."""
    db = new_db(tmp_path, "a.db", START.replace("x = 3.0\ny = -2.0", "one__x = 3.0\ntwo__y = -2.0")
                .replace("x >= -10.0\nx <= 10.0", "one__x >= -10.0\none__x <= 10.0"))
    assert run_gf("tag", "--db", db, "one", "one__*").exit_code == 0
    assert run_gf("tag", "--db", db, "two", "two__*").exit_code == 0

    def tagged(p, _dataset):
        rest = (p.k_int - 7) ** 2 + (0.0 if p.flag_bool else 1.0)
        return {"one": {"loss": (p.one.x - 1.5) ** 2 + rest}, "two": {"loss": (p.two.y + 0.5) ** 2 + rest}}

    evolve(db, 4, seed=1, fn=tagged)
    first = children(db, tmp_path, 9, fresh=False)
    assert children(db, tmp_path, 9, fresh=False) == first == children(db, tmp_path, 9, fresh=True)
    [(key, state)] = list(replay._states.items())[-1:]
    twin = state.copy()
    twin.strategy.mean[0] += 1.0
    twin.strategy.scale[0] *= 2
    twin.batch_start["flag_bool"] = "changed"
    next(iter(twin.probabilities["mode_choice"].values()))[0].append("changed")
    assert state.strategy.mean[0] != twin.strategy.mean[0] and state.strategy.scale[0] != twin.strategy.scale[0]
    assert state.batch_start["flag_bool"] is True
    assert all("changed" not in value for value, _p in state.probabilities["mode_choice"].values())


def test_the_replay_is_kept_per_settings(tmp_path):
    """Another population, direction or tagging starts its own chain."""
    db = new_db(tmp_path, "a.db")
    evolve(db, 3, seed=1)
    children(db, tmp_path, 1, fresh=False)
    count = len(replay._states)
    copied = tmp_path / "c.db"
    shutil.copy(db, copied)
    conn = store.connect(str(copied), create=False)
    engine.breed_generation(conn, metric=ResultMetric("loss"), breeder=plugins.get_breeders()["default"],
                            datasets=["a"], top=6, population=9, minimize=True, rng=random.Random(1), generation=9)
    conn.close()
    assert len(replay._states) == count + 1
    assert evolution.REPLAY_VERSION >= 1


def test_replay_states_kept_are_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(replay, "KEPT", 2)
    db = new_db(tmp_path, "a.db")
    evolve(db, 5, seed=1)
    assert len(replay._states) == 2
