"""Authenticated connections between the scheduler and pilot workers on other nodes (issue 16).

Both sides hold a per-run secret (a 0600 file in the staging folder). Before a byte of a
message is read, each side proves it holds the secret, with an HMAC-SHA256 challenge and
response in both directions: a worker that does not know it is refused before anything it
sent is unpickled, and a worker never takes batches (pickles: code) from a process that is
not its scheduler, even one that took over the scheduler's port.

    scheduler -> worker: MAGIC + its nonce
    worker -> scheduler: its nonce + HMAC(key, b"worker" + scheduler nonce + worker nonce)
    scheduler -> worker: HMAC(key, b"scheduler" + worker nonce + scheduler nonce)

Afterwards messages are multiprocessing.connection's length-prefixed frames on the socket.
The handshake is bounded by a timeout, so a peer that connects and says nothing holds no one.
"""
import hashlib
import hmac
import os
import socket
from multiprocessing.connection import Connection
from typing import Optional, Tuple

from redun_fast.errors import SecurityError

MAGIC = b"RFW1"
_NONCE = 32
_DIGEST = 32
HANDSHAKE_SECONDS = 10.0


def _proof(key: bytes, role: bytes, theirs: bytes, ours: bytes) -> bytes:
    return hmac.new(key, role + theirs + ours, hashlib.sha256).digest()


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the peer closed the connection during the handshake")
        data += chunk
    return data


def _refused(peer: str) -> SecurityError:
    return SecurityError(
        f"{peer} does not hold this run's secret: the connection is closed and nothing it sent "
        "is read. A worker of another run (or a stale one) connected, or someone tried to send "
        "code to run as you")


def _to_connection(sock: socket.socket, send_timeout: Optional[float],
                   receive_timeout: Optional[float]) -> Connection:
    """The socket as a framed Connection. A send that cannot finish in `send_timeout` seconds
    (the peer's node is cut off) fails instead of blocking the sender; so does a receive that
    waits `receive_timeout` seconds for a byte (OSError both: the peer counts as gone)."""
    sock.settimeout(None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, seconds in ((socket.SO_SNDTIMEO, send_timeout),
                            (socket.SO_RCVTIMEO, receive_timeout)):
        if seconds:
            whole = int(seconds)
            micros = int((seconds - whole) * 1e6)
            sock.setsockopt(socket.SOL_SOCKET, option,
                            whole.to_bytes(8, "little") + micros.to_bytes(8, "little"))
    return Connection(sock.detach())


class Listener:
    """The scheduler's end: listens on (host, port), port 0 letting the OS pick one."""

    def __init__(self, key: bytes, host: str, port: int = 0,
                 handshake_seconds: float = HANDSHAKE_SECONDS) -> None:
        self.key = key
        self.handshake_seconds = handshake_seconds
        self._sock = socket.create_server((host, port), backlog=128)
        self.address: Tuple[str, int] = self._sock.getsockname()[:2]

    def fileno(self) -> int:  # for select/wait: readable when a worker is connecting
        return self._sock.fileno()

    def accept(self, send_timeout: Optional[float] = None,
               receive_timeout: Optional[float] = None) -> Connection:
        """The next worker that proves it holds the key. SecurityError for one that does not,
        OSError (socket.timeout among them) for one that fails or stalls the handshake."""
        sock, peer = self._sock.accept()
        try:
            sock.settimeout(self.handshake_seconds)
            ours = os.urandom(_NONCE)
            sock.sendall(MAGIC + ours)
            answer = _read_exactly(sock, _NONCE + _DIGEST)
            theirs, proof = answer[:_NONCE], answer[_NONCE:]
            if not hmac.compare_digest(proof, _proof(self.key, b"worker", ours, theirs)):
                raise _refused(f"a worker connecting from {peer[0]}:{peer[1]}")
            sock.sendall(_proof(self.key, b"scheduler", theirs, ours))
            return _to_connection(sock, send_timeout, receive_timeout)
        except BaseException:
            sock.close()
            raise

    def close(self) -> None:
        """Stop listening; an `accept` blocked in another thread raises OSError."""
        try:
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked accept(); close() does not
        except OSError:
            pass
        self._sock.close()


def connect(address: Tuple[str, int], key: bytes, send_timeout: Optional[float] = None,
            receive_timeout: Optional[float] = None,
            handshake_seconds: float = HANDSHAKE_SECONDS) -> Connection:
    """A worker's end: a Connection to the scheduler at `address`, once each side has proved
    it holds `key` (SecurityError if the scheduler there does not)."""
    sock = socket.create_connection(address, timeout=handshake_seconds)
    try:
        hello = _read_exactly(sock, len(MAGIC) + _NONCE)
        if not hello.startswith(MAGIC):
            raise SecurityError(f"{address[0]}:{address[1]} is not a redun_fast scheduler "
                                "(it did not start the handshake)")
        theirs = hello[len(MAGIC):]
        ours = os.urandom(_NONCE)
        sock.sendall(ours + _proof(key, b"worker", theirs, ours))
        proof = _read_exactly(sock, _DIGEST)
        if not hmac.compare_digest(proof, _proof(key, b"scheduler", ours, theirs)):
            raise _refused(f"the scheduler at {address[0]}:{address[1]}")
        return _to_connection(sock, send_timeout, receive_timeout)
    except BaseException:
        sock.close()
        raise
