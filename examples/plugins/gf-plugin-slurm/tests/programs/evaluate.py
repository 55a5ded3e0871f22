"""A small program the tests launch through Slurm: reads its params, reports a score for DATASET.

By dataset name: fail* writes to stderr and exits 3; raise* raises inside g.report()
(a failed run the program records) and exits 1; silent* exits 0 without reporting;
die* kills itself with SIGKILL; sleep* sleeps 30 s (for timeouts); twice* reports
two runs; anything else reports {"score": {"value": (x - 3)^2 + len(dataset)}, "env": {...}}.
"""

import os
import sys
import time

from gf import GeneticFuckery

dataset = sys.argv[1]
g = GeneticFuckery()
if dataset.startswith("fail"):
    sys.stderr.write("something broke\nvery badly\n")
    sys.exit(3)
if dataset.startswith("die"):
    os.kill(os.getpid(), 9)
if dataset.startswith("silent"):
    sys.exit(0)
if dataset.startswith("sleep"):
    time.sleep(30)
with g.report("test") as r:
    if dataset.startswith("raise"):
        raise ValueError("bad dataset")
    r["score"]["value"] = (g.x - 3) ** 2 + len(dataset)
    r["env"]["group_seen"] = int(os.environ["GF_PARAM_GROUP"])
    r["env"]["same_data"] = os.environ["GF_DATA"] == dataset == os.environ["GF_FAMILY"]
    r["env"]["task"] = int(os.environ["SLURM_ARRAY_TASK_ID"])
    r["env"]["results_file"] = os.environ["GF_RESULTS"].endswith(f"task-{os.environ['SLURM_ARRAY_TASK_ID']}.results")
if dataset.startswith("twice"):
    g.record({"score": {"value": 1000.0}}, "second")
