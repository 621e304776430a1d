"""Public errors have one home (redun_fast/errors.py) and are exported from redun_fast: the
modules that raise them use those very classes."""
import redun_fast
from redun_fast import errors


def test_every_error_is_exported_and_is_the_one_raised():
    from redun_fast._core import HashError
    from redun_fast._nested import ExpressionCycleError
    from redun_fast.cache.base import CacheError
    from redun_fast.cache.serialize import SerializationError
    from redun_fast.config import ConfigError
    from redun_fast.executors.base import ExecutorError
    from redun_fast.executors.processes import WorkerDiedError
    from redun_fast.executors.slurm import SlurmError
    from redun_fast.reduction import DryRunResult, SchedulerError
    from redun_fast.task import TaskNameClashWarning

    raised = [HashError, ExpressionCycleError, CacheError, SerializationError, ConfigError,
              ExecutorError, WorkerDiedError, SlurmError, DryRunResult, SchedulerError,
              TaskNameClashWarning]
    for cls in raised:
        assert getattr(redun_fast, cls.__name__) is cls is getattr(errors, cls.__name__)
        assert cls.__module__ == "redun_fast.errors"
    assert set(errors.__all__) <= set(redun_fast.__all__)
    assert {"TaskOptionError", "RemoteError"} <= set(errors.__all__)
