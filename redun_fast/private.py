"""Folders only their user can write: the cache and the Slurm staging folder hold pickles, and
unpickling runs code, so a file another user could write must never be read.

New folders are made 0700 and files 0600. An existing folder owned by another user, or that
its group or others may write, is refused, unless it is shared on purpose (`shared=True`:
then everyone who can write it can run code as everyone who reads it; see the README).
"""
import os
import pwd
import stat

from redun_fast.errors import SecurityError


def make_private_dir(path: str, what: str, shared: bool = False) -> None:
    """Create `path` (0700) if needed, then check that it is ours alone (see module doc)."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    check_private(path, what, shared)


def check_private(path: str, what: str, shared: bool = False) -> None:
    if shared:
        return
    info = os.stat(path)
    if info.st_uid != os.getuid():
        raise SecurityError(
            f"the {what} {path} belongs to {_user(info.st_uid)}, not to you "
            f"({_user(os.getuid())}): its files are pickles, and reading a pickle another user "
            f"wrote runs their code as you. Use a {what} of your own, or, if it is shared on "
            "purpose, say so (shared=True; the README's Security section says what that risks)")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise SecurityError(
            f"the {what} {path} can be written by its group or by others (mode "
            f"{stat.S_IMODE(info.st_mode):o}): a pickle another user puts there would run as "
            f"you when read. Make it yours alone (chmod go-w {path}), or, if it is shared on "
            "purpose, say so (shared=True; the README's Security section says what that risks)")


def write_private(path: str, data: bytes) -> None:
    """Write a new file that only this user can read (0600), replacing none."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _user(uid: int) -> str:
    try:
        return f"user {pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"
