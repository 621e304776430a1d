"""The executor interface: the scheduler hands over batches of ready jobs and gets back records.

An executor runs `job.task.func(*job.args, **job.kwargs)` somewhere and calls
`report([(job, ok, value), ...])` from any thread, where `value` is the result when `ok`
and the raised exception otherwise. Executors never touch the cache.
"""
import threading
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from redun_fast.errors import ExecutorError

Record = Tuple[Any, bool, Any]
Report = Callable[[List[Record]], None]


class Executor:
    """Base class; subclasses implement `submit_batch` and may override `start`/`stop`."""

    kind = "executor"

    def use_folder(self, folder: str) -> None:
        """The scheduler's folder (its cache folder): an executor that keeps files puts them
        under it, unless it was given a folder of its own."""

    def start(self) -> None:
        """Start workers if they are not running; called before each batch is submitted."""

    def submit_batch(self, jobs: Sequence[Any], report: Report) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the workers (Scheduler.close(), interpreter exit, Ctrl-C); jobs still running
        are abandoned and their records dropped. `start` may start them again."""


class Outstanding:
    """The jobs an executor holds and has not reported yet, for executors with a thread of
    their own: each job is reported exactly once, and if that thread fails, `fail_all`
    fails every job it still held instead of leaving the run waiting for them forever.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: Dict[Any, set] = {}  # report -> the jobs it waits for (a set: 30 B a job)
        self._failure: Optional[Exception] = None

    def add(self, jobs: Sequence[Any], report: Report) -> bool:
        """Hold `jobs`; False (and the jobs failed) if the thread has already failed."""
        with self._lock:
            failure = self._failure
            if failure is None:
                self._held.setdefault(report, set()).update(jobs)
        if failure is not None:
            report([(job, False, failure) for job in jobs])
        return failure is None

    def report(self, records: Sequence[Record]) -> None:
        """Pass records to their reporters; a job already reported is skipped."""
        by_report: Dict[Any, List[Record]] = {}
        with self._lock:
            for record in records:
                for report, held in self._held.items():  # one reporter per scheduler using it
                    if record[0] in held:
                        held.discard(record[0])
                        by_report.setdefault(report, []).append(record)
                        break
        for report, batch in by_report.items():
            report(batch)

    def fail_all(self, failure: Exception) -> None:
        """Fail every job still held, and any added later (a new thread gets a new Outstanding)."""
        with self._lock:
            self._failure = failure
            held = [job for jobs in self._held.values() for job in jobs]
        self.report([(job, False, failure) for job in held])

    def __len__(self) -> int:
        return sum(len(jobs) for jobs in self._held.values())


def thread_failed(executor: Executor, error: BaseException) -> ExecutorError:
    """The error jobs get when an executor's thread raised `error` (kept as the cause)."""
    failure = ExecutorError(
        f"the {executor.kind} executor's thread failed ({type(error).__name__}: {error}); "
        f"the jobs it held fail with this error and its next run starts afresh. "
        f"This is a bug in redun_fast: please report it with the traceback below")
    failure.__cause__ = error
    return failure


def run_job(job: Any) -> Record:
    """Run one job in this process and return its record."""
    try:
        return (job, True, job.task.func(*job.args, **job.kwargs))
    except Exception as error:  # the job fails; KeyboardInterrupt and SystemExit stop the run
        return (job, False, error)
