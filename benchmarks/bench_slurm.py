"""Slurm's two modes against the process pool, on the workloads of issue 16, cold.

    bash slurm/start-local-cluster.sh --nodes 3 && python benchmarks/bench_slurm.py
    python benchmarks/bench_slurm.py --workloads add_many,chain --modes workers,pool

Prints one row per workload and executor: the wall time of `Scheduler.run` on an empty cache
(submission, worker start-up and the cache writes included), the sbatch and squeue calls of the run
(and squeue calls per minute), the scheduler's peak memory, and for the busy workload the
efficiency: task time / (wall x the cores the workers held). Each row runs in a process of its
own, so that its peak memory is its own.
"""
import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time

from redun_fast import Scheduler, task
from redun_fast.executors.processes import usable_cores
from redun_fast.executors.slurm import SlurmExecutor
from redun_fast.executors.slurm import sbatch as slurm
from workloads import fanout, inc

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
from needs_slurm import scheduler_address  # noqa: E402  (where the local cluster's nodes reach us)

redun_namespace = "bench"

BUSY_JOBS, BUSY_SECONDS = 20_000, 200e-6


@task
def add(a, b):
    return a + b


@task
def add_many(values):  # each call returns an expression: one wave of new jobs per level
    if len(values) == 1:
        return values[0]
    k = len(values) // 2
    return add(add_many(values[:k]), add_many(values[k:]))


@task
def busy(x, seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
    return x


def chain(n):
    x = 0
    for _ in range(n):
        x = inc(x)
    return x


# name -> (what it is, a function making (expression, expected value), task seconds or None)
WORKLOADS = {
    "add_many": ("add_many(range(512))", lambda: (add_many(list(range(512))), 512 * 511 // 2),
                 None),
    "chain": ("chain of 10 inc", lambda: (chain(10), 10), None),
    "fanout_100k": ("fan-out 100,000", lambda: fanout(100_000), None),
    "fanout_1m": ("fan-out 1,000,000", lambda: fanout(1_000_000), None),
    "busy": (f"{BUSY_JOBS:,} x {BUSY_SECONDS * 1e6:.0f} us busy",
             lambda: ([busy(x, BUSY_SECONDS) for x in range(BUSY_JOBS)], list(range(BUSY_JOBS))),
             BUSY_JOBS * BUSY_SECONDS),
}
MODES = ("workers", "arrays", "pool")
# Arrays start one Slurm job per element of every wave: a million jobs there take many minutes
# (run it on purpose with --workloads fanout_1m --modes arrays).
SKIPPED = {("fanout_1m", "arrays")}


def run_one(workload: str, mode: str) -> dict:
    _, make, task_seconds = WORKLOADS[workload]
    with tempfile.TemporaryDirectory() as tmp:
        if mode == "pool":
            executor = "processes"
        else:
            executor = SlurmExecutor(mode=mode, staging_dir=f"{tmp}/staging",
                                     address=scheduler_address(),
                                     **({"max_workers": 3} if workload == "busy" else {}))
        with Scheduler(executor=executor, cache_dir=f"{tmp}/cache") as scheduler:
            scheduler.logger.setLevel(logging.WARNING)
            expr, expected = make()
            slurm.calls.clear()
            start = time.perf_counter()
            assert scheduler.run(expr) == expected
            seconds = time.perf_counter() - start
    row = {"seconds": seconds, "sbatch": slurm.calls.get("sbatch", 0),
           "squeue": slurm.calls.get("squeue", 0),
           "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if mode == "pool":
        row["cores"] = usable_cores()
    elif mode == "workers":
        row["cores"] = executor.workers_connected  # each worker holds one CPU (cpus=1 tasks)
    if task_seconds is not None and "cores" in row:
        row["efficiency"] = task_seconds / (seconds * row["cores"])
    return row


def measure(workload: str, mode: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--one", workload, mode], cwd=HERE,
                         capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def show(workload: str, mode: str, row: dict) -> str:
    name = f"{WORKLOADS[workload][0]:<24} {mode:<8}"
    if "error" in row:
        return f"{name} failed: {row['error']}"
    if "skipped" in row:
        return f"{name} skipped: {row['skipped']}"
    efficiency = (f" {row['efficiency'] * 100:4.0f}% of {row['cores']} cores"
                  if "efficiency" in row else "")
    per_minute = row["squeue"] / (row["seconds"] / 60)
    return (f"{name} {row['seconds']:8.2f} s  sbatch {row['sbatch']:3d}  squeue {row['squeue']:4d}"
            f" ({per_minute:5.1f}/min)  peak {row['peak_mb']:5.0f} MB{efficiency}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", default=",".join(WORKLOADS),
                        help=f"comma-separated, of {', '.join(WORKLOADS)}")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated, of "
                        + ", ".join(MODES))
    parser.add_argument("--one", nargs=2, metavar=("WORKLOAD", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(*args.one)))
        return
    workloads, modes = args.workloads.split(","), args.modes.split(",")
    for name in [*workloads, *modes]:
        if name not in WORKLOADS and name not in MODES:
            parser.error(f"{name!r} is neither a workload ({', '.join(WORKLOADS)}) nor a mode "
                         f"({', '.join(MODES)})")
    explicit = len(workloads) == 1 and len(modes) == 1
    for workload in workloads:
        for mode in modes:
            if (workload, mode) in SKIPPED and not explicit:
                row = {"skipped": f"many minutes; --workloads {workload} --modes {mode}"}
            else:
                row = measure(workload, mode)
            print(show(workload, mode, row), flush=True)


if __name__ == "__main__":
    main()
