"""gf-plugin-sharpe: rank groups by the Sharpe ratio of a result across datasets.

A group's score is ``mean / standard deviation`` of one result over the datasets it
was evaluated on, so a group that is good everywhere beats one that is great once::

    gf breed --metric sharpe ...          # Sharpe of `profit`
    GF_SHARPE=win,crossover.profit gf breed --metric sharpe:win ...

How a score is made, for each group and each algo that recorded the result:

1. one value per dataset: the mean of the result over the group's ``ok`` runs on that
   dataset (non-NULL values only; a rerun does not count twice);
2. over those per-dataset values: ``mean / stdev`` (the sample standard deviation,
   ``n - 1``); a standard deviation below :data:`MIN_STD` counts as :data:`MIN_STD`, so
   a group with the same value everywhere gets a large finite score that still orders
   by its mean;
3. a group evaluated on fewer than :data:`MIN_DATASETS` datasets is not ranked at all
   (one value has no spread);
4. the group's score is that of its best algo (as ``--metric profit`` takes the best
   algo's profit); ``sharpe:crossover.profit`` looks at one algo only.

With ``dataset`` (``gf top``, ``gf breed``'s per-dataset parents), the groups evaluated
on that dataset are ranked by their cross-dataset score, each row naming its best run
on that dataset. ``--minimize`` ranks the lowest ratio first, which is the Sharpe ratio
of the negated result (for a lower-is-better result such as a loss).

Only the public ``gf`` API is used; the SQL reads the documented ``runs`` and
``results`` tables.
"""

import math
import os
import re

from gf import Metric, Ranked, hookimpl

__version__ = "0.1.0"

#: A group needs results on at least this many datasets to be ranked.
MIN_DATASETS = 2
#: The smallest standard deviation a score divides by.
MIN_STD = 1e-9
#: The result the plain ``sharpe`` metric scores.
DEFAULT_RESULT = "profit"
#: ``GF_SHARPE=win,crossover.profit`` also registers ``sharpe:win`` and ``sharpe:crossover.profit``.
ENVIRONMENT = "GF_SHARPE"

_SPEC = re.compile(r"^(?:([A-Za-z0-9_\-]+)\.)?([A-Za-z0-9_\-]+)$")

# Per (group, algo): one value per dataset (the mean of its runs there), in (group, algo)
# order, so the ratio is one pass in Python (SQLite's sqrt is a compile-time option).
_PER_DATASET = """
SELECT r.group_id, res.algo, avg(res.value)
FROM runs r JOIN results res ON res.run = r.id
WHERE r.status = 'ok' AND res.name = ? AND res.value IS NOT NULL{filters}
GROUP BY r.group_id, res.algo, r.dataset
ORDER BY r.group_id, res.algo
"""

# The rows to rank: per (group, algo) -- and per dataset for per_group=False -- the run
# with the best value (SQLite takes the bare columns from the min/max row).
_BEST_RUNS = """
SELECT r.group_id, res.algo, {best}(res.value), res.run, r.dataset
FROM runs r JOIN results res ON res.run = r.id
WHERE r.status = 'ok' AND res.name = ? AND res.value IS NOT NULL{filters}
GROUP BY r.group_id, res.algo{by_dataset}
"""


class SharpeMetric(Metric):
    """``sharpe`` (or ``sharpe:RESULT``, ``sharpe:ALGO.RESULT``): mean / stdev of a result across datasets."""

    def __init__(self, result=DEFAULT_RESULT, algo=None, name=None, min_datasets=MIN_DATASETS, min_std=MIN_STD):
        self.result = result.lower()
        self.algo = algo.lower() if algo else None
        spec = f"{self.algo}.{self.result}" if self.algo else self.result
        self.name = name or f"sharpe:{spec}"
        self.description = (f"mean / stdev of {spec} across datasets (groups on >= {min_datasets} datasets): "
                            "good everywhere beats great once")
        self.min_datasets = max(2, int(min_datasets))
        self.min_std = min_std
        self._cache = None

    def ratio(self, values):
        """The Sharpe ratio of per-dataset ``values``: mean / sample standard deviation (floored)."""
        count = len(values)
        mean = math.fsum(values) / count
        variance = math.fsum((value - mean) ** 2 for value in values) / (count - 1)
        return mean / max(math.sqrt(variance), self.min_std)

    def scores(self, conn, group=None):
        """``{(group, algo): ratio}`` of every group (or one) on at least ``min_datasets`` datasets.

        Every dataset's ranking needs every dataset's values, and gf ranks one dataset at
        a time: the scores of the whole database are kept until it changes (a commit by
        any connection, or a change made through ``conn``).
        """
        if group is None:
            state = (conn.total_changes, conn.execute("PRAGMA data_version").fetchone()[0])
            cached = self._cache
            if cached is not None and cached[0] is conn and cached[1] == state:
                return cached[2]
        filters, args = self._filters(group)
        scores = {}
        key, values = None, []
        for row in conn.execute(_PER_DATASET.format(filters=filters), args):
            if row[:2] != key:
                if len(values) >= self.min_datasets:
                    scores[key] = self.ratio(values)
                key, values = row[:2], []
            values.append(row[2])
        if len(values) >= self.min_datasets:
            scores[key] = self.ratio(values)
        if group is None:
            self._cache = (conn, state, scores)
        return scores

    def _filters(self, group=None, dataset=None):
        filters, args = "", [self.result]
        if self.algo is not None:
            filters += " AND res.algo = ?"
            args.append(self.algo)
        if group is not None:
            filters += " AND r.group_id = ?"
            args.append(group)
        if dataset is not None:
            filters += " AND r.dataset = ?"
            args.append(dataset)
        return filters, args

    def rank(self, conn, *, dataset=None, group=None, limit=None, minimize=False, per_group=True):
        scores = self.scores(conn, group)
        if not scores:
            return []
        filters, args = self._filters(group, dataset)
        sql = _BEST_RUNS.format(best="min" if minimize else "max", filters=filters,
                                by_dataset=", r.dataset" if dataset is None and not per_group else "")
        sign = 1.0 if minimize else -1.0  # sort keys ascend
        rows = []
        for group_id, algo, best, run, row_dataset in conn.execute(sql, args):
            score = scores.get((group_id, algo))
            if score is not None:
                # the best score first; within a group, its best value first
                rows.append(((sign * score, group_id, sign * best, row_dataset, run),
                             (group_id, run, row_dataset, algo, score)))
        rows.sort(key=lambda item: item[0])
        ranked, seen = [], set()
        for _key, row in rows:
            if per_group:
                if row[0] in seen:
                    continue
                seen.add(row[0])
            ranked.append(Ranked(*row))
            if limit is not None and len(ranked) >= limit:
                break
        return ranked


def parse_spec(spec):
    """``"win"`` -> ``(None, "win")``; ``"crossover.profit"`` -> ``("crossover", "profit")``."""
    match = _SPEC.match(spec.strip())
    if not match:
        raise ValueError(f"{ENVIRONMENT}: {spec!r} is not a result name (profit) or algo.result (crossover.profit)")
    return match.groups()


def configured_metrics(environ=None):
    """``sharpe`` (of profit) and one ``sharpe:SPEC`` per entry of ``$GF_SHARPE``."""
    environ = os.environ if environ is None else environ
    found = {"sharpe": SharpeMetric(DEFAULT_RESULT, name="sharpe")}
    for spec in (environ.get(ENVIRONMENT) or "").split(","):
        if not spec.strip():
            continue
        algo, result = parse_spec(spec)
        metric = SharpeMetric(result, algo)
        found.setdefault(metric.name, metric)
    return list(found.values())


@hookimpl
def gf_register_metrics(register):
    for metric in configured_metrics():
        register(metric)
