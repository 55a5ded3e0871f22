"""A small program gf launches in the tests: a bowl with its minimum at x=3, n_int=2, fast_bool, mode "b"."""

import sys

from gf import GeneticFuckery

dataset = sys.argv[1]
g = GeneticFuckery()
with g.report("bowl") as r:
    loss = (g.x - 3) ** 2 + (g.n_int - 2) ** 2 + (0 if g.fast_bool else 4) + (0 if g.mode_choice == "b" else 2)
    r["score"]["loss"] = loss + (0.5 if dataset.endswith("2") else 0.0)
    r["score"]["share"] = g.share_real_0
