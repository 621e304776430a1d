"""The executor interface: the scheduler hands over batches of ready jobs and gets back records.

An executor runs `job.task.func(*job.args, **job.kwargs)` somewhere and calls
`deliver([(job, ok, value), ...])` from any thread, where `value` is the result when `ok`
and the raised exception otherwise. Executors never touch the cache.
"""
import threading
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from redun_fast.errors import ExecutorError

Result = Tuple[Any, bool, Any]
Deliver = Callable[[List[Result]], None]


class Executor:
    """Base class; subclasses implement `submit_batch` and may override `start`/`stop`."""

    kind = "executor"

    def use_folder(self, folder: str) -> None:
        """The scheduler's folder (its cache folder): an executor that keeps files puts them
        under it, unless it was given a folder of its own."""

    def start(self) -> None:
        """Start workers if they are not running; called before each batch is submitted."""

    def submit_batch(self, jobs: Sequence[Any], deliver: Deliver) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the workers (Scheduler.close(), interpreter exit, Ctrl-C); jobs still running
        are abandoned and their results dropped. `start` may start them again."""

    def requested(self) -> Dict[str, Dict[str, Any]]:
        """What was asked for each task whose jobs it ran, by task full name, for reports to
        set beside what the jobs used: {"cpus": 2, "memory": bytes, "time": seconds} (the
        keys it knows); {} for executors that ask for nothing (a local pool)."""
        return {}


class Outstanding:
    """The jobs an executor holds and has not delivered yet, for executors with a thread of
    their own: each job's result is delivered exactly once, and if that thread fails, `fail_all`
    fails every job it still held instead of leaving the run waiting for them forever.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: Dict[Any, set] = {}  # deliver -> the jobs it waits for (a set: 30 B a job)
        self._failure: Optional[Exception] = None

    def add(self, jobs: Sequence[Any], deliver: Deliver) -> bool:
        """Hold `jobs`; False (and the jobs failed) if the thread has already failed."""
        with self._lock:
            failure = self._failure
            if failure is None:
                self._held.setdefault(deliver, set()).update(jobs)
        if failure is not None:
            deliver([(job, False, failure) for job in jobs])
        return failure is None

    def deliver(self, results: Sequence[Result]) -> None:
        """Pass results to whoever submitted their jobs; a job already delivered is skipped."""
        by_receiver: Dict[Any, List[Result]] = {}
        with self._lock:
            for result in results:
                for deliver, held in self._held.items():  # one per scheduler using the executor
                    if result[0] in held:
                        held.discard(result[0])
                        by_receiver.setdefault(deliver, []).append(result)
                        break
        for deliver, batch in by_receiver.items():
            deliver(batch)

    def fail_all(self, failure: Exception) -> None:
        """Fail every job still held, and any added later (a new thread gets a new Outstanding)."""
        with self._lock:
            self._failure = failure
            held = [job for jobs in self._held.values() for job in jobs]
        self.deliver([(job, False, failure) for job in held])

    @property
    def failed(self) -> bool:
        """Whether its thread failed (fail_all): the executor's next start makes a new thread
        and a new Outstanding, even if the failed thread has not quite ended yet."""
        return self._failure is not None

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


def run_job(job: Any) -> Result:
    """Run one job in this process and return its result."""
    try:
        return (job, True, job.task.func(*job.args, **job.kwargs))
    except Exception as error:  # the job fails; KeyboardInterrupt and SystemExit stop the run
        return (job, False, error)
