"""The `[slurm]` section of the config file: SlurmExecutor's arguments (registered with the
executor kind, executors/__init__.py)."""
from redun_fast.config import Setting

SLURM_SETTINGS = (
    Setting("slurm.partition", str, None, "REDUN_FAST_SLURM_PARTITION"),
    Setting("slurm.account", str, None, "REDUN_FAST_SLURM_ACCOUNT"),
    Setting("slurm.qos", str, None, None),
    Setting("slurm.time", str, None, None),
    Setting("slurm.staging_dir", str, None, None),
    Setting("slurm.jobs_per_element", int, None, None),
    Setting("slurm.parallelism", int, None, None),
)
