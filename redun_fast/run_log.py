"""Where `redun_fast run` on a terminal puts its per-job log lines: in a file per execution.

redun logs a line per job, and the Scheduler API keeps doing so (the walkthrough's output is
those lines); a run of 5,000 jobs on a terminal would scroll 5,000 of them past the live
progress line. So on a terminal `redun_fast run` shows the progress line, failures and the
final JOB STATUS table, and writes every line, the per-job ones included, to
`<cache folder>/logs/<execution id>.log` (it says where at the end). `--verbose` shows them
live instead; in a batch job's log (not a terminal) nothing changes.
"""
import logging
import os
from typing import Any, Optional, TextIO

from redun_fast.output import is_job_line

FOLDER = "logs"  # in the cache folder (private to its user, as the cache is)


def execution_log_path(cache_dir: str, execution_id: str) -> str:
    return os.path.join(cache_dir, FOLDER, f"{execution_id}.log")


class _NotJobLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not is_job_line(record)


class ExecutionLog(logging.Handler):
    """Every line of a scheduler's runs, into one file per execution, opened at the run's
    first line (the scheduler knows its execution's id by then)."""

    def __init__(self, cache_dir: str, scheduler: Any, formatter: logging.Formatter) -> None:
        super().__init__()
        self.cache_dir = cache_dir
        self.scheduler = scheduler
        self.setFormatter(formatter)
        self.path: Optional[str] = None
        self._execution_id: Optional[str] = None  # whose file is open
        self._file: Optional[TextIO] = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if self._file is None or self._execution_id != self.scheduler.execution_id:
                self._open()
            self._file.write(self.format(record) + "\n")
        except Exception:  # a full disk must not end the run: logging's own policy
            self.handleError(record)

    def _open(self) -> None:
        """The file of the scheduler's current execution (a new run began)."""
        if self._file is not None:
            self._file.close()
        self._execution_id = self.scheduler.execution_id
        self.path = execution_log_path(self.cache_dir, self._execution_id)
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        self._file = open(self.path, "a", encoding="utf-8")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        super().close()


class JobLinesToFile:
    """While active, the scheduler's per-job lines go only to its execution's log file; the
    terminal keeps the rest (a context manager; `path` is the file once a run began)."""

    def __init__(self, scheduler: Any, cache_dir: str) -> None:
        self.logger = scheduler.logger
        shown = [handler for handler in self.logger.handlers
                 if isinstance(handler, logging.StreamHandler)]
        formatter = (shown[0].formatter if shown and shown[0].formatter
                     else logging.Formatter("[redun] %(message)s"))
        self.file = ExecutionLog(cache_dir, scheduler, formatter)
        self.shown = shown
        self.filter = _NotJobLines()

    @property
    def path(self) -> Optional[str]:
        return self.file.path

    def __enter__(self) -> "JobLinesToFile":
        for handler in self.shown:
            handler.addFilter(self.filter)
        self.logger.addHandler(self.file)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.logger.removeHandler(self.file)
        self.file.close()
        for handler in self.shown:
            handler.removeFilter(self.filter)
