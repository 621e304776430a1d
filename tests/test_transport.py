"""Messages between the scheduler and its workers (executors/transport.py): large ones go
through a spill file. Between the scheduler and a pilot, messages and spill files (in the
shared staging folder) are signed with the run's key, so one altered, planted or injected is
refused, never handed on to be unpickled."""
import multiprocessing
import os
import pickle

import pytest

from redun_fast.errors import SecurityError
from redun_fast.executors.transport import LARGE, receive_message, send_message

KEY = b"k" * 32


def large_message():
    return pickle.dumps(("results", 1, 0.1, b"x" * LARGE), protocol=5)


def test_a_large_message_goes_through_a_signed_file_and_comes_back_whole(tmp_path):
    sender, receiver = multiprocessing.Pipe()
    data = large_message()
    path = send_message(sender, data, "from-1_0-0-", str(tmp_path), KEY)
    assert path is not None and os.path.dirname(path) == str(tmp_path)
    assert open(path, "rb").read() != data  # signed, not the bare pickle
    assert receive_message(receiver, KEY) == data
    assert not os.path.exists(path)  # read once, then removed


def test_a_spill_file_altered_before_it_is_read_is_refused(tmp_path):
    sender, receiver = multiprocessing.Pipe()
    path = send_message(sender, large_message(), "from-1_0-0-", str(tmp_path), KEY)
    with open(path, "wb") as planted:  # someone who can write the staging folder
        planted.write(pickle.dumps(("results", 1, 0.1, b"forged" * LARGE), protocol=5))
    with pytest.raises(SecurityError, match=f"{path} is not signed with this run's key"):
        receive_message(receiver, KEY)
    assert not os.path.exists(path)


def test_the_pools_spill_files_are_not_signed(tmp_path):
    # Pool workers spill to /dev/shm with a private, random name (O_EXCL) and talk over pipes.
    sender, receiver = multiprocessing.Pipe()
    data = large_message()
    path = send_message(sender, data, "redun_fast-1-ab-", str(tmp_path))
    assert open(path, "rb").read() == data and receive_message(receiver) == data


def test_an_unsigned_message_on_a_pilots_connection_is_refused():
    # Someone on the network injects a pickle into a pilot's connection.
    sender, receiver = multiprocessing.Pipe()
    sender.send_bytes(pickle.dumps(("results", 1, 0.1, b"")))
    with pytest.raises(SecurityError, match="a message from node7 is not signed with this run"):
        receive_message(receiver, KEY, "node7")
    send_message(sender, b"small", "from-1_0-0-", key=KEY)
    assert receive_message(receiver, KEY, "node7") == b"small"
