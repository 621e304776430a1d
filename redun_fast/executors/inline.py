"""Runs each job in the scheduler's own thread as soon as it is submitted: no parallelism."""
from typing import Any, Optional, Sequence

from redun_fast.executors.base import Executor, Deliver, run_job


class InlineExecutor(Executor):
    kind = "inline"

    def __init__(self, max_workers: Optional[int] = None) -> None:
        """`max_workers` is accepted for symmetry and ignored: one job at a time."""

    def submit_batch(self, jobs: Sequence[Any], deliver: Deliver) -> None:
        deliver([run_job(job) for job in jobs])
