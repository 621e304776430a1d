"""Task resource options (cpus, memory, time, ...) and the sbatch flags they stand for.

Checked when a task is defined, so a bad value fails at once rather than when its first job
reaches Slurm hours later; the Slurm executor turns them into flags.
"""
import re
from typing import Any, Dict, List, Tuple

# Task options the Slurm executor understands (plus `cache` and `executor`, which are the
# scheduler's); anything else on a task run by Slurm is an error that lists these.
SLURM_OPTIONS = ("cpus", "memory", "gpus", "time", "partition", "account", "qos", "constraint",
                 "sbatch_args", "retries")
_SCHEDULER_OPTIONS = ("cache", "executor")
_MEMORY_RE = re.compile(r"^\d+[KMGT]?$")
_TIME_RE = re.compile(r"^(\d+-)?\d+(:\d{1,2}){0,2}$")


def resource_flags(options: Dict[str, Any]) -> Tuple[str, ...]:
    """The sbatch flags for a task's options; a ValueError names a bad option and the fix."""
    unknown = sorted(set(options) - set(SLURM_OPTIONS) - set(_SCHEDULER_OPTIONS))
    if unknown:
        raise ValueError(f"unknown Slurm option(s) {', '.join(unknown)}: use "
                         f"{', '.join(SLURM_OPTIONS)}")
    flags: List[str] = []
    cpus = options.get("cpus")
    if cpus is not None:
        if not isinstance(cpus, int) or cpus < 1:
            raise ValueError(f"cpus={cpus!r} must be a positive integer")
        flags.append(f"--cpus-per-task={cpus}")
    memory = options.get("memory")
    if memory is not None:
        if isinstance(memory, (int, float)) and not isinstance(memory, bool) and memory > 0:
            flags.append(f"--mem={max(1, int(memory * 1024))}M")  # a number is in GiB, as in redun
        elif isinstance(memory, str) and _MEMORY_RE.match(memory):
            flags.append(f"--mem={memory}")
        else:
            raise ValueError(f"memory={memory!r} must be GiB as a number (4, 0.5) or a Slurm size "
                             "such as '4G' or '500M'")
    gpus = options.get("gpus")
    if gpus is not None:
        if not isinstance(gpus, int) or gpus < 0:
            raise ValueError(f"gpus={gpus!r} must be a non-negative integer")
        if gpus:
            flags.append(f"--gres=gpu:{gpus}")
    time = options.get("time")
    if time is not None:
        if isinstance(time, int) and not isinstance(time, bool) and time > 0:
            flags.append(f"--time={time}")  # minutes
        elif isinstance(time, str) and _TIME_RE.match(time):
            flags.append(f"--time={time}")
        else:
            raise ValueError(f"time={time!r} must be minutes (an int) or a Slurm time such as "
                             "'0:30:00' or '1-00:00:00'")
    for key, flag in (("partition", "--partition"), ("account", "--account"), ("qos", "--qos"),
                      ("constraint", "--constraint")):
        value = options.get(key)
        if value is not None:
            if not isinstance(value, str) or not value:
                raise ValueError(f"{key}={value!r} must be a non-empty string")
            flags.append(f"{flag}={value}")
    extra = options.get("sbatch_args") or ()
    if isinstance(extra, str) or not all(isinstance(arg, str) for arg in extra):
        raise ValueError(f"sbatch_args={extra!r} must be a list of strings, e.g. ['--exclusive']")
    retries = options.get("retries")
    if retries is not None and (not isinstance(retries, int) or retries < 0):
        raise ValueError(f"retries={retries!r} must be a non-negative integer")
    return tuple(flags) + tuple(extra)
