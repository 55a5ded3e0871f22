"""The ``gf`` commands for looking at and combining results: report, compare, rerun,
merge-performers, merge, import-legacy, plot. Registered on the ``gf`` group by
:mod:`gf.cli`; each command a few lines over the library.
"""

import click

from gf.cli import (
    COUNT,
    ID,
    _launch_context,
    _progress_echo,
    cli,
    db_option,
    emit,
    json_option,
    launch_options,
    metric_options,
    open_db,
    to_json,
)
from gf import store
from gf.errors import InputError


def _write(path, text):
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as error:
        raise InputError(f"{path}: cannot write: {error.strerror or error}") from None


@cli.command()
@db_option
@metric_options
@json_option
@click.argument("groups", nargs=-1, required=True, type=ID)
def report(db_path, metric_spec, metric_sql, minimize, as_json, groups):
    """Report GROUPS: params, lineage, and best results per dataset and algo.

    The metric defaults to the one of the last breed loop; with none and no --metric, the report
    lists the results a --metric could rank by instead.
    """
    from gf import metrics, reports

    conn = open_db(db_path)
    for group in groups:  # a missing group is the first thing to say, before any missing metric
        store.require_group(conn, group, db_path)
    if metric_spec or metric_sql or reports.last_loop_metric(conn) is not None:
        metric, lower = reports.choose_metric(conn, metric_spec, metric_sql, minimize, db_path)
        metrics.require_known(conn, metric, db_path)  # a misspelt result would report "no run scored", as if none were
    else:  # nothing bred here yet: params and lineage, and which results a --metric could rank by
        metric, lower = None, None
    found = [reports.group_report(conn, group, metric, lower, db_path) for group in groups]
    if as_json:
        click.echo(to_json(found, indent=2))
    else:
        click.echo("\n\n".join(reports.render_group_report(item) for item in found))


@cli.command()
@metric_options
@json_option
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Also write a self-contained HTML page.")
@click.option("--datasets-allow", multiple=True, metavar="S", help="Only datasets matching S (glob or substring).")
@click.option("--datasets-deny", multiple=True, metavar="S", help="Not datasets matching S (a hold-out, say).")
@click.argument("databases", nargs=-1, required=True, type=click.Path(dir_okay=False))
def compare(metric_spec, metric_sql, minimize, as_json, html_path, datasets_allow, datasets_deny, databases):
    """Show the best group of each of DATABASES side by side; differing params marked *.

    The metric defaults to each database's last breed loop's. In each database the groups scored on
    the most of its datasets compete (as in `gf best`), by their mean score.
    """
    from gf import reports

    result = reports.compare(databases, metric_spec, metric_sql, minimize, datasets_allow, datasets_deny)
    for entry in result["databases"]:
        if entry["note"]:
            click.echo(f"note: {entry['database']}: {entry['note']}", err=True)
    if html_path:
        _write(html_path, reports.compare_html(result))
    if as_json:
        click.echo(to_json(result, indent=2))
        return
    for line in reports.render_compare(result, mark=lambda text: click.style(text, bold=True, fg="yellow")):
        click.echo(line)


@cli.command()
@db_option
@launch_options
@click.option("--print", "print_only", is_flag=True, help="Only print the command lines (the print launcher).")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.argument("command")
@click.argument("runs", nargs=-1, required=True, type=ID)
def rerun(db_path, jobs, timeout, shell, launcher_name, launcher_option, scheduler, print_only, as_json, command,
          runs):
    """Run COMMAND again for RUNS, each with its run's group and dataset (`{}` = the dataset).

    The new runs are recorded like any other; --print only prints the lines.
    """
    from gf import engine

    if print_only and (launcher_name != "local" or launcher_option or scheduler):
        raise InputError("--print prints the command lines (the print launcher): leave out --launcher, "
                         "--launcher-option and --scheduler")
    launcher, context = _launch_context(db_path, command, jobs, timeout, shell,
                                        "print" if print_only else launcher_name, scheduler, launcher_option, as_json)
    conn = open_db(db_path)
    pairs = []
    for run in runs:
        row = conn.execute("SELECT group_id, dataset FROM runs WHERE id = ?", (run,)).fetchone()
        if row is None:
            raise InputError(f"run {run} does not exist in {db_path}; see `gf runs`")
        if row[1] is None:
            raise InputError(f"run {run} has no dataset (it ran without GF_DATA), so it cannot be rerun")
        pairs.append(tuple(row))
    ok, failed = engine.evaluate(conn, launcher, engine.evaluations_for(conn, pairs), context,
                                 engine.Progress(echo=_progress_echo), "rerunning", again=True)
    if launcher.waits:
        if as_json:
            click.echo(to_json({"rerun": ok + failed, "ok": ok, "failed": failed}))
        else:
            click.echo(f"{ok + failed} rerun: {ok} ok, {failed} failed")


@cli.command("merge-performers")
@db_option
@metric_options
@click.option("--top", type=COUNT, default=3, show_default=True,
              help="How many of each algo's best groups (per dataset) to combine.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the loader file here (default: stdout).")
@click.option("--load", "load_it", is_flag=True,
              help="Also load the result as a new group and print its id (stdout is then the id alone: the loader "
                   "file goes only to -o FILE).")
@click.argument("map_file", type=click.Path(dir_okay=False))
@click.argument("datasets", nargs=-1)
def merge_performers(db_path, metric_spec, metric_sql, minimize, top, output, load_it, map_file, datasets):
    """Combine each algo's best params (MAP_FILE: {"algo": ["param__name", ...]}) into one group.

    Numbers combine by median (rounded for _int), anything else by the most common
    value; params no algo claims come from the best group overall. The result keeps
    its parents' constraints (repaired when needed).
    """
    from gf import merging, reports, tags

    mapping = tags.read_map(map_file)
    if not mapping:
        raise InputError(f'{map_file}: the map names no algo; write {{"algo": ["param__name", ...]}}: each algo '
                         "and the params (or patterns) it uses")
    conn = open_db(db_path)
    metric, lower = reports.choose_metric(conn, metric_spec, metric_sql, minimize, db_path)
    params, parents, constraints, sources = merging.merge_performers(
        conn, mapping, metric, top=top, datasets=list(datasets) or None, minimize=lower)
    header = [f"merge-performers {map_file} by {metric.name}, top {top}"] + [
        f"{algo}: from groups {', '.join(map(str, groups))}" for algo, groups in sources.items()]
    text = merging.loader_text(params, constraints, header)
    if output:
        _write(output, text)
    elif not load_it:
        click.echo(text, nl=False)
    if load_it:
        group, warnings = merging.load_merged(conn, params, parents, constraints, f"merge-performers {map_file}")
        for warning in warnings:
            click.echo(f"warning: {warning}", err=True)
        click.echo(group)


@cli.command()
@json_option
@click.argument("out_db", type=click.Path(dir_okay=False))
@click.argument("in_dbs", nargs=-1, required=True, type=click.Path(dir_okay=False))
def merge(as_json, out_db, in_dbs):
    """Merge IN_DBS (written on other machines) into OUT_DB, matching groups and runs by ULID.

    Integer ids are remapped; lineage, results and tags are kept; merging the same
    database twice adds nothing. A group with the values and constraints of one OUT_DB
    had, in the same place (loaded, or the same loop and generation), is that group.
    """
    from gf import merging

    found = merging.merge_databases(out_db, in_dbs)
    emit(found, ["database", "groups", "groups_skipped", "runs", "runs_skipped"], as_json)


@cli.command()
@db_option
@json_option
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def ingest(db_path, as_json, files):
    """Record the runs in results FILES (written by report() with GF_RESULTS set).

    Each line is validated like report(); runs already recorded are skipped, so
    ingesting a file twice adds nothing. All or nothing: one transaction.
    """
    from gf import ingest as ingesting

    torn = []
    found = ingesting.ingest(open_db(db_path), files, db_path, torn)
    for path, number in torn:
        click.echo(f"warning: {path}:{number}: skipped a line cut short by a writer that died mid-write "
                   "(its run was never recorded)", err=True)
    if as_json:
        click.echo(to_json(found))
    else:
        runs = f"{found['runs']} run{'' if found['runs'] == 1 else 's'}"
        click.echo(f"{runs} recorded ({found['results']} results), {found['skipped']} already there")


@cli.command("import-legacy")
@json_option
@click.option("--into", "new_db", type=click.Path(dir_okay=False),
              help="The gf database to write (default: OLD-gf.db beside OLD.db).")
@click.argument("old_db", type=click.Path(dir_okay=False))
def import_legacy(as_json, new_db, old_db):
    """Import a database written by the original geneticfuckery into gf's schema."""
    from gf import legacy, plugins

    found = legacy.import_legacy(old_db, new_db, plugins.get_types())
    if as_json:
        click.echo(to_json(found, indent=2, default=str))
    else:
        click.echo(legacy.summary(found))


@cli.group()
def plot():
    """Pictures of a database (needs the [plot] extra: pip install matplotlib)."""


@plot.command("progress")
@db_option
@metric_options
@click.option("--loop", "loop_id", type=ID, metavar="ID",
              help="Only this breed loop's generations (see `gf loops`), by its metric unless --metric; default: "
                   "generation N of every loop pooled.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default="progress.png", show_default=True)
def plot_progress(db_path, metric_spec, metric_sql, minimize, loop_id, output):
    """Best and median score per generation, per dataset."""
    from gf import plots, reports

    conn = open_db(db_path)
    if loop_id is not None and not conn.execute("SELECT 1 FROM loops WHERE id = ?", (loop_id,)).fetchone():
        loops = [str(row[0]) for row in conn.execute("SELECT id FROM loops ORDER BY id")]
        raise InputError(f"--loop {loop_id}: {db_path} has no such breed loop; loops: "
                         f"{', '.join(loops) or 'none yet'} (see `gf loops`)")
    metric, lower = reports.choose_metric(conn, metric_spec, metric_sql, minimize, db_path, loop_id)
    click.echo(plots.progress(conn, metric, output, minimize=lower, loop=loop_id))


@plot.command("params")
@db_option
@metric_options
@click.option("--top", type=COUNT, default=10, show_default=True, help="How many groups.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default="params.png", show_default=True)
def plot_params(db_path, metric_spec, metric_sql, minimize, top, output):
    """The top groups' numeric params as parallel coordinates, coloured by score."""
    from gf import plots, reports

    conn = open_db(db_path)
    metric, lower = reports.choose_metric(conn, metric_spec, metric_sql, minimize, db_path)
    click.echo(plots.params(conn, metric, output, top=top, minimize=lower))

