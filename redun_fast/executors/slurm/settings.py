"""The `[slurm]` section of the config file: SlurmExecutor's arguments (registered with the
executor kind, executors/__init__.py)."""
from redun_fast.config import Setting

SLURM_SETTINGS = (
    Setting("slurm.mode", str, None, "REDUN_FAST_SLURM_MODE"),
    Setting("slurm.address", str, None, "REDUN_FAST_SLURM_ADDRESS"),
    Setting("slurm.port", int, None, None),
    Setting("slurm.max_workers", int, None, None),
    Setting("slurm.idle_timeout", float, None, None),
    Setting("slurm.submit_interval", float, None, None),
    Setting("slurm.worker_time", str, None, None),
    Setting("slurm.partition", str, None, "REDUN_FAST_SLURM_PARTITION"),
    Setting("slurm.account", str, None, "REDUN_FAST_SLURM_ACCOUNT"),
    Setting("slurm.qos", str, None, None),
    Setting("slurm.time", str, None, None),
    Setting("slurm.staging_dir", str, None, None),
    Setting("slurm.jobs_per_element", int, None, None),
    Setting("slurm.parallelism", int, None, None),
)
