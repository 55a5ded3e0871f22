"""Params of stored groups as Python values, decoded once per process; values to JSON and back.

Breeding reads the params of many groups every generation (the default breeder
replays every scored group), and decoding their JSON was most of a generation's
time once a few hundred 1,000-parameter groups were stored. A group never changes
once written, so its decoded values are kept, by the group's **digest**: the hash
of exactly the ``(name, value JSON)`` rows decoded here (``store.digest``). A digest
therefore names one set of values in every database: a copy of the file, another
database or one merged from several can share an entry, and none can be given
values that are not its own (a different group has a different digest; a group
without a digest is decoded every time). Callers get fresh dicts (and fresh
lists inside them), so changing what they got never changes the cache.
"""

import json
import threading

#: Decoded values kept per process, counted in params (about 55 bytes each): 2,000
#: groups of 1,000 params, about 110 MB. Past it, the groups read least recently are
#: dropped: breeding reads the newest groups (the default breeder's models use the latest
#: 640) and the best few, which stay.
CACHE_LIMIT = 2_000_000

_CHUNK = 500

#: ``{digest: (values, names of flat lists and dicts, names of nested ones)}``
_cache = {}
#: Held while the cache is read or changed: one process may run several loops in threads, and a
#: group another thread dropped between the look-up and the read would come back empty.
_lock = threading.Lock()
_cached_params = 0
#: One string object per param name, shared by every cached group.
_names = {}

_scan = json.JSONDecoder().scan_once


def decode(text):
    """``json.loads(text)`` for one stored value, without its per-call overhead."""
    try:
        value, end = _scan(text, 0)
    except StopIteration:
        return json.loads(text)  # raises json's own error
    return value if end == len(text) else json.loads(text)


def encode(value):
    """``json.dumps(value)``, faster for the numbers and booleans most params are."""
    kind = type(value)
    if kind is float and value - value == 0:  # finite: json.dumps writes float.__repr__
        return float.__repr__(value)
    if kind is int:
        return int.__repr__(value)
    if kind is bool:
        return "true" if value else "false"
    return json.dumps(value)


def clear():
    """Forget every decoded group (tests; a long-lived process that wants the memory back)."""
    global _cached_params
    with _lock:
        _cache.clear()
        _names.clear()
        _cached_params = 0


def many(conn, group_ids):
    """``{group_id: {full_name: value}}`` of ``group_ids``; a group that does not exist gets ``{}``."""
    ids = list(dict.fromkeys(group_ids))
    digests = {}
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        digests.update(conn.execute(f"SELECT id, digest FROM groups WHERE id IN ({marks})", chunk))
    with _lock:
        missing = [group for group in ids if digests.get(group) not in _cache]
        decoded, containers = _read(conn, missing)
        found = {}
        for group in ids:
            digest = digests.get(group)
            entry = _cache.pop(digest, None)
            if entry is None:
                entry = _remember(digest, decoded.get(group, {}), containers.get(group, ()))
            else:
                _cache[digest] = entry  # the most recently read now
            found[group] = _copy(entry)
        _evict()
    return found


def _chunks(ids):
    for start in range(0, len(ids), _CHUNK):
        yield ids[start:start + _CHUNK]


def _read(conn, group_ids):
    """``({group: {full_name: value}}, {group: [names of list and dict values]})`` read from the
    database (the hot loop of a cold read)."""
    decoded = {group: {} for group in group_ids}
    containers = {}
    names = _names
    for chunk in _chunks(group_ids):
        marks = ",".join("?" * len(chunk))
        # The full name as store.join_name makes it, built by SQLite: faster than in Python.
        for group, full, text in conn.execute(
            "SELECT group_id, CASE WHEN param = '' THEN name ELSE param || '__' || name END, value "
            f"FROM params WHERE group_id IN ({marks}) ORDER BY group_id, param, name", chunk
        ):
            try:
                value, end = _scan(text, 0)
                if end != len(text):
                    value = json.loads(text)
            except StopIteration:
                value = json.loads(text)
            full = names.setdefault(full, full)
            decoded[group][full] = value
            if type(value) is list or type(value) is dict:
                containers.setdefault(group, []).append(full)
    return decoded, containers


def _remember(digest, values, containers):
    """The cache entry for ``values``, kept when there is room and a digest to key it by."""
    global _cached_params
    flat, nested = [], []
    for name in containers:
        value = values[name]
        items = value.values() if type(value) is dict else value
        (nested if any(type(item) is list or type(item) is dict for item in items) else flat).append(name)
    entry = (values, tuple(flat), tuple(nested))
    if digest is not None and len(values) <= CACHE_LIMIT:
        _cache[digest] = entry
        _cached_params += len(values)
    return entry


def _evict():
    """Drop the groups read least recently until what is kept fits :data:`CACHE_LIMIT` (after a
    read: the groups it read are the most recent, and are returned either way)."""
    global _cached_params
    while _cached_params > CACHE_LIMIT:
        values, _flat, _nested = _cache.pop(next(iter(_cache)))
        _cached_params -= len(values)


def _copy(entry):
    """A caller's own copy of a cache entry's values."""
    values, flat, nested = entry
    copied = dict(values)
    for name in flat:
        copied[name] = copied[name].copy()
    if nested:
        import copy

        for name in nested:
            copied[name] = copy.deepcopy(copied[name])
    return copied
