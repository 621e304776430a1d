"""A typical redun program: per-sample counts with map_, then a reduction.

It is written for redun; redun_fast runs it unchanged but for its imports, which name
redun_fast instead of redun (tests/test_functools.py does exactly that).
"""
import sys

from redun import Scheduler, task
from redun.functools import map_

redun_namespace = "examples.qc"

READS = {
    "sample1": ["ACGTGC", "GGCCAA", "TTAGCG"],
    "sample2": ["ATATAT", "GCGCGC"],
    "sample3": ["CCGGTA", "AACGTT", "GGGCCC", "TTTAAA"],
}


@task()
def load_reads(sample):
    return READS[sample]


@task()
def gc_fraction(reads):
    bases = "".join(reads)
    return round((bases.count("G") + bases.count("C")) / len(bases), 4)


@task(nout=2)
def extremes(fractions):
    return min(fractions), max(fractions)


@task()
def report(samples, fractions, low, high):
    return {"samples": dict(zip(samples, fractions)), "low": low, "high": high}


@task()
def main(samples):
    reads = map_(load_reads, samples)
    fractions = map_(gc_fraction, reads)
    low, high = extremes(fractions)
    return report(samples, fractions, low, high)


if __name__ == "__main__":
    scheduler = Scheduler()
    scheduler.logger.setLevel("WARNING")
    print(scheduler.run(main(sys.argv[1:] or sorted(READS))))
