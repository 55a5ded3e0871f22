"""A small, deterministic trading backtest that reads its parameters from gf.

Usage: GF_DB=... GF_PARAM_GROUP=... python backtest.py DATASET

DATASET names a synthetic price series (e.g. SPY-2022-05): the same name always
gives the same prices. Two inner algos run on it, a moving-average crossover and
a mean-reversion rule; each reports profit, trades and win rate, so gf can rank
and breed per algo.
"""

import math
import random
import sys
import zlib

from gf import GeneticFuckery


def prices(dataset, days=400):
    """A reproducible random walk with drift and regime changes, named by ``dataset``."""
    rng = random.Random(zlib.crc32(dataset.encode()))
    price, drift, series = 100.0, 0.0, []
    for day in range(days):
        if day % 80 == 0:
            drift = rng.gauss(0, 0.002)
        price *= math.exp(drift + rng.gauss(0, 0.015))
        series.append(price)
    return series


def mean(values):
    return sum(values) / len(values)


def trade(series, signal, stop_loss, allow_short, sizing):
    """Follow ``signal(day)``: 1 long, -1 short, 0 flat, None hold. Return (profit, trades, wins)."""
    position, entry, profit, trades, wins = 0, 0.0, 0.0, 0, 0
    for day in range(1, len(series)):
        price = series[day]
        wanted = signal(day)
        if wanted is None:
            wanted = position
        if wanted < 0 and not allow_short:
            wanted = 0
        if position and (position * (price - entry) / entry < -stop_loss or wanted != position):
            size = 1.0 if sizing == "fixed" else 0.02 / max(1e-6, abs(series[day] / series[day - 1] - 1))
            gain = position * (price - entry) / entry * 100 * min(size, 3.0)
            profit += gain
            trades += 1
            wins += gain > 0
            position = 0
        if wanted and not position:
            position, entry = wanted, price
    return profit, trades, wins


def main(dataset):
    g = GeneticFuckery()
    series = prices(dataset)
    allow_short = g.runtime.allow_short_bool
    sizing = g.runtime.sizing_choice

    cross = g.crossover
    fast, slow = cross.window.fast_int, cross.window.slow_int

    def crossover_signal(day):
        if day < slow:
            return 0
        return 1 if mean(series[day - fast:day]) > mean(series[day - slow:day]) else -1

    rev = g.meanrev
    lookback = max(2, rev.lookback_int)

    def meanrev_signal(day):
        if day < lookback:
            return 0
        window = series[day - lookback:day]
        centre = mean(window)
        spread = math.sqrt(mean([(p - centre) ** 2 for p in window])) or 1e-9
        z = (series[day] - centre) / spread
        if z < -rev.entry_z:
            return 1
        if z > rev.entry_z:
            return -1
        return 0 if abs(z) < rev.exit_z else None

    with g.report("backtest") as results:
        for algo, signal in (("crossover", crossover_signal), ("meanrev", meanrev_signal)):
            stop = cross.stop_loss_real_0
            profit, trades, wins = trade(series, signal, stop, allow_short, sizing)
            results[algo] = {"profit": round(profit, 4), "trades": trades, "win": wins / trades if trades else 0}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python backtest.py DATASET")
    main(sys.argv[1])
