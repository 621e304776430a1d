"""Runs each job in the scheduler's own thread as soon as it is submitted: no parallelism."""
from typing import Any, Sequence

from redun_fast.executors.base import Executor, Report, run_job


class InlineExecutor(Executor):
    kind = "inline"

    def submit_batch(self, jobs: Sequence[Any], report: Report) -> None:
        report([run_job(job) for job in jobs])
