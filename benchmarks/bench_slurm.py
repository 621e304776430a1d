"""N jobs `inc(x)` + one `sum` through Slurm on the local cluster, cold.

    bash slurm/start-local-cluster.sh && python benchmarks/bench_slurm.py [N]   (default 100000)

Prints the wall time of `Scheduler.run`, the array elements and the sbatch calls it took.
"""
import logging
import sys
import tempfile
import time

from redun_fast import Scheduler
from redun_fast.executors.slurm import SlurmExecutor
from workloads import fanout


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        executor = SlurmExecutor(staging_dir=f"{tmp}/staging")
        with Scheduler(executor=executor, cache_dir=f"{tmp}/cache") as scheduler:
            scheduler.logger.setLevel(logging.WARNING)
            expr, expected = fanout(n)
            start = time.perf_counter()
            assert scheduler.run(expr) == expected
            seconds = time.perf_counter() - start
    print(f"{n} jobs inc(x) + sum on Slurm: {seconds:.1f} s wall "
          f"({seconds / n * 1e6:.0f} us/job), {executor.elements_submitted} array elements, "
          f"{executor.sbatch_calls} sbatch calls")


if __name__ == "__main__":
    main()
