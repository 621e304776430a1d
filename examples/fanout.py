"""A per-sample fan-out and a reduction: GC content of many simulated reads, then a summary.

    python examples/fanout.py [N_SAMPLES]

Results are cached in ./.redun_fast (or $REDUN_FAST_CACHE_DIR): run it again and every job is
replayed from the cache; change a task's body and only that task's jobs run again.
"""
import logging
import random
import sys
import time

from redun_fast import Scheduler, task
from redun_fast.config import default_cache_dir

redun_namespace = "examples.fanout"


@task
def simulate_reads(sample: int, n_reads: int = 20, length: int = 50) -> list:
    rng = random.Random(sample)  # deterministic per sample: tasks must be pure
    return ["".join(rng.choice("ACGT") for _ in range(length)) for _ in range(n_reads)]


@task
def gc_content(reads: list) -> float:
    bases = "".join(reads)
    return (bases.count("G") + bases.count("C")) / len(bases)


@task
def summarize(values: list) -> dict:
    return {"samples": len(values), "mean_gc": round(sum(values) / len(values), 4),
            "min_gc": round(min(values), 4), "max_gc": round(max(values), 4)}


@task
def main(n_samples: int = 200) -> dict:
    per_sample = [gc_content(simulate_reads(sample)) for sample in range(n_samples)]
    return summarize(per_sample)


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    scheduler = Scheduler(cache_dir=default_cache_dir())
    scheduler.logger.setLevel(logging.WARNING)  # one line per job is a lot for a fan-out
    start = time.time()
    result = scheduler.run(main(n))
    print(f"{result} in {time.time() - start:.2f} s")
    print("\n".join(scheduler.job_counts.table()))
