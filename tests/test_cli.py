"""The gf command line: listings with --json, template-run, help, errors."""

import json
import os
import shlex
import subprocess
import sys

import pytest

from gf import GeneticFuckery, store
from gf.cli import cli
from conftest import GF


@pytest.fixture
def populated(load_text, db_path):
    load_text("fast = 12.3\nslow = 7.2\nn_int = 3\npick_choice = [\"a\", \"b\"]\nslow < fast\n")
    load_text("fast = 20\n", "--parent", 1)
    g = GeneticFuckery(dbfile=db_path, pid=1)
    g.record({"bt": {"profit": 5}}, "first", dataset="SPY")
    g.record({"bt": {"profit": 7}}, dataset="TSLA")
    return db_path


def test_groups_lists_ids_origin_and_parents(populated, run_gf):
    listed = json.loads(run_gf("groups", "--db", populated, "--json").stdout)
    assert [(g["id"], g["parents"]) for g in listed] == [(1, []), (2, [1])]
    assert listed[1]["origin"].endswith("on group 1") and len(listed[1]["uid"]) == 26
    conn = store.connect(populated)
    assert [(g["loop"], g["digest"]) for g in listed] == conn.execute("SELECT loop_id, digest FROM groups").fetchall()
    assert all(len(g["digest"]) > 16 for g in listed)
    text = run_gf("groups", "--db", populated).stdout.splitlines()
    assert text[0].split() == ["id", "created", "origin", "parents", "loop", "generation", "breeder"]
    assert len(text) == 3


def test_show_lists_params_with_types_and_constraints(populated, run_gf):
    shown = json.loads(run_gf("show", "--db", populated, "1", "--json").stdout)
    assert shown["params"][0] == {"name": "fast", "type": "float", "value": 12.3, "reads_as": 12.3}
    assert {"name": "pick_choice", "type": "choice", "value": ["a", "b"], "reads_as": "a"} in shown["params"]
    assert shown["constraints"] == ["slow < fast"]
    text = run_gf("show", "--db", populated, "1").stdout
    assert "n_int        int     3" in text and "constraints:\n  slow < fast" in text


def test_runs_filters_by_group_and_dataset(populated, run_gf):
    listed = json.loads(run_gf("runs", "--db", populated, "--json").stdout)
    assert [(r["id"], r["group"], r["dataset"], r["status"], r["results"]) for r in listed] == [
        (1, 1, "SPY", "ok", 1), (2, 1, "TSLA", "ok", 1)
    ]
    assert [r["id"] for r in json.loads(run_gf("runs", "--db", populated, "--dataset", "TSLA", "--json").stdout)] == [2]
    assert json.loads(run_gf("runs", "--db", populated, "--group", "2", "--json").stdout) == []  # none yet
    assert [r["id"] for r in json.loads(run_gf("runs", "--db", populated, "--last", "1", "--json").stdout)] == [2]
    assert [r["id"] for r in json.loads(run_gf("runs", "--db", populated, "--last", "5", "--json").stdout)] == [1, 2]
    assert [r["id"] for r in json.loads(run_gf("runs", "--db", populated, "--last", "1", "--dataset", "SPY",
                                               "--json").stdout)] == [1]
    assert run_gf("runs", "--db", populated, "--last", "0").exit_code == 2
    # a filter naming nothing there is a mistake, not an empty list
    result = run_gf("runs", "--db", populated, "--group", "9")
    assert result.exit_code == 2 and "group 9 does not exist" in result.stderr
    result = run_gf("runs", "--db", populated, "--dataset", "TLSA", "--json")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"error: --dataset 'TLSA': no run in {populated} is on it; datasets: TSLA, SPY\n"


def test_error_lists_put_the_closest_names_first_and_say_how_many_are_left_out():
    from gf.errors import some_of

    names = [f"d{number:02d}" for number in range(20)] + ["GOOG-2023-1"]
    assert some_of(names, "GOOG-2023-01").startswith("GOOG-2023-1, ")
    assert some_of(names).endswith("d11 (and 9 more)") and some_of([], empty="none yet") == "none yet"
    assert some_of(["a", "b"], "zzz") == "a, b"


def test_a_long_error_keeps_its_first_and_last_lines_on_its_row():
    from gf.cli import CELL_WIDTH, _cell

    error = ("exited with status 1\nTraceback (most recent call last):\n" + '  File "bt.py", line 3\n' * 20
             + "AttributeError: no parameter risk.stpo in group 2; closest: risk.stop")
    assert _cell(error) == "exited with status 1 | ... | AttributeError: no parameter risk.stpo in group 2; closest: risk.stop"
    assert _cell("exited with status 1\nboom") == "exited with status 1 | boom"
    two = _cell("x" * 500 + "\n" + "y" * 500)  # nothing in between to leave out; each line cut shows it
    assert len(two) == CELL_WIDTH and two.startswith("x") and " | y" in two and two.endswith("...")
    assert _cell("E" * 300 + "\n") == "E" * (CELL_WIDTH - 3) + "..."


def test_a_tab_in_a_value_keeps_the_table_aligned(load_text, db_path, run_gf):
    from gf.reports import table

    load_text("x = 1\n")
    GeneticFuckery(dbfile=db_path, pid=1).record({"a": {"v": 1.0}}, dataset="tab\there")
    lines = run_gf("runs", "--db", db_path).stdout.splitlines()
    assert "\t" not in "".join(lines) and "tab\\there" in lines[1]
    assert lines[0].index("dataset") == lines[1].index("tab\\there")
    assert table([{"a": "x\ty", "b": "z\nw"}], ["a", "b"]) == ["a     b", "x\\ty  z\\nw"]


def test_template_run_prints_a_line_per_group_and_dataset(populated, run_gf):
    result = run_gf("template-run", "--db", populated, "python -m mything {}", "A-1", "B 2")
    db = shlex.quote(os.path.abspath(populated))
    assert result.stdout.splitlines() == [
        f"GF_DB={db} GF_PARAM_GROUP=1 GF_DATA=A-1 GF_FAMILY=A-1 python -m mything A-1",
        f"GF_DB={db} GF_PARAM_GROUP=1 GF_DATA='B 2' GF_FAMILY='B 2' python -m mything 'B 2'",
        f"GF_DB={db} GF_PARAM_GROUP=2 GF_DATA=A-1 GF_FAMILY=A-1 python -m mything A-1",
        f"GF_DB={db} GF_PARAM_GROUP=2 GF_DATA='B 2' GF_FAMILY='B 2' python -m mything 'B 2'",
    ]


def test_template_run_defaults_to_recorded_datasets_and_takes_groups(populated, run_gf):
    lines = run_gf("template-run", "--db", populated, "--group", "2", "run {}").stdout.splitlines()
    assert [line.split()[-1] for line in lines] == ["SPY", "TSLA"]
    assert all("GF_PARAM_GROUP=2 " in line for line in lines)


@pytest.mark.parametrize(
    "args, message",
    [
        (["template-run", "python run.py"], "has no {}: put {} where the dataset goes"),
        (["template-run", "--group", "9", "run {}", "A"], "group 9 does not exist"),
        (["show", "9"], "group 9 does not exist"),
        (["export", "9"], "group 9 does not exist"),
    ],
)
def test_bad_arguments_give_one_line_and_status_2(populated, run_gf, args, message):
    result = run_gf(args[0], "--db", populated, *args[1:])
    assert result.exit_code == 2 and message in result.stderr and result.stderr.count("\n") == 1


def test_template_run_with_no_datasets_anywhere(load_text, db_path, run_gf):
    load_text("a = 1")
    result = run_gf("template-run", "--db", db_path, "run {}")
    assert result.exit_code == 2 and "no datasets given and none recorded" in result.stderr


def test_top_and_best_before_any_run_say_the_same(load_text, db_path, run_gf):
    """A group loaded, nothing evaluated: both refuse alike (gf top showed an empty table, exit 0)."""
    load_text("a = 1")
    for command in ("top", "best"):
        result = run_gf(command, "--db", db_path, "--metric", "profit")
        assert (result.exit_code, result.stderr) == (2, f"error: no datasets recorded in {db_path} yet: evaluate a "
                                                        'group first, e.g. gf run "python backtest.py {}" DATASET...\n')


def test_missing_database_for_a_listing_is_exit_1(tmp_path, run_gf):
    result = run_gf("groups", "--db", tmp_path / "none.db")
    assert result.exit_code == 1 and "no such database" in result.stderr
    assert not (tmp_path / "none.db").exists()


def test_db_comes_from_gf_db(populated, run_gf):
    result = run_gf("groups", "--json", env={"GF_DB": populated})
    assert len(json.loads(result.stdout)) == 2


def test_debug_shows_the_traceback(populated, run_gf):
    from gf.errors import GroupNotFound

    with pytest.raises(GroupNotFound):
        run_gf("--debug", "show", "--db", populated, "9")


def test_debug_after_the_subcommand_is_gfs_own_option_too(populated):
    from gf.cli import _hoisted

    assert _hoisted(["show", "9", "--debug"]) == ["--debug", "show", "9"]
    assert _hoisted(["rerun", "--", "prog", "--debug"]) == ["rerun", "--", "prog", "--debug"]  # the command's
    ran = subprocess.run([GF, "show", "--db", populated, "9", "--debug"], capture_output=True, text=True)
    assert ran.returncode == 1 and "Traceback (most recent call last)" in ran.stderr
    assert ran.stderr.rstrip().splitlines()[-1].startswith("gf.errors.GroupNotFound: group 9 does not exist")


def test_every_command_has_help(run_gf):
    names = list(cli.commands)
    assert {"load", "groups", "show", "runs", "export", "template-run", "plugins"} <= set(names)
    for name in names:
        result = run_gf(name, "--help")
        assert result.exit_code == 0 and "Usage: " in result.stdout
    assert run_gf("plugins", "list", "--help").exit_code == 0
    assert run_gf("--version").stdout.startswith("gf, version ")


def test_console_script_is_installed(tmp_path):
    import subprocess

    result = subprocess.run([GF, "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "genetic optimization" in result.stdout


def test_python_dash_m_gf_is_the_gf_command():
    result = subprocess.run([sys.executable, "-m", "gf", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("gf, version ")


def test_a_group_without_its_command_shows_its_help(run_gf):
    for args, first in [((), "Usage: cli [OPTIONS] COMMAND [ARGS]..."),  # CliRunner names it cli
                        (("plugins",), "Usage: cli plugins [OPTIONS] COMMAND [ARGS]...")]:
        result = run_gf(*args)
        assert result.exit_code == 0 and result.stderr == ""
        assert result.stdout.splitlines()[0] == first
    assert "  list  List plugins: name, version, hooks, or why one failed." in run_gf("plugins").stdout


def test_a_bug_in_a_plugin_is_one_line_naming_its_file_and_debug_shows_the_traceback(load_text, db_path, run_gf):
    from gf import Metric, hookimpl, plugins

    class Broken(Metric):
        name = "broken"
        description = "raises"

        def rank(self, conn, **kwargs):
            return {}["no such key"]

    class Plugin:
        @hookimpl
        def gf_register_metrics(self, register):
            register(Broken())

    plugins.register(Plugin(), name="broken-metric")
    load_text("x = 1\n")
    GeneticFuckery(dbfile=db_path, pid=1).record({"a": {"v": 1}}, dataset="d")
    result = run_gf("top", "--db", db_path, "--metric", "broken")
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: unexpected KeyError: 'no such key' (in test_cli.py:")
    assert result.stderr.endswith("; rerun with --debug for the traceback)\n")
    with pytest.raises(KeyError):
        run_gf("--debug", "top", "--db", db_path, "--metric", "broken")


def test_a_reader_that_leaves_early_is_no_error(load_text, db_path):
    load_text("".join(f"block__param_{i:05d} = {i}.5\n" for i in range(4000)))  # more than a pipe holds
    finished = subprocess.run(f"{shlex.quote(GF)} show --db {shlex.quote(db_path)} 1 | head -1", shell=True, capture_output=True,
                              text=True, env={**os.environ, "GF_LOAD_PLUGINS": ""}, timeout=60)
    assert finished.stdout.split() == ["name", "type", "value", "reads_as"]
    assert finished.stderr == ""


def strict_json(text):
    """``json.loads`` that refuses Infinity and NaN, as strict JSON readers do (Python's accepts them)."""
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_to_json_writes_non_finite_floats_as_null():
    from gf.cli import to_json

    nan, inf = float("nan"), float("inf")
    assert to_json({"a": [nan, (1.5, -inf)], "b": {"c": inf}, "d": "inf"}) == (
        '{"a": [null, [1.5, null]], "b": {"c": null}, "d": "inf"}')


def test_json_output_writes_scores_that_overflow_to_infinity_as_null(load_text, db_path, tmp_path, gf_process):
    """A profit near the largest float over half a trade, or a --metric-sql query, scores inf: --json says null."""
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "examples" / "backtest"
    load_text((example / "params.js").read_text())
    GeneticFuckery(dbfile=db_path, pid=1).record({"algo": {"profit": 1.7e308, "trades": 0.5}}, dataset="SPY")
    seed_metric = ("--metric", "max profit min trades")
    for args, score_of in (
            (("top", "--db", db_path, *seed_metric), lambda found: found[0]["score"]),
            (("best", "--db", db_path, *seed_metric), lambda found: found[0]["by_dataset"]["SPY"]),
            (("report", "1", "--db", db_path, *seed_metric), lambda found: found[0]["best"][0]["score"]),
            (("compare", db_path, *seed_metric), lambda found: found["databases"][0]["scores"]["SPY"])):
        shown = gf_process(*args, "--json")
        assert shown.returncode == 0, shown.stderr
        assert score_of(strict_json(shown.stdout)) is None, args[0]
    query = tmp_path / "overflow.sql"
    query.write_text("SELECT runs.id AS run, results.value * 1e308 * 10 AS score FROM runs JOIN results ON "
                     "results.run = runs.id WHERE runs.dataset = :dataset AND runs.status = 'ok' AND "
                     "results.name = 'trades' ORDER BY score DESC LIMIT :limit\n")
    bred = gf_process("breed", "--db", db_path, "--metric-sql", query, "--population", "2", "-j", "1", "--seed", "1",
                      "--json", f"{sys.executable} {example / 'backtest.py'} {{}}")
    assert bred.returncode == 0, bred.stderr
    assert strict_json(bred.stdout)[0]["best"] is None
    listed = gf_process("loops", "--db", db_path, "--json")
    assert strict_json(listed.stdout)[0]["best"] is None


def test_gf_tag_creates_a_database_only_to_save_tags(tmp_path, gf_process):
    missing = tmp_path / "typo.db"
    for args in ((), ("--clear",)):
        listed = gf_process("tag", "--db", missing, *args)
        assert (listed.returncode, listed.stderr.startswith(f"error: {missing}: no such database")) == (1, True)
        assert not missing.exists()
    saved = gf_process("tag", "--db", missing, "crossover", "crossover__*")
    assert saved.returncode == 0, saved.stderr
    assert json.loads(gf_process("tag", "--db", missing, "--json").stdout) == [
        {"algo": "crossover", "patterns": ["crossover__*"]}]


def test_terminal_sequences_a_command_wrote_are_shown_not_obeyed(load_text, db_path, run_gf, tmp_path):
    program = tmp_path / "noisy.py"
    program.write_text("import sys\nsys.stderr.write('\\x1b]0;pwned\\x07\\x1b[31mdisk \\x1b[2Jfull\\x1b[0m\\x07\\n')\n"
                       "sys.exit(1)\n")
    load_text("x = 1\n")
    result = run_gf("run", "--db", db_path, f"{sys.executable} {program} {{}}", "a")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == ("error: every evaluation of this run failed; last error (exit 1): "
                                              "disk full; check the command")
    table = run_gf("runs", "--db", db_path).stdout
    assert "disk full" in table and "\x1b" not in table and "\x07" not in table
    [run] = json.loads(run_gf("runs", "--db", db_path, "--json").stdout)
    assert run["error"].endswith("\n\x1b]0;pwned\x07\x1b[31mdisk \x1b[2Jfull\x1b[0m\x07")  # as written, for scripts


@pytest.mark.parametrize("written, shown", [
    ("\x1b]0;training job\nTraceback\nValueError: bad lr\n", "\nTraceback\nValueError: bad lr\n"),  # OSC, never ended
    ("loss is NaN\x1b(B\x1b[m at step 77 \x1b7saved\x1b8", "loss is NaN at step 77 saved"),  # tput sgr0, save/restore
    ("tab\there\r\nÜberlauf 日本語 🚀", "tab\there\r\nÜberlauf 日本語 🚀"),  # text as it is
])
def test_printable_keeps_the_text_around_the_sequences_it_strips(written, shown):
    from gf.errors import printable

    assert printable(written) == shown
