"""The seed's import path, ``geneticfuckery.gf``; everything lives in :mod:`gf`."""

from gf import GeneticFuckery

__all__ = ["GeneticFuckery"]
