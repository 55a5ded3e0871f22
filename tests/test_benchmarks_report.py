"""The optimizer benchmark's report logic (issue 6): targets, merged files, sections per start point.

The harness itself runs for hours and is not part of the suite; these check the parts that
decide what BENCHMARKS.md says, on small made-up results.
"""

import math

import pytest

pytest.importorskip("numpy")

from benchmarks.optimizers import analysis, report, run  # noqa: E402


def cell(function, dim, optimizer, regret, runs=5):
    return {"function": function, "dim": dim, "optimizer": optimizer, "runs": runs, "failed": 0, "stalled": 0,
            "regret": regret, "regret_sd": 0.0, "rank": 1.0, "seconds": 1.0}


def summary_of(cells):
    table = {f"{c['function']}|{c['dim']}|{c['optimizer']}": c for c in cells}
    return {"cells": table, "dims": analysis._per_dim(table), "curves": {}}


def test_a_missed_cell_names_the_lowest_optimizer_and_whether_any_reached_half_of_classic():
    summary = summary_of([
        cell("sphere", 1000, "gf_classic", 1.0), cell("sphere", 1000, "gf_default", 0.6),
        cell("sphere", 1000, "optuna_nsga2", 0.4, runs=2),  # reached half of classic, on 2 seeds only
        cell("ackley", 1000, "gf_classic", 1.0), cell("ackley", 1000, "gf_default", 0.9),
        cell("ackley", 1000, "random", 0.8),  # random search is the reference, never "the lowest"
        cell("rastrigin", 1000, "gf_classic", 1.0), cell("rastrigin", 1000, "gf_default", 0.3),
        cell("mixed", 1000, "gf_classic", 1.0), cell("mixed", 1000, "gf_default", math.nan),  # not judged
    ])
    target, met, detail = analysis._classic_check(summary)
    assert met is False
    assert detail.startswith("1 of 3 function/dimension cells; missed: ")
    assert "ackley@1000 (0.900 vs 1.000; the lowest of all)" in detail
    assert "sphere@1000 (0.600 vs 1.000; lowest: Optuna NSGA-II 0.400, 2 seed(s))" in detail
    assert detail.endswith(". In 1 of these 2 cells some optimizer that ran there reached half of classic's regret")
    assert "mixed" not in detail


def test_a_missed_cell_names_every_optimizer_tied_at_the_lowest_and_stalled_classic_cells_are_counted():
    stalled_classic = dict(cell("ellipsoid", 1000, "gf_classic", 1.0), stalled=5)
    summary = summary_of([
        cell("noisy_sphere", 1000, "gf_classic", 1.001), cell("noisy_sphere", 1000, "gf_default", 1.02),
        cell("noisy_sphere", 1000, "optuna_tpe", 1.0, runs=4), cell("noisy_sphere", 1000, "optuna_nsga2", 1.0),
        cell("noisy_sphere", 1000, "random", 1.0),
        stalled_classic, cell("ellipsoid", 1000, "gf_default", 0.3),
    ])
    target, met, detail = analysis._classic_check(summary)
    assert met is False
    assert detail == ("1 of 2 function/dimension cells (1 of them where every classic run stalled); missed: "
                      "noisy_sphere@1000 (1.020 vs 1.001; lowest, a tie at 1.000: Optuna TPE, 4 seed(s) and "
                      "Optuna NSGA-II). In none of these cells did any optimizer that ran there reach half of "
                      "classic's regret")


def test_every_cell_at_half_of_classic_meets_the_target():
    summary = summary_of([cell("sphere", 10, "gf_classic", 1.0), cell("sphere", 10, "gf_default", 0.5)])
    assert analysis._classic_check(summary)[1:] == (True, "1 of 1 function/dimension cells")


def test_the_010_target_names_the_lowest_other_optimizer_starred_when_it_ran_fewer_functions():
    summary = summary_of([
        cell("sphere", 100, "gf_default", 0.1), cell("mixed", 100, "gf_default", 0.3),
        cell("sphere", 100, "optuna_cmaes", 0.2),
        cell("sphere", 100, "optuna_nsga2", 0.5), cell("mixed", 100, "optuna_nsga2", 0.6),
        cell("sphere", 100, "random", 1.0), cell("mixed", 100, "random", 1.0),
    ])
    assert analysis._next_lowest(summary, 100) == " (lowest of the others: Optuna CMA-ES 0.200*)"
    assert analysis._next_lowest(summary, 1000) == ""


def test_the_lowest_counts_line_counts_ties_for_each_and_random_search_too():
    functions = ["sphere", "mixed", "ackley"]
    summary = summary_of([
        cell("sphere", 100, "gf_default", 0.1), cell("sphere", 100, "optuna_nsga2", 0.1),
        cell("sphere", 100, "random", 1.0),
        cell("mixed", 100, "gf_default", 0.2), cell("mixed", 100, "optuna_nsga2", 0.4),
        cell("mixed", 100, "random", 1.0),
        cell("ackley", 100, "gf_default", 1.2), cell("ackley", 100, "optuna_nsga2", 1.1),
        cell("ackley", 100, "random", 1.0),
    ])
    line = report._lowest_counts(summary, 100, functions, ["random", "gf_default", "optuna_nsga2"])
    assert line == ("Mean regret at 100 parameters: gf default 0.50, Optuna NSGA-II 0.53. Lowest regret of the row: "
                    "gf default on 2, Optuna NSGA-II on 1, random search on 1 of 3 functions.\n")
    assert report._lowest_counts(summary, 10, functions, ["gf_default"]) == ""


def test_results_files_and_sections_are_named_by_the_start_point_and_quickness():
    assert run._prefix({"start": "centre", "quick": False}) == "optimizers"
    assert run._prefix({"start": "centre", "quick": True}) == "optimizers-quick"
    assert run._prefix({"start": "random", "quick": False}) == "optimizers-random-start"
    assert run._prefix({"start": "random", "quick": True}) == "optimizers-quick-random-start"
    assert report.section_name({"start": "centre"}) == "optimizers"
    assert report.section_name({"start": "random", "quick": True}) == "optimizers-random-start"


def saved(start="centre", seeds=(0,), runs=(), merge_notes=None, command="python -m benchmarks.optimizers"):
    one = {"command": command, "wall_seconds": 60.0, "machine": {}, "timing": None,
           "settings": {"functions": ["sphere"], "dims": [100], "optimizers": ["random", "gf_default"],
                        "seeds": list(seeds), "budget": 640, "batch": 32, "start": start, "jobs": 1, "quick": False},
           "runs": [{"optimizer": o, "function": "sphere", "dim": 100, "seed": s} for o, s in runs]}
    if merge_notes is not None:
        one["merge_notes"] = merge_notes
    return one


def test_merged_functions_and_optimizers_keep_the_suite_order_whichever_file_comes_first():
    later = saved(seeds=(1,))
    later["settings"].update(functions=["schwefel"], optimizers=["random", "optuna_tpe"])
    earlier = saved(seeds=(0,))
    earlier["settings"]["functions"] = ["sphere", "ackley", "mixed"]
    merged = run.merge_saved([later, earlier])
    assert merged["settings"]["functions"] == ["sphere", "ackley", "schwefel", "mixed"]
    assert merged["settings"]["optimizers"] == ["random", "gf_default", "optuna_tpe"]


def test_runs_from_different_start_points_are_not_merged():
    with pytest.raises(SystemExit) as stopped:
        run.merge_saved([saved("centre"), saved("random")])
    assert "the files differ in start (centre vs random)" in str(stopped.value)


def test_a_merged_file_keeps_its_notes_and_adds_up_its_repeated_runs():
    earlier = saved(seeds=(0,), runs=[("random", 0), ("gf_default", 0)],
                    merge_notes=["first run's note", run.REPEATED.format(count=7)])
    later = saved(seeds=(1,), runs=[("random", 0), ("random", 1), ("gf_default", 1)], command="later run")
    merged = run.merge_saved([earlier, later])
    assert merged["merge_notes"][0] == "first run's note"
    assert merged["merge_notes"][1].startswith("100 parameters: seeds 1; random search, gf default; `later run`")
    assert merged["merge_notes"][-1] == run.REPEATED.format(count=8)  # 7 before, and random seed 0 again
    assert len(merged["runs"]) == 4
    assert merged["settings"]["seeds"] == [0, 1]


def test_a_cell_with_fewer_runs_than_the_seeds_says_how_many():
    summary = summary_of([cell("sphere", 1000, "gf_default", 0.5), cell("sphere", 1000, "optuna_tpe", 0.9, runs=3),
                          cell("sphere", 1000, "random", 1.0)])
    table = report.regret_table(summary, 1000, ["sphere"], ["random", "gf_default", "optuna_tpe"], seeds=5)
    assert "| sphere | 1.00 | **0.50** | 0.90 (3 of 5 seeds) |" in table.splitlines()
    plain = report.regret_table(summary, 1000, ["sphere"], ["random", "gf_default", "optuna_tpe"])
    assert "| sphere | 1.00 | **0.50** | 0.90 |" in plain.splitlines()  # without seeds (the terminal): no marker


def test_a_mean_over_fewer_functions_is_starred_and_says_how_many_functions_and_runs():
    summary = summary_of([cell("sphere", 1000, "gf_default", 0.5), cell("ackley", 1000, "gf_default", 0.7),
                          cell("sphere", 1000, "optuna_cmaes", 1.0, runs=1),
                          cell("sphere", 1000, "random", 1.0), cell("ackley", 1000, "random", 1.0)])
    rows = report.regret_table(summary, 1000, ["sphere", "ackley"], ["random", "gf_default", "optuna_cmaes"],
                               seeds=5).splitlines()
    assert "| **mean regret** | 1.00 | 0.60 | 1.00* (1 of 2 functions, 1 run) |" in rows
    assert "| **mean rank** | 1.00 | 1.00 | 1.00* |" in rows


def test_the_command_line_of_merged_runs_says_how_to_redo_the_section_not_every_command():
    one = saved(command="python -m benchmarks.optimizers --dims 100")
    assert report._command(one, one["settings"]) == ("Command: `python -m benchmarks.optimizers --dims 100` "
                                                     "(1.0 min, 1 job(s)).\n")
    merged = run.merge_saved([saved(seeds=(0,), command="first"), saved(seeds=(1,), command="second")])
    line = report._command(merged, merged["settings"])
    assert line.startswith("Command: `python -m benchmarks.optimizers --report benchmarks/results/optimizers.json "
                           "--write` redoes this section from the merged runs;")
    assert line.endswith("(2.0 min in all).\n") and "first" not in line


def test_a_budget_below_the_number_of_params_says_what_it_allows_on_the_sphere():
    summary = summary_of([cell("sphere", 1000, "gf_default", 0.38), cell("sphere", 1000, "random", 1.0)])
    line = report.fewer_evaluations(summary, {"budget": 640, "dims": [10, 100, 1000]})
    assert line.startswith("- **Fewer evaluations than parameters** (1,000 params, 640 evaluations).")
    assert "(1,000 - 640) / 1,000 = 0.36 of the start's squared distance" in line and "(gf default: 0.38)" in line
    assert "at 0.60 of the start's distance (the square root of 0.36) it is at least 14.9, 0.76 of the start's 19.6" in line
    # without gf default on the sphere there, the bound alone; with no dimension above the budget, nothing
    assert "gf default" not in report.fewer_evaluations(summary_of([]), {"budget": 640, "dims": [1000]})
    assert report.fewer_evaluations(summary, {"budget": 640, "dims": [10, 100]}) == ""


def test_the_ackley_bound_is_a_lower_bound_at_that_distance():
    import numpy as np

    from benchmarks.optimizers.functions import problem

    ackley = problem("ackley", 1000)
    least = float(report._ackley_bound(1000, 0.36).split("it is at least ")[1].split(",")[0])
    start, optimum = ackley.centre(), ackley.optimum
    rng = np.random.default_rng(0)
    for _ in range(20):  # points at 0.6 of the start's distance, in random directions and along the way there
        offset = rng.normal(size=1000)
        offset *= 0.6 * np.linalg.norm(start.floats - optimum.floats) / np.linalg.norm(offset)
        for floats in (optimum.floats + offset, optimum.floats + 0.6 * (start.floats - optimum.floats)):
            point = type(start)(floats, start.ints, start.bools, start.choices)
            assert ackley.evaluate(point)[1] >= least - 0.05  # the sentence rounds to 0.1
