"""``python -m gf``: the ``gf`` command, for when the console script is not on PATH."""

from gf.cli import main

main()
