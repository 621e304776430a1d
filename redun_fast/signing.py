"""Signed files and messages: what the scheduler and its Slurm jobs unpickle from the shared
staging folder, or receive from each other over the network, carries an HMAC-SHA256 made with
a key only this user can read (a 0600 file in the array's or run's folder), and is checked
before it is unpickled. A file or message another user made, or one that was altered, is
refused with its name, never unpickled.

    b"RFS1" + HMAC-SHA256(key, payload) (32 bytes) + payload
"""
import hashlib
import hmac
import os

from redun_fast.errors import SecurityError
from redun_fast.private import check_private, write_private

MAGIC = b"RFS1"
_DIGEST = 32


def new_key(path: str) -> bytes:
    """Make a new key in the file `path` (0600) and return it."""
    key = os.urandom(32)
    write_private(path, key)
    return key


def read_key(path: str) -> bytes:
    """The key in `path`, a file that must be this user's alone."""
    check_private(path, "signing key")
    with open(path, "rb") as key_file:
        return key_file.read()


def sign(key: bytes, payload: bytes) -> bytes:
    return MAGIC + hmac.new(key, payload, hashlib.sha256).digest() + payload


def verify(key: bytes, blob: bytes, name: str) -> bytes:
    """The payload of a signed file or message (`name` says which); SecurityError if its
    signature does not match."""
    payload = blob[len(MAGIC) + _DIGEST:]
    expected = hmac.new(key, payload, hashlib.sha256).digest()
    if not blob.startswith(MAGIC) or not hmac.compare_digest(
            blob[len(MAGIC):len(MAGIC) + _DIGEST], expected):
        raise SecurityError(
            f"{name} is not signed with this run's key (made by someone else, or altered): "
            "it is not read. If you did not put it there, someone who can write to it tried "
            "to run code as you")
    return payload


def read_signed(key: bytes, path: str) -> bytes:
    with open(path, "rb") as signed:
        return verify(key, signed.read(), path)
