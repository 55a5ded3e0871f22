"""gf-plugin-logscale: the _log type, its log-space mutator and its bounds, through gf itself."""

import json
import math
import random
import statistics
import sys
from importlib import metadata

import pytest

import gf_plugin_logscale
from gf import GeneticFuckery, plugins

START = """\
model__learning_rate_log = 0.001
model__tolerance_log = 1e-6
model__depth_int = 3
model__momentum = 0.9
"""

#: A program gf launches: the best learning rate is 1e-5, two decades below the start.
PROGRAM = """\
import math
from gf import GeneticFuckery

g = GeneticFuckery()
lr = g.model.learning_rate_log
assert type(lr) is float and lr > 0, lr
assert type(g.model.tolerance_log) is float
with g.report("lr") as r:
    r["fit"]["score"] = -(math.log10(lr) + 5) ** 2
"""


def mutate(param_type, value, sigma, rng, rate=0.0):
    """Call the gf_mutate hook as breeders do (first answer wins)."""
    return plugins.get_plugin_manager().hook.gf_mutate(param_type=param_type, value=value, sigma=sigma, rate=rate,
                                                       rng=rng)


def load(run_gf, tmp_path, db_path, text, name="params.js"):
    path = tmp_path / name
    path.write_text(text)
    return run_gf("load", "--db", db_path, path), path


def group_values(run_gf, db_path, group):
    shown = json.loads(run_gf("show", "--db", db_path, "--json", group).stdout)
    return {param["name"]: param for param in shown["params"]}


# -- the type -------------------------------------------------------------------------


def test_the_type_is_chosen_by_suffix(logscale):
    types = plugins.get_types()
    assert types.for_param("model__learning_rate_log").name == "log"
    assert types.for_param("model__learning_rate_log").low > 0
    assert types.for_param("model__learning_rate").name == "float"
    assert types.for_param("model__backlog").name == "float"  # only the _log suffix


@pytest.mark.parametrize("value, expected", [(0.001, 0.001), (1, 1.0), (2.5e300, 2.5e300), (5e-324, 5e-324)])
def test_validate_accepts_positive_numbers_as_floats(value, expected):
    validated = gf_plugin_logscale.LogType().validate(value)
    assert validated == expected and type(validated) is float


@pytest.mark.parametrize("value, reason", [
    (0, "expected a number > 0 (a _log parameter is bred in log space), got 0"),
    (-0.001, "expected a number > 0 (a _log parameter is bred in log space), got -0.001"),
    (0.0, "expected a number > 0"),
    ("0.1", "expected a positive number, got the string '0.1'"),
    (True, "expected a positive number, got a boolean"),
    (None, "expected a positive number, got null"),
    ([0.1], "expected a positive number, got a list"),
    (float("nan"), "expected a finite positive number, got nan"),
    (float("inf"), "expected a finite positive number, got inf"),
    (10 ** 400, "expected a positive number within the range of a float"),
])
def test_validate_refuses_what_is_not_a_positive_number(value, reason):
    with pytest.raises(ValueError) as error:
        gf_plugin_logscale.LogType().validate(value)
    assert str(error.value).startswith(reason)


# -- the mutator ----------------------------------------------------------------------


def log_steps(logscale, value, sigma, count=4000, seed=7):
    param_type = plugins.get_types().for_param("a_log")
    rng = random.Random(seed)
    moved = [mutate(param_type, value, sigma, rng) for _ in range(count)]
    assert all(type(m) is float and m > 0 for m in moved)
    return [math.log(m / value) for m in moved]


def test_mutation_is_gaussian_in_log_space_with_step_sigma_over_value(logscale):
    steps = log_steps(logscale, 1e-3, sigma=1e-3)  # sigma / value = 1
    assert abs(statistics.fmean(steps)) < 0.05
    assert statistics.stdev(steps) == pytest.approx(1.0, rel=0.05)
    # symmetric in decades: as many children at 1e-4 and below as at 1e-2 and above
    below, above = sum(s <= -math.log(10) for s in steps), sum(s >= math.log(10) for s in steps)
    assert 0.7 < below / above < 1.4 and below > 50


def test_small_sigma_is_floored_so_values_still_move(logscale):
    steps = log_steps(logscale, 1e-3, sigma=1e-9)
    assert statistics.stdev(steps) == pytest.approx(gf_plugin_logscale.MIN_STEP, rel=0.05)
    steps = log_steps(logscale, 1e-3, sigma=0.0)
    assert statistics.stdev(steps) == pytest.approx(gf_plugin_logscale.MIN_STEP, rel=0.05)


def test_huge_sigma_is_capped_at_a_decade_per_standard_deviation(logscale):
    # a step meant for a parent at 0.1 applied to a value at 1e-6
    steps = log_steps(logscale, 1e-6, sigma=0.1)
    assert statistics.stdev(steps) == pytest.approx(math.log(10), rel=0.05)


def test_mutation_never_leaves_the_positive_floats(logscale):
    param_type = plugins.get_types().for_param("a_log")
    rng = random.Random(3)
    for value in (5e-324, 1e-300, 1.0, 1e300, 1.7e308):
        for _ in range(500):
            moved = mutate(param_type, value, value * 1e6, rng)
            assert 0 < moved < math.inf


def test_mutation_is_reproducible_with_the_breeders_rng(logscale):
    param_type = plugins.get_types().for_param("a_log")
    first = [mutate(param_type, 0.01, 0.001, random.Random(5)) for _ in range(3)]
    assert first[0] == first[1] == first[2] != 0.01


def test_other_types_keep_their_mutators(logscale):
    types = plugins.get_types()
    rng = random.Random(1)
    assert mutate(types.for_param("x"), -4.0, 1.0, rng) != -4.0  # the built-in float mutator, negatives allowed
    assert type(mutate(types.for_param("x_int"), 3, 1.0, rng)) is int


def test_a_non_positive_value_is_left_to_the_bounds_fixer(logscale):
    """A _log value bred by another breeder (or stored before the plugin) below 0 is lifted above 0."""
    types = plugins.get_types()
    # the plugin declines it (gf's own numeric mutator takes a plain step instead), and the fixer lifts it
    assert gf_plugin_logscale.gf_mutate(param_type=types.for_param("a_log"), value=-1.0, sigma=0.5, rate=0.0,
                                        rng=random.Random(1)) is None
    params = {"a_log": -0.5, "b_log": 0.0, "c_log": 0.01}
    answers = plugins.call_hook("gf_fix_child", params=params, constraints=[], types=types, rng=random.Random(1))
    assert False not in answers
    assert params["a_log"] > 0 and params["b_log"] > 0 and params["c_log"] == 0.01


# -- through the gf CLI ---------------------------------------------------------------


def test_gf_load_stores_the_type_and_the_program_reads_floats(logscale, run_gf, tmp_path, db_path):
    result, _ = load(run_gf, tmp_path, db_path, START.replace("0.001", "1"))
    assert result.exit_code == 0, result.stderr
    values = group_values(run_gf, db_path, 1)
    assert values["model__learning_rate_log"] == {"name": "model__learning_rate_log", "type": "log", "value": 1.0,
                                                  "reads_as": 1.0}
    assert values["model__tolerance_log"]["type"] == "log"
    g = GeneticFuckery(dbfile=db_path, pid=1)
    assert g.model.learning_rate_log == 1.0 and type(g.model.learning_rate_log) is float
    assert g.model.tolerance_log == 1e-6


@pytest.mark.parametrize("line, reason", [
    ("model__learning_rate_log = 0", "expected a number > 0 (a _log parameter is bred in log space), got 0"),
    ("model__learning_rate_log = -1e-3", "expected a number > 0 (a _log parameter is bred in log space), got -0.001"),
    ('model__learning_rate_log = "fast"', "expected a positive number, got the string 'fast'"),
    ("model__learning_rate_log = true", "expected a positive number, got a boolean"),
])
def test_gf_load_refuses_bad_values_with_file_and_line(logscale, run_gf, tmp_path, db_path, line, reason):
    result, path = load(run_gf, tmp_path, db_path, f"# a comment\nmodel__momentum = 0.9\n{line}\n")
    assert result.exit_code == 2
    assert result.stderr == f"{path}:3: model__learning_rate_log: value does not fit type log: {reason}\n"
    assert run_gf("groups", "--db", db_path, "--json").stdout.strip() in ("", "[]")


def test_without_the_plugin_the_name_is_an_ordinary_float(run_gf, tmp_path, db_path):
    result, _ = load(run_gf, tmp_path, db_path, "model__learning_rate_log = -1\n")
    assert result.exit_code == 0
    assert group_values(run_gf, db_path, 1)["model__learning_rate_log"]["type"] == "float"


def test_gf_breed_explores_decades_and_stays_positive(logscale, run_gf, tmp_path, db_path):
    """A real loop: programs launched by gf; the best learning rate is two decades down."""
    assert load(run_gf, tmp_path, db_path, START)[0].exit_code == 0
    program = tmp_path / "evaluate.py"
    program.write_text(PROGRAM)
    command = f"{sys.executable} {program} {{}}"
    result = run_gf("run", "--db", db_path, command, "dataset-a")
    assert result.exit_code == 0, result.stderr
    # gf's default breeder (an evolution strategy) hands a plugin's numeric type to its gf_mutate,
    # around the strategy's mean
    result = run_gf("breed", "--db", db_path, "--metric", "score", "--breeder", "default", "--top", "3", "--loop", "4",
                    "--population", "6", "--seed", "1", "-j", "2", command)
    assert result.exit_code == 0, result.stderr
    groups = json.loads(run_gf("groups", "--db", db_path, "--json").stdout)
    assert len(groups) == 25
    rates = []
    for group in groups:
        values = group_values(run_gf, db_path, group["id"])
        for name in ("model__learning_rate_log", "model__tolerance_log"):
            assert values[name]["type"] == "log"
            assert type(values[name]["value"]) is float and values[name]["value"] > 0
        rates.append(values["model__learning_rate_log"]["value"])
    # children spread over a decade and more, down from 1e-3 ...
    assert min(rates) < 2e-4 and max(rates) / min(rates) > 10
    # ... and none where the model's optimum, in linear units, fell below 0 (lifted to the smallest float)
    assert min(rates) > 1e-12, sorted(rates)[:3]
    # ... and the best group found is much closer to 1e-5 than the start (score -4: two decades off)
    top = json.loads(run_gf("top", "--db", db_path, "--metric", "score", "-n", "1", "--json").stdout)
    assert len(top) == 1 and top[0]["score"] > -2.0
    failed = run_gf("runs", "--db", db_path, "--json").stdout
    assert all(run["status"] == "ok" for run in json.loads(failed))


@pytest.mark.parametrize("breeder", ["ga", "default"])
def test_evolve_finds_a_rate_two_decades_away(logscale, run_gf, tmp_path, db_path, breeder):
    """In-process (gf's Python API), more generations: log-space steps home in on 1e-5."""
    assert load(run_gf, tmp_path, db_path, START)[0].exit_code == 0

    def fit(params, dataset):
        return {"fit": {"score": -(math.log10(params.model.learning_rate_log) + 5) ** 2}}

    g = GeneticFuckery(dbfile=db_path, pid=1)
    best = g.evolve(fit, metric="score", generations=12, population=6, datasets=["a"], breeder=breeder, top=3, seed=1)
    rate = GeneticFuckery(dbfile=db_path, pid=best["group"]).model.learning_rate_log
    assert 10 ** -5.2 < rate < 10 ** -4.8


def test_every_builtin_breeder_keeps_declared_bounds_on_log_params(logscale, run_gf, tmp_path, db_path):
    text = START + "model__learning_rate_log < 0.002\nmodel__learning_rate_log >= 1e-4\n"
    assert load(run_gf, tmp_path, db_path, text)[0].exit_code == 0
    g = GeneticFuckery(dbfile=db_path, pid=1)
    for dataset in ("a", "b"):
        g.record({"fit": {"score": 1.0}}, dataset=dataset)
    for breeder in ("default", "ga", "classic"):
        result = run_gf("breed", "--db", db_path, "--metric", "score", "--breeder", breeder, "--population", "12",
                        "--seed", "2", "--json")
        assert result.exit_code == 0, result.stderr
        for child in json.loads(result.stdout):
            rate = group_values(run_gf, db_path, child)["model__learning_rate_log"]["value"]
            assert 1e-4 <= rate < 0.002


def test_no_breeder_stores_a_log_value_at_or_below_zero(logscale, run_gf, tmp_path, db_path):
    """A tiny value with a large spread: linear steps (the default breeder's) cross 0 often."""
    text = "model__learning_rate_log = 1e-6\nmodel__tolerance_log = 0.5\nmodel__momentum = 0.9\n"
    assert load(run_gf, tmp_path, db_path, text)[0].exit_code == 0
    g = GeneticFuckery(dbfile=db_path, pid=1)
    for dataset in ("a", "b"):
        g.record({"fit": {"score": 1.0}}, dataset=dataset)
    for breeder in ("default", "ga", "classic"):
        result = run_gf("breed", "--db", db_path, "--metric", "score", "--breeder", breeder, "--population", "16",
                        "--seed", "3", "--json")
        assert result.exit_code == 0, result.stderr
        for child in json.loads(result.stdout):
            values = group_values(run_gf, db_path, child)
            assert values["model__learning_rate_log"]["value"] > 0 and values["model__tolerance_log"]["value"] > 0


def test_installed_plugin_is_listed_with_its_hooks(monkeypatch, run_gf, tmp_path, db_path):
    try:
        version = metadata.version("gf-plugin-logscale")
    except metadata.PackageNotFoundError:
        pytest.skip("gf-plugin-logscale is not installed (pip install -e examples/plugins/gf-plugin-logscale)")
    monkeypatch.setenv("GF_LOAD_PLUGINS", "logscale")
    plugins.reset()
    listed = json.loads(run_gf("plugins", "list", "--json").stdout)
    assert listed == [{"name": "logscale", "version": version, "hooks": ["gf_mutate", "gf_register_types"]}]
    result, _ = load(run_gf, tmp_path, db_path, START)
    assert result.exit_code == 0, result.stderr
    assert group_values(run_gf, db_path, 1)["model__learning_rate_log"]["type"] == "log"
