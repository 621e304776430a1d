"""Cold and fully cached runs of an `inc` fan-out on the LMDB store, each in a fresh process.

    python benchmarks/bench_cache.py [N] [REPEAT]      (defaults: 100000, 3)

Prints microseconds of scheduler time per job (the time inside `Scheduler.run`, inline
executor, so the figure is the engine's own cost), and the in-memory store for comparison.
Each figure is measured REPEAT times, each time in a fresh process on a fresh cache; the
best and the median are shown, since this machine is shared and noisy.
"""
import statistics
import os
import subprocess
import sys
import tempfile
import textwrap

WORKFLOW = textwrap.dedent("""
    import logging, sys, time
    sys.path.insert(0, sys.argv[3])
    from redun_fast import Scheduler
    from workloads import fanout

    n, cache_dir = int(sys.argv[1]), sys.argv[2]
    scheduler = Scheduler(cache_dir=cache_dir or None, executor="inline")
    scheduler.logger.setLevel(logging.WARNING)
    expr, expected = fanout(n)
    start = time.perf_counter()
    assert scheduler.run(expr) == expected
    elapsed = time.perf_counter() - start
    counts = scheduler.job_counts.get("bench.inc")
    print(elapsed / n * 1e6, counts["CACHED"], counts["DONE"])
""")


def run(script: str, n: int, cache_dir: str) -> tuple:
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run([sys.executable, script, str(n), cache_dir, here],
                         capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), int(out[1]), int(out[2])


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    figures = {"memory (cold)": [], "lmdb cold (writes)": [], "lmdb fully cached, new proc": []}
    with tempfile.TemporaryDirectory() as tmp:
        script = f"{tmp}/workflow.py"
        with open(script, "w") as f:
            f.write(WORKFLOW)
        for attempt in range(repeat):
            cache = f"{tmp}/cache{attempt}"
            figures["memory (cold)"].append(run(script, n, "")[0])
            cold = run(script, n, cache)
            cached = run(script, n, cache)
            assert cold[2] == n and cached[1] == n, "the second LMDB run must be fully cached"
            figures["lmdb cold (writes)"].append(cold[0])
            figures["lmdb fully cached, new proc"].append(cached[0])
    print(f"{n} jobs of inc(x) + one sum, inline executor, us of scheduler time per job")
    print(f"{'store':28} {'best':>7} {'median':>7}")
    for name, values in figures.items():
        print(f"{name:28} {min(values):7.2f} {statistics.median(values):7.2f}")


if __name__ == "__main__":
    main()
