"""From raw runs to normalized regret, mean ranks and the issue's targets.

**Normalized regret** of a run (function ``f``, dimension ``n``, seed ``s``)::

    regret = (best - f_opt) / (R - f_opt)

where ``best`` is the true value of the run's best-observed point after the budget and
``R`` is the *mean over seeds* of random search's final ``best`` on the same ``f`` and
``n``. Random search therefore averages exactly 1.0, the optimum is 0, and a value
above 1 is worse than random search. The mean over seeds (rather than the same seed's
random run) keeps one lucky random run from inflating a ratio. The regret *curve* uses
the same ``R`` for the best-so-far after every generation, so it only falls and ends at
the final regret.

**Mean rank**: on every (function, dimension, seed), the optimizers that ran are ranked
by final ``best`` (1 = best, ties share the mean rank); an optimizer's mean rank is
the mean over its functions and seeds. CMA-ES runs only on all-numeric functions, so
its mean rank and mean regret cover fewer functions (marked in the tables).

Runs that raised are left out of every mean and counted as failures. A gf run whose
breeder could no longer produce a valid new child *stalled*: it counts, with the best it
reached (what the user is left with), and is flagged.
"""

import math
import statistics
from collections import defaultdict

from benchmarks.optimizers.optimizers import get

#: Regret below this is shown as 0 on log plots (the optimum found to rounding).
REGRET_FLOOR = 1e-9


def _valid(records):
    return [record for record in records if not record.get("error")]


def random_baseline(records):
    """``{(function, dim): R}``: random search's final best, mean over seeds."""
    grouped = defaultdict(list)
    for record in _valid(records):
        if record["optimizer"] == "random":
            grouped[(record["function"], record["dim"])].append(record)
    return {key: statistics.fmean(run["best"] for run in runs) for key, runs in grouped.items()}


def normalized(value, f_opt, reference):
    """``(value - f_opt) / (reference - f_opt)``; NaN when random search already sits at the optimum."""
    span = reference - f_opt
    if span <= 0:
        return math.nan
    return (value - f_opt) / span


def add_regret(records, baseline):
    """Give every valid record ``regret`` (final) and ``regret_curve`` (after every generation)."""
    for record in _valid(records):
        reference = baseline.get((record["function"], record["dim"]))
        if reference is None:
            raise ValueError(f"no random search run for {record['function']} at {record['dim']}: regret needs it")
        record["regret"] = normalized(record["best"], record["f_opt"], reference)
        record["regret_curve"] = [normalized(value, record["f_opt"], reference) for value in record["curve"]]
    return records


def ranks(records):
    """``{(function, dim, seed, optimizer): rank}`` by final best, 1 = best, ties averaged."""
    grouped = defaultdict(list)
    for record in _valid(records):
        grouped[(record["function"], record["dim"], record["seed"])].append(record)
    result = {}
    for (function, dim, seed), runs in grouped.items():
        ordered = sorted(runs, key=lambda run: run["best"])
        position = 0
        while position < len(ordered):
            tied = [run for run in ordered if run["best"] == ordered[position]["best"]]
            shared = position + (len(tied) + 1) / 2.0
            for run in tied:
                result[(function, dim, seed, run["optimizer"])] = shared
            position += len(tied)
    return result


def _mean(values):
    values = [value for value in values if not math.isnan(value)]
    return statistics.fmean(values) if values else math.nan


def summarize(records):
    """Per (function, dim, optimizer) and per (dim, optimizer): mean regret, mean rank, seconds, failures.

    :returns: ``{"cells": {...}, "dims": {...}, "curves": {...}}`` keyed by ``"function|dim|optimizer"``
        and ``"dim|optimizer"`` (JSON-friendly).
    """
    add_regret(records, random_baseline(records))
    rank_of = ranks(records)
    by_cell = defaultdict(list)
    failures = defaultdict(int)
    for record in records:
        key = (record["function"], record["dim"], record["optimizer"])
        if record.get("error"):
            failures[key] += 1
        else:
            by_cell[key].append(record)
    cells, curves = {}, {}
    for key in sorted(set(by_cell) | set(failures)):
        runs = by_cell.get(key, [])
        function, dim, optimizer = key
        cells[f"{function}|{dim}|{optimizer}"] = {
            "function": function, "dim": dim, "optimizer": optimizer, "runs": len(runs), "failed": failures[key],
            "stalled": sum(1 for run in runs if run.get("stalled")),
            "regret": _mean([run["regret"] for run in runs]),
            "regret_sd": statistics.stdev([run["regret"] for run in runs]) if len(runs) > 1 else 0.0,
            "rank": _mean([rank_of[(function, dim, run["seed"], optimizer)] for run in runs]),
            "seconds": _mean([run["seconds"] for run in runs]),
        }
        if runs:
            per_generation = zip(*(run["regret_curve"] for run in runs))
            curves[f"{function}|{dim}|{optimizer}"] = [_mean(values) for values in per_generation]
    return {"cells": cells, "dims": _per_dim(cells), "curves": curves}


def _per_dim(cells):
    """Mean over functions of the per-function means, per (dim, optimizer)."""
    grouped = defaultdict(list)
    for cell in cells.values():
        if cell["runs"]:
            grouped[(cell["dim"], cell["optimizer"])].append(cell)
    return {
        f"{dim}|{optimizer}": {
            "dim": dim, "optimizer": optimizer, "functions": len(group),
            "regret": _mean([cell["regret"] for cell in group]),
            "rank": _mean([cell["rank"] for cell in group]),
            "seconds": _mean([cell["seconds"] for cell in group]),
            "failed": sum(cell["failed"] for cell in group),
            "runs": sum(cell["runs"] for cell in group),
        }
        for (dim, optimizer), group in sorted(grouped.items())
    }


# -- the targets -------------------------------------------------------------------


def _dim_value(summary, dim, optimizer, what="regret"):
    entry = summary["dims"].get(f"{dim}|{optimizer}")
    return None if entry is None else entry[what]


def _known(value):
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _fmt(value):
    return f"{value:.3f}" if _known(value) else "n/a"


def paired_regret(records, dim, optimizer, rival):
    """``(optimizer's mean regret, rival's, functions, runs)`` over the (function, seed) pairs both ran at
    ``dim`` (means per function, then over functions, as the tables), or ``None`` if they share none."""
    regrets = defaultdict(dict)
    for record in records:
        if record["dim"] == dim and record["optimizer"] in (optimizer, rival) and not record.get("error"):
            regrets[(record["function"], record["seed"])][record["optimizer"]] = record["regret"]
    shared = defaultdict(lambda: ([], []))
    for (function, _seed), pair in regrets.items():
        if len(pair) == 2:
            shared[function][0].append(pair[optimizer])
            shared[function][1].append(pair[rival])
    if not shared:
        return None
    ours = _mean([_mean(mine) for mine, _theirs in shared.values()])
    theirs = _mean([_mean(other) for _mine, other in shared.values()])
    return ours, theirs, len(shared), sum(len(mine) for mine, _theirs in shared.values())


def target_checks(summary, timing, records):
    """Each target of issue 6 this harness can measure: ``[(target, met, detail)]``.

    ``met`` is True, False, or None when the run did not include what the target needs
    ("partial": met on the functions a rival ran, which are not all of them). gf default and
    each rival are compared on the (function, seed) runs both have in ``records`` (when
    reports are merged, a rival may have run fewer).
    """
    checks = []
    names = {"optuna_tpe": "TPE", "optuna_nsga2": "NSGA-II"}
    for dim in (100, 1000):
        parts, outcomes, partial = [], [], False
        ours_functions = {r["function"] for r in records
                          if r["dim"] == dim and r["optimizer"] == "gf_default" and not r.get("error")}
        for rival, label in names.items():
            paired = paired_regret(records, dim, "gf_default", rival)
            if paired is None:
                outcomes.append(None)
                parts.append(f"{label} not run")
                continue
            ours, theirs, functions, runs = paired
            outcomes.append(ours < theirs)
            partial = partial or functions < len(ours_functions)
            of = f" of {len(ours_functions)}" if functions < len(ours_functions) else ""
            parts.append(f"gf default {_fmt(ours)} vs {label} {_fmt(theirs)} ({functions}{of} functions, "
                         f"{runs} paired runs)")
        met = None
        if all(outcome is not None for outcome in outcomes):
            met = "partial" if all(outcomes) and partial else all(outcomes)
        detail = "; ".join(parts)
        checks.append((f"{dim} params: gf default mean regret below both Optuna TPE and NSGA-II", met, detail))
    default_100 = _dim_value(summary, 100, "gf_default")
    checks.append(("100 params: gf default mean regret at most 0.10",
                   None if default_100 is None else default_100 <= 0.10,
                   f"gf default {_fmt(default_100)}{_next_lowest(summary, 100)}"))
    default_10, tpe_10 = _dim_value(summary, 10, "gf_default"), _dim_value(summary, 10, "optuna_tpe")
    checks.append(("10 params: gf default no worse than TPE",
                   None if default_10 is None or tpe_10 is None else default_10 <= tpe_10,
                   f"gf default {_fmt(default_10)} vs TPE {_fmt(tpe_10)}"))
    checks.append(_classic_check(summary))
    checks.append(_timing_check(timing))
    return checks


def _next_lowest(summary, dim):
    """``" (lowest of the others: NAME x.xxx)"``: the lowest mean regret at ``dim`` of any optimizer but gf
    default and random search, starred when it ran on fewer functions than gf default; ``""`` if none ran."""
    entries = summary["dims"]
    ours = entries.get(f"{dim}|gf_default")
    others = [entry for entry in entries.values() if entry["dim"] == dim and _known(entry["regret"])
              and entry["optimizer"] not in ("gf_default", "random")]
    if not others:
        return ""
    best = min(others, key=lambda entry: entry["regret"])
    star = "*" if ours and best["functions"] < ours["functions"] else ""
    return f" (lowest of the others: {get(best['optimizer']).label} {_fmt(best['regret'])}{star})"


def _classic_check(summary):
    """gf default at least 2x less regret than classic on every (function, dim) that ran both.

    A missed cell also names the optimizer with the lowest regret there (with its number of
    seeds when it ran fewer than gf default), and the detail counts the missed cells where
    any optimizer that ran there reached half of classic's regret.
    """
    cells = summary["cells"]
    pairs, missed, reached, stalled = 0, [], 0, 0
    for key, cell in cells.items():
        if cell["optimizer"] != "gf_default" or not cell["runs"] or not _known(cell["regret"]):
            continue
        classic = cells.get(f"{cell['function']}|{cell['dim']}|gf_classic")
        if not classic or not classic["runs"] or not _known(classic["regret"]):
            continue
        pairs += 1
        if not cell["regret"] <= classic["regret"] / 2.0:
            others = [other for other in cells.values()
                      if other["function"] == cell["function"] and other["dim"] == cell["dim"] and other["runs"]
                      and other["optimizer"] != "random" and _known(other["regret"])]
            low = min(other["regret"] for other in others)
            tied = [other for other in others if _fmt(other["regret"]) == _fmt(low)]
            reached += low <= classic["regret"] / 2.0
            if tied == [cell]:
                best = "the lowest of all"
            elif len(tied) == 1:
                best = f"lowest: {get(tied[0]['optimizer']).label} {_fmt(low)}{_fewer_seeds(tied[0], cell)}"
            else:
                best = f"lowest, a tie at {_fmt(low)}: " + " and ".join(
                    get(other["optimizer"]).label + _fewer_seeds(other, cell) for other in tied)
            missed.append(f"{cell['function']}@{cell['dim']} ({_fmt(cell['regret'])} vs {_fmt(classic['regret'])}; "
                          f"{best})")
        elif classic.get("stalled", 0) >= classic["runs"]:
            stalled += 1
    if not pairs:
        return ("gf default at least 2x less regret than classic everywhere", None, "classic or default not run")
    detail = f"{pairs - len(missed)} of {pairs} function/dimension cells"
    if stalled:
        detail += f" ({stalled} of them where every classic run stalled)"
    if missed:
        detail += "; missed: " + ", ".join(missed)
        detail += (". In none of these cells did any optimizer that ran there reach half of classic's regret"
                   if not reached else
                   f". In {reached} of these {len(missed)} cells some optimizer that ran there reached half of "
                   f"classic's regret")
    return ("gf default at least 2x less regret than classic everywhere", not missed, detail)


def _fewer_seeds(other, cell):
    """``", k seed(s)"`` when ``other`` ran fewer seeds than ``cell``, else ``""``."""
    return f", {other['runs']} seed(s)" if other["runs"] < cell["runs"] else ""


def _timing_check(timing):
    target = "1,000 params: gf default breeder time per generation at most 1/10 of TPE's sampling time for 32"
    if not timing or timing.get("error") or "gf_default" not in timing.get("seconds", {}):
        return (target, None, "not measured in this run" if not timing else timing.get("error", "incomplete"))
    gf_time = timing["seconds"]["gf_default"]
    tpe_time = timing["seconds"].get("optuna_tpe")
    if tpe_time is None:
        return (target, None, f"gf default {gf_time:.2f} s; TPE not measured")
    return (target, gf_time <= tpe_time / 10.0,
            f"gf default {gf_time:.2f} s vs TPE {tpe_time:.2f} s per 32 (ratio TPE/gf = {tpe_time / gf_time:.1f}x)")
