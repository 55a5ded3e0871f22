"""Launchers and gf run: real child processes, environment, failures, timeouts, skipping."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gf import plugins, store
from conftest import count_rows

PROGRAM = Path(__file__).parent / "programs" / "evaluate.py"
COMMAND = f"{sys.executable} {PROGRAM} {{}}"


@pytest.fixture
def db(load_text, db_path):
    load_text("x = 1\n")
    load_text("x = 3\n")
    return db_path


def runs(db_path):
    conn = store.connect(db_path)
    return conn.execute("SELECT group_id, dataset, status, exit_code, error FROM runs ORDER BY group_id, dataset").fetchall()


def results(db_path, name):
    conn = store.connect(db_path)
    return dict(conn.execute(
        "SELECT r.group_id || '/' || r.dataset, v.value FROM results v JOIN runs r ON r.id = v.run WHERE v.name = ?",
        (name,)))


def test_hook_gf_register_launchers():
    assert sorted(plugins.get_launchers()) == ["dask", "inprocess", "local", "print"]


def test_run_evaluates_every_group_on_every_dataset_with_the_environment(db, run_gf, monkeypatch):
    monkeypatch.setenv("GF_DASK_SCHEDULER", "tcp://127.0.0.1:1")  # a dask setting: no concern of the local launcher
    result = run_gf("run", "--db", db, COMMAND, "aa", "b b; echo", "-j", "2")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "4 evaluated: 4 ok, 0 failed, 0 skipped (already run)\n"
    assert [(g, d, s) for g, d, s, _, _ in runs(db)] == [
        (1, "aa", "ok"), (1, "b b; echo", "ok"), (2, "aa", "ok"), (2, "b b; echo", "ok")]
    assert results(db, "group_seen") == {"1/aa": 1, "1/b b; echo": 1, "2/aa": 2, "2/b b; echo": 2}
    # no shell: the dataset is one argument, its ; is not a command separator
    assert set(results(db, "argc").values()) == {2}
    assert set(results(db, "same_data").values()) == {1}
    assert results(db, "value")["2/aa"] == 2  # (3 - 3)^2 + len("aa")


def test_run_skips_evaluated_pairs_unless_again_and_takes_groups(db, run_gf):
    run_gf("run", "--db", db, COMMAND, "aa")
    result = run_gf("run", "--db", db, COMMAND, "--json")  # datasets default to the recorded ones
    assert json.loads(result.stdout) == {"evaluated": 0, "ok": 0, "failed": 0, "skipped": 2, "skipped_failed": 0}
    result = run_gf("run", "--db", db, COMMAND, "--group", "2", "--again", "--json")
    assert json.loads(result.stdout) == {"evaluated": 1, "ok": 1, "failed": 0, "skipped": 0, "skipped_failed": 0}
    assert count_rows(db, "runs") == 3


def test_run_failed_evaluates_again_the_pairs_whose_every_run_failed(db, run_gf, tmp_path):
    program = tmp_path / "program.py"
    program.write_text("import sys\nsys.exit(3)  # a bug\n")
    command = f"{sys.executable} {program} {{}}"
    assert run_gf("run", "--db", db, command, "aa", "bb", "--group", "1").exit_code == 1  # every evaluation failed
    assert run_gf("run", "--db", db, COMMAND, "aa", "bb", "--group", "2").exit_code == 0
    program.write_text(PROGRAM.read_text())  # the bug fixed
    result = run_gf("run", "--db", db, command, "aa", "bb")
    assert result.stdout == ("0 evaluated: 0 ok, 0 failed, 4 skipped (already run; 2 of them only failed before: "
                             "add --failed to run those again)\n")
    result = run_gf("run", "--db", db, command, "aa", "bb", "--failed", "--json")
    assert json.loads(result.stdout) == {"evaluated": 2, "ok": 2, "failed": 0, "skipped": 2, "skipped_failed": 0}
    assert [(g, d, s) for g, d, s, _, _ in runs(db)] == [
        (1, "aa", "failed"), (1, "aa", "ok"), (1, "bb", "failed"), (1, "bb", "ok"), (2, "aa", "ok"), (2, "bb", "ok")]
    result = run_gf("run", "--db", db, command, "aa", "bb", "--failed")
    assert result.stdout == "0 evaluated: 0 ok, 0 failed, 4 skipped (already run)\n" and count_rows(db, "runs") == 6


def test_a_run_recorded_for_another_group_or_dataset_is_no_evaluation_of_the_pair(db, run_gf, tmp_path):
    """A program that pins its group (`GeneticFuckery(pid=1)`) or renames its dataset recorded a run for another
    pair than the one launched, and counted as ok: the launched pair never got a run and was evaluated again
    on every `gf run`."""
    pinned = tmp_path / "pinned.py"
    pinned.write_text("import sys\nfrom gf import GeneticFuckery\ng = GeneticFuckery(pid=1)\n"
                      "g.record({'a': {'v': 1}}, dataset=sys.argv[1])\n")
    result = run_gf("run", "--db", db, f"{sys.executable} {pinned} {{}}", "aa", "--group", "2", "--json")
    assert result.exit_code == 1 and json.loads(result.stdout)["failed"] == 1
    assert "the command recorded its run for group 1 on dataset 'aa', not for group 2 on 'aa'" in result.stderr
    upper = tmp_path / "upper.py"
    upper.write_text("import sys\nfrom gf import GeneticFuckery\n"
                     "GeneticFuckery().record({'a': {'v': 1}}, dataset=sys.argv[1].upper())\n")
    assert run_gf("run", "--db", db, f"{sys.executable} {upper} {{}}", "bb", "--group", "1").exit_code == 1
    again = run_gf("run", "--db", db, f"{sys.executable} {upper} {{}}", "bb", "--group", "1", "--json")
    assert json.loads(again.stdout)["evaluated"] == 0  # the failed run is the pair's: not evaluated forever
    assert [(g, d, s, e.splitlines()[0] if e else e) for g, d, s, _, e in runs(db)] == [
        (1, "BB", "ok", None),
        (1, "aa", "ok", None),
        (1, "bb", "failed", "the command recorded its run for group 1 on dataset 'BB', not for group 1 on 'bb': "
                            "let GF_PARAM_GROUP and GF_DATA choose (no pid= or dataset= in the program)"),
        (2, "aa", "failed", "the command recorded its run for group 1 on dataset 'aa', not for group 2 on 'aa': "
                            "let GF_PARAM_GROUP and GF_DATA choose (no pid= or dataset= in the program)")]


def test_shell_runs_through_sh_only_when_asked(db, run_gf, tmp_path):
    marker = tmp_path / "marker"
    result = run_gf("run", "--db", db, "--group", "1", f"{COMMAND} && touch {marker}", "aa", "--shell")
    assert result.exit_code == 0 and marker.exists() and "warning" not in result.stderr
    # without --shell the operator is the program's argument: gf says so before it runs
    result = run_gf("run", "--db", db, "--group", "1", f"{COMMAND} > {marker}.log", "bb")
    assert result.stderr.startswith("warning: COMMAND has the shell operator '>', but runs without a shell: the "
                                    "program gets it as an argument; add --shell to run COMMAND through sh -c\n")
    assert not Path(f"{marker}.log").exists()
    # a quoted one is an argument as meant: no warning
    result = run_gf("run", "--db", db, "--group", "1", f"{COMMAND} --sep '|' --filter \">=5\" --url=h/?a=1&b=2",
                    "cc")  # nor one inside a word
    assert "warning" not in result.stderr


def test_failures_are_recorded_with_exit_code_and_stderr_tail_and_the_run_goes_on(db, run_gf):
    result = run_gf("run", "--db", db, "--group", "1", COMMAND, "fail", "raise", "silent", "die", "ok", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"evaluated": 5, "ok": 1, "failed": 4, "skipped": 0, "skipped_failed": 0}
    found = {dataset: (status, code, error) for _, dataset, status, code, error in runs(db)}
    assert found["fail"] == ("failed", 3, "exited with status 3\nsomething broke\nvery badly")
    assert found["raise"][:2] == ("failed", 1)
    assert found["raise"][2].startswith("ValueError: bad dataset\nexited with status 1\nTraceback")
    assert found["silent"] == ("failed", 0, "the command exited 0 but recorded no run: does it call g.report() or g.record()?")
    assert found["die"] == ("failed", -9, "exited with status -9")
    assert found["ok"] == ("ok", 0, None)
    table = run_gf("runs", "--db", db).stdout.splitlines()  # a many-line error stays on its run's row
    assert len(table) == 1 + 5
    assert any(line.endswith("exited with status 3 | something broke | very badly") for line in table)


def test_timeout_kills_and_records_a_failed_run(db, run_gf):
    result = run_gf("run", "--db", db, "--group", "1", COMMAND, "sleep", "ok", "--timeout", "1", "--json")
    assert json.loads(result.stdout)["failed"] == 1
    found = {dataset: (status, error) for _, dataset, status, _, error in runs(db)}
    assert found["sleep"][0] == "failed" and found["sleep"][1].startswith("timed out after 1 s")


def test_every_evaluation_failing_is_a_clear_error(db, run_gf):
    result = run_gf("run", "--db", db, "python3 /no/such/program.py {}", "aa")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith("error: every evaluation of this run failed; last error (exit 2)")
    result = run_gf("run", "--db", db, "no-such-command-anywhere {}", "bb")  # said before anything runs
    assert (result.exit_code, result.stderr) == (2, "error: cannot run COMMAND 'no-such-command-anywhere {}': "
                                                    "no-such-command-anywhere: not found on PATH (give its path, e.g. "
                                                    "./backtest.py, or the interpreter: python3 backtest.py {})\n")
    assert [dataset for _, dataset, _, _, _ in runs(db)] == ["aa", "aa"]


def test_a_command_that_cannot_start_says_why(db, run_gf, tmp_path, monkeypatch):
    from gf import processes

    script = tmp_path / "script.py"
    script.write_text("print(1)\n")
    assert processes.unrunnable(str(script)).startswith("it is not executable: make it so (chmod +x)")
    assert processes.unrunnable(str(tmp_path)) == "it is a directory"
    assert processes.unrunnable(str(tmp_path / "gone.py")) == "No such file or directory"
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert processes.unrunnable("script.py") == f"{script} is not executable (chmod +x)"
    script.chmod(0o755)  # executable, but no #! line: the kernel refuses it as it starts
    assert processes.unrunnable(str(script)) is None
    result = run_gf("run", "--db", db, f"{script} {{}}", "cc", "--group", "1")
    assert result.exit_code == 1
    assert runs(db)[-1][4] == (f"cannot start {str(script)!r}: Exec format error (a script without a #! line? run it "
                               "through its interpreter: python3 script.py {})")


def test_print_launcher_writes_lines_and_runs_nothing(db, run_gf):
    result = run_gf("run", "--db", db, COMMAND, "aa", "--launcher", "print")
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"GF_DB={db} GF_PARAM_GROUP=1 GF_DATA=aa GF_FAMILY=aa ")
    assert count_rows(db, "runs") == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["python run.py"], "has no {}: put {} where the dataset goes"),
        (["run {}", "--launcher", "nope"], "unknown launcher 'nope'; choose one of: dask, inprocess, local, print"),
        (["run {}", "a", "--launcher", "inprocess"], "runs Python functions, not commands"),
        (["run {}", "a", "--scheduler", "tcp://127.0.0.1:1"], "--scheduler is for the dask launcher"),
        (["run {}", "a", "--launcher-option", "jobs=3"],
         "launcher option 'jobs': the local launcher has no such option (it takes none; see `gf launchers list`)"),
        (["run {}", "a", "--launcher", "dask", "--launcher-option", "address=x"],
         "launcher option 'address': the dask launcher has no such option (it takes scheduler;"),
        (["run {}", "a", "--launcher", "dask", "--launcher-option", "scheduler"],
         "--launcher-option 'scheduler': expected NAME=VALUE, e.g. --launcher-option scheduler=value"),
        (["run {}", "a", "--launcher-option", "=1"], "expected NAME=VALUE, e.g. --launcher-option name=value"),
        (["run {}", "a", "--launcher", "dask", "--launcher-option", "scheduler=tcp://a:1", "--scheduler", "tcp://b:1"],
         "launcher option 'scheduler' is given twice ('tcp://a:1' and 'tcp://b:1'): give it once (--scheduler A is "
         "short for --launcher-option scheduler=A)"),
        (["true {}"], "no datasets given and none recorded"),
        (["true {}", "a", "--group", "7"], "group 7 does not exist"),
        (["run {}", "a"], "cannot run COMMAND 'run {}': run: not found on PATH"),
        (["'unclosed {}", "a"], "cannot split COMMAND"),
    ],
)
def test_bad_run_arguments(db, run_gf, args, message):
    result = run_gf("run", "--db", db, *args)
    assert result.exit_code == 2 and message in result.stderr


def test_launchers_list(run_gf):
    listed = json.loads(run_gf("launchers", "list", "--json").stdout)
    assert [item["name"] for item in listed] == ["local", "print", "inprocess", "dask"]
    assert [sorted(item["options"]) for item in listed] == [[], [], [], ["scheduler"]]
    assert "GF_DASK_SCHEDULER" in listed[3]["options"]["scheduler"]
    text = run_gf("launchers", "list").stdout.splitlines()
    assert [line.split()[-1] for line in text if line.startswith("dask ")] == ["scheduler"]
    assert text[-1].startswith("  dask: --launcher-option scheduler=...  the scheduler's address")


def _spy_launcher(seen):
    """A third-party launcher taking two options; it records what it was given and runs nothing."""
    from gf import Finished, Launcher, hookimpl

    class Spy(Launcher):
        name = "spy"
        description = "records its options"
        options = {"queue": "where to submit", "retries": "how often to retry"}

        def launch(self, evaluations, context):
            seen.append(dict(context.options))
            for evaluation in evaluations:
                yield Finished(evaluation, results={"spy": {"ok": 1}})

    class Plugin:
        @hookimpl
        def gf_register_launchers(self, register):
            register(Spy())

    plugins.register(Plugin(), name="spy-launcher")


def test_launcher_options_reach_a_plugin_launcher(db, run_gf):
    seen = []
    _spy_launcher(seen)
    result = run_gf("run", "--db", db, COMMAND, "aa", "--launcher", "spy", "--launcher-option", "queue=short = fast",
                    "--launcher-option", "retries=2")
    assert result.exit_code == 0, result.stderr
    assert seen == [{"queue": "short = fast", "retries": "2"}]  # split at the first "=", values as given
    result = run_gf("run", "--db", db, COMMAND, "aa", "--launcher", "spy", "--again")
    assert result.exit_code == 0 and seen[-1] == {}  # an option not given is absent
    result = run_gf("run", "--db", db, COMMAND, "aa", "--launcher", "spy", "--launcher-option", "queue=x",
                    "--launcher-option", "partition=y")
    assert result.exit_code == 2 and len(seen) == 2  # refused before anything ran
    assert "launcher option 'partition': the spy launcher has no such option (it takes queue, retries;" in result.stderr
    result = run_gf("run", "--db", db, COMMAND, "aa", "--launcher", "spy", "--launcher-option", "queue=a",
                    "--launcher-option", "queue=b")
    assert result.exit_code == 2
    assert "launcher option 'queue' is given twice ('a' and 'b'): give it once" in result.stderr
    listed = {item["name"]: item for item in json.loads(run_gf("launchers", "list", "--json").stdout)}
    assert listed["spy"]["options"] == {"queue": "where to submit", "retries": "how often to retry"}
    # gf breed and gf rerun hand them over too
    result = run_gf("breed", "--db", db, "--metric", "ok", "--loop", "1", "--population", "2", "--launcher", "spy",
                    "--launcher-option", "retries=5", COMMAND)
    assert result.exit_code == 0, result.stderr
    assert seen[-1] == {"retries": "5"}
    [run_id] = store.connect(db).execute("SELECT min(id) FROM runs").fetchone()
    result = run_gf("rerun", "--db", db, "--launcher", "spy", "--launcher-option", "queue=q", COMMAND, run_id)
    assert result.exit_code == 0, result.stderr
    assert seen[-1] == {"queue": "q"} and len(seen) == 4
    result = run_gf("rerun", "--db", db, "--print", "--launcher-option", "queue=q", COMMAND, run_id)
    assert result.exit_code == 2 and "--print prints the command lines (the print launcher): leave out" in result.stderr


def test_launcher_check_options_refuses_a_bad_value_before_anything_runs(db, run_gf):
    from gf import InputError, Launcher, hookimpl

    class Picky(Launcher):
        name = "picky"
        options = {"retries": "a whole number"}

        def check_options(self, options):
            if not options.get("retries", "0").isdigit():
                raise InputError(f"--launcher-option retries={options['retries']!r}: expected a whole number")

        def launch(self, evaluations, context):
            raise AssertionError("never reached")

    class Plugin:
        @hookimpl
        def gf_register_launchers(self, register):
            register(Picky())

    plugins.register(Plugin(), name="picky-launcher")
    assert run_gf("run", "--db", db, COMMAND, "aa").exit_code == 0
    result = run_gf("breed", "--db", db, "--metric", "ok", "--loop", "1", "--launcher", "picky",
                    "--launcher-option", "retries=many", COMMAND)
    assert (result.exit_code, result.stderr) == (
        2, "error: --launcher-option retries='many': expected a whole number\n")
    conn = store.connect(db)
    assert conn.execute("SELECT (SELECT count(*) FROM groups), (SELECT count(*) FROM loops)").fetchone() == (2, 0)


def test_evolve_checks_launcher_options(load_text, db_path):
    from gf import GeneticFuckery, InputError

    load_text("x = 1.5\n")
    g = GeneticFuckery(dbfile=db_path)
    kwargs = dict(metric="v", generations=1, population=2, datasets=["d"])
    fn = lambda params, dataset: {"a": {"v": params.x}}  # noqa: E731
    with pytest.raises(InputError, match="scheduler= is for the dask launcher: add launcher='dask' .not 'inprocess'."):
        g.evolve(fn, scheduler="tcp://127.0.0.1:1", **kwargs)
    with pytest.raises(InputError, match="launcher option 'queue': the inprocess launcher has no such option"):
        g.evolve(fn, launcher_options={"queue": "x"}, **kwargs)
    assert store.connect(db_path).execute("SELECT count(*) FROM runs").fetchone()[0] == 0


def test_launcher_check_ready_refuses_before_anything_is_written(db, run_gf):
    """A plugin launcher that cannot run here (its SDK missing) is refused by gf run, breed, rerun and evolve
    before a child is bred, a loop opened or a launch recorded."""
    from gf import GeneticFuckery, GfError, Launcher, hookimpl

    class NoSdk(GfError):
        exit_code = 1

    class Remote(Launcher):
        name = "remote"
        functions = True

        def check_ready(self, options):
            raise NoSdk("the remote launcher needs remote-sdk: pip install remote-sdk")

        def launch(self, evaluations, context):
            raise AssertionError("never reached")

    class Plugin:
        @hookimpl
        def gf_register_launchers(self, register):
            register(Remote())

    plugins.register(Plugin(), name="remote-launcher")
    assert run_gf("run", "--db", db, COMMAND, "aa").exit_code == 0
    tables = ("groups", "loops", "launches", "runs")
    before = [count_rows(db, table) for table in tables]
    for command in (["run", COMMAND, "bb"], ["breed", "--metric", "ok", "--loop", "2", COMMAND],
                    ["rerun", COMMAND, "1"]):
        result = run_gf(*command, "--db", db, "--launcher", "remote")
        assert (result.exit_code, result.stderr) == (
            1, "error: the remote launcher needs remote-sdk: pip install remote-sdk\n"), command
    with pytest.raises(NoSdk, match="the remote launcher needs remote-sdk"):
        GeneticFuckery(dbfile=db, pid=1).evolve(lambda params, dataset: {"a": {"v": 1}}, metric="v", generations=1,
                                                population=2, datasets=["cc"], launcher="remote")
    assert [count_rows(db, table) for table in tables] == before


def test_evolve_with_dask_missing_writes_nothing(gf_process, tmp_path):
    """dask is installed for the suite: a module on PYTHONPATH makes `import distributed` fail in a real process,
    as where the [dask] extra is not installed; evolve(launcher="dask") then leaves the database byte for byte."""
    (tmp_path / "start.js").write_text("x = 1.5\n")
    db = tmp_path / "evolve.db"
    assert gf_process("load", "start.js", "--db", db, cwd=tmp_path).returncode == 0
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "distributed.py").write_text("raise ModuleNotFoundError(\"No module named 'distributed'\", "
                                         "name='distributed')\n")
    script = (
        "import sys\n"
        "from gf import GeneticFuckery, GfError\n"
        "try:\n"
        "    GeneticFuckery(dbfile=sys.argv[1]).evolve(lambda params, dataset: {'a': {'v': params.x}}, metric='v',\n"
        "        generations=1, population=2, datasets=['d'], launcher='dask')\n"
        "except GfError as error:\n"
        "    print(f'{type(error).__name__}: {error}')\n")
    before = db.read_bytes()
    env = {**os.environ, "PYTHONPATH": str(shim)}
    done = subprocess.run([sys.executable, "-c", script, str(db)], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert (done.returncode, done.stdout) == (0, "MissingDask: the dask launcher needs dask.distributed (the [dask] "
                                                 "extra): pip install 'dask[distributed]'\n"), done.stderr
    assert db.read_bytes() == before and not Path(f"{db}-wal").exists()


def test_evolve_hands_launcher_options_over_as_strings(load_text, db_path):
    from gf import GeneticFuckery, hookimpl
    from gf_plugins_builtin.launchers import InProcessLauncher

    seen = []

    class Tuned(InProcessLauncher):
        name = "tuned"
        options = {"threads": "how many", "label": "a name"}

        def launch(self, evaluations, context):
            seen.append(dict(context.options))
            yield from super().launch(evaluations, context)

    class Plugin:
        @hookimpl
        def gf_register_launchers(self, register):
            register(Tuned())

    plugins.register(Plugin(), name="tuned-launcher")
    load_text("x = 1.5\n")
    best = GeneticFuckery(dbfile=db_path).evolve(
        lambda params, dataset: {"a": {"v": params.x}}, metric="v", generations=1, population=2, datasets=["d"],
        launcher="tuned", launcher_options={"threads": 2, "label": None}, seed=1)
    assert best["group"] >= 1
    assert seen and all(options == {"threads": "2"} for options in seen)  # str(2); None left out


@pytest.mark.parametrize("behaviour, message", [
    ("raise", "error: launcher 'careless' failed: RuntimeError: no cluster today\n"),
    ("yield", "error: launcher 'careless' yielded int 3; launch() must yield gf.launch.Finished objects "
              "(or lists of them)\n"),
])
def test_a_launcher_that_breaks_its_contract_is_named(db, run_gf, behaviour, message):
    from gf import Launcher, hookimpl

    class Careless(Launcher):
        name = "careless"
        description = "breaks its contract"

        def launch(self, evaluations, context):
            if behaviour == "raise":
                raise RuntimeError("no cluster today")
            yield 3

    class Plugin:
        @hookimpl
        def gf_register_launchers(self, register):
            register(Careless())

    plugins.register(Plugin(), name="careless-launcher")
    result = run_gf("run", "--db", db, COMMAND, "aa", "--launcher", "careless")
    assert result.exit_code == 1 and result.stderr == message
    assert count_rows(db, "runs") == 0


def test_a_launcher_that_skips_or_repeats_evaluations_is_named_and_leaves_them_to_a_rerun(db, run_gf):
    from gf import hookimpl
    from gf_plugins_builtin.launchers import LocalLauncher

    class Sloppy(LocalLauncher):
        name = "sloppy"
        description = "reports each evaluation twice, and never runs the last"

        def launch(self, evaluations, context):
            for finished in super().launch(evaluations[:-1], context):
                yield finished
                yield finished

    class Plugin:
        @hookimpl
        def gf_register_launchers(self, register):
            register(Sloppy())

    plugins.register(Plugin(), name="sloppy-launcher")
    result = run_gf("run", "--db", db, COMMAND, "aa", "b", "--launcher", "sloppy", "-j", "1")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-2:] == [
        "warning: launcher 'sloppy' reported an evaluation twice, or one it was not given; each evaluation is "
        "recorded once",
        "error: launcher 'sloppy' ended without reporting 1 of its 4 evaluations (the first: group 2 on b); launch() "
        "must yield a gf.launch.Finished for every evaluation it is given. They are left to evaluate: rerun the same "
        "command once the launcher is fixed"]
    assert count_rows(db, "runs") == 3  # one run per reported evaluation, not two
    conn = store.connect(db)
    assert conn.execute("SELECT status, count(*) FROM launches GROUP BY status ORDER BY status").fetchall() == [
        ("abandoned", 1), ("done", 3)]
    result = run_gf("run", "--db", db, COMMAND, "aa", "b", "--json")  # the built-in launcher takes the rest
    assert json.loads(result.stdout)["evaluated"] == 1 and count_rows(db, "runs") == 4


def test_a_program_named_by_the_dataset_is_not_checked_before_it_runs(db, run_gf, tmp_path):
    """`./{}/run.sh`: the program is known per dataset only (it was refused as `.//run.sh` before running)."""
    (tmp_path / "d1").mkdir()
    script = tmp_path / "d1" / "run.sh"
    script.write_text(f'#!/bin/sh\nexec {sys.executable} {PROGRAM} "$@"\n')
    script.chmod(0o755)
    result = run_gf("run", "--db", db, f"{tmp_path}/{{}}/run.sh {{}}", "d1", "--group", "1")
    assert result.exit_code == 0, result.stderr
    assert [(group, dataset, status) for group, dataset, status, _, _ in runs(db)] == [(1, "d1", "ok")]
