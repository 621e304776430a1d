"""The executor interface: the scheduler hands over batches of ready jobs and gets back records.

An executor runs `job.task.func(*job.args, **job.kwargs)` somewhere and calls
`report([(job, ok, value), ...])` from any thread, where `value` is the result when `ok`
and the raised exception otherwise. Executors never touch the cache.
"""
from typing import Any, Callable, List, Sequence, Tuple

Record = Tuple[Any, bool, Any]
Report = Callable[[List[Record]], None]


class Executor:
    """Base class; subclasses implement `submit_batch` and may override `start`/`stop`."""

    kind = "executor"

    def start(self) -> None:
        """Start workers if they are not running; called before each batch is submitted."""

    def submit_batch(self, jobs: Sequence[Any], report: Report) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the workers (Scheduler.close(), interpreter exit, Ctrl-C); jobs still running
        are abandoned and their records dropped. `start` may start them again."""


def run_job(job: Any) -> Record:
    """Run one job in this process and return its record."""
    try:
        return (job, True, job.task.func(*job.args, **job.kwargs))
    except Exception as error:  # the job fails; KeyboardInterrupt and SystemExit stop the run
        return (job, False, error)
