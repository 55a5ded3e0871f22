"""Pictures of a database: how a metric improved per generation, and what the best groups look like.

``gf plot progress`` draws the best and the median score of every generation, one
colour per dataset; ``gf plot params`` draws the numeric parameters of the top
groups as parallel coordinates, coloured by score. Both write a PNG.

matplotlib is an optional extra (the ``[plot]`` extra: ``pip install matplotlib``) and is
imported only inside these functions: ``import gf`` never loads it. Figures are
built with the object-oriented API (``matplotlib.figure.Figure``) and rendered
by the Agg canvas, so no display, no pyplot backend and no global figure state is
involved: plotting from a notebook or a thread leaves the user's pyplot alone.
"""

import json
import math
import os
import textwrap

from gf import metrics, store
from gf.errors import GfError, InputError, some_of

#: At most this many parameter axes in :func:`params`; the ones whose values differ most are kept.
MAX_AXES = 40


class MissingExtra(GfError):
    """An optional dependency (matplotlib) is not installed."""

    exit_code = 1


def _matplotlib():
    """``(Figure, FigureCanvasAgg, matplotlib)``, or :class:`MissingExtra` with the pip command."""
    try:
        import matplotlib  # first, so a missing (or blocked) top-level package is seen
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingExtra("plots need matplotlib (the [plot] extra): pip install matplotlib") from None
    return Figure, FigureCanvasAgg, matplotlib


def _score(value):
    """A finite float, or ``None`` (a SQL metric may return text or NULL)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


#: Scores beyond this magnitude are drawn divided by a power of ten: matplotlib's axis limits and ticks overflow
#: (and fail) on values near the largest float.
LARGEST_DRAWN = 1e300


def _unit(scores):
    """The power of ten ``scores`` are drawn in units of: 1, unless they reach past :data:`LARGEST_DRAWN`."""
    largest = max(abs(score) for score in scores)
    return 1.0 if largest <= LARGEST_DRAWN else 10.0 ** math.floor(math.log10(largest))


def _in_units(label, unit):
    """``label``, naming the unit scores are drawn in when it is not 1."""
    return label if unit == 1 else f"{label} (x {unit:.0e})"


def _median(scores):
    """The median of ``scores``; the middle two halved before they are added, so that two near the largest
    float do not add up to infinity."""
    ordered = sorted(scores)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else ordered[middle - 1] / 2 + ordered[middle] / 2


def _nothing_scored(conn, metric, datasets):
    recorded = metrics.result_names(conn)
    where = f" on {', '.join(map(str, datasets))}" if datasets else " (the database has no run with a dataset)"
    return InputError(
        f"nothing to plot: no run is scored by metric {metric.name!r}{where}; "
        f"results recorded: {some_of(recorded, metric.name, 'none (run gf run first)')}"
    )


def _wrap(title, width):
    """``title`` in lines that fit a figure ``width`` inches wide (about ten characters an inch)."""
    return textwrap.fill(title, width=max(24, int(width * 9.5)), break_on_hyphens=False)


#: The file formats a plot is written in, by the output's extension.
FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}


def _format(output):
    """The format ``output``'s extension names; an :class:`InputError` for any other extension."""
    path = os.fspath(output)
    extension = os.path.splitext(path)[1].lower()
    found = FORMATS.get(extension) if extension else "png"  # no extension: a PNG, as before
    if found is None:
        raise InputError(f"{path}: a plot is written as {', '.join(FORMATS)}; end the file name with one of them")
    return found


def _save(figure, canvas_class, output):
    path = os.fspath(output)
    canvas_class(figure)
    try:
        figure.savefig(path, format=_format(path), dpi=figure.dpi)
    except OSError as error:
        raise InputError(f"{path}: cannot write the plot: {error.strerror or error}") from None
    return path


# -- progress -----------------------------------------------------------------------


def progress_series(conn, metric, *, minimize=False, datasets=None, loop=None):
    """``{dataset: [(generation, best, median, count)]}``, generations ascending.

    Every group's score on a dataset (its best run) is put in its group's
    generation; loaded groups (no generation) count as generation 0. Generations of
    different breed loops with the same number are pooled, unless ``loop`` (a loop's id)
    picks one: then only its groups, and the groups loaded before its first. Datasets
    without any scored group are left out.
    """
    datasets = list(datasets) if datasets else store.datasets(conn)
    only = "" if loop is None else (" WHERE loop_id = ? OR generation IS NULL AND id < (SELECT coalesce(min(id), 1 << 62) "
                                    "FROM groups WHERE loop_id = ?)")
    generation_of = {
        group: generation or 0
        for group, generation in conn.execute(f"SELECT id, generation FROM groups{only}",
                                              () if loop is None else (loop, loop))
    }
    series = {}
    for dataset in datasets:
        by_generation = {}
        for row in metric.rank(conn, dataset=dataset, minimize=minimize):
            score = _score(row.score)
            if score is not None and row.group in generation_of:
                by_generation.setdefault(generation_of[row.group], []).append(score)
        if by_generation:
            pick = min if minimize else max
            series[dataset] = [
                (generation, pick(scores), _median(scores), len(scores))
                for generation, scores in sorted(by_generation.items())
            ]
    return series


#: Legend entries (datasets, then "best" and "median") drawn inside the axes; more go beside them.
LEGEND_INSIDE = 24


def progress(conn, metric, output, *, minimize=False, datasets=None, loop=None, width=10, height=6, dpi=100):
    """Plot the best (solid) and median (dashed) score of every generation, per dataset; write a PNG.

    :param conn: an open gf database connection.
    :param metric: a :class:`gf.metrics.Metric` (see :func:`gf.metrics.resolve`).
    :param output: the file to write: PNG, SVG or PDF by its extension (``.png``, ``.svg``, ``.pdf``;
        none: PNG).
    :param minimize: lower scores are better (the best of a generation is its minimum).
    :param datasets: only these datasets (default: every dataset with runs).
    :param loop: only this breed loop's generations (its id, see ``gf loops``; default: every loop's,
        generation N of each pooled), with the loaded groups.
    :param width: figure width in inches (the PNG is ``width * dpi`` pixels wide).
    :param height: figure height in inches.
    :param dpi: pixels per inch.
    :returns: the path written.
    :raises InputError: no run is scored by ``metric``; the file cannot be written.
    :raises MissingExtra: matplotlib is not installed.
    """
    _format(output)  # refused before any work
    Figure, Canvas, matplotlib = _matplotlib()
    series = progress_series(conn, metric, minimize=minimize, datasets=datasets, loop=loop)
    if not series:
        raise _nothing_scored(conn, metric, list(datasets) if datasets else store.datasets(conn))
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    axes = figure.add_subplot()
    if len(series) <= 20:
        colours = matplotlib.colormaps["tab10" if len(series) <= 10 else "tab20"].colors
    else:  # one colour per dataset, not tab20's twenty over again
        colours = [matplotlib.colormaps["turbo"](index / (len(series) - 1)) for index in range(len(series))]
    handles = []
    longest = max(len(points) for points in series.values())
    marker = "o" if longest <= 60 else None
    unit = _unit([score for points in series.values() for point in points for score in point[1:3]])
    for index, (dataset, points) in enumerate(series.items()):
        colour = colours[index % len(colours)]
        generations = [point[0] for point in points]
        axes.plot(generations, [point[1] / unit for point in points], color=colour, linestyle="-", linewidth=2,
                  marker=marker, markersize=4)
        axes.plot(generations, [point[2] / unit for point in points], color=colour, linestyle="--", linewidth=1.5,
                  marker=marker, markersize=3, markerfacecolor="none")
        handles.append(Line2D([], [], color=colour, linewidth=2, label=str(dataset)))
    handles += [
        Line2D([], [], color="0.3", linestyle="-", linewidth=2, label="best"),
        Line2D([], [], color="0.3", linestyle="--", linewidth=1.5, label="median"),
    ]
    if len(handles) <= LEGEND_INSIDE:
        axes.legend(handles=handles, loc="best", fontsize="small", ncols=1 if len(handles) <= 12 else 2)
    else:  # beside the axes, in as many columns as it takes to fit the height
        rows = max(8, int(height * 72 / 11))  # x-small text takes about 11 points a row
        axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="x-small",
                    ncols=-(-len(handles) // rows))
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    first = min(points[0][0] for points in series.values())
    last = max(points[-1][0] for points in series.values())
    if first == last:  # one generation: integer ticks around it, not -0.04 ... 0.04
        axes.set_xlim(first - 1, last + 1)
    axes.grid(True, alpha=0.3)
    axes.set_xlabel("generation (0: loaded groups)")
    axes.set_ylabel(_in_units(f"score: {metric.name}", unit))
    groups = sum(point[3] for points in series.values() for point in points)
    title = _wrap(f"{metric.name} per generation{'' if loop is None else f' of loop {loop}'}, best and median "
                  f"({metrics.better(minimize)}; "
                  f"{groups} group scores on {len(series)} dataset{'s' if len(series) != 1 else ''})", width)
    if len(handles) <= LEGEND_INSIDE:
        axes.set_title(title)
    else:  # over the whole figure: the axes are narrowed by the legend beside them
        figure.suptitle(title)
    return _save(figure, Canvas, output)


# -- params -------------------------------------------------------------------------


def _numeric(type_name, typed_json):
    """A param's plotted number: ints and floats as they are, bools as 0/1; ``None`` to skip it."""
    if type_name == "choice":
        return None
    value = json.loads(typed_json)
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


def _spread(values):
    """How much the top groups disagree on a param, independent of its scale: range / magnitude."""
    low, high = min(values), max(values)
    magnitude = max(abs(low), abs(high))
    return (high - low) / magnitude if magnitude else 0.0


def param_table(conn, metric, *, top=10, minimize=False, max_axes=MAX_AXES):
    """The data :func:`params` draws, as a dict.

    ``groups``: ``[(group, score)]`` best first (``gf.metrics.overall`` over every
    dataset); ``names``: the plotted params (sorted); ``values``: ``{group: [raw
    value or None]}`` in ``names`` order; ``low``/``high``: each param's range over
    the groups; ``total``: how many numeric params the groups have (more than
    ``names`` when only the ``max_axes`` with the largest spread are kept).

    :raises InputError: ``top`` below 1, nothing scored, or no numeric param.
    """
    if top < 1:
        raise InputError(f"--top must be at least 1, got {top}")
    datasets = store.datasets(conn)
    ranked = [
        (group, _score(mean))
        for group, mean, _by_dataset in metrics.overall(conn, metric, datasets, minimize)
        if _score(mean) is not None
    ][:top]
    if not ranked:
        raise _nothing_scored(conn, metric, datasets)
    groups = [group for group, _ in ranked]
    marks = ",".join("?" * len(groups))
    found, skipped, flags = {}, set(), set()
    for group, param, name, type_name, typed in conn.execute(
        f"SELECT group_id, param, name, type, typed FROM params WHERE group_id IN ({marks})", groups
    ):
        full = store.join_name(param, name)
        number = _numeric(type_name, typed)
        if number is None:
            skipped.add(full)
        else:
            found.setdefault(full, {})[group] = number
            if type_name == "bool":
                flags.add(full)
    names = sorted(name for name in found if name not in skipped)
    if not names:
        raise InputError(
            f"nothing to plot: the top groups by {metric.name!r} have no numeric parameter "
            "(choice params are not plotted)"
        )
    total = len(names)
    if total > max_axes:
        # booleans after the numbers that differ (any two booleans that differ have the largest spread there
        # is, and would fill every axis), and params the same in every group last
        def rank(name):
            spread = _spread(list(found[name].values()))
            return spread == 0, name in flags, -spread

        keep = set(sorted(names, key=rank)[:max_axes])
        names = [name for name in names if name in keep]
    return {
        "groups": ranked,
        "names": names,
        "values": {group: [found[name].get(group) for name in names] for group in groups},
        "low": [min(found[name].values()) for name in names],
        "high": [max(found[name].values()) for name in names],
        "total": total,
    }


def _label(name, limit=32):
    return name if len(name) <= limit else "\N{HORIZONTAL ELLIPSIS}" + name[-(limit - 1):]


def params(conn, metric, output, *, top=10, minimize=False, width=12, height=6, dpi=100):
    """Plot the numeric params of the top ``top`` groups as parallel coordinates; write a PNG.

    Groups are ranked by their mean score over every dataset (:func:`gf.metrics.overall`).
    Each axis is one param (ints, floats, bounded reals; bools as 0/1; choices are
    skipped), min-max normalized over the plotted groups to [0, 1] (a param all
    groups agree on sits at 0.5). Lines are coloured by score; the best group is
    drawn last and thickest. With more than :data:`MAX_AXES` numeric params, the
    ones whose values differ most (range relative to magnitude) are kept, and the
    title says so.

    :param top: how many groups to draw.
    :returns: the path written.
    :raises InputError: no run is scored by ``metric``; no numeric param; ``top`` < 1;
        the file cannot be written.
    :raises MissingExtra: matplotlib is not installed.
    """
    _format(output)  # refused before any work
    Figure, Canvas, matplotlib = _matplotlib()
    table = param_table(conn, metric, top=top, minimize=minimize)
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    names, groups = table["names"], table["groups"]
    unit = _unit(score for _, score in groups)
    scores = [score / unit for _, score in groups]
    low, high = min(scores), max(scores)
    if low == high:  # one score: a range below (or above) it, so that it still gets the best colour
        pad = abs(low) * 0.1 or 1.0
        low, high = (low, high + pad) if minimize else (low - pad, high)
    # Viridis: yellow is the highest score; reversed when minimizing, so the best is always yellow.
    colour_map = matplotlib.colormaps["viridis_r" if minimize else "viridis"]
    norm = Normalize(vmin=low, vmax=high)

    figure = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    axes = figure.add_subplot()
    positions = list(range(len(names)))
    for position in positions:
        axes.axvline(position, color="0.8", linewidth=0.8, zorder=0)
    for rank, (group, score) in reversed(list(enumerate(groups))):
        normalized = [
            math.nan if value is None else
            0.5 if table["high"][at] == table["low"][at] else
            (value - table["low"][at]) / (table["high"][at] - table["low"][at])
            for at, value in enumerate(table["values"][group])
        ]
        best = rank == 0
        axes.plot(positions, normalized, color=colour_map(norm(score / unit)), linewidth=3 if best else 1.3,
                  alpha=1.0 if best else 0.75, marker="o", markersize=4 if best else 2.5, zorder=3 if best else 2)
    if len(names) <= 20:
        for position, (lowest, highest) in enumerate(zip(table["low"], table["high"])):
            # a param every group shares is drawn at 0.5 (see ``normalized``), and so is its value
            axes.annotate(f"{lowest:.3g}", (position, 0 if highest != lowest else 0.5), xytext=(2, -9),
                          textcoords="offset points",
                          fontsize=7, color="0.35")
            if highest != lowest:
                axes.annotate(f"{highest:.3g}", (position, 1), xytext=(2, 4), textcoords="offset points",
                              fontsize=7, color="0.35")
    axes.set_xticks(positions, [_label(name) for name in names], rotation=45 if len(names) <= 15 else 90,
                    ha="right" if len(names) <= 15 else "center", fontsize=8 if len(names) <= 25 else 7)
    axes.set_xlim(-0.3 if len(names) > 1 else -1, len(names) - 0.7 if len(names) > 1 else 1)
    axes.set_ylim(-0.08, 1.08)
    axes.set_ylabel(f"normalized value (min-max over the {len(groups)} groups)")
    colorbar = figure.colorbar(ScalarMappable(norm=norm, cmap=colour_map), ax=axes, pad=0.01)
    colorbar.set_label(_in_units(f"{metric.name} (mean over datasets)", unit))
    if minimize:
        colorbar.ax.invert_yaxis()  # the better end up, as when maximizing
    best_group, best_score = groups[0]
    title = (f"top {len(groups)} group{'s' if len(groups) != 1 else ''} by {metric.name} "
             f"({metrics.better(minimize)}): numeric parameters; thick line: the best, "
             f"group {best_group} ({best_score:.4g})")
    if table["total"] > len(names):
        title += f"; showing the {len(names)} of {table['total']} params whose values differ most"
    axes.set_title(_wrap(title, width))
    return _save(figure, Canvas, output)
