"""Which job wrote a file: `redun_fast log --file PATH`.

Every job's record says who called it and the hash of its result (_records.pyx); a job whose
result holds files or folders (its stored result is marked, cache/serialize.py, so telling
costs one byte compare) also records its call, the files it read (its File and Dir
arguments) and those it returned: `describe`, kept with its record. `file_writers` then
reads the records, newest execution first, for the jobs that returned a path.
"""
import os
from typing import Any, Iterator, List, NamedTuple, Tuple

from redun_fast.cache.records import ExecutionRecord, JobRecord
from redun_fast.output import format_task_call
from redun_fast.value import iter_nested_value

Call = Tuple[str, Tuple[str, ...], Tuple[str, ...]]  # (call, paths read, paths returned)


def local_path(path: str) -> str:
    """A path as records keep it: absolute, unless it is a URL (s3://...)."""
    return path if "://" in path else os.path.abspath(path)


def _paths(value: Any) -> Tuple[str, ...]:
    """The paths of the files and folders (File, Dir, ...) inside `value`, local ones absolute."""
    found = []
    for leaf in iter_nested_value(value):
        path = getattr(leaf, "path", None)
        if isinstance(path, str) and hasattr(leaf, "filesystem"):
            found.append(local_path(path))
    return tuple(dict.fromkeys(found))


def describe(task: Any, args: tuple, kwargs: dict, result: Any) -> Call:
    """What a job whose result holds files records of itself (the run ledger calls this)."""
    return (format_task_call(task, args, kwargs), _paths((args, kwargs)), _paths(result))


class Writer(NamedTuple):
    execution: ExecutionRecord
    job: JobRecord
    path: str  # the file or folder it returned that holds the path asked for


def _holds(returned: str, path: str) -> bool:
    return path == returned or path.startswith(returned.rstrip("/") + "/")


def file_writers(store: Any, path: str) -> Iterator[Writer]:
    """The jobs that returned `path` (or a folder holding it), newest first."""
    wanted = local_path(path)
    for execution in store.executions():
        found: List[Writer] = []
        for job in store.job_records(execution.id):
            if job.call is not None:
                for returned in job.call[2]:
                    if _holds(returned, wanted):
                        found.append(Writer(execution, job, returned))
                        break
        yield from reversed(found)
