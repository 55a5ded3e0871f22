"""The original geneticfuckery README's workflows, run for real: files, subprocesses, env vars."""

import json
import os
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from test_loader import SEED_FILE as LOADME

# The seed README's test.py, with only the logging kept as prints.
TEST_PY = """\
#!/usr/bin/env python3

from geneticfuckery.gf import GeneticFuckery


def cmd():
    g = GeneticFuckery(dbfile="testing.db", pid=1)

    variable_a = g.seconds_15.stop_threshold.fast
    variable_b = g.overall.decay_rate_int
    choice = g.runtime.exit_check_choice

    print("A:", variable_a)
    print("B:", variable_b)
    print("Choice:", choice)

    with g.report("RESULT GROUP A") as resulter:
        resulter.update(
            dict(
                got=dict(count=3),
                failed=dict(widgets=9),
                progress=dict(success=99, terminiated=1),
            )
        )
        resulter["other"] = dict(Great=4)


if __name__ == "__main__":
    cmd()
"""


def sh(command, cwd, env=None):
    """``command`` run by the shell, this environment's console scripts (``gf-load``...) first on PATH: a pyenv
    shim or another venv's would run another copy of gf (as conftest.console_script says)."""
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    return subprocess.run(
        command, shell=True, cwd=cwd, capture_output=True, text=True, env={**os.environ, "PATH": path, **(env or {})}
    )


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.delenv("GF_LOAD_PLUGINS")
    (tmp_path / "loadme.js").write_text(LOADME)
    return tmp_path


def test_load_then_use_then_query_results(workdir):
    loaded = sh("GF_DB=testing.db gf load loadme.js", workdir)
    assert loaded.returncode == 0 and loaded.stdout == "1\n"

    (workdir / "test.py").write_text(TEST_PY)
    ran = sh(f"{sys.executable} test.py", workdir)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "A: 12.3\nB: 5\nChoice: custom\n"

    conn = sqlite3.connect(workdir / "testing.db")
    assert conn.execute("select * from results").fetchall() == [
        (1, "got", "count", 3),
        (1, "failed", "widgets", 9),
        (1, "progress", "success", 99),
        (1, "progress", "terminiated", 1),
        (1, "other", "great", 4),
    ]


def test_dynamic_sub_readers(workdir):
    sh("GF_DB=testing.db gf load loadme.js", workdir)
    code = textwrap.dedent("""
        from gf import GeneticFuckery
        gf = GeneticFuckery()
        def param_duration_helper(duration: int):
            return getattr(gf, f"seconds_{duration}")
        d15 = param_duration_helper(15)
        d30 = param_duration_helper(30)
        print(d15.stop_threshold.fast, d15.stop_threshold.slow, d30.stop_threshold.fast, d30.stop_threshold.slow)
    """)
    ran = sh(f"{sys.executable} -c '{code}'", workdir, {"GF_DB": "testing.db", "GF_PARAM_GROUP": "1"})
    assert ran.stdout == "12.3 7.2 22.2 17.9\n", ran.stderr


def test_environment_picks_database_group_and_dataset(workdir):
    sh("GF_DB=mydb.gf gf load loadme.js", workdir)
    (workdir / "override.js").write_text("overall__decay_rate_int = 6\n")
    sh("GF_DB=mydb.gf gf load loadme.js override.js", workdir)  # group 2
    program = textwrap.dedent("""
        from dataclasses import dataclass, field
        from gf import GeneticFuckery

        @dataclass
        class MyThing:
            gf: GeneticFuckery = field(default_factory=GeneticFuckery)

        thing = MyThing()
        with thing.gf.report() as r:
            r["overall"]["decay"] = thing.gf.overall.decay_rate_int
    """)
    (workdir / "my_project.py").write_text(program)
    ran = sh(f'GF_DB="mydb.gf" GF_PARAM_GROUP=2 GF_DATA="environmental-2022-12" {sys.executable} my_project.py '
             "environmental-2022-12", workdir)
    assert ran.returncode == 0, ran.stderr
    conn = sqlite3.connect(workdir / "mydb.gf")
    assert conn.execute("SELECT run, pid, family, dataset FROM run_meta").fetchall() == [
        (1, 2, "environmental-2022-12", "environmental-2022-12")
    ]


def test_later_files_override_into_one_group(workdir):
    (workdir / "first-attempt.js").write_text(LOADME)
    (workdir / "override.js").write_text("overall__decay_rate_int = 9\n")
    assert sh('GF_DB="prime.db" gf load first-attempt.js', workdir).stdout == "1\n"
    assert sh('GF_DB="prime.db" gf load first-attempt.js override.js', workdir).stdout == "2\n"
    conn = sqlite3.connect(workdir / "prime.db")
    assert conn.execute("SELECT group_id, value FROM params WHERE name = 'decay_rate_int'").fetchall() == [
        (1, "5"), (2, "9")
    ]


def test_template_run_lines_run_under_a_shell_and_record_datasets(workdir):
    sh("GF_DB=new-opt-sat-2.gf gf load loadme.js", workdir)
    (workdir / "makemoney.py").write_text(textwrap.dedent("""
        import sys
        from gf import GeneticFuckery
        g = GeneticFuckery()
        with g.report() as r:
            r["money"]["made"] = g.seconds_15.stop_threshold.fast * len(sys.argv[1])
    """))
    datasets = "TSLA-2022-05-24 SHOP-2022-05-27 TWLO-2022-05-27 SPY-2022-05-25 AMD-2022-05-27"
    printed = sh(f'GF_DB=new-opt-sat-2.gf gf template-run "{sys.executable} makemoney.py {{}}" {datasets} '
                 "> runme.sh", workdir)
    assert printed.returncode == 0
    lines = (workdir / "runme.sh").read_text().splitlines()
    assert len(lines) == 5
    assert lines[0].startswith(f"GF_DB={workdir / 'new-opt-sat-2.gf'} GF_PARAM_GROUP=1 GF_DATA=TSLA-2022-05-24 "
                               "GF_FAMILY=TSLA-2022-05-24 ")
    ran = sh("sh runme.sh", workdir)
    assert ran.returncode == 0, ran.stderr
    conn = sqlite3.connect(workdir / "new-opt-sat-2.gf")
    assert [row[0] for row in conn.execute("SELECT dataset FROM run_meta ORDER BY run")] == datasets.split()


def test_the_seeds_first_example_reads_the_only_group_without_a_pid(workdir):
    (workdir / "ab.js").write_text("variable_a = 2\nvariable_b = 3\n")
    assert sh("GF_DB=myvariables.sqlite3 gf-load ab.js", workdir).stdout == "1\n"
    code = ('import geneticfuckery.gf as gf; g = gf.GeneticFuckery(dbfile="myvariables.sqlite3"); '
            "print(g.variable_a + g.variable_b)")
    ran = sh(f"{sys.executable} -c '{code}'", workdir)
    assert (ran.returncode, ran.stdout) == (0, "5.0\n"), ran.stderr


def test_the_seeds_command_names_and_option_spellings_still_run(workdir):
    """`gf-load`, `gf-template-run` and `gf-breeder-auto --metricName ... --topN 2 --loop 12` as the
    original README spells them (poetry run aside), each the gf command it became."""
    assert sh("GF_DB=new-opt-sat-2.gf gf-load loadme.js", workdir).stdout == "1\n"
    (workdir / "makemoney.py").write_text(textwrap.dedent("""
        import sys
        from gf import GeneticFuckery
        g = GeneticFuckery()
        fast = g.seconds_15.stop_threshold.fast
        with g.report() as r:
            r["trend"] = {"profit": 100 - (fast - 20) ** 2 + len(sys.argv[1]), "trades": 10}
    """))
    datasets = "TSLA-2022-05-24 SHOP-2022-05-27"
    printed = sh(f'GF_DB=new-opt-sat-2.gf gf-template-run "{sys.executable} makemoney.py {{}}" {datasets} '
                 "> runme.sh", workdir)
    assert printed.returncode == 0, printed.stderr
    assert sh("sh runme.sh", workdir).returncode == 0
    bred = sh(f'GF_DB=new-opt-sat-2.gf gf-breeder-auto --metricName "max profit min trades" --topN 2 --loop 2 '
              f'--population 4 --seed 1 "{sys.executable} makemoney.py {{}}"', workdir)
    assert bred.returncode == 0, bred.stderr
    conn = sqlite3.connect(workdir / "new-opt-sat-2.gf")
    assert conn.execute("SELECT count(*), max(generation) FROM groups").fetchone() == (9, 2)
    assert json.loads(conn.execute("SELECT args FROM loops").fetchone()[0])["metric"] == "max profit min trades"
    assert conn.execute("SELECT count(*) FROM runs WHERE status = 'ok'").fetchone() == (2 + 8 * 2,)
    wrong = sh("GF_DB=new-opt-sat-2.gf gf-breeder-auto --metricNam profit", workdir)
    assert wrong.returncode == 2 and "see `gf breed --help`" in wrong.stderr
    wrong = sh("GF_DB=new-opt-sat-2.gf gf-breeder-auto --metricName profit --topN abc", workdir)
    assert wrong.returncode == 2 and wrong.stderr.startswith("error: Invalid value for '--topN': 'abc' is not a valid "
                                                             "integer")
    wrong = sh("GF_DB=new-opt-sat-2.gf gf-breeder-auto --metricname profit --topn abc", workdir)  # any case
    assert wrong.returncode == 2 and wrong.stderr.startswith("error: Invalid value for '--topn'")
    helped = sh("gf-breeder-auto --help", workdir)  # its help is gf breed's, and names the original's options
    assert helped.returncode == 0 and helped.stdout.startswith(
        "gf-breeder-auto: the original geneticfuckery's command, now `gf breed` (its help follows); its options "
        "--metricName for --metric, --topN for --top are accepted too\n\nUsage: gf breed [OPTIONS] [COMMAND]")
    assert sh("gf-load -h", workdir).stdout.startswith(
        "gf-load: the original geneticfuckery's command, now `gf load` (its help follows)\n\nUsage: gf load")
