"""Importing a database of the original geneticfuckery: ``gf import-legacy OLD.db``.

The original tool kept ``param_meta(pid, generated, parents)``, ``params(pid, param,
name, value)``, ``run_meta(run, pid, start, stop, family, dataset)`` and
``results(run, algo, name, value)``. The import reads that file read-only and writes
everything into a gf database in one transaction:

- Groups keep their ids when none of the ids being imported is taken in the target,
  else they are all numbered after the target's groups, in the same order (the report
  maps old ids to new); runs likewise. All or nothing, so a kept id is never mistaken
  for a renumbered one.
- Every group and run gets a uid hashed from its own legacy row (with the legacy
  timestamp as the ULID's time part). Importing the same file again adds nothing,
  and importing it after the old tool added more to it adds only the new groups and
  runs. A whole-file hash would have imported everything twice in that case.
- The old tool never checked types: a value that does not fit the type its name's
  suffix gives is stored as it is and reported as a warning. Refusing a whole history
  over one odd value would help nobody.
- ``parents`` held JSON: ``{"origin": ...}`` for a loaded group, and for a bred one the runs its
  two parents were picked by (``pA``, ``pB``): their groups become its lineage. Other text is read
  as words: those that are the pid of a legacy group become lineage, the others (and a parent run
  no longer in run_meta) are counted (``ignored_parent_words``) and dropped.
- What gf cannot keep as it is refuses the import, naming the legacy table and row, to
  be fixed there: an id beyond SQLite's integers, a param name ``gf load`` would refuse
  (or one that is both a value and a group of values: ``gf export`` must load again),
  and a blob in a text column (names, algo, dataset, family, parents) that is not UTF-8. A
  UTF-8 blob is imported as its text, as gf compares and prints datasets and names as text.
"""

import datetime
import functools
import hashlib
import json
import os
import re
import sqlite3
import urllib.request
from dataclasses import dataclass

from gf import loader, paramtypes, store
from gf.errors import InputError, LoadError

#: The original tool's tables and the columns the import reads from each.
LEGACY_COLUMNS = {
    "param_meta": ("pid", "generated", "parents"),
    "params": ("pid", "param", "name", "value"),
    "run_meta": ("run", "pid", "start", "stop", "family", "dataset"),
    "results": ("run", "algo", "name", "value"),
}

_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")
# Beyond this a timestamp is in milliseconds: 1e11 seconds is the year 5138.
_MILLISECONDS_FROM = 1e11


@dataclass
class _Group:
    pid: int
    uid: str
    digest: bytes
    created: str
    parents: object
    params: list


@dataclass
class _Run:
    run: int
    pid: int
    uid: str
    start: object
    stop: object
    family: object
    dataset: object


def default_target(old_path):
    """``runs/old.db`` -> ``runs/old-gf.db``: where the import writes unless told otherwise."""
    stem, _extension = os.path.splitext(os.fspath(old_path))
    return f"{stem}-gf.db"


def import_legacy(old_path, new_path=None, types=None):
    """Import the original tool's database ``old_path`` into the gf database ``new_path``.

    :param new_path: created if missing; default :func:`default_target` of ``old_path``.
    :param types: the :class:`gf.paramtypes.TypeRegistry`; default the registered types.
    :returns: ``{"source", "target", "imported", "skipped", "remapped", "ignored_parent_words",
        "warnings"}``: ``imported`` and ``skipped`` (already in the target) count
        ``groups``, ``params``, ``runs`` and ``results`` (``imported`` also ``parents``,
        the lineage links); ``remapped`` is ``{"groups": {old: new}, "runs": {old: new}}``
        for the legacy ids that differ in the target; ``warnings`` is a list of dicts
        with a one-line ``message`` (and ``pid``, ``group``, ``name``, ``value``,
        ``type`` for a value that does not fit its type).
    :raises InputError: ``old_path`` is missing or not a legacy database, or is ``new_path``.
    """
    old = os.fspath(old_path)
    new = os.fspath(new_path) if new_path is not None else default_target(old)
    if not os.path.isfile(old):
        raise InputError(f"{old}: no such file")
    if _same_file(old, new):
        raise InputError(
            f"{old}: cannot import a legacy database into itself (its param_meta and run_meta tables "
            f"are names of gf views); write to another file, e.g. {default_target(old)}"
        )
    if types is None:
        from gf import plugins

        types = plugins.get_types()
    report = {
        "source": old,
        "target": new,
        "imported": {"groups": 0, "params": 0, "parents": 0, "runs": 0, "results": 0},
        "skipped": {"groups": 0, "params": 0, "runs": 0, "results": 0},
        "remapped": {"groups": {}, "runs": {}},
        "ignored_parent_words": 0,
        "warnings": [],
    }
    legacy = _open_legacy(old)
    try:
        groups = _read_groups(legacy, report)
        runs = _read_runs(legacy, groups, report)
        created = not os.path.exists(new)
        conn = store.connect(new)
        try:
            with store.transaction(conn):
                group_ids = _write_groups(conn, groups, types, f"import-legacy {old}", report,
                                          {run.run: run.pid for run in runs})
                fresh_runs, skipped_runs = _write_runs(conn, runs, groups, group_ids, report)
                _write_results(conn, legacy, fresh_runs, skipped_runs, report)
        except BaseException:
            conn.close()
            if created:  # nothing written: no empty database left behind either
                store.remove_database(new)
            raise
        finally:
            conn.close()
    finally:
        legacy.close()
    return report


def summary(report):
    """:func:`import_legacy`'s ``report`` for people: what was imported, skipped, renumbered and dropped."""
    done, skipped, remapped = report["imported"], report["skipped"], report["remapped"]
    lines = [f"imported {report['source']} into {report['target']}: {done['groups']} groups ({done['params']} "
             f"params, {done['parents']} parent links), {done['runs']} runs ({done['results']} results)"]
    if any(skipped.values()):
        lines.append(f"already there (imported before), skipped: {skipped['groups']} groups, {skipped['runs']} runs")
    for kind in ("groups", "runs"):
        if remapped[kind]:
            pairs = ", ".join(f"{old} -> {new}" for old, new in list(remapped[kind].items())[:5])
            more = f" and {len(remapped[kind]) - 5} more (--json lists all)" if len(remapped[kind]) > 5 else ""
            lines.append(f"{kind} renumbered, as the target holds those ids: {pairs}{more}")
    dropped = report["ignored_parent_words"]
    if dropped:
        lines.append(f"{dropped} parent reference{'s' if dropped != 1 else ''} named no legacy group or run: "
                     "dropped (the lineage kept: `gf lineage ID`)")
    lines += [f"warning: {warning['message']}" for warning in report["warnings"]]
    return "\n".join(lines)


def _same_file(old, new):
    try:
        return os.path.samefile(old, new)
    except OSError:  # new does not exist yet
        return os.path.realpath(old) == os.path.realpath(new)


def _open_legacy(old):
    """A read-only connection to ``old``, once it is known to hold the legacy tables."""
    # immutable: reading leaves no -wal/-shm behind; only a pending -wal needs a live read
    mode = "?mode=ro" if os.path.exists(f"{old}-wal") else "?mode=ro&immutable=1"
    uri = "file:" + urllib.request.pathname2url(os.path.abspath(old)) + mode
    try:
        legacy = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as error:
        raise InputError(f"{old}: cannot open it read-only ({error})") from None
    try:
        kinds = dict(legacy.execute("SELECT name, type FROM sqlite_master"))
        if kinds.get("groups") == "table" and kinds.get("param_meta") == "view":
            raise InputError(f"{old}: already a gf database, not an original geneticfuckery one; nothing to import")
        missing = [table for table in LEGACY_COLUMNS if kinds.get(table) != "table"]
        if missing:
            raise InputError(
                f"{old}: not an original geneticfuckery database (it has no {', '.join(missing)} "
                f"table{'s' if len(missing) > 1 else ''})"
            )
        for table, wanted in LEGACY_COLUMNS.items():
            have = {row[1].lower() for row in legacy.execute(f"PRAGMA table_info({table})")}
            lacking = [column for column in wanted if column not in have]
            if lacking:
                raise InputError(
                    f"{old}: not an original geneticfuckery database (table {table} has no column "
                    f"{', '.join(lacking)})"
                )
    except sqlite3.DatabaseError as error:
        legacy.close()
        raise InputError(f"{old}: not an SQLite database, so not a geneticfuckery one ({error})") from None
    except BaseException:
        legacy.close()
        raise
    return legacy


# -- reading ------------------------------------------------------------------------


def _read_groups(legacy, report):
    """``{pid: _Group}`` of every pid in param_meta or params, in pid order."""
    meta, params, bad_ids = {}, {}, 0
    old = report["source"]
    for pid, generated, parents in legacy.execute("SELECT pid, generated, parents FROM param_meta"):
        row = f"param_meta row with pid {pid!r}"
        pid = _checked_id(pid, old, row)
        if pid is None:
            bad_ids += 1
            continue
        meta[pid] = (generated, _text(parents, old, row, "parents"))
    for pid, param, name, value in legacy.execute("SELECT pid, param, name, value FROM params"):
        # an SQLite integer always fits and text is text: only other rows are looked at (and described)
        if not isinstance(pid, int) or isinstance(param, bytes) or isinstance(name, bytes):
            row = f"params row with pid {pid!r}, param {param!r}, name {name!r}"
            pid = _checked_id(pid, old, row)
            if pid is not None:
                param, name = _text(param, old, row, "param"), _text(name, old, row, "name")
        if pid is None:
            bad_ids += 1
            continue
        params.setdefault(pid, []).append((param, name, value))
    if bad_ids:
        _warn(report, f"{bad_ids} param_meta or params rows have a pid that is not a whole number; left out")
    groups = {}
    for pid in sorted(meta.keys() | params.keys()):
        generated, parents = meta.get(pid, (None, None))
        rows = params.get(pid, [])
        digest = _digest("legacy group", pid, generated, parents, sorted(rows, key=repr))
        created, millis = _timestamp(generated)
        groups[pid] = _Group(pid=pid, uid=_uid(millis, digest), digest=digest, created=created or store.now(),
                             parents=parents, params=rows)
    return groups


def _read_runs(legacy, groups, report):
    """The runs of run_meta whose group is known, in run order."""
    runs, seen, orphans, bad_ids = [], set(), [], 0
    old = report["source"]
    for run, pid, start, stop, family, dataset in legacy.execute(
        "SELECT run, pid, start, stop, family, dataset FROM run_meta ORDER BY run"
    ):
        row = f"run_meta row with run {run!r}, pid {pid!r}"
        run, pid = _checked_id(run, old, row), _checked_id(pid, old, row)
        family, dataset = _text(family, old, row, "family"), _text(dataset, old, row, "dataset")
        if run is None or run in seen:
            bad_ids += 1
            continue
        seen.add(run)
        if pid not in groups:
            orphans.append(run)
            continue
        digest = _digest("legacy run", groups[pid].digest, run, start, family, dataset)
        runs.append(_Run(run, pid, _uid(_timestamp(start)[1], digest), start, stop, family, dataset))
    if bad_ids:
        _warn(report, f"{bad_ids} run_meta rows have a run id that is not a whole number or repeats one; left out")
    if orphans:
        _warn(report, f"runs {store.describe_ids(orphans)} name no legacy group; left out with their results")
    return runs


def _as_id(value):
    """A legacy id as an int, or None when it is not a whole number."""
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
        return int(value)
    return None


def _checked_id(value, old, row):
    """:func:`_as_id`, refusing an id beyond SQLite's integers (no gf id can be one) with ``row`` (the
    legacy row, described) of ``old`` named."""
    number = _as_id(value)
    if number is not None and not -(2**63) <= number < 2**63:
        raise InputError(f"{old}: {row}: the id {number} is beyond SQLite's integers (at most "
                         f"{2**63 - 1:,}); change or delete that row, then import again")
    return number


def _text(value, old, row, column):
    """A legacy text column's value: a blob (the old tool wrote none, but a hand-made file may hold
    them) is decoded as UTF-8, as gf keeps text; one that is no UTF-8 is refused with ``row`` (the
    legacy row, described) of ``old`` named."""
    if not isinstance(value, bytes):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{old}: {row}: its {column} is a blob that is not UTF-8 text; store it as text "
                         "there, then import again") from None


def _digest(*parts):
    return hashlib.sha256(repr(parts).encode()).digest()


def _uid(millis, digest):
    """A ULID whose time is ``millis`` (0 when unknown) and whose 80 other bits come from ``digest``."""
    if millis is None or not 0 <= millis < 1 << 48:
        millis = 0
    value = millis << 80 | int.from_bytes(digest[:10], "big")
    return "".join(store._CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def _timestamp(value):
    """``(text, milliseconds)``: a number of seconds (or milliseconds) becomes ISO 8601 UTC text;
    text is kept as it is. ``milliseconds`` is None when the moment cannot be read."""
    if value is None:
        return None, None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, (int, float)) or _NUMBER.fullmatch(value):
        seconds = float(value)
        if abs(seconds) >= _MILLISECONDS_FROM:
            seconds /= 1000
        try:
            moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
        except (OverflowError, OSError, ValueError):
            return str(value), None
        return moment.isoformat(timespec="milliseconds"), round(seconds * 1000)
    try:
        moment = datetime.datetime.fromisoformat(value.strip())
    except ValueError:
        return value, None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return value, round(moment.timestamp() * 1000)


# -- writing ------------------------------------------------------------------------


def _write_groups(conn, groups, types, origin, report, run_pids):
    """Insert the groups the target lacks; return ``{pid: group id in the target}``. ``run_pids`` maps
    each legacy run to its pid (a bred group's parents are named by the runs bred from)."""
    known = dict(conn.execute("SELECT uid, id FROM groups"))
    group_ids = {pid: known[group.uid] for pid, group in groups.items() if group.uid in known}
    fresh = [group for group in groups.values() if group.uid not in known]
    taken = {row[0] for row in conn.execute("SELECT id FROM groups")}
    keep_ids = taken.isdisjoint(group.pid for group in fresh)
    for group in fresh:
        group_id = conn.execute(
            "INSERT INTO groups (id, uid, created, origin) VALUES (?, ?, ?, ?)",
            (group.pid if keep_ids else None, group.uid, group.created, origin),
        ).lastrowid
        group_ids[group.pid] = group_id
        rows = _param_rows(group, group_id, types, report)
        conn.executemany(
            "INSERT INTO params (group_id, param, name, value, type, typed) VALUES (?, ?, ?, ?, ?, ?)", rows
        )
        conn.execute("UPDATE groups SET digest = ? WHERE id = ?",
                     (store.digest([(store.join_name(param, name), value) for _, param, name, value, _, _ in rows]),
                      group_id))
        report["imported"]["params"] += len(rows)
    # Lineage after every group exists: a parents text may name a later pid.
    for group in fresh:
        parents = _parents(group, group_ids, report, run_pids)
        conn.executemany(
            "INSERT INTO group_parents (group_id, parent_id, position) VALUES (?, ?, ?)",
            [(group_ids[group.pid], parent, position) for position, parent in enumerate(parents)],
        )
        report["imported"]["parents"] += len(parents)
    report["imported"]["groups"] = len(fresh)
    report["skipped"]["groups"] = len(groups) - len(fresh)
    report["skipped"]["params"] = sum(len(group.params) for group in groups.values() if group.uid in known)
    report["remapped"]["groups"] = {pid: new for pid, new in group_ids.items() if pid != new}
    return group_ids


def _param_rows(group, group_id, types, report):
    """``params`` rows of one legacy group: names lower-cased as gf reads them, values typed."""
    rows, seen = [], {}  # full names, in the legacy rows' order
    for param, name, raw in group.params:
        if name is None:
            _warn(report, f"legacy group {group.pid}: a param with no name under {param!r}; left out")
            continue
        full_name = store.join_name(str(param or ""), str(name)).lower()
        try:
            prefixes = _prefixes(full_name)
        except LoadError as error:
            raise InputError(f"{report['source']}: params row with pid {group.pid!r}, param {param!r}, name "
                             f"{name!r}: {error.message}; rename it there, then import again") from None
        if full_name in seen:
            _warn(report, f"legacy group {group.pid}: {full_name} is set twice (names differ in case only); "
                          "the first value is kept")
            continue
        seen[full_name] = prefixes
        param_type = types.for_param(full_name)
        value, error = _fit(raw, param_type)
        value_json = json.dumps(value)
        if error is None:
            typed = json.loads(paramtypes.typed_json(param_type, value, json.dumps))  # a plugin's bad extract: named
        else:
            try:  # what the old tool would have read: int(2.5) is 2
                typed = param_type.extract(value)
            except Exception:
                typed = value
            report["warnings"].append({
                "pid": group.pid,
                "group": group_id,
                "name": full_name,
                "value": value_json,
                "type": param_type.name,
                "message": f"legacy group {group.pid}: {full_name} = {value_json} does not fit type "
                           f"{param_type.name} ({error}); kept as it is",
            })
        rows.append((group_id, *store.split_name(full_name), value_json, param_type.name, json.dumps(typed)))
    for full_name, prefixes in seen.items():  # as gf load: a name cannot be both a value and a group of values
        for prefix in prefixes:
            if prefix in seen:
                raise InputError(f"{report['source']}: legacy group {group.pid}: {full_name} puts a group under "
                                 f"{prefix}, which is already a value; rename one of them in its params rows, "
                                 "then import again")
    return rows


@functools.lru_cache(maxsize=1 << 16)  # legacy groups share their names: each is checked once
def _prefixes(full_name):
    """The names ``full_name`` nests under (``a__b__c``: ``a``, ``a__b``), once it passes gf load's name check
    (``gf export`` of an imported group must load again).

    :raises LoadError: it is no parameter name.
    """
    loader.check_name(full_name, ("", 0))
    parts = full_name.split("__")
    return tuple("__".join(parts[:end]) for end in range(1, len(parts)))


def _fit(raw, param_type):
    """``(value, None)`` validated for ``param_type``, or ``(value as stored, the reason it does not fit)``.

    A legacy value is a number, JSON text, or JSON text of a string that holds JSON
    (``"[\\"a\\", \\"b\\"]"``): each reading is tried in turn, the first that fits wins.
    """
    readings = _readings(raw)
    error = None
    for value in readings:
        try:
            return paramtypes.validated(param_type, value), None  # a validate returning None is named
        except (ValueError, TypeError) as reason:
            error = reason
    return readings[-1], error


def _readings(raw):
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if not isinstance(raw, str):
        return [raw]
    readings, text = [], raw
    for _ in range(3):
        try:
            value = json.loads(text)
        except ValueError:
            break
        readings.append(value)
        if not isinstance(value, str):
            break
        text = value
    return readings or [raw]


#: The keys of a group the original tool bred that name its parents: the runs whose groups were crossed
#: (its ``breed()`` stored ``{"highest": ..., "a": ..., "b": ..., "pA": run, "pB": run}``).
PARENT_RUN_KEYS = ("pA", "pB")


def _parents(group, group_ids, report, run_pids):
    """Target ids of the legacy groups the parents text names, in its order.

    The original tool wrote JSON: a loaded group's ``{"origin": ...}`` (no parents) and a bred one's
    ``pA`` and ``pB``, the runs its two parents were picked by; other text is read as words, each
    the pid of a group or not (counted in ``ignored_parent_words``)."""
    try:
        found = json.loads(group.parents) if isinstance(group.parents, str) else None
    except ValueError:
        found = None
    if isinstance(found, dict):  # each run named, as the pid of its group (None: a run no longer in run_meta)
        named = [run_pids.get(run) if isinstance(run, int) and not isinstance(run, bool) else None
                 for run in (found[key] for key in PARENT_RUN_KEYS if key in found)]
    else:
        words = [word.strip("[](){}\"'") for word in re.split(r"[\s,;]+", "" if group.parents is None
                                                               else str(group.parents))]
        named = [int(word) if re.fullmatch(r"[0-9]+", word) else None for word in words if word]
    parents = []
    for pid in named:
        if pid in group_ids and pid != group.pid:
            if group_ids[pid] not in parents:
                parents.append(group_ids[pid])
        else:
            report["ignored_parent_words"] += 1
    return parents


def _write_runs(conn, runs, groups, group_ids, report):
    """Insert the runs the target lacks; return ``({legacy run: new id}, {legacy runs already there})``."""
    known = dict(conn.execute("SELECT uid, id FROM runs"))
    fresh = [run for run in runs if run.uid not in known]
    skipped = {run.run for run in runs if run.uid in known}
    taken = {row[0] for row in conn.execute("SELECT id FROM runs")}
    keep_ids = taken.isdisjoint(run.run for run in fresh)
    fresh_ids = {}
    for run in fresh:
        started, _ = _timestamp(run.start)
        stopped, _ = _timestamp(run.stop)
        if started is None:
            started = stopped or groups[run.pid].created
            _warn(report, f"legacy run {run.run} has no start time; {started} used")
        row = {
            "uid": run.uid,
            "group_id": group_ids[run.pid],
            "dataset": run.dataset,
            "family": run.family,
            "started": started,
            "stopped": stopped,
            "status": "ok",
        }
        if keep_ids:
            row["id"] = run.run
        fresh_ids[run.run] = store.insert_run(conn, row)
    report["imported"]["runs"] = len(fresh)
    report["skipped"]["runs"] = len(skipped)
    run_ids = {**{run.run: known[run.uid] for run in runs if run.uid in known}, **fresh_ids}
    report["remapped"]["runs"] = {old: new for old, new in run_ids.items() if old != new}
    return fresh_ids, skipped


def _write_results(conn, legacy, fresh_ids, skipped_runs, report):
    """Copy the results of the runs just inserted, streaming, in the legacy table's order."""
    counts = {"fed": 0, "skipped": 0, "orphans": 0, "unnamed": 0, "unscored": 0}
    old = report["source"]

    def rows():
        for run, algo, name, value in legacy.execute("SELECT run, algo, name, value FROM results"):
            run = _as_id(run)
            if run in fresh_ids:
                if isinstance(algo, bytes) or isinstance(name, bytes):  # (not described for every row: millions)
                    row = f"results row with run {run!r}, algo {algo!r}, name {name!r}"
                    algo, name = _text(algo, old, row, "algo"), _text(name, old, row, "name")
                if algo is None or name is None:
                    counts["unnamed"] += 1
                    continue
                counts["fed"] += 1
                number = _result_number(value)
                if number is None and value is not None:
                    counts["unscored"] += 1
                yield fresh_ids[run], algo, name, number
            elif run in skipped_runs:
                counts["skipped"] += 1
            else:
                counts["orphans"] += 1

    before = conn.total_changes
    # gf holds one value per (run, algo, name): a repeat in the legacy table keeps the first.
    conn.executemany("INSERT OR IGNORE INTO results (run, algo, name, value) VALUES (?, ?, ?, ?)", rows())
    imported = conn.total_changes - before
    report["imported"]["results"] = imported
    report["skipped"]["results"] = counts["skipped"]
    if counts["fed"] > imported:
        _warn(report, f"{counts['fed'] - imported} legacy results repeat an earlier (run, algo, name); "
                      "the first value of each is kept")
    if counts["unnamed"]:
        _warn(report, f"{counts['unnamed']} legacy results have no algo or no name; left out")
    if counts["unscored"]:
        _warn(report, f"{counts['unscored']} legacy results are no finite number (text, or infinite); stored as "
                      "NULL, as report() stores NaN: never ranked")
    if counts["orphans"]:
        _warn(report, f"{counts['orphans']} legacy results belong to no imported run; left out")


def _result_number(value):
    """A legacy result as gf stores one: a finite number (numeric text read as its number), else ``None``."""
    import math

    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, int):
        return value if -2**63 <= value < 2**63 else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return None


def _warn(report, message):
    report["warnings"].append({"message": message})
