"""Schedulers sharing one store (cache/claims.py): what claims save and what they cost.

    git worktree add ../before-claims 87b60af~1
    (cd ../before-claims && python setup.py build_ext --inplace)
    python benchmarks/bench_claims.py . ../before-claims --n 20000 --busy-us 500

The same fan-out of N jobs, each busy for --busy-us, on a new cache each time: by one scheduler
alone, then by two started together (each in its own process, on the threads executor, so the
two compete for the same cores as two users' runs would). For each source tree given, prints
the wall time until both finished, and how many job bodies ran in all, counted by each
scheduler: N when no job is computed twice.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time

SCRIPT = textwrap.dedent("""
    import logging, sys, time
    from redun_fast import Scheduler, task

    redun_namespace = "bench_claims"
    BUSY = float(sys.argv[3]) / 1e6

    @task
    def work(i):
        end = time.perf_counter() + BUSY
        while time.perf_counter() < end:
            pass
        return i

    @task
    def total(values):
        return sum(values)

    scheduler = Scheduler(executor="threads", max_workers=2, cache_dir=sys.argv[1])
    scheduler.logger.setLevel(logging.WARNING)
    n = int(sys.argv[2])
    assert scheduler.run(total([work(i) for i in range(n)])) == n * (n - 1) // 2
    print(scheduler.job_counts.get("bench_claims.work")["DONE"])
""")


def run_together(tree: str, schedulers: int, n: int, busy_us: float) -> tuple:
    """(wall seconds until the last finished, job bodies run by all of them)."""
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "fanout.py")
        with open(script, "w") as out:
            out.write(SCRIPT)
        env = {**os.environ, "PYTHONPATH": os.path.abspath(tree)}
        start = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, script, os.path.join(tmp, "cache"), str(n),
                                   str(busy_us)], stdout=subprocess.PIPE, text=True, env=env)
                 for _ in range(schedulers)]
        ran = 0
        for proc in procs:
            out, _ = proc.communicate(timeout=3600)
            if proc.returncode:
                raise SystemExit(f"a scheduler failed in {tree} (exit {proc.returncode})")
            ran += int(out.split()[-1])
        return time.perf_counter() - start, ran


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trees", nargs="+", help="source trees (built in place)")
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--busy-us", type=float, default=500.0)
    args = parser.parse_args()
    print(f"fan-out of {args.n:,} jobs, each busy {args.busy_us:g} us, threads executor")
    print(f"{'tree':40} {'schedulers':>10} {'wall s':>8} {'bodies run':>11}")
    for tree in args.trees:
        for schedulers in (1, 2):
            wall, ran = run_together(tree, schedulers, args.n, args.busy_us)
            print(f"{tree:40} {schedulers:>10} {wall:8.2f} {ran:>11,}", flush=True)


if __name__ == "__main__":
    main()
