"""Running jobs on a Slurm cluster as sbatch job arrays (see executor.py)."""
from redun_fast.slurm.executor import SlurmExecutor
from redun_fast.resources import SLURM_OPTIONS
from redun_fast.slurm.sbatch import SlurmError

__all__ = ["SLURM_OPTIONS", "SlurmError", "SlurmExecutor"]
