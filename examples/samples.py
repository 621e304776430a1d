"""Per-sample reads through a command-line step, then a report: Files and script() at work.

    python examples/samples.py [N_SAMPLES]

It writes small FASTQ files to ./data (once), runs one `script` per sample (awk counts its
reads and bases into results/<sample>.stats), parses each stats file in Python and writes
results/report.tsv. Results are cached in ./.redun_fast (or $REDUN_FAST_CACHE_DIR):

    python examples/samples.py            # again: every job is replayed from the cache
    touch data/sample2.fastq              # then: main, and sample2's base_counts and script
    rm results/sample3.stats              # then: only the script that wrote it
    python examples/samples.py -v         # shows each job: Run, Cached, or Miss (stale)

After a touch the stats come out the same, so parse_stats and the report replay (the stats
are ContentFiles, hashed by their bytes).
"""
import logging
import os
import random
import sys

from redun_fast import ContentFile, File, Scheduler, script, task
from redun_fast.config import default_cache_dir

redun_namespace = "examples.samples"

DATA, RESULTS = "data", "results"


def make_reads(n_samples: int, reads_per_sample: int = 50, length: int = 40) -> list:
    """The example's input data: FASTQ files, written once (a real workflow starts from its own)."""
    os.makedirs(DATA, exist_ok=True)
    paths = []
    for number in range(1, n_samples + 1):
        path = os.path.join(DATA, f"sample{number}.fastq")
        if not os.path.exists(path):
            rng = random.Random(number)
            with open(path, "w") as stream:
                for read in range(reads_per_sample):
                    bases = "".join(rng.choice("ACGT") for _ in range(length))
                    stream.write(f"@sample{number}.{read}\n{bases}\n+\n{'I' * length}\n")
        paths.append(path)
    return paths


@task()
def base_counts(sample: str, fastq: File) -> File:
    """A command-line step: awk counts the reads and the G/C bases of one sample."""
    stats = ContentFile(os.path.join(RESULTS, f"{sample}.stats"))  # by content: see parse_stats
    return script(
        """
        awk 'NR % 4 == 2 { reads += 1; bases += length($0); gc += gsub(/[GC]/, "") }
             END { print reads, bases, gc }' reads.fastq > counts.txt
        """,
        inputs=[fastq.stage("reads.fastq")],
        outputs=stats.stage("counts.txt"),
        tempdir=True,
    )


@task()
def parse_stats(sample: str, stats: File) -> dict:
    # A stats file written again with the same counts has the same ContentFile hash, so
    # this job replays even when the script before it ran again.
    reads, bases, gc = map(int, stats.read().split())
    return {"sample": sample, "reads": reads, "gc": round(gc / bases, 4)}


@task()
def write_report(rows: list) -> File:
    report = File(os.path.join(RESULTS, "report.tsv"))
    lines = ["sample\treads\tgc"] + [f"{r['sample']}\t{r['reads']}\t{r['gc']}" for r in rows]
    report.write("\n".join(lines) + "\n")
    return report


@task()
def main(fastqs: list) -> File:
    rows = []
    for fastq in fastqs:
        sample = fastq.basename().split(".")[0]
        rows.append(parse_stats(sample, base_counts(sample, fastq)))
    return write_report(rows)


if __name__ == "__main__":
    numbers = [arg for arg in sys.argv[1:] if arg != "-v"]
    n = int(numbers[0]) if numbers else 4
    fastqs = [File(path) for path in make_reads(n)]
    scheduler = Scheduler(executor="processes", cache_dir=default_cache_dir())
    scheduler.logger.setLevel(logging.INFO if "-v" in sys.argv else logging.WARNING)
    report = scheduler.run(main(fastqs))
    print(report.read(), end="")
    print("\n".join(scheduler.job_counts.table()))
    scheduler.close()
