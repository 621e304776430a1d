"""A worker's side of the worker protocol, shared by the pool's workers and Slurm's pilots:
receive batches of jobs, run them one batch at a time, send back batches of results.

Messages from the scheduler: ("run", batch_id, definitions, jobs), as protocol.py describes
them (definitions and jobs pickled inside), ("stop",), and PING frames that only say it is
alive. Replies: the results message of protocol.py, a refusal of a batch whose jobs cannot be
unpickled here, ("stdout" | "stderr", text): what tasks print, forwarded line by line so it
shows where the scheduler's own output goes; and from pilots, ("leaving", why) and PINGs. A
reader thread drains the connection, so the scheduler never blocks sending while we send
results; when the connection ends (the scheduler is gone, or silent past a pilot's receive
timeout) no result can reach it, so the process leaves at once, even in the middle of a job.
"""
import io
import os
import pickle
import queue
import sys
import threading
from typing import Any, Callable, Dict, Optional

from redun_fast.errors import SecurityError
from redun_fast.executors.protocol import load_definitions, refusal, run_and_encode
from redun_fast.executors.transport import SPILL_DIR, receive_message, send_message

PING = b"P"  # not a pickle (b"\x80...") nor a spilled message (b"F..."): see transport.py


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


class WorkerLoop:
    """One worker's connection to its scheduler, and the loop that runs what it sends.

    Large messages spill to files named with `spill_prefix` in `spill_dir` (transport.py),
    signed with `key` if there is one (a pilot's, in the shared staging folder).
    """

    def __init__(self, conn: Any, spill_prefix: str, spill_dir: str = SPILL_DIR,
                 key: Optional[bytes] = None) -> None:
        self.conn = conn
        self.spill_prefix = spill_prefix
        self.spill_dir = spill_dir
        self.key = key
        self.draining = False  # set (with `drain`) to leave after the batch running now
        self._inbox: "queue.SimpleQueue" = queue.SimpleQueue()
        self._send_lock = threading.Lock()

    def send(self, data: bytes) -> None:
        with self._send_lock:  # tasks may print from their own threads; pilots ping from one
            send_message(self.conn, data, self.spill_prefix, self.spill_dir, self.key)

    def drain(self) -> None:
        """Leave once the batch running now is done, starting no other (safe in a signal
        handler)."""
        self.draining = True
        self._inbox.put(None)

    def serve(self, idle_timeout: Optional[float] = None) -> str:
        """Run batches until told to stop; why it ended: "stop", "idle" (no batch came for
        `idle_timeout` seconds) or "drain". What tasks print goes to the scheduler meanwhile."""
        threading.Thread(target=self._read, daemon=True, name="redun_fast inbox").start()
        saved = sys.stdout, sys.stderr
        sys.stdout = _Forward(self.send, "stdout")
        sys.stderr = _Forward(self.send, "stderr")
        try:
            return self._serve(idle_timeout)
        finally:
            sys.stdout, sys.stderr = saved

    def _serve(self, idle_timeout: Optional[float]) -> str:
        functions: Dict[str, Callable] = {}
        names: Dict[str, str] = {}
        while True:
            try:
                message = self._inbox.get(timeout=idle_timeout)
            except queue.Empty:
                return "idle"
            if self.draining:
                return "drain"
            kind, *body = pickle.loads(message)
            if kind == "stop":
                return "stop"
            batch_id, definitions, jobs = body
            load_definitions(pickle.loads(definitions), functions, names)
            try:
                jobs = pickle.loads(jobs)
            except Exception as error:  # an argument this process cannot load
                self.send(refusal(batch_id, error))
                continue
            data = run_and_encode(batch_id, functions, names, jobs)
            sys.stdout.flush()
            sys.stderr.flush()
            self.send(data)

    def _read(self) -> None:
        try:
            while True:
                data = receive_message(self.conn, self.key, "the scheduler")
                if data != PING:
                    self._inbox.put(data)
        except (EOFError, OSError):
            os._exit(0)  # see the module docstring
        except SecurityError as error:  # a forged spill file: nothing more from there is safe
            print(f"redun_fast worker: {error}", file=sys.__stderr__, flush=True)
            os._exit(3)
