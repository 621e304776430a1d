"""Executors side by side: a fan-out of N jobs `inc(x)` plus one `sum`, cold, on an LMDB cache.

    python benchmarks/bench_executors.py [N]      (default N = 100000)

Each redun_fast figure is the wall time of `Scheduler.run` on an empty cache (hashing, the
cache writes and worker start-up included) divided by N. The baseline is a plain
concurrent.futures.ProcessPoolExecutor with one future per job and no cache.
"""
import concurrent.futures
import logging
import sys
import tempfile
import time

from redun_fast import Scheduler
from redun_fast.executors.processes import usable_cores
from workloads import fanout


def plain_inc(x):
    return x + 1


def run_redun_fast(executor: str, n: int) -> float:
    with tempfile.TemporaryDirectory() as cache_dir:
        with Scheduler(executor=executor, cache_dir=cache_dir) as scheduler:
            scheduler.logger.setLevel(logging.WARNING)
            expr, expected = fanout(n)
            start = time.perf_counter()
            assert scheduler.run(expr) == expected
            return time.perf_counter() - start


def run_process_pool(n: int) -> float:
    start = time.perf_counter()
    with concurrent.futures.ProcessPoolExecutor(usable_cores()) as pool:
        futures = [pool.submit(plain_inc, i) for i in range(n)]
        assert sum(f.result() for f in futures) == n * (n + 1) // 2
    return time.perf_counter() - start


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    rows = [(f"redun_fast {name}", run_redun_fast(name, n))
            for name in ("processes", "threads", "inline")]
    rows.append(("ProcessPoolExecutor, 1 future/job, no cache", run_process_pool(n)))
    base = rows[0][1]
    print(f"{n} jobs inc(x) + sum, cold, {usable_cores()} cores")
    print(f"{'engine':44} {'us/job':>8} {'vs processes':>13}")
    for name, seconds in rows:
        print(f"{name:44} {seconds / n * 1e6:8.1f} {seconds / base:12.2f}x")


if __name__ == "__main__":
    main()
