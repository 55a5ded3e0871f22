"""A small program gf launches in tests: reads its params, reports a score for DATASET.

Behaviour by dataset name, so a test can provoke each outcome:
  fail*     writes to stderr and exits 3 without reporting
  raise*    raises inside g.report() (a failed run recorded by the program), exits 1
  silent*   exits 0 without reporting
  die*      kills itself with SIGKILL
  killparent*  kills the dask worker that started it with SIGKILL, then sleeps 30 s
  sleep*    sleeps 30 s (for timeouts)
  slow*     sleeps 0.3 s, then reports
anything else reports {"score": {"value": (x - 3)^2 + len(dataset), "group": ...}}.
"""

import os
import sys
import time

from gf import GeneticFuckery

dataset = sys.argv[1]
extra = sys.argv[2:]
g = GeneticFuckery()
if dataset.startswith("fail"):
    sys.stderr.write("something broke\nvery badly\n")
    sys.exit(3)
if dataset.startswith("killparent"):
    parent = os.getppid()
    with open(f"/proc/{parent}/cmdline", "rb") as cmdline:  # run through gf's guard: its parent is the worker
        if any(arg.endswith(b"guard.py") for arg in cmdline.read().split(b"\0")):
            with open(f"/proc/{parent}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
    os.kill(parent, 9)
    time.sleep(30)
if dataset.startswith("die"):
    os.kill(os.getpid(), 9)
if dataset.startswith("silent"):
    sys.exit(0)
if dataset.startswith("sleep"):
    time.sleep(30)
if dataset.startswith("slow"):
    time.sleep(0.3)
with g.report("test") as r:
    if dataset.startswith("raise"):
        raise ValueError("bad dataset")
    r["score"]["value"] = (g.x - 3) ** 2 + len(dataset)
    r["env"]["group_seen"] = int(os.environ["GF_PARAM_GROUP"])
    r["env"]["argc"] = len(sys.argv)
    r["env"]["same_data"] = os.environ["GF_DATA"] == dataset == os.environ["GF_FAMILY"]
