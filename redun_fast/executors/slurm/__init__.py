"""Running jobs on a Slurm cluster: pilot workers, or sbatch job arrays (see executor.py).

    from redun_fast.executors.slurm import SlurmExecutor
"""
from typing import Any

from redun_fast.errors import SlurmError
from redun_fast.executors.slurm.options import SLURM_OPTIONS


def __getattr__(name: str) -> Any:
    if name == "SlurmExecutor":  # the executor imports subprocess & co: only when used
        from redun_fast.executors.slurm.executor import SlurmExecutor

        return SlurmExecutor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["SLURM_OPTIONS", "SlurmError", "SlurmExecutor"]
