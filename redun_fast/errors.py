"""The errors and warnings redun_fast raises, in one place; `redun_fast` exports them all.

Each message names the problem and the fix. A task's own exception is never wrapped: it is
re-raised with its own type, the worker's traceback attached as its cause.
"""
from typing import Any, List


class SchedulerError(RuntimeError):
    """The workflow cannot proceed (unknown executor, an expression that waits on itself)."""


class DryRunResult(Exception):
    """A dry run found jobs that would run; `would_run` lists them (their Jobs)."""

    def __init__(self, would_run: List[Any]) -> None:
        super().__init__(f"{len(would_run)} jobs would run")
        self.would_run = would_run


class HashError(TypeError):
    """A value that has no canonical encoding (not picklable and no __redun_hash__)."""


class ExpressionCycleError(ValueError):
    """An expression is among its own arguments, so it can never be evaluated."""


class TaskOptionError(ValueError):
    """A task option that does not exist, or whose value cannot be used."""


class TaskNameClashWarning(UserWarning):
    """Two modules define tasks with the same full name."""


class SerializationError(TypeError):
    """A task result that cannot be stored."""


class StaleResultError(Exception):
    """A cached result holds a value that is no longer valid (a File changed or deleted since
    it was stored): the job runs again instead of replaying it."""


class ScriptError(RuntimeError):
    """A script() command exited with an error; the message has its exit code and the last
    lines of its stderr."""

    def __init__(self, message: str, returncode: int = 1, stderr: bytes = b"") -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr

    def __reduce__(self) -> tuple:  # travels back from a worker with its fields
        return type(self), (self.args[0], self.returncode, self.stderr)


class FileError(OSError):
    """A File or Dir that cannot be used as asked; the subclasses below are also the OSError
    that Python raises for the same problem, so `except FileNotFoundError` still works."""


class FileMissingError(FileError, FileNotFoundError):
    """A File or Dir read, copied or hashed that does not exist."""


class FileIsDirectoryError(FileError, IsADirectoryError):
    """A folder used as a File (use Dir)."""


class FilePermissionError(FileError, PermissionError):
    """A path this user may not read or write."""


class FileSchemeError(FileError):
    """A path whose scheme (s3://, gs://, ...) has no filesystem here."""


class CacheError(RuntimeError):
    """The store cannot be used: not a store, written by a newer schema, unreadable, full disk."""


class ConfigError(ValueError):
    """A config file, variable or flag that cannot be used; the message says which and why."""


class ExecutorError(RuntimeError):
    """An executor's own machinery failed (not a task): the jobs it held fail with this."""


class WorkerDiedError(RuntimeError):
    """The worker process running a job died (crash, signal, out of memory)."""


class RemoteError(Exception):
    """Stands for an exception raised in a worker that could not be pickled back."""


class SecurityError(RuntimeError):
    """A file or folder another user could have written, or a signature that does not match:
    redun_fast will not unpickle it."""


class SlurmError(RuntimeError):
    """Slurm refused a submission, or an array element ended without results."""


__all__ = [name for name, value in list(globals().items())
           if isinstance(value, type) and issubclass(value, (Exception, Warning))]


def not_supported(name: str, why: str):
    """A stand-in for a redun name redun_fast does not support: calling it says so and why."""
    def stand_in(*args, **kwargs):
        raise NotImplementedError(f"redun_fast does not support {name}: {why}")

    stand_in.__name__ = stand_in.__qualname__ = name
    return stand_in
