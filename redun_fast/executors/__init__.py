"""Executors by name: `inline`, `threads` (the default), `processes` and `slurm`.

Each kind is registered here in one line (registry.py); Slurm's class is imported when first
used, but its task options and config settings are known from the start.
"""
from typing import Any

from redun_fast.executors.base import Executor, ExecutorError
from redun_fast.executors.inline import InlineExecutor
from redun_fast.executors.processes import ProcessExecutor
from redun_fast.executors.registry import executor_kinds, make_executor, register_executor
from redun_fast.executors.slurm.options import SLURM_TASK_OPTIONS
from redun_fast.executors.slurm.settings import SLURM_SETTINGS
from redun_fast.executors.threads import ThreadExecutor

register_executor("inline", InlineExecutor)
register_executor("threads", ThreadExecutor)
register_executor("processes", ProcessExecutor)
register_executor("slurm", "redun_fast.executors.slurm.executor:SlurmExecutor",
                  settings=SLURM_SETTINGS, task_options=SLURM_TASK_OPTIONS, label="Slurm")


def __getattr__(name: str) -> Any:
    if name == "SlurmExecutor":  # imported only when used
        from redun_fast.executors.slurm.executor import SlurmExecutor

        return SlurmExecutor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Executor",
    "ExecutorError",
    "InlineExecutor",
    "ProcessExecutor",
    "SlurmExecutor",
    "ThreadExecutor",
    "executor_kinds",
    "make_executor",
    "register_executor",
]
