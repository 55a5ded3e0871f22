"""The built-in named metric: the original tool's "max profit min trades".

Per dataset: runs whose result ``trades`` is in (0, 150]; their ``profit`` (and
``win``) for the same run and algo; the best profit per algo; ordered by profit per
trade (profit / trades, rounded to 2 places), best first. The score is the profit
per trade. Result-name metrics (``--metric profit``) need no plugin.

The top N of a dataset is read best first (see :mod:`gf.metrics`): each algo's
profits from the best down until one qualifies, instead of every run of the dataset.
"""

from gf import Metric, Ranked, hookimpl
from gf.metrics import BEST_FIRST_INDEX, filters, result_algos, walk_budget


class MaxProfitMinTrades(Metric):
    name = "max profit min trades"
    description = "best profit per algo among runs with 0 < trades <= 150, ranked by profit per trade"

    max_trades = 150

    def rank(self, conn, *, dataset=None, group=None, limit=None, minimize=False, per_group=True):
        rows = None
        if group is None and limit is not None and limit > 0:
            rows = self._best_first(conn, dataset, limit, minimize)
        if rows is None:
            rows = self._aggregated(conn, dataset, group, limit, minimize)
        ranked, seen = [], set()
        for group_id, run, row_dataset, algo, score in rows:
            if per_group and group_id in seen:
                continue
            seen.add(group_id)
            ranked.append(Ranked(group_id, run, row_dataset, algo, score))
        return ranked

    def _aggregated(self, conn, dataset, group, limit, minimize):
        """``(group, run, dataset, algo, score)`` of every algo, best first: the seed's query."""
        where, args = filters(dataset, group)
        # The seed's query, per algo: SQLite's bare columns come from the max(profit) row.
        # 1.0 * keeps profit per trade from being an integer division when both are whole.
        sql = f"""
            SELECT group_id, run, dataset, algo, round(1.0 * profit / trades, 2) AS score, max(profit)
            FROM (
                SELECT r.group_id, r.id AS run, r.dataset, t.algo, p.value AS profit, t.value AS trades
                FROM runs r
                JOIN results t ON t.run = r.id AND t.name = 'trades'
                JOIN results p ON p.run = r.id AND p.algo = t.algo AND p.name = 'profit'
                WHERE r.status = 'ok' AND t.value > 0 AND t.value <= {self.max_trades}
                  AND p.value IS NOT NULL{where}
            )
            GROUP BY algo
            ORDER BY score {"ASC" if minimize else "DESC"}, group_id
            LIMIT ?"""
        return [row[:5] for row in conn.execute(sql, [*args, -1 if limit is None else limit])]

    def _best_first(self, conn, dataset, limit, minimize):
        """What :meth:`_aggregated` gives, from each algo's first qualifying profit read best first
        (the highest profit, then the lowest run); ``None`` when the walks ran past their budget."""
        algos = result_algos(conn, "profit")
        budget = walk_budget(conn, dataset)
        wanted = "p.value IS NOT NULL AND r.status = 'ok'" + (" AND r.dataset = ?" if dataset is not None else "")
        sql = f"""
            SELECT {wanted} AND t.value > 0 AND t.value <= {self.max_trades},
                   r.group_id, r.id, r.dataset, p.algo, round(1.0 * p.value / t.value, 2)
            FROM results AS p INDEXED BY {BEST_FIRST_INDEX}
            CROSS JOIN runs AS r ON r.id = p.run
            LEFT JOIN results AS t ON t.run = p.run AND t.algo = p.algo AND t.name = 'trades'
            WHERE +p.name = 'profit' AND +p.algo = ?
            ORDER BY +p.value DESC, r.id"""
        rows = []
        for algo in algos:
            cursor = conn.execute(sql, (*(() if dataset is None else (dataset,)), algo))
            try:
                for row in cursor:
                    budget -= 1
                    if budget < 0:
                        return None
                    if row[0]:
                        rows.append(row[1:])
                        break
            finally:
                cursor.close()
        rows.sort(key=lambda row: row[0])
        rows.sort(key=lambda row: row[4], reverse=not minimize)
        return rows[:limit]


@hookimpl
def gf_register_metrics(register):
    register(MaxProfitMinTrades())
