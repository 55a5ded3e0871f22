"""Compatibility with the original geneticfuckery: ``from geneticfuckery.gf import GeneticFuckery``.

Programs written for the seed tool run unchanged; new code imports ``gf``.
"""
