"""The workflow the reliability tests run in subprocesses, kill, corrupt and rerun.

    python workflow.py CACHE_DIR N [--executor E] [--size BYTES] [--start K] [--spin SECONDS]

`work(i)` appends `i` to $RUNLOG (one small O_APPEND write: whole lines even when processes
die) so a test can tell which jobs really ran; it returns a number, or random bytes when
--size is given (incompressible, for filling a disk). Prints one JSON line at the end.
"""
import argparse
import json
import logging
import os
import sys
import time

from redun_fast import Scheduler, task

redun_namespace = "wf"


@task
def work(i, size, spin):
    log = os.environ.get("RUNLOG")
    if log:
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(fd, b"%d\n" % i)
        os.close(fd)
    deadline = time.perf_counter() + spin
    while time.perf_counter() < deadline:  # busy, like a real small job
        pass
    if size:
        return os.urandom(size)
    return (i * 7919) % 10007


@task
def total(values):
    return sum(len(v) if isinstance(v, bytes) else v for v in values)


@task
def main(start, n, size, spin):
    return total([work(i, size, spin) for i in range(start, start + n)])


def expected(start, n, size=0):
    return n * size if size else sum((i * 7919) % 10007 for i in range(start, start + n))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("cache_dir")
    parser.add_argument("n", type=int)
    parser.add_argument("--executor", default="processes")
    parser.add_argument("--size", type=int, default=0)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--spin", type=float, default=0.0)
    args = parser.parse_args()
    executor = args.executor
    if executor == "slurm":  # few elements: each one starts a Python, which costs a core-second
        from redun_fast.executors.slurm import SlurmExecutor
        executor = SlurmExecutor(mode="arrays", staging_dir=os.path.join(args.cache_dir, "slurm"),
                                 max_elements=20, poll_interval=0.5)
    scheduler = Scheduler(cache_dir=args.cache_dir, executor=executor)
    scheduler.logger.setLevel(logging.WARNING)
    result = scheduler.run(main(args.start, args.n, args.size, args.spin))
    counts = scheduler.job_counts.get("wf.work")
    print(json.dumps({"result": result, "done": counts["DONE"], "cached": counts["CACHED"]}))
    sys.stdout.flush()
