"""Running jobs on a Slurm cluster as sbatch job arrays (see executor.py)."""
from redun_fast.slurm.executor import SlurmExecutor
from redun_fast.slurm.sbatch import SLURM_OPTIONS, SlurmError

__all__ = ["SLURM_OPTIONS", "SlurmError", "SlurmExecutor"]
