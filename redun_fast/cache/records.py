"""Run records: one per execution, and one per job of it, as stores keep them.

Records are stored as plain tuples and dicts (not classes), so reading an old store never
depends on this module's class names.
"""
import os
import time
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from redun_fast.pids import HOST, alive



class JobRecord(NamedTuple):
    job_id: int
    task_name: str
    eval_hash: bytes
    status: str  # "DONE", "CACHED" or "FAILED"
    start: float  # when the scheduler dispatched it (or replayed it)
    end: float  # when its value (or error) was final
    error: Optional[str]  # "ValueError: bad input\n<traceback>" for failed jobs
    # Provenance and accounting; records written before they were kept read as "not known".
    parent: int = 0  # the job id of the job whose result called this one; 0: the run's root
    result_hash: int = 0  # xxh3-64 of the result as the store keeps it; 0: none
    executor: Optional[str] = None  # as the log names it ("processes", "slurm"); None: cached
    worker: Optional[str] = None  # the process that ran it, "host:pid"
    cpu: Optional[float] = None  # CPU seconds (its share of its batch's, see protocol.Usage)
    peak: Optional[int] = None  # bytes: the peak resident memory of its batch's process
    # The executor batch it ran in, measured in the worker: (its start as a time.time(), its
    # wall seconds, how many jobs it ran one after the other); None if not measured.
    batch: Optional[Tuple[float, float, int]] = None
    # A job that returned files: (its call, the paths it read, the paths it returned), see
    # provenance.py; None for the others.
    call: Optional[Tuple[str, Tuple[str, ...], Tuple[str, ...]]] = None

    @property
    def duration(self) -> float:
        """How long it ran: its share of its batch's wall time where that was measured (a
        batch of one: exactly), else from its dispatch until its value was final."""
        if self.batch is not None:
            return self.batch[1] / self.batch[2]
        return self.end - self.start


class ExecutionRecord(NamedTuple):
    id: str
    start: float
    end: Optional[float]
    call: str  # the root expression, trimmed
    state: str  # "running", "done", "failed", "interrupted" (Ctrl-C, SIGTERM) or "dryrun"
    counts: Dict[str, List[int]]  # task name -> counts per status (output.STATUSES)
    error: Optional[str]
    host: Optional[str] = None  # where the scheduler ran (None in records written before)
    pid: Optional[int] = None
    # The pickled (task full name, args, kwargs) of a root that is one task call on values,
    # for `redun_fast run --rerun` (None for other roots, or arguments too big to keep).
    root_call: Optional[bytes] = None
    result: Optional[str] = None  # the run's value, as a bounded repr (output.short_repr)
    # What executors asked for each task (Slurm: cpus, memory bytes, time seconds), for the
    # report to set beside what its jobs used (Executor.requested).
    requested: Optional[Dict[str, Dict[str, Any]]] = None
    # Its tags, on it, its tasks, its jobs and values (tags.run_tags's layout); None: none.
    tags: Optional[Dict[str, Any]] = None

    @property
    def shown_state(self) -> str:
        """The state, except that a run still "running" whose scheduler is gone from this
        host (killed, or stopped before it could say so) was interrupted."""
        if self.state == "running" and self.host == HOST and self.pid is not None:
            if not alive(self.pid, since=self.start):
                return "interrupted"
        return self.state

    def to_dict(self) -> Dict[str, Any]:
        return self._asdict()

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "ExecutionRecord":
        return cls(**{field: data.get(field) for field in cls._fields})

    @property
    def duration(self) -> Optional[float]:
        return None if self.end is None else self.end - self.start


def new_execution(execution_id: str, call: str,
                  root_call: Optional[bytes] = None) -> ExecutionRecord:
    return ExecutionRecord(execution_id, time.time(), None, call, "running", {}, None, HOST,
                           os.getpid(), root_call)
