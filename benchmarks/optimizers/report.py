"""The Markdown of the optimizers section of BENCHMARKS.md, and the terminal summary."""

import math

from benchmarks.optimizers.functions import problem as make_problem
from benchmarks.optimizers.optimizers import get

SECTION = "optimizers"

#: What a section made by a ``--quick`` run says first.
QUICK_WARNING = ("**This is a `--quick` run** (few functions, dimensions, seeds and evaluations): the figures are "
                 "indicative only; the issue asks for every function at 10, 100 and 1,000 parameters over >= 5 "
                 "seeds.\n")

#: Why a run from random start points is reported, at the top of its own section.
RANDOM_START = (
    "Every seed starts from its own uniformly random point in the box instead of the centre; all optimizers share "
    "it, as they share the centre in the main section. Random search is then the best of its random points, not "
    "the start it can seldom beat, so R, the scale of regret, is that of suites where every optimizer starts at "
    "random. This run asks two things: does gf default's lead depend on starting at the centre, and is this suite "
    "on the scale of issue 6's figures (\"on suites like this, NSGA-II lands near 0.27\")? The targets are judged "
    "in the main section, from the centre, where a user starts: the parameters they have.\n"
)

FULL_RUN = (
    "Needs optuna, cmaes and nevergrad (the `bench` extra), numpy and matplotlib. The full run "
    "(`python -m benchmarks.optimizers --jobs 2 --write`: 9 functions x 10, 100, 1,000 params x 5 seeds x 640 "
    "evaluations) takes more than a day of CPU time on this 2-core machine, most of it Optuna at 1,000 parameters: "
    "a TPE run takes 7-85 min there (about 15 h for its 45 runs); a CMA-ES run took 16-50 min beside other "
    "work and 11-14 GB of memory (its 40 runs, roughly 25 h; see the Notes), while a gf default run "
    "takes 20-40 s; `--functions`, `--dims`, `--optimizers`, "
    "`--seeds` and `--budget` narrow it.\n"
)


def section_name(settings):
    """BENCHMARKS.md's section for a run: ``optimizers``, or ``optimizers-random-start`` from random starts."""
    return SECTION + ("-random-start" if settings.get("start") == "random" else "")


def _number(value, digits=2):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f}"


def _status(met):
    return {True: "**met**", False: "**NOT met**", None: "not assessed",
            "partial": "**met where measured**, not assessed on the rest (see measured)"}[met]


def regret_table(summary, dim, functions, optimizers, seeds=None):
    """One Markdown table: mean regret per function (best in bold), then mean regret, mean rank and seconds.

    With ``seeds`` (how many the run had), a cell from fewer runs says how many.
    """
    cells = summary["cells"]
    header = "| function | " + " | ".join(get(name).label for name in optimizers) + " |"
    lines = [header, "|---|" + "---:|" * len(optimizers)]
    for function in functions:
        values = {name: cells.get(f"{function}|{dim}|{name}") for name in optimizers}
        scored = [cell["regret"] for cell in values.values() if cell and cell["runs"]]
        best = min(scored) if scored else None
        row = [_cell(cell, best, seeds) for cell in values.values()]
        lines.append(f"| {function} | " + " | ".join(row) + " |")
    per_dim = {name: summary["dims"].get(f"{dim}|{name}") for name in optimizers}
    for title, what, digits in (("**mean regret**", "regret", 2), ("**mean rank**", "rank", 2),
                                ("seconds per run", "seconds", 1)):
        row = [_dim_cell(per_dim[name], what, functions, digits) for name in optimizers]
        lines.append(f"| {title} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def _cell(cell, best, seeds=None):
    if cell is None:
        return "—"
    if not cell["runs"]:
        return f"failed ({cell['failed']})"
    text = _number(cell["regret"])
    if best is not None and cell["regret"] == best:
        text = f"**{text}**"
    if seeds and cell["runs"] + cell["failed"] < seeds:
        text += f" ({cell['runs'] + cell['failed']} of {seeds} seeds)"
    if cell["failed"]:
        text += f" ({cell['failed']} failed)"
    if cell["stalled"]:
        text += f" ({cell['stalled']} stalled)"
    return text


def _dim_cell(entry, what, functions, digits=2):
    if entry is None:
        return "—"
    text = _number(entry[what], digits)
    if entry["functions"] >= len(functions) or what == "seconds":
        return text
    if what == "regret" and "runs" in entry:  # how little the starred mean rests on
        runs = entry["runs"]
        return f"{text}* ({entry['functions']} of {len(functions)} functions, {runs} run{'s' if runs != 1 else ''})"
    return text + "*"


def targets_table(checks):
    lines = ["| target (issue 6) | status | measured |", "|---|---|---|"]
    for target, met, detail in checks:
        lines.append(f"| {target} | {_status(met)} | {detail} |")
    lines.append("| overhead (a) command mode and (b) recording as the store grows, gf vs Optuna | see "
                 "\"Overhead vs Optuna\" | measured by `python benchmarks/overhead_optuna.py`, not by this harness |")
    return "\n".join(lines) + "\n"


def timing_table(timing):
    if not timing:
        return "Not measured in this run (`--skip-timing`).\n"
    if timing.get("error"):
        return f"The measurement failed: {timing['error']}\n"
    gf_time = timing["seconds"].get("gf_default")
    lines = ["| optimizer | s per generation of 32 (median) | samples (s) | trials / groups scored before | "
             "ratio to gf default |", "|---|---:|---|---:|---:|"]
    for name, seconds in timing["seconds"].items():
        ratio = f"{seconds / gf_time:.1f}x" if gf_time else "—"
        samples = ", ".join(f"{value:.2f}" for value in timing["samples"][name])
        lines.append(f"| {get(name).label} | {seconds:.2f} | {samples} | {timing['told'][name]} | {ratio} |")
    return "\n".join(lines) + "\n"


def suite_table(functions, dims):
    lines = ["| function | kinds at 100 params | box | character |", "|---|---|---|---|"]
    for function in functions:
        problem = make_problem(function, 100 if 100 in dims else dims[0])
        counts = ", ".join(f"{count} {kind}" for kind, count in problem.counts.items() if count)
        box = f"floats [{problem.float_low[0]:g}, {problem.float_high[0]:g}]" if problem.counts["float"] else ""
        if problem.counts["int"]:
            box += f"; ints [{problem.int_low[0]}, {problem.int_high[0]}]"
        lines.append(f"| {function} | {counts} | {box} | {problem.tags} |")
    return "\n".join(lines) + "\n"


def _versions(found):
    if not found:
        return ""
    packages = ", ".join(f"{name} {version}" for name, version in found.items() if name != "gf_commit" and version)
    return f"Packages: {packages}.  \n"  # gf's commit is on the machine line


def _jobs(settings):
    """``", N job(s)"`` for one run; for runs reported together, what their wall times add up to
    (each command, with its ``--jobs``, is in the Notes)."""
    return " in all, the runs listed in the Notes" if settings.get("merged") else f", {settings['jobs']} job(s)"


def _command(run, settings):
    """The section's Command line: the run's command, or for runs merged together how to redo the
    section from them (each run's own command is in the Notes)."""
    if settings.get("merged"):
        return (f"Command: `python -m benchmarks.optimizers --report benchmarks/results/optimizers.json --write` "
                f"redoes this section from the merged runs; each run's own command, seeds and gf commit are in "
                f"the Notes ({run['wall_seconds'] / 60:.1f} min in all).\n")
    return f"Command: `{run['command']}` ({run['wall_seconds'] / 60:.1f} min{_jobs(settings)}).\n"


def section(run, summary, checks, timing, machine_line):
    """The whole BENCHMARKS.md section (between the optimizers markers)."""
    settings = run["settings"]
    if settings["start"] == "random":
        return random_start_section(run, summary, machine_line)
    functions, dims, optimizers = settings["functions"], settings["dims"], settings["optimizers"]
    parts = [
        "## Optimizers: gf against Optuna, nevergrad and random search\n",
        f"{machine_line}  \n{_versions(run['machine'].get('versions'))}{_command(run, settings)}",
        f"Every optimizer gets {settings['budget']} evaluations, asked for in generations of {settings['batch']}, "
        f"on {len(functions)} functions x {', '.join(map(str, dims))} parameters x {len(settings['seeds'])} seeds "
        f"(seeds {', '.join(map(str, settings['seeds']))}). The first evaluation of every optimizer is the same "
        "start point, the centre of the box (gf's starting group; Optuna `enqueue_trial`, nevergrad `suggest`, "
        "random search's first point).\n",
    ]
    if settings.get("merged"):
        parts.append("Several runs are reported together here, and not every optimizer ran every seed at every "
                     "dimension: the Notes list each run with its seeds and optimizers; every cell is the mean over "
                     "the seeds that cell had.\n")
    if settings.get("quick"):
        parts.append(QUICK_WARNING)
    parts.append(FULL_RUN)
    parts += ["### Targets\n", targets_table(checks),
              "Regret is normalized: random search = 1.00, the optimum = 0 (see below). Lower is better.\n"]
    for dim in dims:
        parts += [f"### {dim:,} parameters: mean normalized regret after {settings['budget']} evaluations\n",
                  regret_table(summary, dim, functions, optimizers, len(settings["seeds"]))]
    parts += [
        "`*` covers fewer functions (CMA-ES runs only where every parameter is numeric; the mean regret says on "
        "how many, over how many runs). `—`: not run. "
        f"\"(k of {len(settings['seeds'])} seeds)\": a cell with fewer runs than the run's seeds. "
        "Bold: the lowest regret of the row.\n",
        "### Breeder time per generation at 1,000 parameters\n",
        timing_table(timing),
        "gf: `gf.engine.breed_generation` inside `evolve` (rank, breed, fix, deduplicate, store 32 children), "
        "after the start group and 6 generations of its own; Optuna: 32 x `study.ask(fixed_distributions)` on an "
        "in-memory study of 192 told trials (NSGA-II's its own; TPE's told from random points, as its cost depends "
        "on how many trials it models, not on who proposed them). Each lives in a process of its own (spawned), "
        "whose garbage collections walk its own objects only; every measurement starts from a fresh copy of that "
        "history; the three take turns, one at a time, so load from other work falls on all alike. The `mixed` "
        "function (all four kinds) at 1,000 parameters.\n",
        "### How the numbers are computed\n",
        "- **Normalized regret** = (best - f_opt) / (R - f_opt), where best is the true value of the run's "
        "best-*observed* point (noise cannot flatter a run), and R is the mean over seeds of random search's best on "
        "the same function and dimension after the same budget (the plots divide the best-so-far after every "
        "generation by the same R, so each curve only falls). Per cell: the mean over seeds; per dimension: the "
        "mean over functions. With the shared start, random search at 100 and more parameters seldom beats the "
        "start point, so there R is about the start's value and 1.00 means \"no better than where it started\". "
        "Runs from random start points (`--start random`) are reported in a section of their own.\n"
        "- **Mean rank**: optimizers ranked by final best per function, dimension and seed (1 = best, ties "
        "averaged), then averaged.\n"
        "- Runs that raised are left out of the means and marked `failed`. A gf run whose breeder could no longer "
        "produce a valid new child `stalled`: it counts with the best it reached.\n"
        f"- Raw runs: `benchmarks/results/{run['prefix']}.json`; regret against evaluations: "
        f"`benchmarks/results/{run['prefix']}_<function>.png`.\n{fewer_evaluations(summary, settings)}",
        "### The suite\n",
        suite_table(functions, dims),
        "Every optimum is shifted 15-40 % of the box width away from the centre (Schwefel's lies at 420.97 of "
        "[-500, 500]); f_opt is exact. The noisy sphere adds Gaussian noise (sd 2 % of its mean value at random "
        "points). Bounds reach gf as `name >= low` / `name <= high` constraint lines.\n",
    ]
    notes = run.get("notes") or []
    if notes:
        parts += ["### Notes\n", "".join(f"- {note}\n" for note in notes)]
    return "\n".join(parts)


def fewer_evaluations(summary, settings):
    """A bullet on what a budget smaller than the number of params allows (empty if no dimension has that)."""
    budget, dims = settings["budget"], [dim for dim in settings["dims"] if dim > settings["budget"]]
    if not dims:
        return ""
    dim = max(dims)
    share = (dim - budget) / dim
    cell = summary["cells"].get(f"sphere|{dim}|gf_default")
    reached = f" (gf default: {_number(cell['regret'])})" if cell and cell["runs"] else ""
    return (
        f"- **Fewer evaluations than parameters** ({dim:,} params, {budget} evaluations). On the sphere every "
        "score tells where the optimum lies along one more direction at most, so an optimizer that learns only from "
        f"the scores can expect no better than about ({dim:,} - {budget}) / {dim:,} = {share:.2f} of the start's "
        f"squared distance to the optimum after {budget} evaluations{reached}. On Rastrigin's function the bowl is "
        "under half of the start's value: the ripples make up the rest, and moving down the bowl leaves them as "
        "they are on average, so there about 0.7 is the most to expect unless each parameter is also placed in "
        "its own ripple, which takes more scores still. Under the noisy sphere's noise a score tells less than "
        f"one direction.{_ackley_bound(dim, share)}\n"
    )


def _ackley_bound(dim, share):
    """A sentence: the least Ackley's function at ``dim`` params can take at ``sqrt(share)`` of the start's
    distance to the optimum, every ripple at its best (the most the sphere's bound leaves it)."""
    ackley = make_problem("ackley", dim)
    start = ackley.centre()
    distance = math.sqrt(sum((x - o) ** 2 for x, o in zip(start.floats, ackley.optimum.floats)) / dim)
    start_value = ackley.evaluate(start)[1]
    # -20 exp(-0.2 rms) - exp(mean cos) + 20 + e, the cosines all at 1: their term is 0
    least = 20.0 * (1.0 - math.exp(-0.2 * math.sqrt(share) * distance))
    return (f" Ackley's function grows with the distance to the optimum, through an exponential, plus ripples: "
            f"at {math.sqrt(share):.2f} of the start's distance (the square root of {share:.2f}) it is at least "
            f"{least:.1f}, {least / start_value:.2f} of the start's {start_value:.1f}, even with every ripple at "
            "its lowest.")


def random_start_section(run, summary, machine_line):
    """The section of a run from random start points: what it asks, the tables, how gf default and NSGA-II fare."""
    settings = run["settings"]
    functions, optimizers = settings["functions"], settings["optimizers"]
    parts = [
        "## Optimizers from random start points\n",
        f"{machine_line}  \n{_versions(run['machine'].get('versions'))}Command: `{run['command']}` "
        f"({run['wall_seconds'] / 60:.1f} min{_jobs(settings)}). {settings['budget']} evaluations in "
        f"generations of {settings['batch']}, seeds {', '.join(map(str, settings['seeds']))}; the suite, the "
        "optimizers and regret as in the main section.\n",
        RANDOM_START,
    ]
    if settings.get("quick"):
        parts.append(QUICK_WARNING)
    for dim in settings["dims"]:
        parts += [f"### {dim:,} parameters, from random starts: mean normalized regret\n",
                  regret_table(summary, dim, functions, optimizers, len(settings["seeds"])),
                  _lowest_counts(summary, dim, functions, optimizers)]
    notes = run.get("notes") or []
    if notes:
        parts += ["Notes:\n", "".join(f"- {note}\n" for note in notes)]
    return "\n".join(parts)


def _lowest_counts(summary, dim, functions, optimizers):
    """One line: each optimizer's mean regret at ``dim`` (random search's is 1 by definition) and on how many
    functions it had the row's lowest regret (the bold cells of :func:`regret_table`: ties count for each)."""
    cells, lowest = summary["cells"], {}
    for function in functions:
        scored = {cell["optimizer"]: cell["regret"] for cell in cells.values()
                  if cell["function"] == function and cell["dim"] == dim and cell["runs"]}
        for name, regret in scored.items():
            if regret == min(scored.values()):
                lowest[name] = lowest.get(name, 0) + 1
    entries = [summary["dims"][f"{dim}|{name}"] for name in optimizers
               if name != "random" and f"{dim}|{name}" in summary["dims"]]
    if not entries:
        return ""
    means = [f"{get(entry['optimizer']).label} {_dim_cell(entry, 'regret', functions)}" for entry in entries]
    counts = [f"{get(name).label} on {count}" for name, count in sorted(lowest.items(), key=lambda item: -item[1])]
    return (f"Mean regret at {dim:,} parameters: {', '.join(means)}. Lowest regret of the row: "
            f"{', '.join(counts)} of {len(functions)} functions.\n")


def terminal(summary, checks, timing, settings):
    """A plain-text summary for the terminal."""
    lines = []
    for dim in settings["dims"]:
        lines.append(f"\n{dim} parameters (mean normalized regret; random = 1)")
        lines.append(regret_table(summary, dim, settings["functions"], settings["optimizers"]))
    if timing:
        lines.append("breeder time per generation at 1,000 params")
        lines.append(timing_table(timing))
    if checks:
        lines.append(targets_table(checks))
    return "\n".join(lines)
