"""redun_fast side by side with redun and its peers, on the same workloads, in one invocation.

    python -m pip install -e ".[bench]"      # redun 0.44.1, joblib, dask (optional peers)
    python benchmarks/compare.py             # about 10 minutes on 2 cores
    python benchmarks/compare.py --quick     # smaller sizes, no 10^6, about 2 minutes

Every measurement runs in a fresh process: "cold" on an empty cache, "cached" in a new
process on the cache the cold run filled. Figures are microseconds of wall time per job of
the engine's run call, the ratio to redun_fast (processes, same workload and state), and the
process's peak RSS. Peers are run only at sizes they finish in about a minute; engines that
are not installed are skipped. The machine is shared and noisy: compare within one table.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))

# Each engine is a script: argv = [workload, n, cache folder]; it prints "seconds peak_kib".
PRELUDE = textwrap.dedent("""
    import resource, sys, time
    workload, n, cache = sys.argv[1], int(sys.argv[2]), sys.argv[3]

    def report(seconds):
        print(seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)

    def expected():
        if workload == "fanout":
            return n * (n + 1) // 2
        if workload == "add_many":
            return n * (n - 1) // 2
        return sum(3 * (i + 1) for i in range(n))  # pipeline: inc, then triple, then sum
""")

# The same tasks for redun_fast and redun: a program written for redun runs on both.
TASKS = textwrap.dedent("""
    redun_namespace = "compare"

    @task()
    def inc(x):
        return x + 1

    @task()
    def triple(x):
        return 3 * x

    @task()
    def total(values):
        return sum(values)

    @task()
    def add(a, b):
        return a + b

    @task()
    def add_many(values):
        if len(values) == 1:
            return values[0]
        k = len(values) // 2
        return add(add_many(values[:k]), add_many(values[k:]))

    def build():
        if workload == "fanout":
            return total([inc(i) for i in range(n)])
        if workload == "add_many":
            return add_many(list(range(n)))
        return total([triple(inc(i)) for i in range(n)])
""")

REDUN_FAST = PRELUDE + textwrap.dedent("""
    import logging
    from redun_fast import Scheduler, task
    EXECUTOR = sys.argv[4]
""") + TASKS + textwrap.dedent("""
    if __name__ == "__main__":
        scheduler = Scheduler(executor=EXECUTOR, cache_dir=cache)
        scheduler.logger.setLevel(logging.WARNING)
        expr = build()
        start = time.perf_counter()
        assert scheduler.run(expr) == expected()
        report(time.perf_counter() - start)
""")

REDUN = PRELUDE.replace("import resource", "import logging, resource") + textwrap.dedent("""
    from redun import Scheduler, task
    from redun.config import Config
""") + TASKS + textwrap.dedent("""
    if __name__ == "__main__":
        config = Config({"backend": {"db_uri": f"sqlite:///{cache}/redun.db"}})
        import os
        os.makedirs(cache, exist_ok=True)
        scheduler = Scheduler(config=config)
        scheduler.load()
        logging.getLogger("redun").setLevel(logging.WARNING)
        expr = build()
        start = time.perf_counter()
        assert scheduler.run(expr) == expected()
        report(time.perf_counter() - start)
""")

JOBLIB = PRELUDE + textwrap.dedent("""
    from joblib import Memory
    memory = Memory(cache, verbose=0)

    @memory.cache
    def inc(x):
        return x + 1

    @memory.cache
    def triple(x):
        return 3 * x

    if __name__ == "__main__":
        start = time.perf_counter()
        if workload == "fanout":
            result = sum(inc(i) for i in range(n))
        else:
            result = sum(triple(inc(i)) for i in range(n))
        assert result == expected()
        report(time.perf_counter() - start)
""")

DASK = PRELUDE + textwrap.dedent("""
    import dask

    @dask.delayed
    def inc(x):
        return x + 1

    @dask.delayed
    def triple(x):
        return 3 * x

    @dask.delayed
    def total(values):
        return sum(values)

    if __name__ == "__main__":
        start = time.perf_counter()
        if workload == "fanout":
            expr = total([inc(i) for i in range(n)])
        else:
            expr = total([triple(inc(i)) for i in range(n)])
        assert expr.compute(scheduler="threads") == expected()
        report(time.perf_counter() - start)
""")

POOL = PRELUDE + textwrap.dedent("""
    import os
    from concurrent.futures import ProcessPoolExecutor

    def inc(x):
        return x + 1

    if __name__ == "__main__":
        start = time.perf_counter()
        with ProcessPoolExecutor(len(os.sched_getaffinity(0))) as pool:
            futures = [pool.submit(inc, i) for i in range(n)]
            assert sum(f.result() for f in futures) == expected()
        report(time.perf_counter() - start)
""")


def installed(module: str) -> bool:
    return subprocess.run([sys.executable, "-c", f"import {module}"],
                          capture_output=True).returncode == 0


def measure(source: str, workload: str, n: int, cache: str, *extra: str, timeout: float = 900):
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(source)
    try:
        out = subprocess.run([sys.executable, script.name, workload, str(n), cache, *extra],
                             capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    finally:
        os.unlink(script.name)
    if out.returncode != 0:
        print(f"  (failed: {out.stderr.strip().splitlines()[-1] if out.stderr else '?'})")
        return None
    seconds, peak = out.stdout.split()
    return float(seconds), int(peak) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, no 10^6")
    args = parser.parse_args()
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    workloads = ([("fanout", n) for n in sizes] + [("add_many", 1_000), ("pipeline", 1_000)]
                 + ([] if args.quick else [("add_many", 10_000), ("pipeline", 10_000)]))
    # (name, script, the largest N per workload it runs at: about a minute, and caches?)
    peers = []
    if installed("redun"):
        peers.append(("redun 0.44.1 (sqlite file)", REDUN,
                      {"fanout": 10_000, "add_many": 1_000, "pipeline": 1_000}, True))
    if installed("joblib"):
        peers.append(("joblib.Memory", JOBLIB, {"fanout": 100_000, "pipeline": 10_000}, True))
    if installed("dask"):
        # (at 10^5 dask's threaded scheduler ran over 10 minutes here)
        peers.append(("dask.delayed (threads)", DASK, {"fanout": 10_000, "pipeline": 10_000},
                      False))
    peers.append(("ProcessPoolExecutor, 1 future/job", POOL, {"fanout": 100_000}, False))

    with tempfile.TemporaryDirectory() as tmp:
        for workload, n in workloads:
            print(f"\n{workload}, N = {n:,}")
            print(f"{'engine':40} {'state':7} {'us/job':>9} {'x redun_fast':>13} {'peak MiB':>9}")
            rows = []
            for executor in ("processes", "inline", "threads"):
                if executor == "threads" and n > 100_000:
                    continue
                cache = os.path.join(tmp, f"rf-{executor}-{workload}-{n}")
                for state in ("cold", "cached"):
                    result = measure(REDUN_FAST, workload, n, cache, executor)
                    rows.append((f"redun_fast {executor}", state, result))
            for name, source, max_n, caches in peers:
                if n > max_n.get(workload, 0):
                    continue
                cache = os.path.join(tmp, f"{name.split()[0]}-{workload}-{n}")
                for state in (("cold", "cached") if caches else ("cold",)):
                    rows.append((name, state, measure(source, workload, n, cache)))
            base = {state: result[0] for name, state, result in rows
                    if name == "redun_fast processes" and result}
            for name, state, result in rows:
                if result is None:
                    print(f"{name:40} {state:7} {'(skipped or failed)':>33}")
                    continue
                seconds, peak = result
                ratio = seconds / base[state] if state in base else float("nan")
                print(f"{name:40} {state:7} {seconds / n * 1e6:9.1f} {ratio:12.1f}x "
                      f"{peak:9.0f}")


if __name__ == "__main__":
    main()
