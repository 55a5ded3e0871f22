"""Stand-ins for Slurm's sbatch, squeue and scancel that run a job array on this machine.

``install(folder)`` writes ``sbatch``, ``squeue`` and ``scancel`` scripts into
``folder/bin`` (put it first on PATH). ``sbatch`` really executes the submitted job
script once per array index, with ``SLURM_ARRAY_TASK_ID`` set, and prints a job id.
Its behaviour is set by environment variables:

- ``FAKE_SLURM_STATE``: a folder for job ids, logs and "still running" markers (required);
- ``FAKE_SBATCH_BACKGROUND=SECONDS``: return at once and run the tasks after that delay
  in a detached process (so the launcher has to poll);
- ``FAKE_SBATCH_SKIP=1,3``: never run these indices (a node that died);
- ``FAKE_SBATCH_FAIL=1``: refuse the submission like a full queue.
"""

import os
import stat
import sys

SBATCH = r'''#!{python}
import json, os, re, subprocess, sys, time

state = os.environ["FAKE_SLURM_STATE"]


def run_tasks(script, job, delay):
    time.sleep(delay)
    text = open(script).read()
    first, last = map(int, re.search(r"^#SBATCH --array=(\d+)-(\d+)", text, re.M).groups())
    output = re.search(r"^#SBATCH --output=(\S+)", text, re.M).group(1)
    skip = {{int(i) for i in os.environ.get("FAKE_SBATCH_SKIP", "").split(",") if i.strip()}}
    running = []
    for index in range(first, last + 1):  # like a cluster: several tasks at once
        if index in skip:
            continue
        env = dict(os.environ, SLURM_ARRAY_TASK_ID=str(index), SLURM_ARRAY_JOB_ID=job, SLURM_JOB_ID=job)
        with open(output.replace("%A", job).replace("%a", str(index)), "ab") as out:
            running.append(subprocess.Popen(["bash", script], env=env, stdout=out, stderr=subprocess.STDOUT))
        if len(running) >= 4:
            running.pop(0).wait()
    for process in running:
        process.wait()
    os.remove(os.path.join(state, f"job-{{job}}.running"))


if sys.argv[1] == "--run-tasks":
    run_tasks(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    sys.exit(0)
args = sys.argv[1:]
with open(os.path.join(state, "sbatch.log"), "a") as log:
    log.write(json.dumps(args) + "\n")
if os.environ.get("FAKE_SBATCH_FAIL"):
    sys.stderr.write("sbatch: error: Batch job submission failed: Job violates accounting/QOS policy\n")
    sys.exit(1)
counter = os.path.join(state, "last-job")
job = str(int(open(counter).read()) + 1 if os.path.exists(counter) else 1000)
open(counter, "w").write(job)
open(os.path.join(state, f"job-{{job}}.running"), "w").close()
delay = os.environ.get("FAKE_SBATCH_BACKGROUND")
if delay:
    process = subprocess.Popen([sys.executable, __file__, "--run-tasks", args[-1], job, delay],
                               start_new_session=True, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    open(os.path.join(state, f"job-{{job}}.pid"), "w").write(str(process.pid))
else:
    run_tasks(args[-1], job, 0)
print(job if "--parsable" in args else f"Submitted batch job {{job}}")
'''

SQUEUE = r'''#!{python}
import os, sys

job = sys.argv[-1]
if os.path.exists(os.path.join(os.environ["FAKE_SLURM_STATE"], f"job-{{job}}.running")):
    print(f"{{job}}_[0-9]")
'''

SCANCEL = r'''#!{python}
import os, signal, sys

state, job = os.environ["FAKE_SLURM_STATE"], sys.argv[-1]
with open(os.path.join(state, "scancel.log"), "a") as log:
    log.write(job + "\n")
pid = os.path.join(state, f"job-{{job}}.pid")
if os.path.exists(pid):
    try:
        os.killpg(int(open(pid).read()), signal.SIGKILL)
    except ProcessLookupError:
        pass
running = os.path.join(state, f"job-{{job}}.running")
if os.path.exists(running):
    os.remove(running)
'''


def install(folder):
    """Write the fake commands into ``folder/bin``; return that folder."""
    bin_dir = os.path.join(folder, "bin")
    os.makedirs(bin_dir, exist_ok=True)
    for name, text in (("sbatch", SBATCH), ("squeue", SQUEUE), ("scancel", SCANCEL)):
        path = os.path.join(bin_dir, name)
        with open(path, "w") as handle:
            handle.write(text.format(python=sys.executable))
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return bin_dir
