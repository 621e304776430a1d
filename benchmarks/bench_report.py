"""The report of a big run: how long `redun_fast report` takes and how big the page is.

    python benchmarks/bench_report.py                 # a 10^6-job fan-out on processes
    python benchmarks/bench_report.py --n 100000 --executor inline

Runs compare.py's fan-out into a fresh cache (in a process of its own), then, here, reads its
job records and renders the page, and prints the seconds of each step and the page's size.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

from compare import REDUN_FAST


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--executor", default="processes")
    args = parser.parse_args()
    from redun_fast.cache.lmdb_store import LmdbStore
    from redun_fast.report import render

    with tempfile.TemporaryDirectory() as tmp:
        script, cache = os.path.join(tmp, "fanout.py"), os.path.join(tmp, "cache")
        with open(script, "w") as out:
            out.write(REDUN_FAST)
        run = subprocess.run([sys.executable, script, "fanout", str(args.n), cache,
                              args.executor], capture_output=True, text=True, check=True)
        store = LmdbStore(cache, create=False)
        [execution] = store.executions()
        began = time.perf_counter()
        jobs = store.job_records(execution.id)
        read = time.perf_counter()
        page = render(execution, jobs)
        rendered = time.perf_counter()
        store.close()
    print(f"fan-out of {args.n:,} on {args.executor}: the run {float(run.stdout.split()[0]):.2f} s,"
          f" reading {len(jobs):,} job records {read - began:.2f} s, rendering "
          f"{rendered - read:.2f} s, page {len(page.encode()) / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
