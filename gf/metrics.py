"""Metrics: from the database to a ranking of runs, per dataset.

A metric is a result name (``profit``; ``crossover.profit`` for one algo), a named
metric registered by a plugin (the built-in ``"max profit min trades"``), or the
user's own SQL from a file (``--metric-sql FILE``) — so nobody edits gf to score
differently. Ranking is per dataset: the top N of every dataset become parents.

The top N (what breeding, ``gf top`` and ``best()`` ask for) is read **best first**:
the result's values in order from the ``results_best_first`` index (each algo's in
order, merged), stopping once N groups of the dataset turned up, instead of
aggregating every run of the dataset (milliseconds instead of a tenth of a second per
dataset at 1,000,000 results). A walk reads the rows of every dataset, so one that
finds too few of its dataset's rows within a budget gives up, and the plain query
answers instead. A row read out of order costs about twice what the plain query
spends on one run of the dataset (its pages are scattered over the file, the
dataset's are not), so the budget is a quarter as many rows as the dataset has ok
runs: at worst a ranking takes about 1.5 times the plain query. Each walk names its
index (``INDEXED BY``) and its join order (``CROSS JOIN``), and the index is on the
expressions ``+name, +algo, +value``, so no query written with the plain columns
(any other, gf's or not) can plan on it.
"""

import math
import re
from dataclasses import dataclass

from gf.errors import InputError, PluginError, some_of
from gf.store import BEST_FIRST_INDEX

#: Best-first walks may read at least this many rows before they give up.
MIN_WALK = 100


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


def result_algos(conn, result):
    """The algos that recorded result ``result``, ascending (a skip through the best-first index)."""
    sql = f"""
        WITH RECURSIVE found(algo) AS (
            SELECT (SELECT min(+algo) FROM results INDEXED BY {BEST_FIRST_INDEX} WHERE +name = ?1)
            UNION ALL
            SELECT (SELECT min(+algo) FROM results INDEXED BY {BEST_FIRST_INDEX}
                    WHERE +name = ?1 AND +algo > found.algo)
            FROM found WHERE found.algo IS NOT NULL)
        SELECT algo FROM found WHERE algo IS NOT NULL"""
    return [algo for (algo,) in conn.execute(sql, (result,))]


def walk_budget(conn, dataset):
    """How many result rows best-first walks may read for ``dataset`` (``None``: every dataset)
    before the plain query would have been as quick: a quarter of its ok runs (at least :data:`MIN_WALK`)."""
    sql = "SELECT count(*) FROM runs WHERE status = 'ok'"
    (runs,) = conn.execute(sql + " AND dataset = ?" if dataset is not None else sql,
                           () if dataset is None else (dataset,)).fetchone()
    return max(MIN_WALK, runs // 4)


def sqlite_order(value):
    """A sort key that orders values as SQLite does: numbers, then text, then blobs."""
    if isinstance(value, str):
        return 1, value
    if isinstance(value, bytes):
        return 2, value
    return 0, value


class ResultMetric(Metric):
    """A result name, optionally of one algo: the score is that result's value."""

    def __init__(self, result, algo=None):
        self.result = result
        self.algo = algo
        self.name = f"{algo}.{result}" if algo else result
        self.description = f"the value of result {self.name}"

    def rank(self, conn, *, dataset=None, group=None, limit=None, minimize=False, per_group=True):
        if per_group and group is None and limit is not None and limit > 0:
            ranked = self._best_first(conn, dataset, limit, minimize)
            if ranked is not None:
                return ranked
        return self._aggregated(conn, dataset, group, limit, minimize, per_group)

    def _aggregated(self, conn, dataset, group, limit, minimize, per_group):
        """The plain query: every run of the dataset (or group), aggregated per group."""
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

    def _best_first(self, conn, dataset, limit, minimize):
        """The top ``limit`` groups read best first, as the plain query ranks them; ``None``
        when the walks ran past their budget.

        Each algo's values come best first from the index; merged, they are every value of
        the result best first (ties: lower group, run, algo), so a group first turns up with
        its best value's lowest run (then algo): the row the plain query reports for a
        dataset. The walk stops once ``limit`` groups turned up.
        """
        algos = [self.algo] if self.algo is not None else result_algos(conn, self.result)
        budget = walk_budget(conn, dataset)
        # Rows the plain query leaves out (NULL values, other datasets, failed runs) come back
        # flagged, not filtered, so that the budget counts them: a walk up an ascending order
        # reads the NULLs first.
        wanted = "res.value IS NOT NULL AND r.status = 'ok'" + (" AND r.dataset = ?" if dataset is not None else "")
        sql = f"""
            SELECT {wanted}, r.group_id, res.run, r.dataset, res.algo, res.value
            FROM results AS res INDEXED BY {BEST_FIRST_INDEX} CROSS JOIN runs AS r ON r.id = res.run
            WHERE +res.name = ? AND +res.algo = ?
            ORDER BY +res.value {"ASC" if minimize else "DESC"}, r.group_id, res.run"""
        cursors = [conn.execute(sql, (*(() if dataset is None else (dataset,)), self.result, algo))
                   for algo in algos]
        ranked, seen = [], set()

        def next_row(cursor):
            """The cursor's next row of a group not ranked yet, or ``None``; counts every row read."""
            nonlocal budget
            for row in cursor:
                budget -= 1
                if budget < 0:
                    raise _OverBudget
                if row[0] and row[1] not in seen:
                    return row
            return None

        try:
            heads = {cursor: next_row(cursor) for cursor in cursors}
            heads = {cursor: row for cursor, row in heads.items() if row is not None}
            while heads and len(ranked) < limit:
                cursor = min(heads, key=lambda c: _Ahead(heads[c], minimize))
                row = heads.pop(cursor)
                if row[1] not in seen:
                    seen.add(row[1])
                    ranked.append(Ranked(*row[1:]))
                following = next_row(cursor)
                if following is not None:
                    heads[cursor] = following
        except _OverBudget:
            return None
        finally:
            for cursor in cursors:
                cursor.close()
        return ranked


class _OverBudget(Exception):
    """A best-first walk read its budget of rows."""


class _Ahead:
    """A sort key: a walk's row before another when its value is better (SQLite's order), then its
    group, run and algo lower."""

    __slots__ = ("row", "minimize")

    def __init__(self, row, minimize):
        self.row, self.minimize = row, minimize

    def __lt__(self, other):
        mine, theirs = self.row, other.row
        if _better(mine[5], theirs[5], self.minimize):
            return True
        if _better(theirs[5], mine[5], self.minimize):
            return False
        return (mine[1], mine[2], mine[4]) < (theirs[1], theirs[2], theirs[4])


def _better(value, other, minimize):
    """Whether ``value`` ranks strictly before ``other``, in SQLite's order of values."""
    mine, theirs = sqlite_order(value), sqlite_order(other)
    return mine < theirs if minimize else mine > theirs


class SqlFileMetric(Metric):
    """The user's own scoring query: parameters ``:dataset`` and ``:limit``; rows ``(run, score)``.

    The query returns run ids with a score, best first (and, in a column named ``algo``,
    the algo scored, if it scores algos: `gf merge-performers` needs that); gf keeps the
    first row of each group. Higher scores are better unless ``--minimize``, and the rows must say
    the same: a query that returns lower scores first without ``--minimize`` (or higher
    first with it), or rows in no order of score, is refused, as the breeder and
    every ranking across datasets go by ``--minimize`` (and would silently breed from
    the worst groups).
    """

    def __init__(self, path, sql=None):
        """:param path: the query's file; ``sql``: its text, if already known (then the file is not read: a
        loop's stored query scores as the loop did, wherever gf runs and whatever the file says now)."""
        self.path = str(path)
        self.name = f"sql:{self.path}"
        self.description = f"the query in {self.path}"
        if sql is not None:
            self.sql = sql
            return
        try:
            with open(path, encoding="utf-8") as handle:
                self.sql = handle.read()
        except (OSError, UnicodeDecodeError) as error:
            raise InputError(f"{path}: cannot read metric SQL: {getattr(error, 'strerror', None) or error}") from None

    def _query(self, conn, dataset, limit, minimize):
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
        algo_at = names.index("algo") if "algo" in names else None
        scored = [(row[run_at], row[score_at], None if algo_at is None else row[algo_at])
                  for row in rows if row[score_at] is not None]
        self._check_order([score for _run, score, _algo in scored], dataset, minimize)
        return scored

    def _check_order(self, scores, dataset, minimize):
        """Refuse rows that are not best first as ``minimize`` says (see the class)."""
        keys = [sqlite_order(score) for score in scores]
        pairs = list(zip(keys, keys[1:]))
        if all((a <= b) if minimize else (a >= b) for a, b in pairs):
            return
        flag, order = ("--minimize", "ASC") if minimize else ("no --minimize", "DESC")
        if all((a >= b) if minimize else (a <= b) for a, b in pairs):
            other = "higher" if minimize else "lower"
            raise InputError(
                f"{self.path}: the query returns {other} scores first on dataset {dataset!r}, but with {flag} "
                f"{'lower' if minimize else 'higher'} scores are better: "
                f"{'drop --minimize' if minimize else 'pass --minimize'} if {other} is better, "
                f"else ORDER BY the score {order}")
        raise InputError(f"{self.path}: the rows for dataset {dataset!r} are not in order of score; the query must "
                         f"return them best first: ORDER BY the score {order} ({flag})")

    def rank(self, conn, *, dataset=None, group=None, limit=None, minimize=False, per_group=True):
        from gf import store

        datasets = [dataset] if dataset is not None else store.datasets(conn)
        scored = []
        for name in datasets:
            scored += [(*row, name) for row in self._query(
                conn, name, None if group is not None or per_group or len(datasets) > 1 else limit, minimize)]
        runs = _run_info(conn, [run for run, _score, _algo, _asked in scored])
        ranked, seen = [], set()
        for run, score, algo, asked in scored:
            info = runs.get(run)
            if info is not None and info[1] != asked:  # one dataset's best run scored every dataset, silently
                raise InputError(f"{self.path}: for dataset {asked!r} the query returned run {run}, which ran on "
                                 f"{info[1]!r}; keep to the dataset asked for (WHERE runs.dataset = :dataset)")
            if info is None or (group is not None and info[0] != group):
                continue
            if per_group and info[0] in seen:
                continue
            seen.add(info[0])
            ranked.append(Ranked(info[0], run, info[1], algo, score))
        if len(datasets) > 1 or group is not None:
            ranked.sort(key=lambda row: row.score, reverse=not minimize)
        return ranked[:limit] if limit is not None else ranked


class CheckedMetric(Metric):
    """A registered metric, held to its contract: its ``rank()`` sees the connection read only, and
    what it returns must be :class:`Ranked` rows of stored groups, best first as ``minimize`` says,
    at most ``limit`` of them (more are cut). A broken promise stops gf with one line naming it:
    a ranking the wrong way round would breed from the worst groups, silently."""

    def __init__(self, metric):
        self.metric = metric
        self.name, self.description = metric.name, metric.description

    def rank(self, conn, *, dataset=None, group=None, limit=None, minimize=False, per_group=True):
        import sqlite3

        conn.execute("PRAGMA query_only = 1")
        try:  # what it raises goes on up: gf names the file and line it came from
            try:
                rows = self.metric.rank(conn, dataset=dataset, group=group, limit=limit, minimize=minimize,
                                        per_group=per_group)
                try:
                    iterator = iter(rows)
                except TypeError:
                    raise PluginError(f"metric {self.name!r}: rank() returned {type(rows).__name__} {rows!r:.60}; "
                                      "it must return a list of gf.Ranked(group, run, dataset, algo, score) "
                                      "rows") from None
                rows = list(iterator)  # a generator runs its queries now
            except sqlite3.OperationalError as error:
                if "readonly" not in str(error) and "read-only" not in str(error):
                    raise
                raise PluginError(f"metric {self.name!r}: rank() tried to write to the database ({error}); a "
                                  "metric only reads (temporary tables too are refused)") from None
        finally:
            conn.execute("PRAGMA query_only = 0")
        odd = next((row for row in rows if not isinstance(row, Ranked)), None)
        if odd is not None:
            raise PluginError(f"metric {self.name!r}: rank() returned {type(odd).__name__} {odd!r:.60}; it must "
                              "return a list of gf.Ranked(group, run, dataset, algo, score) rows")
        if limit is not None and limit >= 0:
            rows = rows[:limit]
        self._check_groups(conn, rows)
        self._check_order(rows, minimize)
        return rows

    def _check_groups(self, conn, rows):
        odd = next((row.group for row in rows if not isinstance(row.group, int) or isinstance(row.group, bool)), None)
        if odd is not None:
            raise PluginError(f"metric {self.name!r}: rank() returned group {odd!r}, a {type(odd).__name__}; group "
                              "ids are ints")
        wanted = sorted({row.group for row in rows})
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            found = {group for (group,) in conn.execute(
                f"SELECT id FROM groups WHERE id IN ({','.join('?' * len(chunk))})", chunk)}
            missing = [group for group in chunk if group not in found]
            if missing:
                raise PluginError(f"metric {self.name!r}: rank() returned group {missing[0]!r}, which is no group in "
                                  "the database")

    def _check_order(self, rows, minimize):
        scores = [row.score for row in rows]
        for before, after in zip(scores, scores[1:]):
            if not all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in (before, after)):
                continue
            if (after < before) if minimize else (after > before):
                raise PluginError(
                    f"metric {self.name!r}: rank() returned a score of {after!r} after {before!r}, but asked for "
                    f"{'lower' if minimize else 'higher'} is better (minimize={minimize}); if "
                    f"{'higher' if minimize else 'lower'} is better for it, pass "
                    f"{'--maximize' if minimize else '--minimize'}, else its rank() must honour minimize")

    def __repr__(self):
        return repr(self.metric)


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


#: ``[algo.]name``: what ``record()`` accepts as algo and result names (any text but ``.``, not only spaces).
_RESULT = re.compile(r"^(?:([^.]*[^.\s][^.]*)\.)?([^.]*[^.\s][^.]*)$")


def resolve(spec=None, *, sql_file=None, algo=None):
    """The :class:`Metric` a ``--metric``/``--metric-sql``/``--algo`` combination names.

    :raises InputError: an unknown or malformed metric, with what to use instead.
    """
    if sql_file is not None:
        if spec:
            raise InputError("give either --metric or --metric-sql, not both")
        if algo:
            raise InputError(f"--algo {algo} filters a result name (--metric profit --algo {algo}); with "
                             "--metric-sql, choose the algo in the query")
        return SqlFileMetric(sql_file)
    if not spec:
        raise InputError("no metric: pass --metric NAME (a result name such as profit) or --metric-sql FILE")
    if not isinstance(spec, str):
        raise InputError(f"metric {spec!r}: expected a name, a result such as 'profit' or a registered metric")
    from gf import plugins

    registered = plugins.get_metrics()
    if spec.strip() in registered:  # spaces around from a shell variable; the case must match (a result's may not)
        spec = spec.strip()
    if spec in registered:
        if algo:
            raise InputError(f"--algo {algo} filters a result name (--metric profit --algo {algo}); {spec!r} is a "
                             f"registered metric, which chooses its own rows: leave out --algo, or name the "
                             f"result of one algo as --metric {algo}.{spec}")
        return CheckedMetric(registered[spec])
    match = _RESULT.match(spec.strip())  # " profit" from a shell variable means profit
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


#: ``(database, metric)`` pairs whose disagreeing loops were warned of (once a process: a notebook ranks often).
_WARNED = set()


def direction(conn, metric, minimize, where=None):
    """``(minimize, loop)``: ``minimize`` as given (``--minimize``/``--maximize``), else as the newest breed
    loop (by id) by ``metric`` had it (``loop`` its id), else higher is better (``loop`` None): a loss bred with
    ``--minimize`` is not ranked worst first by a later `gf best --metric loss`. Loops by ``metric`` bred
    both ways (databases merged) are warned of on stderr, whoever asks."""
    if minimize is not None:
        return bool(minimize), None
    votes = directions(conn, metric)
    if not votes:
        return False, None
    loop = max(votes.values())
    lower = votes.get(True) == loop
    if len(votes) > 1:
        import sys

        from gf import store

        where = where or store.path_of(conn)
        if (where, metric.name) not in _WARNED:
            _WARNED.add((where, metric.name))
            sys.stderr.write(f"warning: breed loops by {metric.name} in {where} disagree on which way is better "
                             f"(loop {votes[True]}: lower, loop {votes[False]}: higher); going by loop {loop}, the "
                             "newest by id (merged loops are numbered in merge order): pass --minimize or "
                             "--maximize (minimize= in Python)\n")
    return lower, loop


def directions(conn, metric):
    """``{minimize: newest loop id}`` over the breed loops by ``metric`` (newest by id, the order loops
    were opened in this database: clocks differ between machines); two keys when loops disagree. A result
    of one algo (``crossover.trades``, ``--algo crossover``) no loop bred by goes by the loops of its result
    (``trades``): one algo's values are ranked the same way as all of them."""
    found = _loop_directions(conn, metric.name)
    if not found and isinstance(metric, ResultMetric) and metric.algo is not None:
        found = _loop_directions(conn, metric.result)
    return found


def _loop_directions(conn, name):
    """:func:`directions` of the loops whose metric is called ``name``."""
    import json

    found = {}
    for loop_id, args in conn.execute("SELECT id, args FROM loops ORDER BY id DESC"):
        try:
            settings = json.loads(args)
        except ValueError:
            continue
        if settings.get("metric") == name:
            found.setdefault(bool(settings.get("minimize")), loop_id)
    return found


def unscored(conn, metric):
    """``"; the 4 value(s) of 'loss' recorded were NaN or infinite ..."`` when ``metric`` names a result recorded
    only as NULL (a program's NaN): why a ranking found nothing. Empty otherwise."""
    if not isinstance(metric, ResultMetric):
        return ""
    where, args = "name = ? AND value IS NULL", [metric.result]
    if metric.algo is not None:
        where, args = where + " AND algo = ?", args + [metric.algo]
    (count,) = conn.execute(f"SELECT count(*) FROM results WHERE {where}", args).fetchone()
    return (f"; the {count} value(s) of {metric.name!r} recorded were NaN or infinite (stored as NULL, never ranked)"
            if count else "")


def require_known(conn, metric, db_path):
    """Refuse a result-name metric that names no recorded result while others are recorded (a typo):
    ranking by it would find nothing and say nothing."""
    if not isinstance(metric, ResultMetric):
        return
    where, args = "+name = ?", [metric.result]
    if metric.algo is not None:
        where, args = where + " AND +algo = ?", args + [metric.algo]
    if conn.execute(f"SELECT 1 FROM results INDEXED BY {BEST_FIRST_INDEX} WHERE {where} LIMIT 1", args).fetchone():
        return
    refuse_near_registered(conn, metric, db_path)
    recorded = result_names(conn)
    if recorded:
        import difflib

        from gf import plugins

        close = difflib.get_close_matches(metric.result, list(plugins.get_metrics()), n=1, cutoff=0.6)
        hint = f" (or the registered metric {close[0]!r}?)" if close and metric.algo is None else ""
        raise InputError(f"no run in {db_path} is scored by metric {metric.name!r}{hint}; results recorded: "
                         f"{some_of(recorded, metric.name)}")


#: How alike (difflib's ratio) a result name no run recorded must be to a registered metric's name to be taken
#: for a misspelling of it: "max profit min trade" (0.98) is, "max profit" (0.65) is not.
NEAR_REGISTERED = 0.85


def refuse_near_registered(conn, metric, where):
    """Refuse a result name (of no algo, with a space in it) that no run in ``conn`` recorded and that is a registered
    metric's name a letter or two off, or in another case ("max profit min trade", "Max Profit Min Trades"): a
    mistake, said before anything is evaluated or ranked."""
    if not isinstance(metric, ResultMetric) or metric.algo is not None or " " not in metric.result:
        return  # a name without a space (sharp, max_profit) is a result's name as much as a misspelling
    import difflib

    from gf import plugins

    near = difflib.get_close_matches(metric.result, list(plugins.get_metrics()), n=1, cutoff=NEAR_REGISTERED)
    if near and not conn.execute(f"SELECT 1 FROM results INDEXED BY {BEST_FIRST_INDEX} WHERE +name = ? LIMIT 1",
                                 (metric.result,)).fetchone():
        if metric.result == near[0].lower():
            raise InputError(f"unknown metric {metric.name!r}: a registered metric's name with other capitals (they "
                             f"count): write it {near[0]!r} (see `gf metrics list`)")
        raise InputError(f"unknown metric {metric.name!r}: did you mean the registered metric {near[0]!r}? (no run in "
                         f"{where} has a result of that name; see `gf metrics list`)")


def top_per_dataset(conn, metric, datasets, n, minimize=False):
    """``{dataset: [Ranked]}``: the best ``n`` groups of every dataset (one row per group), their scores numbers.

    Every breeder's parents come from here, and a breed loop's best score: a score that is no number
    (a ``--metric-sql`` query's text) is refused as :func:`overall` refuses it.
    """
    return {dataset: _require_numbers(metric, dataset, metric.rank(conn, dataset=dataset, limit=n, minimize=minimize))
            for dataset in datasets}


def _require_numbers(metric, dataset, rows):
    """``rows`` (:class:`Ranked`, of ``dataset``), or an :class:`InputError` naming the first whose score is no
    number: scores gf breeds by or ranks over datasets are compared and averaged (``gf top`` shows any)."""
    for row in rows:
        if not isinstance(row.score, (int, float)):  # a --metric-sql query may return text or a blob
            raise InputError(f"metric {metric.name!r} scored group {row.group} on {dataset} {row.score!r}, not a "
                             "number: a ranking over datasets averages the scores, so return numbers")
    return rows


def overall(conn, metric, datasets, minimize=False, left_out=None):
    """Groups ranked over several datasets: ``[(group, mean_score, {dataset: score})]``, best first.

    Only groups scored on the most datasets compete (a group evaluated on one easy
    dataset does not beat one that is good on all of them).

    :param left_out: a dict that gets ``groups`` (how many scored groups did not compete),
        ``missed`` (the datasets every one of them lacks: hold-outs few groups ran on) and
        ``all_lack`` (whether there are such datasets), to say why.
    """
    scores = {}
    for dataset in datasets:
        for row in _require_numbers(metric, dataset, metric.rank(conn, dataset=dataset, minimize=minimize)):
            scores.setdefault(row.group, {})[dataset] = row.score
    if not scores:
        return []
    coverage = max(len(by_dataset) for by_dataset in scores.values())
    if left_out is not None:
        from collections import Counter

        short = [by_dataset for by_dataset in scores.values() if len(by_dataset) < coverage]
        lacking = Counter(dataset for by_dataset in short for dataset in datasets if dataset not in by_dataset)
        missed = [dataset for dataset in datasets if short and lacking[dataset] == len(short)]
        left_out.update(groups=len(short), missed=missed, all_lack=bool(missed))
    ranked = [
        (group, mean(by_dataset.values()), by_dataset)
        for group, by_dataset in scores.items()
        if len(by_dataset) == coverage
    ]
    ranked.sort(key=lambda item: (item[1] if minimize else -item[1], item[0]))
    return ranked


def better(minimize):
    """How reports say which way scores rank: "lower is better" or "higher is better"."""
    return "lower is better" if minimize else "higher is better"


def mean(scores):
    """The mean of ``scores`` (numbers), correctly rounded whatever their order; finite when they are, however
    large: a sum past the largest float (two scores near it) is taken over each score's share instead."""
    scores = list(scores)
    try:
        return math.fsum(scores) / len(scores)
    except OverflowError:
        return math.fsum(score / len(scores) for score in scores)


def result_names(conn):
    """``algo.name`` of every result recorded, for suggestions when a metric finds nothing."""
    return [f"{algo}.{name}" for algo, name in conn.execute(
        "SELECT DISTINCT algo, name FROM results ORDER BY algo, name")]
