"""``python -m benchmarks.optimizers``: see :mod:`benchmarks.optimizers.run`."""

from benchmarks.optimizers.run import main

main()
