"""What a batch of jobs cost the worker process that ran it: wall and CPU time, peak memory.

Measured per batch, not per job: a fan-out's tiny jobs run thousands to a batch, and two
readings of /proc per batch cost nothing next to them, where two per job would double a tiny
job. A job's record gets its share of its batch's CPU time and the batch's peak (job records,
_records.pyx), exact for the batch of one that a long job gets (the feeder sizes batches to
a couple of milliseconds of work).

CPU time counts the process and the children it waited for (a `script` task's tools, run in
a shell): os.times(), one system call (psutil reads the same counters from /proc at 25 times
the cost, and its import would delay every worker's first batch). Peak memory is the
process's resident high-water mark over the batch: on Linux the mark is reset before the
batch (/proc/self/clear_refs) and read after it (VmHWM); a child that grew past it (a tool)
counts too. Elsewhere it is the resident size at the batch's end (psutil), a lower bound.
"""
import os
import resource
import time
from typing import NamedTuple, Optional

from redun_fast.pids import HOST


class Usage(NamedTuple):
    """A batch's cost, sent back with its results (protocol.py), kept on each of its jobs."""
    worker: str  # "host:pid"
    started: float  # time.time() in the worker when the batch began
    seconds: float  # wall time
    cpu: Optional[float]  # CPU seconds of the process and its waited-for children
    peak: Optional[int]  # bytes
    jobs: int  # how many jobs shared it


class Meter:
    """Measures batches in this process (a pool worker, a pilot, an array element)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.worker = f"{HOST}:{self.pid}"
        self._can_reset = _reset_peak()
        self._process = None
        if not self._can_reset:  # no VmHWM to reset and read: ask psutil for the RSS
            import psutil

            self._process = psutil.Process(self.pid)

    def start(self) -> tuple:
        if self._can_reset:
            _reset_peak()
        return (time.time(), time.perf_counter(), self._cpu(), _children_peak())

    def stop(self, started: tuple, jobs: int) -> Usage:
        began, wall, cpu, children = started
        seconds = time.perf_counter() - wall
        peak = _peak() if self._can_reset else self._process.memory_info().rss
        grown = _children_peak()
        if grown > children:  # a child reached a new high during this batch
            peak = max(peak or 0, grown)
        return Usage(self.worker, began, seconds, self._cpu() - cpu, peak, max(jobs, 1))

    @staticmethod
    def _cpu() -> float:
        times = os.times()
        return times.user + times.system + times.children_user + times.children_system


_meter: Optional[Meter] = None


def meter() -> Meter:
    """This process's meter (a forked worker makes its own: the pid is part of its name)."""
    global _meter
    if _meter is None or _meter.pid != os.getpid():
        _meter = Meter()
    return _meter


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # resets VmHWM to the resident size now (Linux >= 4.0)
        return True
    except OSError:
        return False


def _peak() -> Optional[int]:
    with open("/proc/self/status", "rb") as status:
        for line in status:
            if line.startswith(b"VmHWM:"):
                return int(line.split()[1]) * 1024  # "VmHWM:   12345 kB"
    return None


def _children_peak() -> int:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
