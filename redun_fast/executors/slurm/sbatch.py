"""Slurm's side of things: the sbatch script, the few commands we run, and reading their output.

Login-node friendly: one `sbatch` per array, one `squeue` for all arrays per poll, and
`scontrol` only to explain an element that failed. `calls` counts them, for benchmarks.
"""
import re
import shlex
import subprocess
import sys
from typing import Dict, Iterable, List, Optional

from redun_fast.errors import SlurmError

FAILED_STATES = {"FAILED", "TIMEOUT", "CANCELLED", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED",
                 "BOOT_FAIL", "DEADLINE", "REVOKED"}


def render_script(folder: str, elements: int, flags: Iterable[str], parallelism: Optional[int],
                  name: str) -> str:
    """The sbatch script of one array: element i runs the worker on chunk i of `folder`."""
    limit = f"%{parallelism}" if parallelism else ""
    return _script(folder, name, f"0-{elements - 1}{limit}", "log_%a.out", flags,
                   f"redun_fast.executors.slurm.element {shlex.quote(folder)} "
                   '"$SLURM_ARRAY_TASK_ID"')


def render_pilot_script(folder: str, elements: int, flags: Iterable[str], name: str,
                        cpus_per_job: int, drain_seconds: int) -> str:
    """The sbatch script of `elements` pilot workers of one resource group (pilot.py).

    `--signal=B:USR1@N` warns the pilot N seconds before its time limit, so it hands back
    what it has not started; B: sends it to the batch step, which `exec` makes the pilot.
    """
    return _script(folder, name, f"0-{elements - 1}", "log_%A_%a.out",
                   [*flags, f"--signal=B:USR1@{drain_seconds}"],
                   f"redun_fast.executors.slurm.pilot {shlex.quote(folder)} {cpus_per_job}")


def _script(folder: str, name: str, array: str, log: str, flags: Iterable[str],
            module_and_args: str) -> str:
    if '"' in folder or "\n" in folder:
        raise ValueError(f"the Slurm staging folder {folder!r} holds a double quote or a "
                         "newline, which an #SBATCH line cannot carry; choose another "
                         "staging_dir (or cache_dir)")
    # Quoted for spaces; "%" doubled, else Slurm reads it as a pattern such as %a.
    output = folder.replace("%", "%%") + "/" + log
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name={name}",
        f"#SBATCH --array={array}",
        f'#SBATCH --output="{output}"',
        *(f"#SBATCH {flag}" for flag in flags),
        # The scheduler's own interpreter, by absolute path: same environment, no shim cost.
        f"exec {shlex.quote(sys.executable)} -m {module_and_args}",
        "",
    ]
    return "\n".join(lines)


calls: Dict[str, int] = {}  # command -> times run by this process


def _run(command: List[str]) -> subprocess.CompletedProcess:
    calls[command[0]] = calls.get(command[0], 0) + 1
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=120)
    except FileNotFoundError as error:
        raise SlurmError(f"{command[0]} is not installed or not on PATH: the Slurm executor needs "
                         "the Slurm client commands (sbatch, squeue, scancel)") from error


def sbatch(script_path: str) -> str:
    """Submit a script; returns the job id. Slurm's own error message is kept verbatim."""
    out = _run(["sbatch", "--parsable", script_path])
    if out.returncode != 0:
        raise SlurmError(f"sbatch refused the job: {out.stderr.strip() or out.stdout.strip()}")
    return out.stdout.strip().split(";")[0]


def squeue(job_ids: Iterable[str]) -> Optional[Dict[str, str]]:
    """State of every element of these arrays ("123_4" -> "RUNNING"), in one call.

    None when squeue itself failed (the controller is unreachable): then nothing is judged.
    Pending elements that have not started yet appear as one "123_[5-9]" entry.
    """
    ids = ",".join(job_ids)
    if not ids:
        return {}
    out = _run(["squeue", "-h", "-t", "all", "-j", ids, "-o", "%i %T"])
    if out.returncode != 0:
        if "Invalid job id" in out.stderr:  # all of them left the queue long ago
            return {}
        return None
    return parse_squeue(out.stdout)


def parse_squeue(text: str) -> Dict[str, str]:
    """`squeue -h -o '%i %T'` lines ("123_4 RUNNING", "123_[5-9%2] PENDING") as a dict."""
    states = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            states[parts[0]] = parts[1]
    return states


def element_state(states: Dict[str, str], job_id: str, index: int) -> Optional[str]:
    """The state of element `index` of array `job_id` in squeue's answer, or None if absent."""
    state = states.get(f"{job_id}_{index}")
    if state is not None:
        return state
    for key, value in states.items():  # "123_[5-9%2]" or "123_[1,3,5-7]": still pending
        if key.startswith(f"{job_id}_[") and _in_ranges(index, key[len(job_id) + 2:-1]):
            return value
    return None


def _in_ranges(index: int, ranges: str) -> bool:
    for part in ranges.split("%")[0].split(","):
        low, _, high = part.partition("-")
        if low.isdigit() and int(low) <= index <= int(high or low):
            return True
    return False


def explain(job_id: str, index: int) -> str:
    """What Slurm says about one element: state, reason and exit code, if it still knows."""
    out = _run(["scontrol", "show", "job", f"{job_id}_{index}"])
    return describe_job(out.stdout if out.returncode == 0 else "")


def describe_job(scontrol_text: str) -> str:
    """State, reason and exit code from `scontrol show job` output ("" if it said nothing)."""
    fields = dict(re.findall(r"(\w+)=(\S+)", scontrol_text))
    if not fields:
        return "Slurm no longer knows it"
    return (f"JobState={fields.get('JobState')} Reason={fields.get('Reason')} "
            f"ExitCode={fields.get('ExitCode')}")


def scancel(job_ids: Iterable[str]) -> None:
    ids = list(job_ids)
    if ids:
        _run(["scancel", *ids])


def tail(path: str, lines: int = 5) -> str:
    """The last lines of an element's log, on one line, for an error message."""
    try:
        with open(path, errors="replace") as log:
            text = log.read().strip().splitlines()[-lines:]
    except OSError:
        return "(no log)"
    return " | ".join(text) or "(empty)"
