"""Executors by name: `inline`, `threads` (the default), `processes` and `slurm`."""
from typing import Any, Callable, Dict

from redun_fast.executors.base import Executor
from redun_fast.executors.inline import InlineExecutor
from redun_fast.executors.processes import ProcessExecutor
from redun_fast.executors.threads import ThreadExecutor



def _slurm(**options: Any) -> Executor:
    from redun_fast.slurm.executor import SlurmExecutor  # imported only when used

    return SlurmExecutor(**options)


EXECUTOR_KINDS: Dict[str, Callable[..., Executor]] = {
    "inline": InlineExecutor,
    "threads": ThreadExecutor,
    "processes": ProcessExecutor,
    "slurm": _slurm,
}


def make_executor(spec: Any, **options: Any) -> Executor:
    """An Executor from an instance or a kind name ("inline", "threads", ...)."""
    if isinstance(spec, Executor):
        return spec
    factory = EXECUTOR_KINDS.get(spec)
    if factory is None:
        raise ValueError(
            f"unknown executor {spec!r}: use one of {', '.join(sorted(EXECUTOR_KINDS))} "
            "or pass an Executor instance"
        )
    return factory(**options)


__all__ = [
    "EXECUTOR_KINDS",
    "Executor",
    "InlineExecutor",
    "ProcessExecutor",
    "ThreadExecutor",
    "make_executor",
]
