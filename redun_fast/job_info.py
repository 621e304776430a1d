"""JobInfo: a job's own ids, given to a task that asks for them, as redun does.

    @task
    def align(sample: str, job_info: JobInfo = JobInfo()) -> str:
        log.info("job %s of execution %s", job_info.job_id, job_info.execution_id)

A parameter whose default is `JobInfo()` is passed a placeholder by every call that leaves it
out (Task.__call__); the placeholder hashes to a constant, so it never changes a call's eval
hash. When the job is handed to its executor (csrc/_dispatch.pyx, only for tasks that have such
a parameter) the placeholder is replaced by the job's JobInfo, which is plain data and travels
to any worker.
"""
from typing import Any, Dict, Optional

from redun_fast._core import hash_value

_PLACEHOLDER_HASH = hash_value("redun_fast.JobInfo placeholder")


class JobInfo:
    """A job's ids: the execution's id, the job's id (16 hex digits, as `redun_fast log
    --jobs` shows it; the logs show its first 8), its eval hash and arguments hash, its task's
    full name and options. Empty until the scheduler fills it in."""

    __slots__ = ("execution_id", "job_id", "eval_hash", "args_hash", "options", "task_name")

    def __init__(self, execution_id: str = "", job_id: str = "", eval_hash: str = "",
                 args_hash: str = "", options: Optional[Dict[str, Any]] = None,
                 task_name: str = "") -> None:
        self.execution_id = execution_id
        self.job_id = job_id
        self.eval_hash = eval_hash
        self.args_hash = args_hash
        self.options = dict(options or {})
        self.task_name = task_name

    def __redun_hash__(self) -> str:
        return _PLACEHOLDER_HASH  # a job's ids never change what it computes

    def __reduce__(self):
        return (JobInfo, (self.execution_id, self.job_id, self.eval_hash, self.args_hash,
                          self.options, self.task_name))

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, JobInfo) and self.__reduce__() == other.__reduce__()

    def __repr__(self) -> str:
        if not self.job_id:
            return "JobInfo()"
        return (f"JobInfo(execution_id={self.execution_id}, job_id={self.job_id}, "
                f"eval_hash={self.eval_hash}, task_name={self.task_name})")


def fill_job_info(job: Any, execution_id: Optional[str]) -> None:
    """Replace the JobInfo placeholders among `job`'s arguments by its JobInfo. The argument
    tuple and dict may be the call expression's own, so they are replaced, not changed."""
    args_hash = hash_value((tuple(value for value in job.args if not isinstance(value, JobInfo)),
                            {name: value for name, value in job.kwargs.items()
                             if not isinstance(value, JobInfo)}))
    info = JobInfo(execution_id or "", f"{job.id:016x}", job.eval_hash.hex(), args_hash,
                   job.task.task_options, job.task.fullname)
    job.args = tuple(info if isinstance(value, JobInfo) else value for value in job.args)
    job.kwargs = {name: info if isinstance(value, JobInfo) else value
                  for name, value in job.kwargs.items()}

