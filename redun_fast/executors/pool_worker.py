"""A process-pool worker: receives batches of jobs, runs them, sends back batches of results.

Messages from the scheduler: ("run", batch_id, definitions, jobs), as protocol.py describes
them (definitions and jobs pickled inside), or ("stop",). Replies: the results message of
protocol.py, a refusal of a batch whose jobs cannot be unpickled here, and ("stdout" |
"stderr", text): what tasks print is forwarded line by line, so it shows where the scheduler's own
output goes (a terminal, a notebook cell, a log file). A reader thread drains the pipe so the
scheduler never blocks sending while we send results.
"""
import io
import os
import pickle
import queue
import signal
import sys
import threading
from typing import Any, Callable, Dict, List

from redun_fast.executors.protocol import load_definitions, refusal, run_and_encode
from redun_fast.executors.transport import receive_message, send_message
from redun_fast.task import require_exact_tasks


class _Forward(io.TextIOBase):
    """A stdout/stderr that sends each line to the scheduler."""

    def __init__(self, send: Callable[[bytes], None], stream: str) -> None:
        self._send = send
        self._stream = stream
        self._buffer = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._buffer += text
        if "\n" in self._buffer:
            lines, _, self._buffer = self._buffer.rpartition("\n")
            self._send(pickle.dumps((self._stream, lines + "\n")))
        return len(text)

    def flush(self) -> None:
        if self._buffer:
            text, self._buffer = self._buffer, ""
            self._send(pickle.dumps((self._stream, text)))


def _read_messages(conn: Any, inbox: "queue.SimpleQueue") -> None:
    try:
        while True:
            inbox.put(receive_message(conn))
    except (EOFError, OSError):
        # The scheduler is gone (killed: a pool that stops says "stop" first), so no result
        # can reach it: leave now, even in the middle of a job.
        os._exit(0)


def worker_main(conn: Any, sys_path: List[str], spill_prefix: str) -> None:
    """The worker process's entry point; its large messages spill to files named with
    `spill_prefix` (its pool's, see transport.py)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the scheduler stops us on Ctrl-C
    require_exact_tasks()  # tasks passed as values: the code the scheduler hashed, or an error
    sys.path[:] = sys_path  # import user modules as the scheduler does
    inbox: "queue.SimpleQueue" = queue.SimpleQueue()
    threading.Thread(target=_read_messages, args=(conn, inbox), daemon=True).start()
    send_lock = threading.Lock()

    def send(data: bytes) -> None:
        with send_lock:  # tasks may print from their own threads
            send_message(conn, data, spill_prefix)

    spill_prefix = f"{spill_prefix}{os.getpid()}-"  # so that the pool frees them if we die
    sys.stdout = _Forward(send, "stdout")
    sys.stderr = _Forward(send, "stderr")
    functions: Dict[str, Callable] = {}
    names: Dict[str, str] = {}
    while True:
        message = inbox.get()
        if message is None:
            return
        kind, *body = pickle.loads(message)
        if kind == "stop":
            return
        batch_id, definitions, jobs = body
        load_definitions(pickle.loads(definitions), functions, names)
        try:
            jobs = pickle.loads(jobs)
        except Exception as error:  # an argument this process cannot load
            send(refusal(batch_id, error))
            continue
        data = run_and_encode(batch_id, functions, names, jobs)
        sys.stdout.flush()
        sys.stderr.flush()
        send(data)
