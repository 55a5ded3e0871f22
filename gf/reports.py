"""Looking at results: one group's report (``gf report``) and databases side by side (``gf compare``)."""

import html
import json
import shlex

from gf import breeding, lineage, metrics, store
from gf.errors import InputError


def last_loop_metric(conn, loop_id=None):
    """``(metric, minimize)`` of the newest breed loop (or of loop ``loop_id``), or ``None`` when there was none."""
    row = (conn.execute("SELECT args FROM loops ORDER BY id DESC LIMIT 1") if loop_id is None else
           conn.execute("SELECT args FROM loops WHERE id = ?", (loop_id,))).fetchone()
    if row is None:
        return None
    args = json.loads(row[0])
    name = args.get("metric")
    if not name:
        return None
    if name.startswith("sql:"):
        # the query the loop ranked by, as it stored it: its file's path may be relative to another folder, and the
        # file may have changed since; the same name keeps the direction the loop remembered
        return metrics.SqlFileMetric(name[4:], sql=args.get("metric_sql")), bool(args.get("minimize"))
    return metrics.resolve(name), bool(args.get("minimize"))


def choose_metric(conn, spec, sql_file, minimize, db_path, loop_id=None):
    """The metric asked for, else the last breed loop's (or loop ``loop_id``'s); ``(metric, minimize)``.
    Without ``--minimize``/``--maximize`` (``minimize`` None), the direction that metric was bred in
    (:func:`gf.metrics.direction`)."""
    if spec or sql_file:
        metric = metrics.resolve(spec, sql_file=sql_file)
        metrics.refuse_near_registered(conn, metric, db_path)
        return metric, metrics.direction(conn, metric, minimize, where=db_path)[0]
    found = last_loop_metric(conn, loop_id)
    if found is None:
        raise InputError(f"{db_path} has no breed loop to take a metric from: pass --metric NAME")
    if loop_id is not None and minimize is None:  # that loop's own way, whatever later loops did
        return found
    # the newest loop's metric, and its way (direction() gives the same, and warns if loops disagree)
    return found[0], metrics.direction(conn, found[0], minimize, where=db_path)[0]


def group_report(conn, group_id, metric, minimize, db_path=""):
    """A dict describing one group: params, constraints, lineage, best results per dataset and algo."""
    store.require_group(conn, group_id, db_path)
    info = next(g for g in store.list_groups(conn) if g["id"] == group_id)
    params = [{"name": name, "type": type_name, "value": json.loads(value), "reads_as": json.loads(typed)}
              for name, value, type_name, typed in store.group_params(conn, group_id)]
    best = {}
    # dataset by dataset: a metric that keeps one run per algo (max profit min trades) would
    # otherwise keep one per algo over all of them
    datasets = [dataset for (dataset,) in conn.execute(  # runs without a dataset are ranked by none
        "SELECT dataset FROM runs WHERE group_id = ? AND dataset IS NOT NULL GROUP BY dataset ORDER BY min(id)",
        (group_id,))] if metric is not None else []
    for dataset in datasets:
        for row in metric.rank(conn, dataset=dataset, group=group_id, minimize=minimize, per_group=False):
            best.setdefault((row.dataset, row.algo), row)
    return {
        **info,
        "params": params,
        "constraints": [f"{lhs} {op} {rhs}" for lhs, op, rhs in store.group_constraints(conn, group_id)],
        "lineage": lineage.ancestry(conn, group_id, 3),
        "metric": metric.name if metric is not None else None,
        "minimize": minimize,
        # every algo.name recorded for the group: what a --metric can rank it by
        "recorded": [f"{algo}.{name}" for algo, name in conn.execute(
            "SELECT DISTINCT algo, name FROM results JOIN runs ON runs.id = results.run WHERE runs.group_id = ? "
            "ORDER BY algo, name", (group_id,))],
        "best": [{"dataset": row.dataset, "algo": row.algo, "score": row.score, "run": row.run}
                 for row in _best_first(best.values(), minimize)],
    }


def _best_first(rows, minimize):
    """``rows`` (:class:`gf.Ranked`) best score first, as SQLite orders scores (numbers before
    text, which a --metric-sql query may return), rows without a score last."""
    scored = sorted((row for row in rows if row.score is not None), key=lambda row: metrics.sqlite_order(row.score),
                    reverse=not minimize)
    return scored + [row for row in rows if row.score is None]


def table(rows, columns):
    """Aligned text lines of ``rows`` (dicts) under ``columns``."""
    cells = [[_text(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(column)] + [len(line[i]) for line in cells]) for i, column in enumerate(columns)]
    lines = ["  ".join(column.ljust(width) for column, width in zip(columns, widths)).rstrip()]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in cells]
    return lines


def _text(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, dict, bool)):
        return json.dumps(value)
    return str(value).replace("\t", "\\t").replace("\n", "\\n")  # a tab or newline would break the columns


def render_group_report(report):
    """The text of :func:`group_report` for people."""
    head = f"group {report['id']}  {report['origin']}"
    if report["generation"] is not None:
        head += f"  (generation {report['generation']}, {report['breeder']}"
        head += f", loop {report['loop']})" if report.get("loop") is not None else ")"
    lines = [head, f"created {report['created']}  uid {report['uid']}", ""]
    lines += ["lineage:"] + ["  " + line for line in lineage.draw(report["lineage"])] + [""]
    lines += ["params:"] + ["  " + line for line in table(report["params"], ["name", "type", "value", "reads_as"])]
    if report["constraints"]:
        lines += ["", "constraints:"] + [f"  {c}" for c in report["constraints"]]
    if report["metric"] is None:
        recorded = report["recorded"]
        some = ", ".join(recorded[:8]) + (f" and {len(recorded) - 8} more" if len(recorded) > 8 else "")
        lines += ["", "results: no breed loop here to take a metric from; pass --metric NAME to rank this group's runs"
                  + (f" (recorded: {some})" if recorded else " (none recorded yet)")]
        return "\n".join(lines)
    direction = "lowest" if report["minimize"] else "highest"
    lines += ["", f"best results by {report['metric']} ({direction} first):"]
    if report["best"]:
        lines += ["  " + line for line in table(report["best"], ["dataset", "algo", "score", "run"])]
    else:
        lines.append("  (no run scored by this metric)")
    return "\n".join(lines)


def holdout_note(conn, ranked, left_out, datasets, allow=(), deny=(), db_path=""):
    """What to tell a user whose ranking over ``datasets`` left groups out because each lacks the
    same datasets (a hold-out run on a few groups): ``None`` if nothing was, else one line naming those
    datasets and the ``--datasets-deny`` that ranks over the others. ``ranked`` is how many groups
    competed; ``left_out`` is what :func:`gf.metrics.overall` filled in."""
    if not (left_out.get("all_lack") and left_out["groups"] > ranked):
        return None
    from gf import engine

    missed = left_out["missed"]
    try:  # the option is a glob or a substring: suggest it only if it leaves out those datasets alone
        kept = engine.select_datasets(conn, allow, (*deny, *missed), db_path)
    except InputError:
        kept = None
    how = (" ".join(f"--datasets-deny {shlex.quote(name)}" for name in missed)
           if kept == [d for d in datasets if d not in missed]
           else "--datasets-deny (a glob or substring matching only those)")
    return (f"{ranked} group(s) scored on the most datasets are ranked; {left_out['groups']} more lack "
            f"{', '.join(missed)}: rank over the other datasets with {how}")


# -- compare --------------------------------------------------------------------------


def compare(paths, spec=None, sql_file=None, minimize=None, allow=(), deny=()):
    """The best group of each database by a metric, its params and per-dataset scores.

    Each database's groups compete over its datasets kept by ``allow`` and dropped by ``deny``
    (see :func:`gf.engine.select_datasets`), among those scored on the most of them.

    :returns: ``{"databases": [...], "datasets": [...], "params": [{"name", "values", "differs"}]}``;
        a database's entry has a ``note`` (see :func:`holdout_note`) where groups were left out.
    """
    from gf import engine

    entries = []
    if minimize is None and (spec or sql_file):
        # one metric named for all: one direction for all, the first database's that remembers one
        for path in paths:
            conn = store.connect(path, create=False, missing="check the path of each database to compare")
            lower, loop = metrics.direction(conn, metrics.resolve(spec, sql_file=sql_file), None, where=path)
            conn.close()
            if loop is not None:
                minimize = lower
                break
    for path in paths:
        conn = store.connect(path, create=False, missing="check the path of each database to compare")
        metric, lower = choose_metric(conn, spec, sql_file, minimize, path)
        datasets = engine.select_datasets(conn, allow, deny, path)
        left_out = {}
        ranked = metrics.overall(conn, metric, datasets, lower, left_out=left_out)
        if not ranked:
            raise InputError(f"{path}: no run is scored by metric {metric.name!r}")
        group, score, by_dataset = ranked[0]
        entries.append({"database": str(path), "metric": metric.name, "minimize": lower, "group": group,
                        "score": score, "scores": by_dataset, "values": breeding.group_values(conn, group),
                        "note": holdout_note(conn, len(ranked), left_out, datasets, allow, deny, path)})
        conn.close()
    datasets = list(dict.fromkeys(d for entry in entries for d in entry["scores"]))
    names = sorted({name for entry in entries for name in entry["values"]})
    params = []
    for name in names:
        values = [entry["values"].get(name) for entry in entries]
        params.append({"name": name, "values": values,
                       "differs": len({json.dumps(v, sort_keys=True) for v in values}) > 1})
    for entry in entries:
        del entry["values"]
    return {"databases": entries, "datasets": datasets, "params": params}


def render_compare(result, mark=lambda text: text):
    """Text lines: scores per dataset, then params (``*`` and ``mark`` on those that differ)."""
    databases = result["databases"]
    header = {"what": "", **{str(i): entry["database"] for i, entry in enumerate(databases)}}
    rows = [{"what": "best group", **{str(i): e["group"] for i, e in enumerate(databases)}},
            {"what": "metric", **{str(i): f"{e['metric']} ({metrics.better(e['minimize'])})" for i, e in enumerate(databases)}},
            {"what": "mean score", **{str(i): e["score"] for i, e in enumerate(databases)}}]
    rows += [{"what": f"score {dataset}", **{str(i): e["scores"].get(dataset) for i, e in enumerate(databases)}}
             for dataset in result["datasets"]]
    rows += [{"what": ("* " if p["differs"] else "  ") + p["name"],
              **{str(i): v for i, v in enumerate(p["values"])}} for p in result["params"]]
    columns = list(header)
    lines = table([header] + rows, columns)[1:]
    differing = {("* " + p["name"]) for p in result["params"] if p["differs"]}
    return [mark(line) if line.startswith(tuple(differing)) else line for line in lines]


def compare_html(result):
    """A self-contained HTML page of :func:`compare`: differing params highlighted."""
    databases = result["databases"]
    esc = lambda value: html.escape(_text(value))
    head = "".join(f"<th>{esc(entry['database'])}</th>" for entry in databases)

    def row(label, values):
        return f"<tr><th>{esc(label)}</th>{''.join(f'<td>{esc(value)}</td>' for value in values)}</tr>"

    body = [row("best group", [entry["group"] for entry in databases]),
            row("metric", [f"{entry['metric']} ({metrics.better(entry['minimize'])})" for entry in databases]),
            row("mean score", [entry["score"] for entry in databases])]
    body += [row(f"score {dataset}", [entry["scores"].get(dataset) for entry in databases])
             for dataset in result["datasets"]]
    body.append(f"<tr><th colspan='{len(databases) + 1}' class='section'>parameters</th></tr>")
    for param in result["params"]:
        css = " class='differs'" if param["differs"] else ""
        cells = "".join(f"<td>{esc(value)}</td>" for value in param["values"])
        body.append(f"<tr{css}><th>{esc(param['name'])}</th>{cells}</tr>")
    differing = sum(p["differs"] for p in result["params"])
    notes = "".join(f"<p class='note'>note: {esc(entry['database'])}: {esc(entry['note'])}</p>\n"
                    for entry in databases if entry.get("note"))
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>gf compare</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: left; font-variant-numeric: tabular-nums; }}
tr.differs {{ background: #fff3b0; font-weight: bold; }}
th.section {{ background: #eee; }}
</style></head><body>
<h1>gf compare</h1>
<p>The best group of each database; {differing} of {len(result['params'])} parameters differ (highlighted).</p>
{notes}
<table><tr><th></th>{head}</tr>
{chr(10).join(body)}
</table></body></html>
"""
