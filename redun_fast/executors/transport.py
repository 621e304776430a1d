"""Messages between the scheduler and its workers: pickles on a pipe, large ones through a file.

A message of LARGE bytes or more is written to a file in /dev/shm (shared memory on Linux)
and only its path crosses the pipe: measured here, 64 MiB moves about 1.7x faster that way,
and a big result never blocks the pipe. Pickles start with b"\\x80", so b"F" marks a path.

Spill files are RAM: each is named `redun_fast-<scheduler pid>-<pool>-...` (a worker adds
`<its pid>-`), so a pool removes what no one will read when it stops or a worker dies, and the
next pool removes those of a scheduler that was killed (its pid is gone).

Between the scheduler and a Slurm pilot (with the run's key), every message and every spill
file is signed and checked before it is handed on to be unpickled (signing.py).
"""
import os
import re
import tempfile
from typing import Any, Optional

from redun_fast.pids import alive
from redun_fast.signing import sign, verify

LARGE = 8 << 20
SPILL_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
_SPILL_RE = re.compile(r"^redun_fast-(\d+)-([0-9a-f]+)-")


def spill_prefix(owner: int, pool: str) -> str:
    return f"redun_fast-{owner}-{pool}-"


def send_message(conn: Any, data: bytes, prefix: str, directory: str = SPILL_DIR,
                 key: Optional[bytes] = None) -> Optional[str]:
    """Send `data`; the path of the spill file it went through, if it was large. A pilot on
    another node spills to a `directory` both sides see (its run's staging folder) and signs
    the message and the file with the run's `key` (signing.py): others may reach both."""
    path = None
    if len(data) >= LARGE:
        fd, path = tempfile.mkstemp(prefix=prefix, dir=directory)
        with os.fdopen(fd, "wb") as spill:
            spill.write(data if key is None else sign(key, data))
        data = b"F" + os.fsencode(path)
    conn.send_bytes(data if key is None else sign(key, data))
    return path


def receive_message(conn: Any, key: Optional[bytes] = None, peer: str = "its peer") -> bytes:
    """The next message; with a `key`, it (and its spill file) must be signed with it: if not,
    SecurityError naming it, and nothing is returned to be unpickled."""
    data = conn.recv_bytes()
    if key is not None:
        data = verify(key, data, f"a message from {peer}")
    if data[:1] != b"F":
        return data
    path = os.fsdecode(data[1:])
    try:
        with open(path, "rb") as spill:
            content = spill.read()
    finally:
        os.unlink(path)
    return content if key is None else verify(key, content, path)


def remove_spills(prefix: str) -> None:
    """Remove the spill files whose names start with `prefix` (a pool's, or one worker's)."""
    for name in _spill_files():
        if name.startswith(prefix):
            discard(os.path.join(SPILL_DIR, name))


def remove_orphan_spills() -> None:
    """Remove the spill files of schedulers that are gone (killed, so they could not)."""
    for name in _spill_files():
        owner = int(_SPILL_RE.match(name).group(1))
        if not alive(owner):
            discard(os.path.join(SPILL_DIR, name))


def _spill_files() -> list:
    try:
        return [name for name in os.listdir(SPILL_DIR) if _SPILL_RE.match(name)]
    except OSError:
        return []


def discard(path: str) -> None:
    """Remove a spill file if it is still there."""
    try:
        os.unlink(path)
    except OSError:  # read (and removed) by its receiver meanwhile, or not ours
        pass
