"""A typical redun program: per-sample reads in Files, a shell step per sample with script,
map_ over the samples, a setting read with get_context (and a task with a context of its own,
update_context), then a reduction, tagged with apply_tags.

It is written for redun, so as shipped it needs redun (`pip install redun==0.44.1`, which the
test extra installs). redun_fast runs it unchanged but for its two imports, which then name
redun_fast instead of redun; tests/test_functools.py runs it both ways and compares.

    python examples/redun_program.py [FOLDER]     # with redun; the reads go to FOLDER (qc_reads)
    sed 's/^from redun/from redun_fast/' examples/redun_program.py > ported.py && python ported.py
"""
import os
import sys

from redun import File, Scheduler, apply_tags, get_context, script, task
from redun.functools import map_

redun_namespace = "examples.qc"

READS = {
    "sample1": ["ACGTGC", "GGCCAA", "TTAGCG"],
    "sample2": ["ATATAT", "GCGCGC"],
    "sample3": ["CCGGTA", "AACGTT", "GGGCCC", "TTTAAA"],
}


@task()
def write_reads(sample, folder):
    reads = File(os.path.join(folder, f"{sample}.txt"))
    reads.write("\n".join(READS[sample]) + "\n")
    return reads


@task()
def gc_fraction(reads, digits=get_context("qc.digits", 4)):
    bases = "".join(reads.read().split())
    return round((bases.count("G") + bases.count("C")) / len(bases), digits)


@task()
def count_reads(reads):
    return script(f"wc -l < {reads.path}", inputs=[reads.stage(reads.path)])


@task()
def as_number(output):
    return int(output)


@task(nout=2)
def extremes(fractions):
    return min(fractions), max(fractions)


@task()
def report(samples, fractions, rounded, counts, low, high):
    summary = {"samples": dict(zip(samples, fractions)), "rounded": dict(zip(samples, rounded)),
               "reads": dict(zip(samples, counts)), "low": low, "high": high}
    return apply_tags(summary, job_tags=[("samples", len(samples))])


@task()
def main(samples, folder):
    reads = [write_reads(sample, folder) for sample in samples]
    fractions = map_(gc_fraction, reads)
    rounded = map_(gc_fraction.update_context(qc={"digits": 1}), reads)
    counts = [as_number(count_reads(sample_reads)) for sample_reads in reads]
    low, high = extremes(fractions)
    return report(samples, fractions, rounded, counts, low, high)


if __name__ == "__main__":
    folder = sys.argv[1] if len(sys.argv) > 1 else "qc_reads"
    scheduler = Scheduler()
    scheduler.logger.setLevel("WARNING")
    print(scheduler.run(main(sorted(READS), folder)))
