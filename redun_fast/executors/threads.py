"""Runs jobs on a pool of threads (redun's default executor: 20 threads, for I/O-bound tasks)."""
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional, Sequence

from redun_fast.executors.base import Executor, Deliver, run_job


class ThreadExecutor(Executor):
    kind = "threads"

    def __init__(self, max_workers: int = 20) -> None:
        if not isinstance(max_workers, int) or max_workers < 1:
            raise ValueError(f"max_workers={max_workers!r} must be a positive integer")
        self.max_workers = max_workers
        self._pool: Optional[ThreadPoolExecutor] = None

    def start(self) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="redun_fast")

    def submit_batch(self, jobs: Sequence[Any], deliver: Deliver) -> None:
        self.start()
        for job in jobs:
            self._pool.submit(lambda job=job: deliver([run_job(job)]))

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
