"""The task options the Slurm executor reads (cpus, memory, time, ...), their checks, and the
sbatch flags they stand for.

The checks run when a task is defined (they are registered with the task options, see
executors/__init__.py), so a bad value fails at once rather than when its first job reaches
Slurm hours later; `sbatch_flags` turns checked options into flags.
"""
import re
from typing import Any, Callable, Dict, Optional, Tuple

_MEMORY_RE = re.compile(r"^\d+[KMGT]?$")
_TIME_RE = re.compile(r"^(\d+-)?\d+(:\d{1,2}){0,2}$")


def _count(name: str, minimum: int, what: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if value is None:  # unset, as before
            return
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ValueError(f"{name}={value!r} must be a {what} integer")

    return check


def _memory(value: Any) -> None:
    if value is None:
        return
    number = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
    if not number and not (isinstance(value, str) and _MEMORY_RE.match(value)):
        raise ValueError(f"memory={value!r} must be GiB as a number (4, 0.5) or a Slurm size "
                         "such as '4G' or '500M'")


def _time(value: Any) -> None:
    if value is None:
        return
    minutes = isinstance(value, int) and not isinstance(value, bool) and value > 0
    if not minutes and not (isinstance(value, str) and _TIME_RE.match(value)):
        raise ValueError(f"time={value!r} must be minutes (an int) or a Slurm time such as "
                         "'0:30:00' or '1-00:00:00'")


def _name(name: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if value is not None and (not isinstance(value, str) or not value):
            raise ValueError(f"{name}={value!r} must be a non-empty string")

    return check


def _sbatch_args(value: Any) -> None:
    if isinstance(value, str) or not all(isinstance(arg, str) for arg in value or ()):
        raise ValueError(f"sbatch_args={value!r} must be a list of strings, e.g. ['--exclusive']")


# name -> (check, help): every option a task run by Slurm may take, besides the scheduler's.
SLURM_TASK_OPTIONS: Dict[str, Tuple[Callable[[Any], None], str]] = {
    "cpus": (_count("cpus", 1, "positive"), "--cpus-per-task"),
    "memory": (_memory, "--mem: GiB as a number, or '500M', '8G'"),
    "gpus": (_count("gpus", 0, "non-negative"), "--gres=gpu:N"),
    "time": (_time, "--time: minutes, or 'HH:MM:SS', 'D-HH:MM:SS'"),
    "partition": (_name("partition"), "--partition"),
    "account": (_name("account"), "--account"),
    "qos": (_name("qos"), "--qos"),
    "constraint": (_name("constraint"), "--constraint"),
    "sbatch_args": (_sbatch_args, "more sbatch flags, e.g. ['--exclusive']"),
    "retries": (_count("retries", 0, "non-negative"),
                "resubmissions of jobs whose array element failed"),
}
SLURM_OPTIONS = tuple(SLURM_TASK_OPTIONS)


def check_slurm_options(options: Dict[str, Any]) -> None:
    """Check the Slurm options among `options` (a ValueError names the bad one)."""
    for name, value in options.items():
        if name in SLURM_TASK_OPTIONS:
            SLURM_TASK_OPTIONS[name][0](value)


def sbatch_flags(options: Dict[str, Any]) -> Tuple[str, ...]:
    """The sbatch flags of a task's options (checked: see check_slurm_options); options that
    are not Slurm's (cache, nout, limits, ...) are not Slurm's business."""
    check_slurm_options(options)
    flags = []
    cpus = options.get("cpus")
    if cpus is not None:
        flags.append(f"--cpus-per-task={cpus}")
    memory = options.get("memory")
    if isinstance(memory, str):
        flags.append(f"--mem={memory}")
    elif memory is not None:
        flags.append(f"--mem={max(1, int(memory * 1024))}M")  # a number is in GiB, as in redun
    if options.get("gpus"):
        flags.append(f"--gres=gpu:{options['gpus']}")
    if options.get("time") is not None:
        flags.append(f"--time={options['time']}")  # minutes, or a Slurm time
    for key in ("partition", "account", "qos", "constraint"):
        if options.get(key) is not None:
            flags.append(f"--{key}={options[key]}")
    return tuple(flags) + tuple(options.get("sbatch_args") or ())


def memory_bytes(value: Any) -> Optional[int]:
    """A checked `memory` option in bytes: GiB as a number, or a Slurm size ("500M", "4G";
    megabytes without a unit, as sbatch reads it); None when unset."""
    if value is None:
        return None
    if not isinstance(value, str):
        return int(value * 2**30)
    unit = value[-1] if value[-1] in "KMGT" else "M"
    return int(value.rstrip("KMGT")) * 2 ** (10 * "KMGT".index(unit) + 10)


def requested_resources(options: Dict[str, Any]) -> Dict[str, Any]:
    """What a task's (checked) options ask of Slurm, in numbers a report can compare with
    what its jobs used: cpus, gpus, memory (bytes), time (seconds); unset ones left out."""
    found = {"cpus": options.get("cpus"), "gpus": options.get("gpus") or None,
             "memory": memory_bytes(options.get("memory")),
             "time": time_seconds(options.get("time"))}
    return {key: value for key, value in found.items() if value is not None}


def time_seconds(value: Any) -> Optional[int]:
    """A checked `time` option in seconds: minutes as an int, or a Slurm time ("MM",
    "MM:SS", "HH:MM:SS", "D-HH", "D-HH:MM", "D-HH:MM:SS"); None when unset."""
    if value is None:
        return None
    if isinstance(value, int):
        return value * 60
    days, _, rest = value.rpartition("-")
    parts = [int(part) for part in rest.split(":")]
    if days or len(parts) == 3:  # hours first
        hours, minutes, seconds = (parts + [0, 0])[:3]
    else:  # minutes first, as sbatch reads "30" and "30:00"
        hours, minutes, seconds = 0, parts[0], (parts + [0])[1]
    return ((int(days or 0) * 24 + hours) * 60 + minutes) * 60 + seconds
