"""A process-pool worker: receives batches of jobs, runs them, sends back batches of results.

Messages from the scheduler: ("run", batch_id, definitions, jobs) with definitions
[(task_hash, fullname, how, what)] for tasks this worker has not seen, and jobs [(key, task_hash, args,
kwargs)]; or ("stop",). Replies: ("results", batch_id, seconds, [(key, ok, value_or_error,
traceback)]) and ("stdout" | "stderr", text): what tasks print is forwarded line by line, so it
shows where the scheduler's own output goes (a terminal, a notebook cell, a log file).
A reader thread drains the pipe so the scheduler never blocks sending while we send results.
"""
import io
import pickle
import queue
import signal
import sys
import threading
import time
import traceback
from typing import Any, Callable, Dict, List

from redun_fast.cache.serialize import SerializationError
from redun_fast.executors.shipping import dumps_result, load_definition
from redun_fast.executors.transport import receive_message, send_message


class RemoteError(Exception):
    """Stands for an exception that could not be pickled back to the scheduler."""


def run_batch(functions: Dict[str, Callable], jobs: List[tuple]) -> List[tuple]:
    results = []
    for key, task_hash, args, kwargs in jobs:
        try:
            results.append((key, True, functions[task_hash](*args, **kwargs), None))
        except Exception as error:
            results.append((key, False, error, traceback.format_exc()))
    return results


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


def encode_results(batch_id: int, seconds: float, results: List[tuple],
                    names: Dict[int, str]) -> bytes:
    try:
        return dumps_result(("results", batch_id, seconds, results))
    except Exception:
        pass
    # Find what cannot be pickled and replace it with an error that says so.
    safe = []
    for key, ok, value, tb in results:
        try:
            dumps_result(value)
            safe.append((key, ok, value, tb))
        except Exception as error:
            kind = f"{type(value).__module__}.{type(value).__qualname__}"
            if ok:
                problem = SerializationError(
                    f"result of {names[key]} is not picklable: {kind} ({error}); return plain data")
            else:
                problem = RemoteError(f"{kind}: {value}")
            safe.append((key, False, problem, tb))
    return dumps_result(("results", batch_id, seconds, safe))


def _read_messages(conn: Any, inbox: "queue.SimpleQueue") -> None:
    try:
        while True:
            inbox.put(receive_message(conn))
    except (EOFError, OSError):
        inbox.put(None)


def worker_main(conn: Any, sys_path: List[str]) -> None:
    """The worker process's entry point."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the scheduler stops us on Ctrl-C
    sys.path[:] = sys_path  # import user modules as the scheduler does
    inbox: "queue.SimpleQueue" = queue.SimpleQueue()
    threading.Thread(target=_read_messages, args=(conn, inbox), daemon=True).start()
    send_lock = threading.Lock()

    def send(data: bytes) -> None:
        with send_lock:  # tasks may print from their own threads
            send_message(conn, data)

    sys.stdout = _Forward(send, "stdout")
    sys.stderr = _Forward(send, "stderr")
    functions: Dict[str, Callable] = {}
    fullnames: Dict[str, str] = {}
    while True:
        message = inbox.get()
        if message is None:
            return
        kind, *body = pickle.loads(message)
        if kind == "stop":
            return
        batch_id, definitions, jobs = body
        for task_hash, fullname, how, what in definitions:
            fullnames[task_hash] = fullname
            try:
                functions[task_hash] = load_definition(how, what)
            except Exception as error:
                functions[task_hash] = _raiser(error, how, what)
        start = time.perf_counter()
        results = run_batch(functions, jobs)
        seconds = time.perf_counter() - start
        sys.stdout.flush()
        sys.stderr.flush()
        names = {key: fullnames[task_hash] for key, task_hash, _, _ in jobs}
        send(encode_results(batch_id, seconds, results, names))


def _raiser(error: Exception, how: str, what: Any) -> Callable:
    message = (f"cannot load the task in the worker process ({how} {what!r}): "
               f"{type(error).__name__}: {error}")

    def fail(*args: Any, **kwargs: Any) -> None:
        raise ImportError(message)

    return fail
