"""gf against Optuna, nevergrad and random search on a suite of shifted, mixed-type test functions.

Issue 6 of gf: every optimizer gets the same number of evaluations, asked for in
generations of the same batch size (32 by default), on every function of
:mod:`~benchmarks.optimizers.functions` at 10, 100 and 1,000 parameters, over several
seeds. The report (:mod:`~benchmarks.optimizers.report`) gives the mean normalized
regret per function (random search = 1, the optimum = 0; see
:mod:`~benchmarks.optimizers.analysis`) and each optimizer's mean rank, one table per
dimension; :mod:`~benchmarks.optimizers.timing` measures breeder time per generation
at 1,000 parameters against Optuna's samplers. Every optimizer starts from the same point,
the centre of the box; ``--start random`` starts each seed from a random point instead,
reported in a section (and files) of its own.

Modules: ``functions`` (the suite), ``optimizers`` (the runners), ``analysis``
(regret, ranks, targets), ``timing``, ``plots``, ``report`` and ``run`` (the command line).

Needs the ``bench`` extra (optuna, cmaes, nevergrad) plus numpy and matplotlib. Run from
the repository root: ``python -m benchmarks.optimizers --quick``.
"""
