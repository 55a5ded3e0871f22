"""Decoded group values: one decode per process, never stale, never shared with callers."""

import json
import math
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gf import breeding, store, values


@pytest.fixture(autouse=True)
def empty_cache():
    values.clear()
    yield
    values.clear()


def write_group(path, params):
    """One group of ``{name: value}`` in the database at ``path``; return its id."""
    conn = store.connect(path)
    rows = [(name, json.dumps(value), "float", json.dumps(value)) for name, value in sorted(params.items())]
    with store.transaction(conn):
        group = store.insert_group(conn, params=rows, origin="test")
    conn.close()
    return group


def read(path, ids):
    conn = store.connect(path, create=False)
    try:
        return breeding.many_group_values(conn, ids)
    finally:
        conn.close()


def counting(scan, calls):
    """``values._scan`` that notes every text it decodes."""
    def counted(text, index):
        calls.append(text)
        return scan(text, index)

    return counted


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(value=json_values)
def test_decode_is_json_loads(value):
    text = json.dumps(value)
    decoded = values.decode(text)
    assert json.dumps(decoded) == text


@settings(max_examples=300, deadline=None)
@given(value=json_values | st.floats(allow_nan=True, allow_infinity=True) | st.integers(min_value=-2**70, max_value=2**70))
def test_encode_is_json_dumps(value):
    assert values.encode(value) == json.dumps(value)


@pytest.mark.parametrize("text", ["", " ", "1 2", "[1", "nul", "1,2", "{'a': 1}"])
def test_decode_refuses_what_json_refuses(text):
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    with pytest.raises(json.JSONDecodeError):
        values.decode(text)


@pytest.mark.parametrize("text, expected", [(" 1.5", 1.5), ("2.5 ", 2.5), ("NaN", math.nan), ("-Infinity", -math.inf),
                                            ("1e3", 1000.0), ("12345678901234567890123", 12345678901234567890123)])
def test_decode_reads_what_json_reads(text, expected):
    decoded = values.decode(text)
    assert decoded == expected or (math.isnan(expected) and math.isnan(decoded))
    assert type(decoded) is type(json.loads(text))


def test_values_are_decoded_once_per_process(tmp_path, monkeypatch):
    path = tmp_path / "a.db"
    group = write_group(path, {"a": 1.5, "b__c": [1, 2]})
    assert read(path, [group]) == {group: {"a": 1.5, "b__c": [1, 2]}}
    decoded = []
    monkeypatch.setattr(values, "_scan", counting(values._scan, decoded))
    assert read(path, [group, 99]) == {group: {"a": 1.5, "b__c": [1, 2]}, 99: {}}
    assert decoded == []


def test_callers_get_their_own_copies(tmp_path):
    path = tmp_path / "a.db"
    group = write_group(path, {"a": 1.5, "mode_choice": ["p", "q"], "deep": [[1], {"k": [2]}]})
    first = read(path, [group])[group]
    first["a"] = 0
    first["mode_choice"].append("r")
    first["deep"][0].append(9)
    first["deep"][1]["k"].clear()
    assert read(path, [group])[group] == {"a": 1.5, "mode_choice": ["p", "q"], "deep": [[1], {"k": [2]}]}


def test_another_database_with_the_same_ids_gets_its_own_values(tmp_path):
    one, two = tmp_path / "one.db", tmp_path / "two.db"
    assert write_group(one, {"a": 1.0}) == write_group(two, {"a": 2.0}) == 1
    assert read(one, [1]) == {1: {"a": 1.0}}
    assert read(two, [1]) == {1: {"a": 2.0}}


def test_a_database_recreated_at_the_same_path_is_read_afresh(tmp_path):
    path = tmp_path / "a.db"
    write_group(path, {"a": 1.0})
    assert read(path, [1]) == {1: {"a": 1.0}}
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(f"{path}{suffix}"):
            os.remove(f"{path}{suffix}")
    write_group(path, {"a": 3.0, "b": True})
    assert read(path, [1]) == {1: {"a": 3.0, "b": True}}


def test_a_merged_database_reads_every_group_as_written(tmp_path, run_gf):
    one, two, merged = tmp_path / "one.db", tmp_path / "two.db", tmp_path / "merged.db"
    write_group(one, {"a": 1.0})
    write_group(one, {"a": 1.1})
    write_group(two, {"a": 2.0, "z_int": 7})
    assert read(one, [1, 2]) == {1: {"a": 1.0}, 2: {"a": 1.1}}
    assert read(two, [1]) == {1: {"a": 2.0, "z_int": 7}}
    assert run_gf("merge", merged, one, two).exit_code == 0
    conn = store.connect(merged, create=False)
    expected = {group: {name: json.loads(value) for name, value, _type, _typed in store.group_params(conn, group)}
                for group in store.group_ids(conn)}
    conn.close()
    assert sorted(map(json.dumps, expected.values())) == sorted(
        map(json.dumps, [{"a": 1.0}, {"a": 1.1}, {"a": 2.0, "z_int": 7}]))
    assert read(merged, list(expected)) == expected


def test_past_the_limit_the_groups_read_least_recently_are_dropped(tmp_path, monkeypatch):
    """Breeding reads the newest groups every generation: they stay, the oldest go."""
    monkeypatch.setattr(values, "CACHE_LIMIT", 5)  # params: two groups of 2
    path = tmp_path / "a.db"
    ids = [write_group(path, {"a": float(i), "b": -float(i)}) for i in range(4)]
    expected = {group: {"a": float(i), "b": -float(i)} for i, group in enumerate(ids)}
    assert read(path, ids) == expected
    decoded = []
    monkeypatch.setattr(values, "_scan", counting(values._scan, decoded))
    assert read(path, ids[2:]) == {group: expected[group] for group in ids[2:]} and decoded == []
    assert read(path, ids[:1]) == {ids[0]: expected[ids[0]]} and len(decoded) == 2  # dropped: read again
    decoded.clear()
    assert read(path, ids[3:]) == {ids[3]: expected[ids[3]]} and decoded == []  # read after the third
    assert read(path, ids[2:3]) == {ids[2]: expected[ids[2]]} and len(decoded) == 2  # the least recent
    assert values._cached_params <= 5 and len(values._cache) == 2
    assert read(path, ids) == expected  # a read larger than the limit still returns every group