"""The built-in named metric: the original tool's "max profit min trades".

Per dataset: runs whose result ``trades`` is in (0, 150]; their ``profit`` (and
``win``) for the same run and algo; the best profit per algo; ordered by profit per
trade (profit / trades, rounded to 2 places), best first. The score is the profit
per trade. Result-name metrics (``--metric profit``) need no plugin.
"""

from gf import Metric, Ranked, hookimpl
from gf.metrics import filters


class MaxProfitMinTrades(Metric):
    name = "max profit min trades"
    description = "best profit per algo among runs with 0 < trades <= 150, ranked by profit per trade"

    max_trades = 150

    def rank(self, conn, *, dataset=None, group=None, limit=None, minimize=False, per_group=True):
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
        rows = conn.execute(sql, [*args, -1 if limit is None else limit]).fetchall()
        ranked, seen = [], set()
        for group_id, run, row_dataset, algo, score, _profit in rows:
            if per_group and group_id in seen:
                continue
            seen.add(group_id)
            ranked.append(Ranked(group_id, run, row_dataset, algo, score))
        return ranked


@hookimpl
def gf_register_metrics(register):
    register(MaxProfitMinTrades())
