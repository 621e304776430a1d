"""A run's jobs summed up from their records: per task, and as a call tree.

Shared by `redun_fast log` and `redun_fast report`. Durations and costs are those of jobs
that ran (DONE or FAILED): a cached job's record spans only its replay.
"""
import collections
import statistics
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence

from redun_fast.cache.records import JobRecord


class TaskSummary(NamedTuple):
    task: str
    jobs: int
    cached: int
    failed: int
    duration_min: Optional[float]  # seconds, over the jobs that ran
    duration_median: Optional[float]
    duration_max: Optional[float]
    cpu_median: Optional[float]  # CPU seconds per job, where measured
    cpu_total: Optional[float]
    peak_max: Optional[int]  # bytes, where measured
    executors: List[str]


def task_summaries(jobs: Sequence[JobRecord]) -> List[TaskSummary]:
    """One summary per task, the tasks in the order their first job ended."""
    by_task: Dict[str, List[JobRecord]] = {}
    for job in jobs:
        by_task.setdefault(job.task_name, []).append(job)
    return [_summary(name, records) for name, records in by_task.items()]


def _summary(name: str, jobs: List[JobRecord]) -> TaskSummary:
    ran = [job for job in jobs if job.status != "CACHED"]
    durations = sorted(job.duration for job in ran)
    cpus = [job.cpu for job in ran if job.cpu is not None]
    peaks = [job.peak for job in ran if job.peak is not None]
    return TaskSummary(
        name, len(jobs), len(jobs) - len(ran), sum(job.status == "FAILED" for job in ran),
        durations[0] if durations else None,
        statistics.median(durations) if durations else None,
        durations[-1] if durations else None,
        statistics.median(cpus) if cpus else None, sum(cpus) if cpus else None,
        max(peaks) if peaks else None,
        sorted({job.executor for job in ran if job.executor}))


def failure_kinds(failed: Sequence[JobRecord]) -> "collections.Counter[tuple]":
    """How many failed jobs per (task, exception type), for counting what is not shown."""
    return collections.Counter((job.task_name, error_kind(job.error)) for job in failed)


def error_line(error: Optional[str]) -> str:
    """The last line of a stored traceback: the exception ("ValueError: bad input")."""
    lines = (error or "").strip().splitlines()
    return lines[-1] if lines else "(no error text)"


def error_kind(error: Optional[str]) -> str:
    """The exception's type, from a stored traceback ("ValueError")."""
    return error_line(error).split(":", 1)[0]


def call_tree(jobs: Sequence[JobRecord], fold: int = 300) -> Iterator[str]:
    """The jobs as the tree of who called whom, one line per job, indented by depth; past
    `fold` children of one job's of one task, the rest are counted (`… 9,997 more inc jobs`)."""
    ids = {job.job_id for job in jobs}
    children: Dict[int, List[JobRecord]] = collections.defaultdict(list)
    for job in jobs:
        # A parent with no record here (a record written before parents were kept) is 0.
        children[job.parent if job.parent in ids else 0].append(job)
    for siblings in children.values():
        siblings.sort(key=lambda job: job.start)
    stack = [(job, 0) for job in reversed(children.pop(0, []))]
    while stack:  # depth first, without recursion: a chain of calls may be deep
        job, depth = stack.pop()
        yield f"{'  ' * depth}{job_line(job)}"
        if isinstance(job, _Folded):
            continue
        kids = children.pop(job.job_id, [])
        if len(kids) > fold:
            seen: collections.Counter = collections.Counter()
            shown, rest = [], collections.Counter()
            for kid in kids:
                seen[kid.task_name] += 1
                if seen[kid.task_name] <= fold:
                    shown.append(kid)
                else:
                    rest[kid.task_name] += 1
            kids = shown + [_Folded(rest)] if rest else shown
        stack.extend((kid, depth + 1) for kid in reversed(kids))


class _Folded(NamedTuple):
    """Children past the fold, counted by task."""
    counts: collections.Counter


def job_line(job) -> str:
    if isinstance(job, _Folded):
        return "… " + ", ".join(f"{count:,} more {name.rsplit('.', 1)[-1]} jobs"
                                for name, count in job.counts.most_common())
    return (f"{job.task_name}  {job.status}  {format_seconds(job.duration)}  "
            f"job {job.job_id:016x}")


def format_seconds(seconds: Optional[float]) -> str:
    """1.2 us, 3.4 ms, 5.67 s, 8.9 min, 1.5 h: three significant digits or so."""
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 120:
        return f"{seconds:.2f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def format_bytes(size: Optional[int]) -> str:
    if size is None:
        return "-"
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    value, unit = float(size), 0
    while value >= 1024 and unit < len(units) - 1:
        value /= 1024
        unit += 1
    return f"{size} B" if unit == 0 else f"{value:.1f} {units[unit]}"
