"""The ``gf`` command: a thin click layer, each command a few lines over the library.

Errors gf raises on purpose (:class:`gf.GfError`) print as one line and exit with
status 2 (bad input or usage) or 1 (environment); ``--debug`` shows the traceback.
"""

import json
import math
import os
import re
import shlex
import sys

import click

from gf import store
from gf.errors import GfError, InputError, LoadError, printable, some_of

# The library modules each command needs are imported inside it: every command pays
# for Python and click, but `gf run` does not also pay for breeding, metrics and
# reports, which it never uses.


class Duration(click.ParamType):
    """Seconds, from ``90``, ``90s``, ``30m``, ``8h`` or ``1d``."""

    name = "duration"

    def convert(self, value, param, ctx):
        from gf.engine import parse_duration

        try:
            return parse_duration(value)
        except ValueError as error:
            self.fail(str(error), param, ctx)


DURATION = Duration()

class Seconds(click.FloatRange):
    """A number of seconds above 0 and finite (``nan`` and ``inf`` parse as floats: refused here)."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number) or number > 10**9:
            self.fail(f"{value!r} is not a number of seconds above 0 and below 1e9", param, ctx)
        return number


#: The largest integer SQLite stores: group and run ids, and counts, above it cannot be asked for.
SQLITE_MAX = 2**63 - 1
class Whole(click.IntRange):
    """A whole number from ``min``, no larger than SQLite stores (above it, a query would fail deep in
    gf); the range shown in errors is ``x>=min`` unless the number is too large."""

    def __init__(self, min=1, most=SQLITE_MAX):
        super().__init__(min=min)
        self.most = most

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if number > self.most:
            self.fail(f"{number} is too large (at most {self.most:,})", param, ctx)
        return number


#: A group or run id.
ID = Whole()
#: A count of at least 1 (rows, parents, generations...).
COUNT = Whole()
#: How far back ``gf lineage`` goes: a deeper tree is past reading (and past Python's recursion limit).
MAX_DEPTH = 200
#: Children per generation: more than this is no population gf could breed, evaluate or keep in memory.
MAX_POPULATION = 100_000


def _where(error):
    """``file:line`` of the innermost frame of ``error``'s traceback that is neither the standard
    library nor a library gf runs plugins through (so a plugin's bug names the plugin's file)."""
    import sysconfig
    import traceback

    stdlib = os.path.join(sysconfig.get_paths()["stdlib"], "")
    libraries = tuple(f"{os.sep}{name}{os.sep}" for name in ("pluggy", "click", "sqlite_utils", "loguru"))

    def foreign(filename):
        if any(part in filename for part in libraries):
            return True
        return filename.startswith(stdlib) and "site-packages" not in filename[len(stdlib):]

    frames = traceback.extract_tb(error.__traceback__)
    frame = ([frame for frame in frames if not foreign(frame.filename)] or frames or [None])[-1]
    return f"{os.path.basename(frame.filename)}:{frame.lineno}" if frame else "gf"


#: What click 8.2+ raises for a group given no command (click 8.1 prints the help itself).
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


class GfGroup(click.Group):
    """A click group that turns gf's errors, and click's usage errors, into one line and an exit status."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except _NO_ARGS_IS_HELP as error:  # `gf`, `gf plugins`: what there is to do (click 8.2+; 8.1 prints it)
            click.echo(error.ctx.get_help())
            sys.exit(0)
        except click.ClickException as error:  # usage errors: one line, not click's usage block
            where = getattr(getattr(error, "ctx", None), "command_path", None)
            hint = f"; see `{where} --help`" if where else ""
            message = error.format_message().rstrip(".")
            misplaced = self._misplaced(error, args)
            if misplaced:  # `gf --db x.db loops`: an option of the command given before it
                message, hint = misplaced, ""
            for spelt, legacy in _LEGACY_SPELT.items():  # gf-breeder-auto --topN abc: name --topN, as typed
                message = message.replace(f"'{spelt}'", f"'{legacy}'")
            if message.rstrip(")").endswith("?") and hint:  # "(Did you mean ...?)" reads badly before "; see"
                hint = f" (see `{where} --help`)"
            click.echo(f"error: {message}{hint}", err=True)
            sys.exit(error.exit_code)
        except click.Abort:
            import signal

            how = f" ({signal.Signals(_TERMINATED[0]).name})" if _TERMINATED else ""
            _say(f"error: interrupted{how}; rerun the same command to resume")
            sys.exit(_interrupted_code())
        sys.exit(code if isinstance(code, int) else 0)

    def _misplaced(self, error, args):
        """What to say when ``error`` is an option this group does not know but the command after it
        does (``gf --db x.db loops``); else ``None``."""
        ctx = getattr(error, "ctx", None)
        if not isinstance(error, click.NoSuchOption) or ctx is None or ctx.command is not self:
            return None
        words = list(sys.argv[1:] if args is None else args)
        path, group = [ctx.command_path], self
        for position, word in enumerate(words):
            command = group.commands.get(word) if not word.startswith("-") else None
            if command is None:
                continue
            if position and words[position - 1] == error.option_name and not self._flag(command, error.option_name):
                continue  # the option's value (`gf --metric best top`), not the command
            path.append(word)
            if isinstance(command, click.Group):  # `gf --db x plot progress`: on to plot's command
                group = command
                continue
            if any(error.option_name in param.opts for param in command.params):
                return (f"{error.option_name} is an option of `{' '.join(path)}`: give it after the command "
                        f"(`{' '.join(path)} {error.option_name} ...`)")
            return None
        return None

    @staticmethod
    def _flag(command, option):
        """Whether ``option`` is a flag (it takes no value) of ``command`` or, for a group, of a command of it."""
        commands = list(command.commands.values()) if isinstance(command, click.Group) else [command]
        return any(option in param.opts and (param.is_flag or param.count)
                   for each in commands for param in each.params if isinstance(param, click.Option))

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except GfError as error:
            if ctx.params.get("debug"):
                raise
            # A located error already starts with FILE:LINE; the others get a prefix.
            message = printable(str(error))  # a command's stderr in it is shown, not obeyed by the terminal
            _say(message if isinstance(error, LoadError) else f"error: {message}")
            ctx.exit(_interrupted_code() if error.exit_code == 130 else error.exit_code)
        except (click.ClickException, click.exceptions.Exit, click.Abort, BrokenPipeError):
            raise  # click's own, and a reader that left (`gf show 1 | head`), which click ends quietly
        except Exception as error:  # a bug, in gf or in a plugin's code: say where, in one line
            if ctx.params.get("debug"):
                raise
            if isinstance(error, store.sqlite3.DatabaseError) and any(
                    sign in str(error) for sign in ("malformed", "not a database")):
                # damage found past the first pages, mid-command: no bug of gf's, and one thing to do
                click.echo(f"error: the database file is damaged ({error}); check it with sqlite3 FILE "
                           "'PRAGMA integrity_check', and restore a copy", err=True)
                ctx.exit(1)
            click.echo(f"error: unexpected {type(error).__name__}: {' '.join(str(error).split())[:300]} "
                       f"(in {_where(error)}; rerun with --debug for the traceback)", err=True)
            ctx.exit(1)


@click.group(cls=GfGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="geneticfuckery", prog_name="gf")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def cli(debug):
    """gf: genetic optimization for ordinary Python variables.

    Parameters live in a SQLite file (--db, or GF_DB, default gf.db); your
    program reads them with dot access and records results; gf ranks and breeds.
    """


def db_option(function):
    """The shared ``--db`` option: the database file, from GF_DB by default."""
    return click.option(
        "--db",
        "db_path",
        envvar="GF_DB",
        default=store.DEFAULT_DB,
        show_default=True,
        type=click.Path(dir_okay=False),
        help="Database file (env GF_DB).",
    )(function)


def json_option(function):
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(function)


def open_db(db_path, create=False):
    return store.connect(db_path, create=create)


def to_json(value, **options):
    """``value`` as JSON text for gf's output: a non-finite float (a score past the largest float, a query's
    NaN) as null, as JSON has no Infinity or NaN (``json.dumps`` would write them, and readers refuse them).
    ``options`` go to ``json.dumps``."""
    return json.dumps(_finite(value), allow_nan=False, **options)


def _finite(value):
    """``value`` with every non-finite float in it (in dicts, lists and tuples) replaced by ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def emit(rows, columns, as_json):
    """Print ``rows`` (dicts) as JSON or as an aligned table of ``columns``."""
    if as_json:
        click.echo(to_json(rows, indent=2, default=str))
        return
    if not rows:
        click.echo("(none)", err=True)
        return
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]
    click.echo("  ".join(column.ljust(width) for column, width in zip(columns, widths)).rstrip())
    for line in cells:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return ",".join(str(item) for item in value)
    text = printable(str(value)).replace("\t", "\\t")  # a tab would break the columns' alignment
    if "\n" in text or "\r" in text:  # an error with its stderr tail: one row of the table, --json has it whole
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        text = " | ".join(lines)
        if len(text) > CELL_WIDTH:
            # its first line (what happened) and its last (a traceback's exception), the middle left out
            between = " | ... | " if len(lines) > 2 else " | "
            room = CELL_WIDTH - len(between)
            tail = _cut(lines[-1], max(room // 2, room - len(lines[0]))) if len(lines) > 1 else ""
            head = _cut(lines[0], CELL_WIDTH - (len(between) + len(tail) if tail else 0))
            text = head + (between + tail if tail else "")
    return text


def _cut(text, width):
    """``text``, or its start and "..." to fit in ``width`` characters."""
    return text if len(text) <= width else text[:width - 3] + "..."


#: How much of a many-line value (an error and its stderr) a table shows on its one row.
CELL_WIDTH = 200


# -- loading and looking ------------------------------------------------------------


@cli.command()
@db_option
@click.option("--parent", type=ID, metavar="GROUP", help="Load the files as overrides on top of this group.")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def load(db_path, parent, files):
    """Load parameter FILES (later override earlier) as one new group; print its id.

    Lines are `name = <JSON value>`, `# comments`, and constraints such as
    `slow < fast` or `rate_int >= 1`. `__` in a name nests it for dot access.
    """
    from gf import loader, plugins

    group_id, parsed = loader.load_into(db_path, files, plugins.get_types(), parent=parent)
    for warning in parsed.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(group_id)


@cli.command()
@db_option
@json_option
def groups(db_path, as_json):
    """List parameter groups: id, created, origin, parents, the breed loop, generation and breeder that
    bred them (`gf loops` lists the loops); --json adds each group's uid and digest."""
    rows = store.list_groups(open_db(db_path))
    emit(rows, ["id", "created", "origin", "parents", "loop", "generation", "breeder"], as_json)


#: What ``gf loops`` shows as a loop's status (``interrupted``: its gf died on this machine).
LOOP_STATUSES = ("running", "interrupted", "stopped", "done")


@cli.command()
@db_option
@json_option
@click.option("--status", "statuses", multiple=True, type=click.Choice(LOOP_STATUSES),
              help="Only loops in this state (repeat for several).")
@click.option("--last", type=COUNT, metavar="N", help="Only the N loops started last.")
def loops(db_path, as_json, statuses, last):
    """List breed loops: status, latest generation bred, runs, best score, and why each ended early.

    A loop whose gf died (a crash, a killed job) shows as interrupted when it ran on this
    machine (--json adds alive: false); rerun its `gf breed` command to go on.
    `last` is its latest activity; an interrupted loop's latest generation may be only
    partly evaluated. `reason` says why a loop stopped early (--max-time, --patience,
    Ctrl-C, every evaluation failed), or that gf merge copied it while it ran on another
    database. Loops are listed oldest first.
    """
    from gf import engine

    def shown(row):  # a loop whose gf died on this machine: interrupted, whatever its row says
        return "interrupted" if row["alive"] is False else row["status"]

    rows = [{**row, "status": shown(row)} for row in engine.list_loops(open_db(db_path))]
    if statuses:
        rows = [row for row in rows if row["status"] in statuses]
    rows = rows[-last:] if last else rows
    if not as_json:
        rows = [{**row, "generation": f"{row['generation']}/{row['target']}"} for row in rows]
    emit(rows, ["id", "status", "started", "last", "generation", "groups", "ok", "failed", "best", "breeder", "metric",
                "command", "reason"], as_json)


@cli.command()
@db_option
@json_option
@click.argument("group", type=ID)
def show(db_path, as_json, group):
    """Show every parameter of GROUP with its type and value, and its constraints."""
    conn = open_db(db_path)
    store.require_group(conn, group, db_path)
    params = [
        {"name": name, "type": type_name, "value": json.loads(value), "reads_as": json.loads(typed)}
        for name, value, type_name, typed in store.group_params(conn, group)
    ]
    constraints = [f"{lhs} {op} {rhs}" for lhs, op, rhs in store.group_constraints(conn, group)]
    if as_json:
        click.echo(to_json({"group": group, "params": params, "constraints": constraints}, indent=2))
        return
    emit(
        [{**param, "value": json.dumps(param["value"]), "reads_as": json.dumps(param["reads_as"])} for param in params],
        ["name", "type", "value", "reads_as"],
        False,
    )
    if constraints:
        click.echo("\nconstraints:")
        for constraint in constraints:
            click.echo(f"  {constraint}")


@cli.command()
@db_option
@json_option
@click.option("--group", "group_id", type=ID, help="Only runs of this group.")
@click.option("--dataset", help="Only runs on this dataset.")
@click.option("--last", type=COUNT, metavar="N", help="Only the last N runs recorded (after --group/--dataset).")
def runs(db_path, as_json, group_id, dataset, last):
    """List recorded runs: group, dataset, label, status, times, result count, error."""
    conn = open_db(db_path)
    if group_id is not None:
        store.require_group(conn, group_id, db_path)
    if dataset is not None:
        _require_dataset(conn, dataset, db_path)
    rows = store.list_runs(conn, group_id=group_id, dataset=dataset, last=last)
    emit(rows, ["id", "group", "dataset", "label", "status", "started", "stopped", "results", "error"], as_json)


@cli.command()
@db_option
@click.argument("group", type=ID)
def export(db_path, group):
    """Write GROUP in the loader format (to stdout): `gf load` of it recreates the group."""
    from gf import loader

    click.echo(loader.export(open_db(db_path), group, db_path), nl=False)


@cli.command("template-run")
@db_option
@click.option("--group", "group_ids", type=ID, multiple=True, help="Only these groups (repeatable).")
@click.argument("command")
@click.argument("datasets", nargs=-1)
def template_run(db_path, group_ids, command, datasets):
    """Print a shell line per group x DATASET running COMMAND (`{}` = the dataset).

    Each line sets GF_DB, GF_PARAM_GROUP, GF_DATA and GF_FAMILY; feed the lines
    to GNU parallel or a cluster scheduler. Without DATASETS, the datasets
    already recorded in the database are used.
    """
    conn = open_db(db_path)
    if "{}" not in command:
        raise InputError(
            f"COMMAND {command!r} has no {{}}: put {{}} where the dataset goes, e.g. \"python run.py {{}}\""
        )
    datasets = list(dict.fromkeys(datasets)) or store.datasets(conn)
    if not datasets:
        raise InputError(f"no datasets given and none recorded in {db_path}: name them after COMMAND")
    for group_id in group_ids:
        store.require_group(conn, group_id, db_path)
    db_absolute = os.path.abspath(db_path)
    for group_id in list(dict.fromkeys(group_ids)) or store.group_ids(conn):
        for dataset in datasets:
            quoted = shlex.quote(dataset)
            click.echo(
                f"GF_DB={shlex.quote(db_absolute)} GF_PARAM_GROUP={group_id} GF_DATA={quoted} "
                f"GF_FAMILY={quoted} {command.replace('{}', quoted)}"
            )


# -- evaluating and breeding ------------------------------------------------------------


def launch_options(function):
    """Options shared by the commands that launch evaluations."""
    for option in reversed([
        click.option("-j", "--jobs", type=COUNT, default=os.cpu_count() or 1, show_default=True,
                     help="Evaluations at once."),
        click.option("--timeout", type=Seconds(min=0, min_open=True), metavar="SECONDS",
                     help="Kill an evaluation that runs longer; it is recorded as failed."),
        click.option("--shell", is_flag=True, help="Run the command through sh -c (default: no shell)."),
        click.option("--launcher", "launcher_name", default="local", show_default=True,
                     help="Where evaluations run (see `gf launchers list`)."),
        click.option("--launcher-option", "launcher_option", metavar="NAME=VALUE", multiple=True,
                     help="A setting of the launcher (repeatable; `gf launchers list` shows what each takes)."),
        click.option("--scheduler", metavar="ADDRESS",
                     help="dask launcher: the scheduler (tcp://HOST:PORT; env GF_DASK_SCHEDULER); default: a local "
                          "cluster. Short for --launcher-option scheduler=ADDRESS."),
    ]):
        function = option(function)
    return function


def metric_options(function):
    """Options that choose a metric."""
    for option in reversed([
        click.option("--metric", "metric_spec", metavar="M",
                     help='A result name (profit, crossover.profit) or a registered metric ("max profit min trades").'),
        click.option("--metric-sql", type=click.Path(dir_okay=False), metavar="FILE",
                     help="Score with your own SQL: parameters :dataset and :limit, rows (run, score)."),
        click.option("--minimize/--maximize", default=None,
                     help="Lower (or higher) scores are better. Default: as the newest breed loop by this metric "
                          "had it, else higher."),
    ]):
        function = option(function)
    return function


def _require_dataset(conn, dataset, db_path):
    """Refuse a ``--dataset`` no run is on (a typo would list nothing and say nothing)."""
    if not conn.execute("SELECT 1 FROM runs WHERE dataset = ? LIMIT 1", (dataset,)).fetchone():
        raise InputError(f"--dataset {dataset!r}: no run in {db_path} is on it; datasets: "
                         f"{some_of(store.datasets(conn), dataset, 'none yet')}")


def _last_loops_metric(conn, db_path):
    """The newest breed loop's metric, for a command given no ``--metric`` (said on stderr), as
    ``gf report`` and ``gf plot`` take it; with no loop, the error asks for one."""
    from gf import metrics, reports

    found = reports.last_loop_metric(conn)
    if found is None:
        metrics.resolve(None)  # raises: no metric, pass --metric NAME ...
    click.echo(f"note: ranked by {found[0].name!r}, the last breed loop's metric (--metric to choose)", err=True)
    return found[0]


def _direction(conn, metric, minimize):
    """Whether lower is better (see :func:`gf.metrics.direction`), saying so when a loop decided it."""
    from gf import metrics

    if isinstance(metric, metrics.CheckedMetric) and conn.execute(
            f"SELECT 1 FROM results INDEXED BY {store.BEST_FIRST_INDEX} WHERE +name = ? LIMIT 1",
            (metric.name.lower(),)).fetchone():
        click.echo(f"warning: {metric.name!r} is a metric a plugin registers, and also a result recorded here; the "
                   "plugin's metric ranks (pass --metric-sql to rank by the result, or rename one)", err=True)
    metrics.refuse_near_registered(conn, metric, store.path_of(conn))
    lower, loop = metrics.direction(conn, metric, minimize)  # loops that disagree: it warns
    if loop is not None and lower and len(metrics.directions(conn, metric)) == 1:
        bred_by = json.loads(conn.execute("SELECT args FROM loops WHERE id = ?", (loop,)).fetchone()[0]).get("metric")
        by = f" by {bred_by}" if bred_by and bred_by != metric.name else ""  # one algo's result: its result's loop
        click.echo(f"note: lower {metric.name} is better, as breed loop {loop}{by} had it (--maximize for higher)",
                   err=True)
    return lower


def _launch_context(db_path, command, jobs, timeout, shell, launcher_name, scheduler=None, launcher_option=(),
                    as_json=False):
    from gf import launch, plugins

    launcher = plugins.get_launcher(launcher_name)
    if not launcher.commands:
        raise InputError(f"the {launcher.name} launcher runs Python functions, not commands: "
                         "use GeneticFuckery.evolve()")
    if as_json and not launcher.waits:  # its output is the command lines: JSON after them would be neither
        raise InputError(f"--json with the {launcher.name} launcher: its output is the command lines; leave out "
                         "--json (`gf loops --json` tells a script how the loop stands)")
    launch.check_template(command, shell=shell)
    if scheduler and "scheduler" not in (launcher.options or {}):
        raise InputError(f"--scheduler is for the dask launcher; add --launcher dask (not {launcher.name})")
    options = launch.launcher_options(launcher, launcher_option, scheduler)
    operator = _shell_operator(command) if command and not shell else None
    if operator:  # `python run.py {} | tee log`: the program would get `|`, `tee`, `log` as its arguments
        click.echo(f"warning: COMMAND has the shell operator {operator!r}, but runs without a shell: the program "
                   "gets it as an argument; add --shell to run COMMAND through sh -c", err=True)
    if command and not shell and launcher.name == "local":  # it runs here: say so now, not once per evaluation
        from gf import processes

        words = launch.command_line(command, "{}")
        # a program named by the dataset ("./{}/run.py") is known only per dataset: tried when run
        reason = processes.unrunnable(words[0]) if words and "{}" not in words[0] else None
        if reason:
            raise InputError(f"cannot run COMMAND {command!r}: {words[0]}: {reason}")
    context = launch.LaunchContext(db_path=os.path.abspath(db_path), command=command, jobs=jobs, timeout=timeout,
                                   shell=shell, echo=click.echo, options=options)
    return launcher, context


def _shell_operator(command):
    """The first word of ``command`` that a shell would take for a pipe, a separator or a redirection
    (``|``, ``&&``, ``;``, ``> log``, ``2>&1``, ``>log``), or ``None``: without a shell the program gets it
    as an argument. A quoted one (``--sep '|'``) or one inside a word (``?a=1&b=2``) is left alone."""
    words, word, bare, quote, escaped = [], "", True, None, False  # bare: the word begins outside quotes
    for char in command + " ":
        if escaped:
            word, escaped = word + char, False
            bare = bare and len(word) > 1
        elif char == "\\" and quote != "'":
            escaped, bare = True, bare and bool(word)
        elif quote:
            word, quote = (word, None) if char == quote else (word + char, quote)
        elif char in "'\"":
            quote, bare = char, bare and bool(word)
        elif char.isspace():
            if word or not bare:
                words.append((word, bare))
            word, bare = "", True
        else:
            word += char
    for word, bare in words:
        found = re.match(r"(\|\|?|&&|&>|;|&|\d?>>?(&\d?)?|<)", word) if bare else None
        if found and (found.group() == word or found.group()[-1] in "<>&"):
            return found.group()
    return None


def _progress_echo(line, final):
    """Progress on stderr: rewritten in place on a terminal, one line per generation otherwise."""
    stream = sys.stderr
    if stream.isatty():
        click.echo(f"\r{line}\033[K", err=True, nl=final)
    elif final:
        click.echo(line, err=True)


@cli.command()
@db_option
@launch_options
@click.option("--group", "group_ids", type=ID, multiple=True, help="Only these groups (repeatable).")
@click.option("--again", is_flag=True, help="Also evaluate pairs that already have a run.")
@click.option("--failed", "retry_failed", is_flag=True,
              help="Also evaluate pairs whose every run failed (after fixing the program).")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.argument("command")
@click.argument("datasets", nargs=-1)
def run(db_path, jobs, timeout, shell, launcher_name, launcher_option, scheduler, group_ids, again, retry_failed,
        as_json, command, datasets):
    """Evaluate groups on DATASETS by running COMMAND (`{}` = the dataset).

    Every group (or --group) x every dataset (or those already recorded); pairs
    that already have a run, failed or not, are skipped unless --again (every pair)
    or --failed (also those whose every run failed). Each command runs with
    GF_DB, GF_PARAM_GROUP, GF_DATA and GF_FAMILY set, without a shell.
    """
    from gf import engine

    launcher, context = _launch_context(db_path, command, jobs, timeout, shell, launcher_name, scheduler,
                                        launcher_option, as_json)
    conn = open_db(db_path)
    for group_id in group_ids:
        store.require_group(conn, group_id, db_path)
    datasets = list(dict.fromkeys(datasets)) or store.datasets(conn)  # a name given twice is one dataset
    if not datasets:
        raise InputError(f"no datasets given and none recorded in {db_path}: name them after COMMAND")
    groups = list(dict.fromkeys(group_ids)) or store.group_ids(conn)
    pairs = engine.pending_pairs(conn, groups, datasets, again, failed=retry_failed)
    # skipped pairs whose every run failed: the summary says how to run them again
    failed_before = 0 if again or retry_failed else (
        len(engine.pending_pairs(conn, groups, datasets, failed=True)) - len(pairs))
    progress = engine.Progress(echo=_progress_echo)
    ok, failed = engine.evaluate(conn, launcher, engine.evaluations_for(conn, pairs), context, progress,
                                 again=again, failed=retry_failed)
    outcome = {"evaluated": ok + failed, "ok": ok, "failed": failed, "skipped": len(groups) * len(datasets) - len(pairs),
               "skipped_failed": failed_before}
    if progress.held:  # left to another gf evaluating them now (only then: the usual outcome keeps its keys)
        outcome["held_by_another_gf"] = progress.held
    if as_json:
        click.echo(to_json(outcome))
    elif launcher.waits:
        hint = (f"; {failed_before} of them only failed before: add --failed to run those again"
                if failed_before else "")
        held = f", {progress.held} left to another gf" if progress.held else ""
        click.echo(f"{ok + failed} evaluated: {ok} ok, {failed} failed, {outcome['skipped']} skipped (already run{hint})"
                   f"{held}")
    if pairs and launcher.waits and failed and not ok:  # (none at all: another gf evaluates them, or did)
        raise engine.AllFailed(engine.all_failed_message(conn, sorted({g for g, _ in pairs}), "of this run"))


@cli.command()
@db_option
@metric_options
@launch_options
@click.option("--top", type=COUNT, default=3, show_default=True,
              help="Parents: the best N groups of every dataset (classic, ga). The default breeder learns from every "
                   "scored group; N sets its population when --population is not given (twice the parents, at "
                   "least 8).")
@click.option("--compare", type=Whole(min=2), default=6, show_default=True,
              help="classic: how many results of each parent are paired.")
@click.option("--loop", "generations", type=COUNT, default=1, show_default=True,
              help="Generations to breed and evaluate (with COMMAND).")
@click.option("--max-time", type=DURATION, metavar="DURATION",
              help="Breed no new generation after this long (90s, 30m, 8h, 1d; with a large --loop); rerun the same "
                   "command to go on.")
@click.option("--patience", type=COUNT, metavar="G",
              help="End the loop after G generations in a row without a better best score.")
@click.option("--breeder", "breeder_name", default="default", show_default=True,
              help="How children are bred (see `gf breeders list`).")
@click.option("--population", type=Whole(most=MAX_POPULATION),
              help="Children per generation (default: the breeder's choice; classic: C(k, 2)).")
@click.option("--datasets-allow", multiple=True, metavar="S", help="Only datasets matching S (glob or substring).")
@click.option("--datasets-deny", multiple=True, metavar="S", help="Not datasets matching S.")
@click.option("--seed", type=int, help="Make breeding reproducible.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary (or the child ids) as JSON.")
@click.argument("command", required=False)
def breed(db_path, metric_spec, metric_sql, minimize, jobs, timeout, shell, launcher_name, launcher_option, scheduler,
          top, compare, generations, max_time, patience, breeder_name, population, datasets_allow, datasets_deny,
          seed, as_json, command):
    """Breed the best groups into new ones; with COMMAND, evaluate them and loop.

    Without COMMAND: one generation of children, their ids printed (the original
    gf-breeder). With COMMAND: --loop L generations of rank -> breed -> fix
    constraints -> evaluate every child on every dataset. An interrupted loop
    (Ctrl-C, a crash) resumes when rerun with the same arguments.
    """
    from gf import engine, metrics, plugins

    metric = metrics.resolve(metric_spec, sql_file=metric_sql)
    breeder = plugins.pick("breeder", breeder_name, plugins.get_breeders())
    conn = open_db(db_path)
    given = minimize
    minimize = _direction(conn, metric, minimize)
    datasets = engine.select_datasets(conn, datasets_allow, datasets_deny, db_path)
    if command is None and (max_time or patience):
        raise InputError("--max-time and --patience end a breed loop: give the COMMAND that evaluates the children")
    if command is None:
        # each hand-run breed is a generation of its own, so the default breeder learns from each
        (generation,) = conn.execute("SELECT coalesce(max(generation), 0) + 1 FROM groups "
                                     "WHERE loop_id IS NULL AND generation IS NOT NULL").fetchone()
        children, discarded, wanted = engine.breed_generation(
            conn, metric=metric, breeder=breeder, datasets=datasets, top=top, compare=compare,
            population=population, minimize=minimize, rng=engine._rng(seed, generation), generation=generation)
        if wanted and len(children) < wanted:
            click.echo(f"warning: bred {len(children)} of {wanted} children; {discarded} came out as duplicates "
                       "of stored groups or broke constraints", err=True)
        click.echo(to_json(children) if as_json else "\n".join(map(str, children)))
        return
    launcher, context = _launch_context(db_path, command, jobs, timeout, shell, launcher_name, scheduler,
                                        launcher_option, as_json)
    key_args = {"command": command, "metric": metric.name, "metric_sql": getattr(metric, "sql", None),
                "minimize": minimize, "top": top, "compare": compare, "breeder": breeder.name,
                "population": population, "datasets": datasets, "loop": generations, "seed": seed,
                "launcher": launcher.name, "shell": shell}
    unfinished = engine.unfinished_direction(conn, key_args) if given is None else None
    if unfinished is not None and unfinished[0] != minimize:  # the same command resumes its loop, the way it ran
        minimize, key_args["minimize"] = unfinished[0], unfinished[0]
        click.echo(f"note: resuming breed loop {unfinished[1]}, which had {'lower' if minimize else 'higher'} "
                   f"{metric.name} better (pass --minimize or --maximize to choose)", err=True)
    settings = engine.LoopSettings(
        metric=metric, breeder=breeder, launcher=launcher, datasets=datasets, generations=generations, top=top,
        compare=compare, population=population, minimize=minimize, seed=seed, max_time=max_time, patience=patience,
        key_args=key_args)
    summary = engine.run_loop(conn, settings, context, engine.Progress(echo=_progress_echo))
    if as_json:
        click.echo(to_json(summary))
    elif launcher.waits and not summary and not summary.reason:  # resumed after its last generation was done
        click.echo(f"nothing left to do: all {generations} generations of this loop were bred and evaluated", err=True)
    elif launcher.waits:
        emit(summary, ["generation", "children", "ok", "failed", "best"], False)
    elif summary.waiting:  # lines were printed (or printed again), or another gf runs them
        click.echo(f"# {summary.waiting}", err=True)
    if summary.reason:
        click.echo(summary.reason, err=True)


@cli.command()
@db_option
@metric_options
@json_option
@click.option("-n", "count", type=COUNT, default=10, show_default=True, help="Rows per dataset.")
@click.option("--dataset", "only_dataset", help="Only this dataset.")
@click.option("--algo", help="Only results of this algo.")
def top(db_path, metric_spec, metric_sql, minimize, as_json, count, only_dataset, algo):
    """Show the best groups of every dataset by a metric (the original gf-top).

    Without --metric: the last breed loop's metric, as `gf report` takes it.
    """
    from gf import metrics

    metric = metrics.resolve(metric_spec, sql_file=metric_sql, algo=algo) if metric_spec or metric_sql else None
    conn = open_db(db_path)
    if metric is None:  # the last loop's, of one algo's results with --algo
        metric = _last_loops_metric(conn, db_path)
        if algo:  # a loop's own SQL is refused with --algo as --metric-sql is, not read as a result's name
            metric = metrics.resolve(None, sql_file=metric.path, algo=algo) if isinstance(
                metric, metrics.SqlFileMetric) else metrics.resolve(metric.name, algo=algo)
    metrics.require_known(conn, metric, db_path)
    minimize = _direction(conn, metric, minimize)
    if only_dataset is not None:  # '' too: no run is on it (else every dataset would show)
        _require_dataset(conn, only_dataset, db_path)
        datasets = [only_dataset]
    else:
        datasets = store.datasets(conn)
        if not datasets:  # none recorded yet: refused as gf best refuses it, not an empty table
            from gf import engine

            engine.select_datasets(conn, (), (), db_path)
    rows = [
        {"dataset": dataset, "rank": rank, "group": row.group, "score": row.score, "algo": row.algo, "run": row.run}
        for dataset in datasets
        for rank, row in enumerate(metric.rank(conn, dataset=dataset, limit=count, minimize=minimize), start=1)
    ]
    why = "" if rows else metrics.unscored(conn, metric)
    if why:
        click.echo(f"note: nothing ranks{why}", err=True)
    emit(rows, ["dataset", "rank", "group", "score", "algo", "run"], as_json)


@cli.command()
@db_option
@metric_options
@json_option
@click.option("-n", "count", type=COUNT, default=10, show_default=True, help="How many groups.")
@click.option("--datasets-allow", multiple=True, metavar="S", help="Only datasets matching S (glob or substring).")
@click.option("--datasets-deny", multiple=True, metavar="S", help="Not datasets matching S (a hold-out, say).")
def best(db_path, metric_spec, metric_sql, minimize, as_json, count, datasets_allow, datasets_deny):
    """The best groups over every dataset: mean score, among the groups scored on the most datasets.

    What GeneticFuckery.best() and top() (without a dataset) return; `gf top` ranks per dataset.
    Without --metric: the last breed loop's metric, as `gf report` takes it.
    """
    from gf import engine, metrics, reports

    metric = metrics.resolve(metric_spec, sql_file=metric_sql) if metric_spec or metric_sql else None
    conn = open_db(db_path)
    metric = metric or _last_loops_metric(conn, db_path)
    minimize = _direction(conn, metric, minimize)
    datasets = engine.select_datasets(conn, datasets_allow, datasets_deny, db_path)
    left_out = {}
    ranked = metrics.overall(conn, metric, datasets, minimize, left_out=left_out)
    note = reports.holdout_note(conn, len(ranked), left_out, datasets, datasets_allow, datasets_deny, db_path)
    if note:
        click.echo(f"note: {note}", err=True)
    ranked = ranked[:count]
    if not ranked:
        recorded = metrics.result_names(conn)
        raise InputError(f"no run in {db_path} is scored by metric {metric.name!r}{metrics.unscored(conn, metric)}; "
                         f"results recorded: {some_of(recorded, metric.name, 'none (run gf run first)')}")
    rows = [{"rank": rank, "group": group, "score": score, "datasets": len(by_dataset), "by_dataset": by_dataset}
            for rank, (group, score, by_dataset) in enumerate(ranked, start=1)]
    if not as_json:
        rows = [{**row, "datasets": f"{row['datasets']} of {len(datasets)}"} for row in rows]
    emit(rows, ["rank", "group", "score", "datasets"], as_json)


@cli.command()
@db_option
@click.option("--map", "map_file", type=click.Path(dir_okay=False),
              help='A JSON file {"algo": ["param__name", ...]} (the merge-performers map).')
@click.option("--clear", is_flag=True, help="Forget ALGO's tags (or all tags without ALGO) first.")
@json_option
@click.argument("algo", required=False)
@click.argument("patterns", nargs=-1)
def tag(db_path, map_file, clear, as_json, algo, patterns):
    """Record which params inner ALGO uses (globs over full names); without arguments, list tags.

    With tags, the default breeder takes each algo's params from the groups that
    scored best for that algo, and mutates a poorly scoring algo's params harder.
    """
    from gf import tags as tagging

    if algo is not None and not algo.strip():  # an unset $ALGO in a script: --clear "" cleared every algo's tags
        raise InputError("ALGO is empty; name the algo (gf tag crossover 'fast*'), or leave it out to list the tags")
    mapping = tagging.read_map(map_file) if map_file else {}
    if algo:
        mapping.setdefault(algo, []).extend(patterns)
        if not patterns and not clear:
            raise InputError(f"name the params {algo} uses: gf tag {algo} 'pattern*' ...")
    # only tags to save make a database: a listing (or a clearing) of a misspelt --db says there is none
    conn = open_db(db_path, create=any(mapping.values()))
    unmatched = tagging.save(conn, mapping, clear=clear, clear_algo=algo)
    for algo_name, pattern in unmatched:
        click.echo(f"warning: {algo_name}: pattern {pattern!r} matches no parameter of any group", err=True)
    listed = [{"algo": a, "patterns": p} for a, p in tagging.load(conn).items()]
    emit(listed, ["algo", "patterns"], as_json)


@cli.command()
@db_option
@json_option
@click.option("--depth", type=Whole(most=MAX_DEPTH), default=6, show_default=True,
              help=f"Generations to go back (at most {MAX_DEPTH}).")
@click.argument("group", type=ID)
def lineage(db_path, as_json, depth, group):
    """Print GROUP's ancestry: its parents, theirs, and so on."""
    from gf import lineage as lineages

    conn = open_db(db_path)
    store.require_group(conn, group, db_path)
    tree = lineages.ancestry(conn, group, depth)
    if as_json:
        click.echo(to_json(tree, indent=2))
    else:
        click.echo("\n".join(lineages.draw(tree)))


def _listing(name, getter, with_options=False):
    @click.command(name="list", help=f"List the available {name}s."
                   + (" Below the table: the settings each takes (--launcher-option NAME=VALUE)." if with_options
                      else ""))
    @json_option
    def listing(as_json):
        from gf import plugins

        items = list(getattr(plugins, getter)().values())
        rows = [{"name": item.name, "description": item.description} for item in items]
        if not with_options:
            emit(rows, ["name", "description"], as_json)
            return
        for row, item in zip(rows, items):  # the table names them; JSON carries their help too
            row["options"] = dict(item.options or {}) if as_json else list(item.options or {})
        emit(rows, ["name", "description", "options"], as_json)
        if not as_json:
            for item in items:
                for option, text in (item.options or {}).items():
                    click.echo(f"  {item.name}: --launcher-option {option}=...  {text}")

    group = click.Group(name=f"{name}s", help=f"The {name}s plugins provide.")
    group.add_command(listing)
    cli.add_command(group)


_listing("metric", "get_metrics")
_listing("breeder", "get_breeders")
_listing("launcher", "get_launchers", with_options=True)


# -- plugins ------------------------------------------------------------------------


@cli.group("plugins")
def plugins_group():
    """Installed plugins and the hooks they implement."""


@plugins_group.command("list", short_help="List plugins: name, version, hooks, or why one failed.")
@json_option
@click.option("--all", "include_builtins", is_flag=True, help="Include gf's built-in plugins.")
def plugins_list(as_json, include_builtins):
    """List plugins: name, version, hooks; a plugin that failed to load shows its error."""
    from gf import plugins

    rows = plugins.describe_plugins(include_builtins)
    if as_json:
        click.echo(to_json(rows, indent=2))
        return
    emit([{**row, "hooks": row.get("hooks") or row.get("error")} for row in rows], ["name", "version", "hooks"], False)


# The commands for looking at and combining results live in their own module.
from gf import cli_reports  # noqa: E402,F401  (registers report, compare, rerun, merge...)


#: Set when SIGTERM (or SIGHUP) stopped gf: it then exits 143 (128 + 15; SIGHUP 129), as a process killed by it
#: reports, not 130.
_TERMINATED = []


def _terminate(signum, frame):
    import signal

    _TERMINATED.append(signum)
    # SIGTERM (timeout, systemd, a batch scheduler) and SIGHUP (the ssh session or terminal gf ran in closed)
    # stop gf as Ctrl-C does, killing the commands it runs; a stopped loop's reason names the signal
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _say(line):
    """gf's last line, on stderr: after a hangup (SIGHUP, the terminal gone) it cannot be written, which must not
    turn the exit status into a traceback's."""
    try:
        click.echo(line, err=True)
    except OSError:
        pass


def _interrupted_code():
    return 128 + _TERMINATED[0] if _TERMINATED else 130


def main(args=None, prog_name="gf"):
    """Console-script entry point."""
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    if hasattr(signal, "SIGHUP") and signal.getsignal(signal.SIGHUP) is signal.SIG_DFL:  # not under nohup
        signal.signal(signal.SIGHUP, _terminate)
    cli(args=_hoisted(sys.argv[1:] if args is None else list(args)), prog_name=prog_name)


def _hoisted(args):
    """``--debug`` anywhere before a ``--`` is gf's own option: `gf show 9 --debug` is `gf --debug show 9`."""
    end = args.index("--") if "--" in args else len(args)
    if "--debug" not in args[:end]:
        return args
    return ["--debug"] + [arg for index, arg in enumerate(args) if index >= end or arg != "--debug"]


#: The original tool's commands (`poetry run gf-load ...` in its README) and their gf spellings.
LEGACY_COMMANDS = {"gf-load": "load", "gf-template-run": "template-run", "gf-breeder-auto": "breed"}
#: The original tool's option names, as gf spells them.
LEGACY_OPTIONS = {"--metricName": "--metric", "--topN": "--top"}


_LEGACY_LOWER = {legacy.lower(): gf for legacy, gf in LEGACY_OPTIONS.items()}
#: gf's spelling -> the original's, of the options a legacy script was given (its errors name what was typed).
_LEGACY_SPELT = {}


def _legacy(name):
    """``name``'s console script: ``gf <its command>`` with the original's option names accepted."""

    def run():
        args = sys.argv[1:]
        end = args.index("--") if "--" in args else len(args)
        spelt = []
        for index, arg in enumerate(args):
            option, equals, value = arg.partition("=")
            if index < end and option.lower() in _LEGACY_LOWER:  # --metricName, as its README has it, or --metricname
                arg = _LEGACY_LOWER[option.lower()] + equals + value
                _LEGACY_SPELT[_LEGACY_LOWER[option.lower()]] = option
            spelt.append(arg)
        if {"--help", "-h"} & set(args[:end]):  # its help is gf's: say so, and which of its own options still work
            command = cli.commands[LEGACY_COMMANDS[name]]
            own = [f"{legacy} for {gf}" for legacy, gf in LEGACY_OPTIONS.items()
                   if any(gf in param.opts for param in command.params)]
            click.echo(f"{name}: the original geneticfuckery's command, now `gf {LEGACY_COMMANDS[name]}` (its help "
                       "follows)" + (f"; its options {', '.join(own)} are accepted too" if own else "") + "\n")
        main([LEGACY_COMMANDS[name], *spelt])  # its help and errors name the gf spelling

    run.__doc__ = f"`{name}`: the original tool's command, now `gf {LEGACY_COMMANDS[name]}`."
    return run


legacy_load = _legacy("gf-load")
legacy_template_run = _legacy("gf-template-run")
legacy_breeder_auto = _legacy("gf-breeder-auto")
