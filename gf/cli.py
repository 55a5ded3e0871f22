"""The ``gf`` command: a thin click layer, each command a few lines over the library.

Errors gf raises on purpose (:class:`gf.GfError`) print as one line and exit with
status 2 (bad input or usage) or 1 (environment); ``--debug`` shows the traceback.
"""

import json
import os
import shlex

import click

from gf import loader, plugins, store
from gf.errors import GfError, InputError, LoadError


class GfGroup(click.Group):
    """A click group that turns gf's errors into one line and an exit status."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except GfError as error:
            if ctx.params.get("debug"):
                raise
            # A located error already starts with FILE:LINE; the others get a prefix.
            click.echo(str(error) if isinstance(error, LoadError) else f"error: {error}", err=True)
            ctx.exit(error.exit_code)


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


def emit(rows, columns, as_json):
    """Print ``rows`` (dicts) as JSON or as an aligned table of ``columns``."""
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
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
    if isinstance(value, (list, tuple)):
        return ",".join(str(item) for item in value)
    return str(value)


# -- loading and looking ------------------------------------------------------------


@cli.command()
@db_option
@click.option("--parent", type=int, metavar="GROUP", help="Load the files as overrides on top of this group.")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def load(db_path, parent, files):
    """Load parameter FILES (later override earlier) as one new group; print its id.

    Lines are `name = <JSON value>`, `# comments`, and constraints such as
    `slow < fast` or `rate_int >= 1`. `__` in a name nests it for dot access.
    """
    types = plugins.get_types()
    conn = open_db(db_path, create=True)
    group_id, parsed = loader.load(conn, files, types, parent=parent, db_path=db_path)
    for warning in parsed.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(group_id)


@cli.command()
@db_option
@json_option
def groups(db_path, as_json):
    """List parameter groups: id, created, origin, parents."""
    rows = store.list_groups(open_db(db_path))
    emit(rows, ["id", "created", "origin", "parents", "generation", "breeder"], as_json)


@cli.command()
@db_option
@json_option
@click.argument("group", type=int)
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
        click.echo(json.dumps({"group": group, "params": params, "constraints": constraints}, indent=2))
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
@click.option("--group", "group_id", type=int, help="Only runs of this group.")
@click.option("--dataset", help="Only runs on this dataset.")
def runs(db_path, as_json, group_id, dataset):
    """List recorded runs: group, dataset, label, status, times, result count."""
    rows = store.list_runs(open_db(db_path), group_id=group_id, dataset=dataset)
    emit(rows, ["id", "group", "dataset", "label", "status", "started", "stopped", "results", "error"], as_json)


@cli.command()
@db_option
@click.argument("group", type=int)
def export(db_path, group):
    """Write GROUP in the loader format (to stdout): `gf load` of it recreates the group."""
    click.echo(loader.export(open_db(db_path), group, db_path), nl=False)


@cli.command("template-run")
@db_option
@click.option("--group", "group_ids", type=int, multiple=True, help="Only these groups (repeatable).")
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
    datasets = list(datasets) or store.datasets(conn)
    if not datasets:
        raise InputError(f"no datasets given and none recorded in {db_path}: name them after COMMAND")
    for group_id in group_ids:
        store.require_group(conn, group_id, db_path)
    db_absolute = os.path.abspath(db_path)
    for group_id in group_ids or store.group_ids(conn):
        for dataset in datasets:
            quoted = shlex.quote(dataset)
            click.echo(
                f"GF_DB={shlex.quote(db_absolute)} GF_PARAM_GROUP={group_id} GF_DATA={quoted} "
                f"GF_FAMILY={quoted} {command.replace('{}', quoted)}"
            )


# -- plugins ------------------------------------------------------------------------


@cli.group("plugins")
def plugins_group():
    """Installed plugins and the hooks they implement."""


@plugins_group.command("list")
@json_option
@click.option("--all", "include_builtins", is_flag=True, help="Include gf's built-in plugins.")
def plugins_list(as_json, include_builtins):
    """List plugins: name, version, hooks; a plugin that failed to import shows its error."""
    rows = plugins.describe_plugins(include_builtins)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    emit([{**row, "hooks": row.get("hooks") or row.get("error")} for row in rows], ["name", "version", "hooks"], False)


def main():
    """Console-script entry point."""
    cli(prog_name="gf")
