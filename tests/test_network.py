"""The authenticated scheduler <-> pilot worker connection (executors/network.py), on loopback."""
import os
import pickle
import socket
import threading

import pytest

from redun_fast.errors import SecurityError
from redun_fast.executors.network import MAGIC, Listener, connect

pytestmark = pytest.mark.timeout(30)


def _accept_in_thread(listener, **options):
    outcome = {}

    def accept():
        try:
            outcome["conn"] = listener.accept(**options)
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=accept)
    thread.start()
    return thread, outcome


def test_peers_with_the_key_exchange_messages_both_ways():
    key = os.urandom(32)
    listener = Listener(key, "127.0.0.1")
    thread, outcome = _accept_in_thread(listener, send_timeout=5)
    worker = connect(listener.address, key, send_timeout=5)
    thread.join()
    scheduler = outcome["conn"]
    big = os.urandom(3 << 20)  # larger than a socket buffer: framing holds
    worker.send_bytes(big)
    assert scheduler.recv_bytes() == big
    scheduler.send_bytes(b"batch")
    assert worker.recv_bytes() == b"batch"
    worker.close()
    with pytest.raises(EOFError):
        scheduler.recv_bytes()
    scheduler.close()
    listener.close()


def test_a_worker_with_a_wrong_key_is_refused_by_both_sides():
    listener = Listener(os.urandom(32), "127.0.0.1")
    thread, outcome = _accept_in_thread(listener)
    with pytest.raises(ConnectionError, match="closed the connection during the handshake"):
        connect(listener.address, os.urandom(32))
    thread.join()
    assert isinstance(outcome["error"], SecurityError)
    assert "does not hold this run's secret" in str(outcome["error"])
    assert "127.0.0.1" in str(outcome["error"])
    listener.close()


def _connect_to_fake_scheduler(behave):
    """connect() to a loopback server that answers one connection with `behave(peer)`."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve():
        peer, _ = server.accept()
        behave(peer)
        peer.close()

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        connect(server.getsockname()[:2], os.urandom(32))
    finally:
        thread.join()
        server.close()


def test_a_scheduler_without_the_key_sends_a_worker_nothing():
    """A process that took over the scheduler's port cannot make a worker read its batches:
    it answers the worker's challenge with a proof it could not make without the key."""
    def pretend(peer):
        peer.sendall(MAGIC + os.urandom(32))
        peer.recv(64)
        peer.sendall(os.urandom(32))

    with pytest.raises(SecurityError, match="the scheduler at 127.0.0.1:.* does not hold"):
        _connect_to_fake_scheduler(pretend)


class _Marker:
    """Writes a file when unpickled: proof that a pickle was loaded."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_pickle_sent_instead_of_the_handshake_is_never_loaded(tmp_path):
    marker = tmp_path / "unpickled"
    listener = Listener(os.urandom(32), "127.0.0.1")
    thread, outcome = _accept_in_thread(listener)
    attacker = socket.create_connection(listener.address)
    assert attacker.recv(len(MAGIC) + 32).startswith(MAGIC)
    payload = pickle.dumps(_Marker(str(marker)))
    attacker.sendall(payload + b"\0" * 64)
    thread.join()
    attacker.close()
    assert isinstance(outcome["error"], SecurityError)
    assert not marker.exists()
    listener.close()


def test_a_peer_that_connects_and_says_nothing_is_dropped_after_the_handshake_timeout():
    listener = Listener(os.urandom(32), "127.0.0.1", handshake_seconds=0.3)
    thread, outcome = _accept_in_thread(listener)
    silent = socket.create_connection(listener.address)
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert isinstance(outcome["error"], socket.timeout)
    silent.close()
    listener.close()


def test_connecting_to_something_that_is_not_a_scheduler_is_a_clear_error():
    with pytest.raises(SecurityError, match="is not a redun_fast scheduler"):
        _connect_to_fake_scheduler(
            lambda peer: peer.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" + b" " * 40))
