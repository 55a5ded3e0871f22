"""Metrics: from the database to a ranking of runs, per dataset.

A metric is a result name (``profit``; ``crossover.profit`` for one algo), a named
metric registered by a plugin (the built-in ``"max profit min trades"``), or the
user's own SQL from a file (``--metric-sql FILE``) — so nobody edits gf to score
differently. Ranking is per dataset: the top N of every dataset become parents.
"""

import re
from dataclasses import dataclass

from gf.errors import InputError


@dataclass(frozen=True)
class Ranked:
    """One ranked row: a run of a group on a dataset, scored by a metric."""

    group: int
    run: int
    dataset: str
    algo: str
    score: float


class Metric:
    """Base class of a metric; register instances with the ``gf_register_metrics`` hook.

    :ivar name: what ``--metric`` selects.
    :ivar description: one line for ``gf metrics list``.
    """

    name = ""
    description = ""

    def rank(self, conn, *, dataset=None, group=None, limit=None, minimize=False, per_group=True):
        """Return :class:`Ranked` rows, best first.

        :param conn: an open gf database connection (read only here).
        :param dataset: only runs on this dataset (``None``: every dataset).
        :param group: only runs of this group.
        :param limit: at most this many rows.
        :param minimize: lower scores are better.
        :param per_group: one row per group (its best) instead of one per run and algo.
        """
        raise NotImplementedError

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r}>"


def filters(dataset=None, group=None, runs_alias="r"):
    """SQL ``AND ...`` conditions and arguments for the common dataset and group filters."""
    sql, args = [], []
    if dataset is not None:
        sql.append(f"{runs_alias}.dataset = ?")
        args.append(dataset)
    if group is not None:
        sql.append(f"{runs_alias}.group_id = ?")
        args.append(group)
    return "".join(f" AND {condition}" for condition in sql), args


class ResultMetric(Metric):
    """A result name, optionally of one algo: the score is that result's value."""

    def __init__(self, result, algo=None):
        self.result = result
        self.algo = algo
        self.name = f"{algo}.{result}" if algo else result
        self.description = f"the value of result {self.name}"

    def rank(self, conn, *, dataset=None, group=None, limit=None, minimize=False, per_group=True):
        where, args = filters(dataset, group)
        if self.algo is not None:
            where += " AND res.algo = ?"
            args.append(self.algo)
        best = "min" if minimize else "max"
        score = f"{best}(res.value)" if per_group else "res.value"
        sql = f"""
            SELECT r.group_id, res.run, r.dataset, res.algo, {score} AS score
            FROM runs r JOIN results res ON res.run = r.id
            WHERE r.status = 'ok' AND res.name = ? AND res.value IS NOT NULL{where}
            {"GROUP BY r.group_id" if per_group else ""}
            ORDER BY score {"ASC" if minimize else "DESC"}, r.group_id, res.run
            LIMIT ?"""
        rows = conn.execute(sql, [self.result, *args, -1 if limit is None else limit])
        return [Ranked(*row) for row in rows]


class SqlFileMetric(Metric):
    """The user's own scoring query: parameters ``:dataset`` and ``:limit``; rows ``(run, score)``.

    The query returns run ids with a score, best first; gf keeps the first row of
    each group. Higher scores are better unless ``--minimize``.
    """

    def __init__(self, path):
        self.path = str(path)
        self.name = f"sql:{self.path}"
        self.description = f"the query in {self.path}"
        try:
            with open(path, encoding="utf-8") as handle:
                self.sql = handle.read()
        except (OSError, UnicodeDecodeError) as error:
            raise InputError(f"{path}: cannot read metric SQL: {getattr(error, 'strerror', None) or error}") from None

    def _query(self, conn, dataset, limit):
        import sqlite3

        conn.execute("PRAGMA query_only = 1")  # a scoring query must not change the database
        try:
            cursor = conn.execute(self.sql, {"dataset": dataset, "limit": -1 if limit is None else limit})
            names = [column[0].lower() for column in cursor.description or ()]
            rows = cursor.fetchall()
        except sqlite3.Error as error:
            raise InputError(f"{self.path}: SQL error: {error}") from None
        finally:
            conn.execute("PRAGMA query_only = 0")
        if len(names) < 2:
            raise InputError(f"{self.path}: the query must return (run, score) columns, got {names}")
        run_at = names.index("run") if "run" in names else 0
        score_at = names.index("score") if "score" in names else 1
        return [(row[run_at], row[score_at]) for row in rows if row[score_at] is not None]

    def rank(self, conn, *, dataset=None, group=None, limit=None, minimize=False, per_group=True):
        from gf import store

        datasets = [dataset] if dataset is not None else store.datasets(conn)
        scored = []
        for name in datasets:
            scored += self._query(conn, name, None if group is not None or per_group or len(datasets) > 1 else limit)
        runs = _run_info(conn, [run for run, _ in scored])
        ranked, seen = [], set()
        for run, score in scored:
            info = runs.get(run)
            if info is None or (group is not None and info[0] != group):
                continue
            if per_group and info[0] in seen:
                continue
            seen.add(info[0])
            ranked.append(Ranked(info[0], run, info[1], None, score))
        if len(datasets) > 1 or group is not None:
            ranked.sort(key=lambda row: row.score, reverse=not minimize)
        return ranked[:limit] if limit is not None else ranked


def _run_info(conn, run_ids):
    info = {}
    ids = list(dict.fromkeys(run_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for run, group, dataset in conn.execute(
            f"SELECT id, group_id, dataset FROM runs WHERE status = 'ok' AND id IN ({marks})", chunk
        ):
            info[run] = (group, dataset)
    return info


_RESULT = re.compile(r"^(?:([A-Za-z0-9_\-]+)\.)?([A-Za-z0-9_\-]+)$")


def resolve(spec=None, *, sql_file=None, algo=None):
    """The :class:`Metric` a ``--metric``/``--metric-sql``/``--algo`` combination names.

    :raises InputError: an unknown or malformed metric, with what to use instead.
    """
    if sql_file is not None:
        if spec:
            raise InputError("give either --metric or --metric-sql, not both")
        return SqlFileMetric(sql_file)
    if not spec:
        raise InputError("no metric: pass --metric NAME (a result name such as profit) or --metric-sql FILE")
    from gf import plugins

    registered = plugins.get_metrics()
    if spec in registered:
        return registered[spec]
    match = _RESULT.match(spec.strip())
    if not match:
        known = ", ".join(repr(name) for name in registered) or "none"
        raise InputError(
            f"unknown metric {spec!r}: use a result name (profit, crossover.profit), "
            f"a registered metric ({known}; see `gf metrics list`), or --metric-sql FILE"
        )
    spec_algo, result = match.groups()
    if spec_algo and algo and spec_algo.lower() != algo.lower():
        raise InputError(f"--metric {spec} names algo {spec_algo} but --algo says {algo}")
    chosen = spec_algo or algo
    return ResultMetric(result.lower(), chosen.lower() if chosen else None)


def top_per_dataset(conn, metric, datasets, n, minimize=False):
    """``{dataset: [Ranked]}``: the best ``n`` groups of every dataset (one row per group)."""
    return {dataset: metric.rank(conn, dataset=dataset, limit=n, minimize=minimize) for dataset in datasets}


def overall(conn, metric, datasets, minimize=False):
    """Groups ranked over several datasets: ``[(group, mean_score, {dataset: score})]``, best first.

    Only groups scored on the most datasets compete (a group evaluated on one easy
    dataset does not beat one that is good on all of them).
    """
    scores = {}
    for dataset in datasets:
        for row in metric.rank(conn, dataset=dataset, minimize=minimize):
            scores.setdefault(row.group, {})[dataset] = row.score
    if not scores:
        return []
    coverage = max(len(by_dataset) for by_dataset in scores.values())
    ranked = [
        (group, sum(by_dataset.values()) / len(by_dataset), by_dataset)
        for group, by_dataset in scores.items()
        if len(by_dataset) == coverage
    ]
    ranked.sort(key=lambda item: (item[1] if minimize else -item[1], item[0]))
    return ranked


def result_names(conn):
    """``algo.name`` of every result recorded, for suggestions when a metric finds nothing."""
    return [f"{algo}.{name}" for algo, name in conn.execute(
        "SELECT DISTINCT algo, name FROM results ORDER BY algo, name LIMIT 50")]
