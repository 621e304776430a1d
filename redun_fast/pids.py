"""Whether a process that owns something of ours (a spill file, a staging folder, a run, a
claim) is still running, and this host's name, which owners record beside their pid."""
import socket
import time
from typing import Optional

HOST = socket.gethostname()
# A process's start time, as psutil reads it, is known to about a second (the boot time in
# /proc/stat is whole seconds).
START_SLACK = 2.0


def alive(pid: int, since: Optional[float] = None) -> bool:
    """True while process `pid` runs here; a zombie (exited, not yet reaped) is gone. `since`:
    a time.time() at which the owner was known to run (it wrote a record, renewed a lease): a
    process with its pid that started later is another one, the pid reused."""
    import psutil  # only when asked: it is not needed to run a workflow

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return since is None or process.create_time() <= since + START_SLACK
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:  # another user's process: it exists
        return True


def owner_alive(host: str, pid: int, seen: float, ttl: float) -> bool:
    """Whether an owner that recorded itself at `seen` (a time.time(): a heartbeat, a lease
    renewed) still runs: on this host, while its pid runs a process started by then; on
    another host, whose processes cannot be asked about from here, while `seen` is less than
    `ttl` seconds old."""
    if host == HOST:
        return alive(pid, since=seen)
    return time.time() - seen < ttl
