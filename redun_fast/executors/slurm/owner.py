"""Who owns a folder in the Slurm staging folder, and whether that scheduler still lives.

A scheduler writes `owner` (its host, its pid, and what its mode needs) into each folder it
makes or adopts, and renews the file's modification time while it runs: a lease. A scheduler on
this host is alive while its pid is (and was, when the lease was last renewed); one on another
host, whose pid cannot be asked about from here, while its lease is younger than LEASE_SECONDS
(pids.owner_alive). Another scheduler leaves a live owner's folders alone and may take over, or
remove, those of a dead one.
"""
import os
import time
from typing import Iterable, List, Optional, Tuple

from redun_fast import pids
from redun_fast.pids import HOST

# Long enough for clocks that differ between hosts sharing the filesystem (the server may set
# the time of a renewal), and for a scheduler whose thread was busy for a while.
LEASE_SECONDS = 300.0
RENEW_SECONDS = 30.0


def claim(folder: str, *fields: str) -> None:
    """Make this scheduler the folder's owner (and start its lease)."""
    path = os.path.join(folder, "owner")
    with open(path + ".tmp", "w") as out:
        out.write(" ".join((HOST, str(os.getpid()), *fields)) + "\n")
    os.replace(path + ".tmp", path)


def read(folder: str) -> Optional[Tuple[str, int, List[str], float]]:
    """(host, pid, the other fields, the lease's last renewal), or None without a readable
    owner file (not a folder of ours)."""
    path = os.path.join(folder, "owner")
    try:
        with open(path) as owner:
            host, pid, *fields = owner.read().split()
        return host, int(pid), fields, os.stat(path).st_mtime
    except (OSError, ValueError):
        return None


def owner_alive(host: str, pid: int, renewed: float) -> bool:
    """Whether the owner read from a folder still runs (see the module docstring)."""
    return pids.owner_alive(host, pid, renewed, LEASE_SECONDS)


class Lease:
    """Renews the leases of one scheduler's folders, at most every RENEW_SECONDS."""

    def __init__(self) -> None:
        self._renewed = time.monotonic()

    def renew(self, now: float, folders: Iterable[str]) -> None:
        """Called often (each poll, each heartbeat); touches the owner files now and then."""
        if now - self._renewed < RENEW_SECONDS:
            return
        self._renewed = now
        for folder in folders:
            try:
                os.utime(os.path.join(folder, "owner"))
            except OSError:
                pass  # removed meanwhile: its work is done
