"""What the scheduler tells the user: job log lines and the JOB STATUS table, as redun prints them."""
import datetime
import itertools
import logging
import os
import reprlib
import traceback
from typing import Any, Dict, Iterator, List, Optional

from redun_fast._status import JobStatus

# The table's columns: every JobStatus a job is counted under, in the enum's order.
STATUSES = tuple(status.name for status in sorted(JobStatus) if status >= 0)

logger = logging.getLogger("redun_fast")
# Marks the log records of one job's status change ("Run    Job 1a2b3c4d: ..."): one per job,
# millions in a big run, which `redun_fast run` on a terminal sends to a file (run_log.py).
JOB_LINE = {"redun_fast_job_line": True}


def is_job_line(record: logging.LogRecord) -> bool:
    return getattr(record, "redun_fast_job_line", False)

if not logger.handlers:
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("[redun] %(message)s"))
    logger.addHandler(_handler)
    logger.setLevel(logging.INFO)


def trim_string(text: str, max_length: int = 200, ellipsis: str = "...") -> str:
    if len(text) > max_length:
        return text[: max_length - len(ellipsis)] + ellipsis
    return text


class _ShortRepr(reprlib.Repr):
    def repr_dict(self, value: dict, level: int) -> str:  # in order, as repr(), not sorted
        if not value:
            return "{}"
        if level <= 0:
            return "{...}"
        items = [f"{self.repr1(key, level - 1)}: {self.repr1(value[key], level - 1)}"
                 for key in itertools.islice(value, self.maxdict)]
        return "{" + ", ".join(items) + (", ..." if len(value) > self.maxdict else "") + "}"


_SHORT = _ShortRepr()
_SHORT.maxstring = _SHORT.maxother = 120
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = 8
_SHORT.maxlevel = 3


def short_repr(value: Any) -> str:
    """A repr whose cost and length are bounded, however big the value (a million results)."""
    return _SHORT.repr(value)


def format_task_call(task: Any, args: tuple, kwargs: dict) -> str:
    """`ns.add(a=1, b=2)`: every parameter by name, defaults included, long values trimmed."""
    named = task.named_arguments(args, kwargs, defaults=True)
    text = ", ".join(f"{name}={trim_string(repr(value))}" for name, value in named.items())
    return f"{task.fullname}({text})"


class JobCounts:
    """Jobs per task and status, for the life of a Scheduler (the walkthrough's tables add up)."""

    def __init__(self) -> None:
        self._counts: Dict[str, List[int]] = {}

    @property
    def rows(self) -> Dict[str, List[int]]:
        """The live rows (task name -> a count per status), for the reduction core to update."""
        return self._counts

    def add(self, task_name: str, status: int) -> None:
        row = self._counts.get(task_name)
        if row is None:
            row = self._counts[task_name] = [0] * len(STATUSES)
        row[status] += 1

    def merge(self, other: "JobCounts") -> None:
        for task_name, row in other._counts.items():
            mine = self._counts.setdefault(task_name, [0] * len(STATUSES))
            for i, count in enumerate(row):
                mine[i] += count

    def as_dict(self) -> Dict[str, List[int]]:
        return {name: list(row) for name, row in self._counts.items()}

    @classmethod
    def from_dict(cls, counts: Dict[str, List[int]]) -> "JobCounts":
        new = cls()
        new._counts = {name: list(row) for name, row in counts.items()}
        return new

    def get(self, task_name: str) -> Dict[str, int]:
        row = self._counts.get(task_name, [0] * len(STATUSES))
        return dict(zip(STATUSES + ("TOTAL",), row + [sum(row)]))

    def get_all(self) -> Dict[str, int]:
        """Counts summed over all tasks (the table's ALL row)."""
        totals = [sum(row[i] for row in self._counts.values()) for i in range(len(STATUSES))]
        return dict(zip(STATUSES + ("TOTAL",), totals + [sum(totals)]))

    def table(self, now: Optional[datetime.datetime] = None) -> Iterator[str]:
        """The lines of the JOB STATUS table, each prefixed with '| '."""
        now = now or datetime.datetime.now()
        names = sorted(self._counts)
        totals = [sum(self._counts[name][i] for name in names) for i in range(len(STATUSES))]
        rows = [["TASK", *STATUSES, "TOTAL"], ["ALL", *totals, sum(totals)]]
        rows += [[name, *self._counts[name], sum(self._counts[name])] for name in names]
        rows = [[str(cell) for cell in row] for row in rows]
        widths = [max(7, *(len(row[j]) for row in rows)) for j in range(len(rows[0]))]
        yield f"| JOB STATUS {now.strftime('%Y/%m/%d %H:%M:%S')}"
        for i, row in enumerate(rows):
            if i == 1:
                yield "| "
            cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
            yield "| " + " ".join(cells)


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def task_traceback(error: BaseException) -> List[str]:
    """The lines of `error`'s traceback without redun_fast's own frames (the scheduler's, an
    executor's), so a task's failure reads as its own code (with a worker's traceback, for a
    task that ran in another process)."""
    shown = traceback.TracebackException.from_exception(error)
    seen = set()
    part: Optional[traceback.TracebackException] = shown
    while part is not None and id(part) not in seen:
        seen.add(id(part))
        part.stack = traceback.StackSummary.from_list(
            [frame for frame in part.stack if not frame.filename.startswith(_PACKAGE)])
        part = part.__cause__ or part.__context__
    return list(shown.format())
