"""The slurm launcher, end to end through gf's CLI on real SQLite files, with a fake sbatch that runs the
generated job script on this machine (one process per array index, SLURM_ARRAY_TASK_ID set)."""

import json
import os
import shlex
import sys
import threading
from pathlib import Path

import gf
import gf.plugins
import gf_plugin_slurm

EVALUATE = Path(__file__).parent / "programs" / "evaluate.py"


def sbatch_calls(state):
    log = state / "sbatch.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_registered_as_a_launcher(run_gf):
    launcher = gf.plugins.get_launchers()["slurm"]
    assert isinstance(launcher, gf.Launcher) and launcher.waits and launcher.commands and not launcher.functions
    listed = {item["name"]: item for item in json.loads(run_gf("launchers", "list", "--json").stdout)}
    assert listed["slurm"]["description"] == launcher.description
    # every setting is also a launcher option
    assert sorted(listed["slurm"]["options"]) == ["array-limit", "dir", "grace", "keep", "max-array", "poll",
                                                  "sbatch", "sbatch-options", "scancel", "squeue", "wait"]
    assert listed["slurm"]["options"]["array-limit"].endswith("(env GF_SLURM_ARRAY_LIMIT)")


def test_launcher_options_win_over_the_environment(run_gf, load, db, command, monkeypatch, tmp_path, query,
                                                   slurm_plugin):
    load("x = 3.0\n")
    monkeypatch.setenv("GF_SLURM_DIR", str(tmp_path / "not-here"))
    monkeypatch.setenv("GF_SLURM_OPTIONS", "--partition=short")
    result = run_gf("run", "--db", db, command, "a", "b", "c", "--launcher", "slurm",
                    "--launcher-option", f"dir={tmp_path / 'jobs'}", "--launcher-option", "keep=1",
                    "--launcher-option", "sbatch-options=--partition=long --mem=2G",
                    "--launcher-option", "array-limit=1")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "not-here").exists()
    [folder] = (tmp_path / "jobs").iterdir()  # kept, where the option said
    assert "#SBATCH --array=0-2%1" in (folder / "job.sh").read_text().splitlines()
    assert sbatch_calls(slurm_plugin) == [["--parsable", "--partition=long", "--mem=2G", str(folder / "job.sh")]]
    assert query("SELECT count(*) FROM runs WHERE status = 'ok'") == [(3,)]
    # a bad value names the option it came from, and is refused before anything is bred or submitted
    result = run_gf("run", "--db", db, command, "d", "--launcher", "slurm", "--launcher-option", "max-array=0")
    assert (result.exit_code, result.stderr) == (
        2, "error: --launcher-option max-array='0': expected a whole number of at least 1\n")
    result = run_gf("breed", "--db", db, "--metric", "value", "--minimize", "--loop", "2", "--population", "2",
                    "--launcher", "slurm", "--launcher-option", "poll=soon", command)
    assert (result.exit_code, result.stderr) == (
        2, "error: --launcher-option poll='soon': expected a number of seconds of at least 0.01\n")
    assert query("SELECT count(*) FROM groups") == [(1,)] and query("SELECT count(*) FROM loops") == [(0,)]
    result = run_gf("run", "--db", db, command, "d", "--launcher", "slurm", "--launcher-option", "sbatch=no-such")
    assert result.stderr == ("error: cannot run 'no-such' (not found): run gf where Slurm's sbatch is, "
                             "or point --launcher-option sbatch at it\n")
    # keep=0 is no
    result = run_gf("run", "--db", db, command, "e", "--launcher", "slurm", "--launcher-option", "keep=0",
                    "--launcher-option", f"dir={tmp_path / 'jobs0'}")
    assert result.exit_code == 0 and not (tmp_path / "jobs0").exists()
    result = run_gf("run", "--db", db, command, "d", "--launcher", "slurm", "--launcher-option", "partition=x")
    assert result.exit_code == 2
    assert "the slurm launcher has no such option (it takes array-limit, dir," in result.stderr
    assert len(sbatch_calls(slurm_plugin)) == 2  # the first run and keep=0's


def test_gf_run_evaluates_every_pair_as_one_job_array(run_gf, load, db, command, query, slurm_plugin):
    load("x = 5.0\n")
    load("x = 1.0\n")
    result = run_gf("run", "--db", db, command, "d1", "data two", "--launcher", "slurm", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"evaluated": 4, "ok": 4, "failed": 0, "skipped": 0, "skipped_failed": 0}
    assert "gf-plugin-slurm: submitted job 1000 (4 tasks)" in result.stderr
    # one sbatch call, the job script as its last word
    [call] = sbatch_calls(slurm_plugin)
    assert call[0] == "--parsable" and call[-1].endswith("job.sh")
    runs = query("SELECT id, group_id, dataset, family, status, label, exit_code, launch, host FROM runs ORDER BY id")
    assert sorted((group, dataset) for _id, group, dataset, *_ in runs) == [
        (1, "d1"), (1, "data two"), (2, "d1"), (2, "data two")]
    for _id, group, dataset, family, status, label, exit_code, launch, host in runs:
        assert (family, status, label, exit_code) == (dataset, "ok", "test", 0)
        assert launch and host == os.uname().nodename
    results = {(group, dataset, algo, name): value for group, dataset, algo, name, value in query(
        "SELECT group_id, dataset, algo, name, value FROM results JOIN runs ON runs.id = results.run")}
    assert results[(1, "d1", "score", "value")] == (5 - 3) ** 2 + 2
    assert results[(2, "data two", "score", "value")] == (1 - 3) ** 2 + len("data two")
    assert results[(2, "data two", "env", "group_seen")] == 2
    assert all(results[(g, d, "env", "same_data")] == 1 for g in (1, 2) for d in ("d1", "data two"))
    assert all(results[(g, d, "env", "results_file")] == 1 for g in (1, 2) for d in ("d1", "data two"))
    assert sorted(results[(g, d, "env", "task")] for g in (1, 2) for d in ("d1", "data two")) == [0, 1, 2, 3]
    # every task succeeded: the job folder is gone
    assert not (db.parent / "gf-slurm").exists()
    # a second run finds nothing to do and submits nothing
    again = run_gf("run", "--db", db, command, "--launcher", "slurm", "--json")
    assert json.loads(again.stdout)["skipped"] == 4 and len(sbatch_calls(slurm_plugin)) == 1


def test_job_script_and_tasks_file(run_gf, load, db, command, monkeypatch, tmp_path, query, slurm_plugin):
    load("x = 3.0\n")
    monkeypatch.setenv("GF_SLURM_KEEP", "1")
    monkeypatch.setenv("GF_SLURM_DIR", str(tmp_path / "jobs"))
    monkeypatch.setenv("GF_SLURM_OPTIONS", "--partition=short --mem=1G")
    monkeypatch.setenv("GF_SLURM_ARRAY_LIMIT", "2")
    monkeypatch.setenv("GF_SLURM_SBATCH", "sbatch")  # without --parsable: "Submitted batch job N"
    result = run_gf("run", "--db", db, command, "it's", "b", "--launcher", "slurm", "--timeout", "120")
    assert result.exit_code == 0, result.output
    [folder] = (tmp_path / "jobs").iterdir()
    script = (folder / "job.sh").read_text()
    for line in ["#!/bin/bash", "#SBATCH --array=0-1%2", f"#SBATCH --output={folder}/slurm-%A_%a.out",
                 "#SBATCH --time=3"]:
        assert line in script.splitlines()
    assert sbatch_calls(slurm_plugin) == [["--partition=short", "--mem=1G", str(folder / "job.sh")]]
    assert f"export GF_DB={db}" in script and "timeout --kill-after=10 120" in script
    tasks = [shlex.split(line) for line in (folder / "tasks").read_text().splitlines()]
    assert [task[:2] + task[3:] for task in tasks] == [  # group, dataset, launch, then the command's words
        ["1", dataset, sys.executable, str(EVALUATE), dataset] for dataset in ("it's", "b")]
    assert sorted(query("SELECT dataset, launch FROM runs")) == sorted((task[1], task[2]) for task in tasks)
    assert sorted(path.name for path in folder.iterdir()) == [
        "job.sh", "slurm-1000_0.out", "slurm-1000_1.out", "task-0.err", "task-0.exit", "task-0.results",
        "task-1.err", "task-1.exit", "task-1.results", "tasks"]
    assert [line for _n, _run, line in gf.read_results(folder / "task-0.results")]


def test_failures_become_failed_runs_with_their_reasons(run_gf, load, db, command, query):
    load("x = 3.0\n")
    result = run_gf("run", "--db", db, command, "ok", "fail1", "raise1", "silent1", "die1", "twice",
                    "--launcher", "slurm", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"evaluated": 6, "ok": 2, "failed": 4, "skipped": 0, "skipped_failed": 0}
    runs = {dataset: (status, exit_code, error) for dataset, status, exit_code, error in query(
        "SELECT dataset, status, exit_code, error FROM runs WHERE label IS NOT 'second'")}
    assert runs["ok"] == ("ok", 0, None)
    assert runs["twice"] == ("ok", 0, None)
    assert query("SELECT count(*) FROM runs WHERE dataset = 'twice'") == [(2,)]  # both runs of the task
    status, code, error = runs["fail1"]
    assert (status, code) == ("failed", 3) and "exited with status 3" in error and "very badly" in error
    status, code, error = runs["raise1"]
    assert (status, code) == ("failed", 1) and error.startswith("ValueError: bad dataset")
    status, code, error = runs["silent1"]
    assert (status, code) == ("failed", 0)
    assert "the command exited 0 but wrote no results" in error and "does it call g.report()" in error
    assert runs["die1"][:2] == ("failed", 137)
    # failures keep the job folder for a look at the Slurm output
    assert len(list((db.parent / "gf-slurm").iterdir())) == 1


def test_a_task_slurm_killed_is_failed_once_squeue_no_longer_lists_the_job(run_gf, load, db, command, query,
                                                                         monkeypatch):
    load("x = 3.0\n")
    monkeypatch.setenv("FAKE_SBATCH_BACKGROUND", "0.3")  # sbatch returns at once: the launcher polls
    monkeypatch.setenv("FAKE_SBATCH_SKIP", "1")          # array task 1 never runs (a node died)
    result = run_gf("run", "--db", db, command, "a", "b", "c", "--launcher", "slurm", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"evaluated": 3, "ok": 2, "failed": 1, "skipped": 0, "skipped_failed": 0}
    [(status, code, error)] = query("SELECT status, exit_code, error FROM runs WHERE dataset = 'b'")
    assert status == "failed" and code is None
    assert error.startswith("the Slurm task ended without writing its exit status") and "slurm-1000_1.out" in error


def test_gf_slurm_wait_gives_up_and_cancels_the_job(run_gf, load, db, command, query, monkeypatch, slurm_plugin):
    load("x = 3.0\n")
    monkeypatch.setenv("FAKE_SBATCH_BACKGROUND", "30")
    monkeypatch.setenv("GF_SLURM_WAIT", "0.5")
    result = run_gf("run", "--db", db, command, "a", "--launcher", "slurm")
    assert result.exit_code == 1
    assert "every evaluation of this run failed" in result.stderr
    [(status, error)] = query("SELECT status, error FROM runs")
    assert status == "failed" and error.startswith("not finished after GF_SLURM_WAIT=0.5 s; Slurm job 1000 was cancelled")
    assert (slurm_plugin / "scancel.log").read_text() == "1000\n"
    # the same through the launcher option, which names itself in the error
    result = run_gf("run", "--db", db, command, "b", "--launcher", "slurm", "--launcher-option", "wait=0.4")
    assert result.exit_code == 1
    [(error,)] = query("SELECT error FROM runs WHERE dataset = 'b'")
    assert error.startswith("not finished after --launcher-option wait=0.4 s; Slurm job 1001 was cancelled")


def test_timeout_kills_the_command_inside_the_task(run_gf, load, db, command, query):
    load("x = 3.0\n")
    result = run_gf("run", "--db", db, command, "sleep1", "quick", "--launcher", "slurm", "--timeout", "2")
    assert result.exit_code == 0, result.output
    assert query("SELECT dataset, status, exit_code, substr(error, 1, 20) FROM runs ORDER BY dataset") == [
        ("quick", "ok", 0, None), ("sleep1", "failed", 124, "timed out after 2 s")]


def test_large_arrays_are_split(run_gf, load, db, command, query, monkeypatch, slurm_plugin):
    for x in (1, 2, 3, 4, 5):
        load(f"x = {x}.0\n")
    monkeypatch.setenv("GF_SLURM_MAX_ARRAY", "2")
    result = run_gf("run", "--db", db, command, "d", "--launcher", "slurm", "--json")
    assert json.loads(result.stdout) == {"evaluated": 5, "ok": 5, "failed": 0, "skipped": 0, "skipped_failed": 0}
    assert len(sbatch_calls(slurm_plugin)) == 3
    assert query("SELECT count(*) FROM runs WHERE status = 'ok'") == [(5,)]


def test_no_sbatch_or_a_refused_submission_is_one_line_and_records_nothing(run_gf, load, db, command, query,
                                                                             monkeypatch):
    load("x = 3.0\n")
    monkeypatch.setenv("GF_SLURM_SBATCH", "no-such-sbatch --parsable")
    result = run_gf("run", "--db", db, command, "a", "--launcher", "slurm")
    assert result.exit_code == 1
    assert result.stderr == ("error: cannot run 'no-such-sbatch' (not found): run gf where Slurm's sbatch is, "
                             "or point GF_SLURM_SBATCH at it\n")
    assert query("SELECT count(*) FROM launches") == [(0,)]  # found missing before anything was handed out
    monkeypatch.delenv("GF_SLURM_SBATCH")
    monkeypatch.setenv("FAKE_SBATCH_FAIL", "1")
    result = run_gf("run", "--db", db, command, "a", "--launcher", "slurm")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: sbatch --parsable ") and "exited with status 1: sbatch: error: " \
        "Batch job submission failed" in result.stderr
    assert query("SELECT count(*) FROM runs") == [(0,)]
    monkeypatch.delenv("FAKE_SBATCH_FAIL")
    monkeypatch.setenv("GF_SLURM_POLL", "soon")
    result = run_gf("run", "--db", db, command, "a", "--launcher", "slurm")
    assert (result.exit_code, result.stderr) == (2, "error: GF_SLURM_POLL='soon': expected a number of seconds of "
                                                    "at least 0.01\n")
    monkeypatch.delenv("GF_SLURM_POLL")
    assert run_gf("run", "--db", db, command, "a", "--launcher", "slurm").exit_code == 0  # now it goes through
    assert query("SELECT count(*) FROM runs WHERE status = 'ok'") == [(1,)]


def test_gf_breed_loop_through_slurm(run_gf, load, db, command, query, slurm_plugin):
    load("x = 8.0\nx > -50\n")
    assert run_gf("run", "--db", db, command, "d1", "d2", "--launcher", "slurm").exit_code == 0
    result = run_gf("breed", "--db", db, "--metric", "value", "--minimize", "--population", "4", "--loop", "1",
                    "--seed", "1", "--launcher", "slurm", "--json", command)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [(s["generation"], s["children"], s["ok"], s["failed"]) for s in summary] == [(1, 4, 8, 0)]
    assert len(sbatch_calls(slurm_plugin)) == 2  # gf run, then one array for the generation
    assert query("SELECT count(*) FROM runs WHERE status = 'ok' AND launch IS NOT NULL") == [(2 + 8,)]
    assert query("SELECT count(DISTINCT group_id) FROM runs") == [(5,)]
    assert query("SELECT count(*) FROM results WHERE algo = 'score' AND name = 'value'") == [(10,)]
    assert query("SELECT DISTINCT generation FROM groups JOIN runs ON runs.group_id = groups.id "
                 "WHERE groups.id > 1") == [(1,)]
    assert summary[-1]["best"] <= (8 - 3) ** 2 + 2


def test_ctrl_c_cancels_the_job(load, db, command, monkeypatch, slurm_plugin, tmp_path):
    """The coordinator sets context.stopping and closes the stream: the launcher cancels the array."""
    load("x = 3.0\n")
    monkeypatch.setenv("FAKE_SBATCH_BACKGROUND", "30")
    launcher = gf.plugins.get_launchers()["slurm"]
    stopping = threading.Event()
    evaluation = gf.Evaluation(1, "a")
    context = gf.LaunchContext(db_path=str(db), command=command, stopping=stopping)
    stream = launcher.launch([evaluation], context)
    threading.Timer(0.3, stopping.set).start()
    assert list(stream) == []
    assert (slurm_plugin / "scancel.log").read_text() == "1000\n"


def test_plugins_list_shows_the_installed_entry_point(run_gf, monkeypatch):
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("gf-plugin-slurm")
    except PackageNotFoundError:
        import pytest

        pytest.skip("gf-plugin-slurm is not installed (pip install -e .)")
    gf.plugins.unregister(name="slurm")
    monkeypatch.setenv("GF_LOAD_PLUGINS", "slurm")
    gf.plugins.reset()
    listed = json.loads(run_gf("plugins", "list", "--json").stdout)
    assert listed == [{"name": "slurm", "version": installed, "hooks": ["gf_register_launchers"]}]
    assert gf_plugin_slurm.__version__ == installed
