"""Combining work: databases from several machines (``gf merge``) and the best params of
each inner algo into one group (``gf merge-performers``).
"""

import fnmatch
import json
import os
import random
import statistics
from collections import Counter

from gf import breeding, loader, metrics, plugins, store
from gf.errors import InputError, some_of

# -- gf merge -------------------------------------------------------------------------


def merge_databases(out_path, in_paths):
    """Copy groups, lineage, loops, runs, results and tags of ``in_paths`` into ``out_path``.

    Groups, runs and loops are matched by their ULIDs, so merging the same input
    twice adds nothing; integer ids are remapped. A group with the values and
    constraints of one the output had before this input, in the same place (see
    :func:`_same_group`: bred on two copies resuming one loop, from the same scores), is
    that group: its runs are added to it. Everything is one transaction.

    :returns: ``[{"database", "groups", "groups_skipped", "runs", "runs_skipped"}]``.
    """
    out_real = os.path.realpath(out_path)
    for path in in_paths:
        if os.path.realpath(path) == out_real:
            raise InputError(f"{path}: cannot merge a database into itself")
    sources = [(path, store.connect(path, create=False, missing="check the path of each database to merge"))
               for path in in_paths]
    created = not os.path.exists(out_path)
    out = store.connect(out_path)
    reports = []
    try:
        with store.transaction(out):
            for path, source in sources:
                reports.append({"database": str(path), **_merge_one(out, source)})
    except BaseException:
        if created:  # an input damaged past its first pages: no empty database left behind
            out.close()
            store.remove_database(out_path)
        raise
    finally:
        for _, source in sources:
            source.close()
    return reports


def _ids_by_uid(conn, table):
    return dict(conn.execute(f"SELECT uid, id FROM {table}"))


def _same_group(out, source, old_id, fingerprint, place, before):
    """The id of a group of ``out`` (one it had before this merge: ``id <= before``) with the values
    (digest) and constraints (their meaning, as `gf load` compares them) of ``source``'s group
    ``old_id``, and the same place: ``(loop id in out, generation)``, both ``None`` for a loaded
    group. A group bred in another loop stays a group of its own, or that loop would lose it."""
    if not fingerprint:
        return None

    def meaning(conn, group):  # a set: `x <= 2` and `x <= 2.0` are equal
        return {loader._meaning(loader.Constraint.from_stored(*row)) for row in conn.execute(
            "SELECT lhs, op, rhs FROM constraints WHERE group_id = ?", (group,))}

    wanted = meaning(source, old_id)
    for (candidate,) in out.execute("SELECT id FROM groups WHERE digest = ? AND id <= ? AND loop_id IS ? AND "
                                    "generation IS ? ORDER BY id", (fingerprint, before, *place)).fetchall():
        if meaning(out, candidate) == wanted:
            return candidate
    return None


def _merge_one(out, source):
    """Copy one source into ``out`` (inside the caller's transaction), reading the source in one
    snapshot: a loop writing it meanwhile cannot add a run whose group this merge did not read."""
    with store.snapshot(source):
        return _copy_source(out, source)


def _copy_source(out, source):
    loop_ids = _copy_loops(out, source)
    known_groups = _ids_by_uid(out, "groups")
    before = out.execute("SELECT coalesce(max(id), 0) FROM groups").fetchone()[0]
    group_ids, added_groups = {}, []
    for row in source.execute(
            "SELECT id, uid, created, origin, generation, breeder, loop_id, digest FROM groups ORDER BY id"):
        old_id, uid, created, origin, generation, breeder, loop_id, fingerprint = row
        if uid in known_groups:
            group_ids[old_id] = known_groups[uid]
            continue
        same = _same_group(out, source, old_id, fingerprint, (loop_ids.get(loop_id), generation), before)
        if same is not None:  # bred on both machines (the same scores propose the same children): one group
            group_ids[old_id] = same
            known_groups[uid] = same
            continue
        group_ids[old_id] = out.execute(
            "INSERT INTO groups (uid, created, origin, generation, breeder, loop_id, digest) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (uid, created, origin, generation, breeder, loop_ids.get(loop_id), fingerprint),
        ).lastrowid
        added_groups.append(old_id)
    for old_id in added_groups:
        new_id = group_ids[old_id]
        out.executemany(
            "INSERT INTO params (group_id, param, name, value, type, typed) VALUES (?, ?, ?, ?, ?, ?)",
            [(new_id, *row) for row in source.execute(
                "SELECT param, name, value, type, typed FROM params WHERE group_id = ?", (old_id,))],
        )
        out.executemany(
            "INSERT INTO constraints (group_id, position, lhs, op, rhs) VALUES (?, ?, ?, ?, ?)",
            [(new_id, *row) for row in source.execute(
                "SELECT position, lhs, op, rhs FROM constraints WHERE group_id = ?", (old_id,))],
        )
        out.executemany(
            "INSERT INTO group_parents (group_id, parent_id, position) VALUES (?, ?, ?)",
            [(new_id, group_ids[parent], position) for parent, position in source.execute(
                "SELECT parent_id, position FROM group_parents WHERE group_id = ?", (old_id,))],
        )
    known_runs = _ids_by_uid(out, "runs")
    columns = ("uid", "group_id", "dataset", "family", "label", "started", "stopped", "status", "host",
               "process_id", "command", "exit_code", "error", "launch")
    added_runs = skipped_runs = 0
    for row in source.execute(f"SELECT id, {', '.join(columns)} FROM runs ORDER BY id").fetchall():
        old_run, values = row[0], dict(zip(columns, row[1:]))
        if values["uid"] in known_runs:
            skipped_runs += 1
            continue
        values["group_id"] = group_ids[values["group_id"]]
        results = source.execute("SELECT algo, name, value FROM results WHERE run = ? ORDER BY rowid", (old_run,))
        store.insert_run(out, values, results.fetchall())
        added_runs += 1
    out.executemany("INSERT OR IGNORE INTO tags (algo, pattern) VALUES (?, ?)",
                    source.execute("SELECT algo, pattern FROM tags").fetchall())
    return {"groups": len(added_groups), "groups_skipped": len(group_ids) - len(added_groups),
            "runs": added_runs, "runs_skipped": skipped_runs}


#: The reason a loop copied while it ran gets (resuming it in the merged database clears it).
MERGED_WHILE_RUNNING = ("copied by gf merge while it ran on another database: nothing runs it in this one; "
                        "rerun its command here to go on from this copy")


def _copy_loops(out, source):
    known = _ids_by_uid(out, "loops")
    mapping = {}
    # not host and process_id: the gf running a loop runs it on the input database, not on the merged one
    columns = "uid, key, args, started, stopped, target, status, best, stale, counted, reason"
    for old_id, *row in source.execute(f"SELECT id, {columns} FROM loops"):
        uid, status = row[0], row[6]
        if status == "running":  # says so in gf loops, where it would look like a loop under way here
            row[10] = MERGED_WHILE_RUNNING
        if uid in known:
            mapping[old_id] = known[uid]
            # a copy of a loop merged before: keep the state of whichever copy got further
            # (counted more generations, or finished), whatever the order of the merges
            out.execute(
                "UPDATE loops SET stopped = ?, status = ?, best = ?, stale = ?, counted = ?, reason = ? "
                "WHERE id = ? AND (counted < ? OR (counted = ? AND ? = 'done' AND status != 'done'))",
                (row[4], status, *row[7:], known[uid], row[9], row[9], status))
            continue
        mapping[old_id] = out.execute(f"INSERT INTO loops ({columns}) VALUES ({', '.join('?' * len(row))})",
                                      row).lastrowid
    return mapping


# -- gf merge-performers --------------------------------------------------------------


def combine(values, type_name):
    """Numbers by median (rounded for ``int``; for a plugin's type, the lower middle value, one a group
    had, so it is a value the type holds: an even number stays even), anything else by the most common
    value."""
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    if numeric and type_name in ("float", "real_0", "real_1"):
        return float(statistics.median(values))
    if numeric and type_name == "int":
        return int(round(statistics.median(values)))
    if numeric and type_name not in ("bool", "choice"):
        return statistics.median_low(values)
    counts = Counter(json.dumps(value, sort_keys=True) for value in values)
    best = max(counts.values())
    # ties go to the value of the better group (values arrive best first)
    return next(value for value in values if counts[json.dumps(value, sort_keys=True)] == best)


def merge_performers(conn, mapping, metric, *, top=3, datasets=None, minimize=False):
    """One group made of every algo's best params.

    For each algo of ``mapping`` (``{algo: [param patterns]}``), the params it names come
    from that algo's top ``top`` groups on each dataset (by ``metric`` restricted to the
    algo); the remaining params from the best group overall. The child is repaired by the
    constraint fixers (the original tool dropped constraints here).

    :returns: ``(params, parents, constraints, sources)`` where ``sources`` says which
        groups each algo's params came from.
    """
    if isinstance(metric, metrics.ResultMetric) and metric.algo is not None:
        raise InputError(f"merge-performers ranks each algo by its own results, and metric {metric.name!r} scores "
                         f"every group by algo {metric.algo!r}: pass --metric {metric.result}")
    datasets = list(datasets or store.datasets(conn))
    overall = metrics.overall(conn, metric, datasets, minimize)
    if not overall:
        raise InputError(f"no run is scored by metric {metric.name!r} on {', '.join(datasets) or 'any dataset'}")
    base_group = overall[0][0]
    params = breeding.group_values(conn, base_group)
    types = plugins.get_types()
    parents, sources, rows_of = [base_group], {}, {}
    for algo, patterns in mapping.items():
        ranked = []
        for dataset in datasets:
            for group in _algo_top(conn, metric, algo.lower(), dataset, top, minimize, rows_of):
                if group not in ranked:
                    ranked.append(group)
        if not ranked:
            raise InputError(f"algo {algo!r} is not scored by metric {metric.name!r} on {', '.join(datasets)}")
        sources[algo] = ranked
        values_of = breeding.many_group_values(conn, ranked)
        groups = [values_of[group] for group in ranked]
        names = [name for name in params if any(fnmatch.fnmatchcase(name, p.lower()) for p in patterns)]
        if not names:
            raise InputError(f"algo {algo!r}: patterns {patterns} match no parameter")
        idle = [p for p in patterns if not any(fnmatch.fnmatchcase(name, p.lower()) for name in params)]
        if idle:  # a typo would leave those params to the best group overall, silently
            raise InputError(f"algo {algo!r}: pattern {idle[0]!r} matches no parameter; params there: "
                             f"{some_of(list(params), idle[0])}")
        for name in names:
            values = [values[name] for values in groups if name in values]
            params[name] = combine(values, types.for_param(name).name)
        parents += [group for group in ranked if group not in parents]
    breeding.check_stored_types(conn, parents, types)
    constraints = breeding.constraints_of(conn, parents)
    plugins.call_hook("gf_fix_child", params=params, constraints=constraints, types=types, rng=random.Random(0))
    broken = breeding.violations(params, constraints, types)
    if broken:
        raise InputError(f"the merged group breaks what the fixers cannot repair (its constraints or types): "
                         f"{'; '.join(broken)}")
    return params, parents, constraints, sources


def _algo_top(conn, metric, algo, dataset, top, minimize, rows_of):
    """The ``top`` groups on ``dataset`` by ``metric``'s rows for ``algo``, best first.

    A result name ranks the algo's own value of it (``crossover.profit`` for algo
    crossover); any other metric is asked for every row of the dataset and its rows for
    the algo kept (``"max profit min trades"`` scores each algo; a ``--metric-sql`` query
    may return an ``algo`` column), once per dataset: ``rows_of`` keeps them for the next
    algo. A metric whose rows name no algo cannot tell the algos apart, so it is refused.
    """
    if isinstance(metric, metrics.ResultMetric):
        return [row.group for row in metrics.ResultMetric(metric.result, algo).rank(
            conn, dataset=dataset, limit=top, minimize=minimize)]
    if dataset not in rows_of:
        rows_of[dataset] = metric.rank(conn, dataset=dataset, minimize=minimize, per_group=False)
    rows = rows_of[dataset]
    if rows and all(row.algo is None for row in rows):
        raise InputError(f"metric {metric.name!r} scores runs, not algos, so it cannot rank each algo's groups: "
                         "return an `algo` column from the query, or pass --metric with a result name "
                         "(e.g. --metric profit)")
    found = []
    for row in rows:
        if row.algo is not None and str(row.algo).lower() == algo and row.group not in found:
            found.append(row.group)
            if len(found) == top:
                break
    return found


def loader_text(params, constraints, header_lines):
    """The merged group in the loader format."""
    lines = [f"# {line}" for line in header_lines]
    lines += [f"{name} = {json.dumps(value)}" for name, value in params.items()]
    if constraints:
        lines += ["", "# constraints"] + [str(constraint) for constraint in constraints]
    return "\n".join(lines) + "\n"


def load_merged(conn, params, parents, constraints, origin):
    """Store the merged group (one transaction) with its parents; return ``(its id, warnings)``. A group
    with these values and constraints already is that group, as in ``gf load``: nothing is stored."""
    rows = breeding.param_rows(params, plugins.get_types())
    warnings = []
    with store.transaction(conn):
        group = loader.existing_group(conn, rows, constraints, warnings)
        if group is None:
            group = store.insert_group(conn, params=rows, constraints=[c.stored() for c in constraints],
                                       origin=origin, parents=parents)
    return group, warnings

