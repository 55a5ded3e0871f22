"""The built-in launchers: ``local`` (a pool of child processes), ``print`` and ``inprocess``."""

import shlex

from gf import Launcher, hookimpl
from gf.launch import Finished, command_line, function_error
from gf import store


class LocalLauncher(Launcher):
    name = "local"
    description = "run the command as child processes on this machine, -j at a time"

    def launch(self, evaluations, context):
        from gf import processes

        return processes.run(context, evaluations)


class PrintLauncher(Launcher):
    name = "print"
    description = "print one shell line per evaluation (for GNU parallel or a cluster) and wait for nothing"
    waits = False

    def launch(self, evaluations, context):
        for evaluation in evaluations:
            argv = command_line(context.command, evaluation.dataset, context.shell)
            context.echo(
                f"GF_DB={shlex.quote(context.db_path)} GF_PARAM_GROUP={evaluation.group} "
                f"GF_DATA={shlex.quote(evaluation.dataset)} GF_FAMILY={shlex.quote(evaluation.dataset)} "
                f"{shlex.join(argv)}"
            )
        return iter(())


class InProcessLauncher(Launcher):
    """Calls ``fn(params, dataset)`` in this process (``evolve()``); threads when jobs > 1."""

    name = "inprocess"
    description = "call a Python function in this process (GeneticFuckery.evolve)"
    commands = False
    functions = True

    def launch(self, evaluations, context):
        import concurrent.futures

        from gf.params import build_tree

        def one(evaluation):
            started = store.now()
            params = build_tree(context.db_path, evaluation.group, evaluation.params)
            try:
                results = context.function(params, evaluation.dataset)
            except Exception as error:
                return Finished(evaluation, error=function_error(error), started=started, stopped=store.now())
            if not isinstance(results, dict):
                return Finished(evaluation, error=f"the function returned {type(results).__name__}, "
                                "not a dict of dicts {algo: {name: number}}", started=started, stopped=store.now())
            return Finished(evaluation, results=results, started=started, stopped=store.now())

        if context.jobs <= 1:
            for evaluation in evaluations:
                if context.stopping is not None and context.stopping.is_set():
                    return
                yield one(evaluation)
            return
        with concurrent.futures.ThreadPoolExecutor(max_workers=context.jobs) as pool:
            yield from pool.map(one, evaluations)


@hookimpl
def gf_register_launchers(register):
    register(LocalLauncher())
    register(PrintLauncher())
    register(InProcessLauncher())
