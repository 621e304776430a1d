"""A pool of worker processes fed with batches of jobs, sized to about a couple of milliseconds.

One pool thread owns the workers: it sends batches, reads batches of results, and watches for
workers that die; what a batch holds and what a death costs is the Feeder's (feeder.py), what
travels is the protocol's (protocol.py). A dead worker is replaced. Functions travel once per
task per worker (see shipping.py); workers start from a forkserver, safe with the scheduler's
threads.
"""
import contextlib
import importlib.machinery
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import uuid
from multiprocessing.connection import wait
from typing import Any, List, Optional, Sequence

from redun_fast.errors import WorkerDiedError  # noqa: F401  (raised for this executor's jobs)
from redun_fast.executors.base import Executor, Outstanding, Deliver, thread_failed
from redun_fast.executors.feeder import Feeder, WorkerHandle
from redun_fast.executors.pool_worker import worker_main
from redun_fast.executors.protocol import RemoteTraceback  # noqa: F401  (a task error's cause)
from redun_fast.executors.transport import (
    discard, receive_message, remove_orphan_spills, remove_spills, send_message, spill_prefix)


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def describe_exit(exitcode: Optional[int]) -> str:
    if exitcode is None:
        return "it stopped answering"
    if exitcode < 0:
        try:
            return f"killed by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


@contextlib.contextmanager
def _main_not_reimported():
    """Start processes without multiprocessing re-running the user's `__main__` in them.

    Workers get tasks shipped by value, so they never need it, and an unguarded script or a
    notebook must not run again in each worker. multiprocessing skips a main module whose
    spec is named "__main__".
    """
    main = sys.modules["__main__"]
    missing = object()
    saved = main.__dict__.get("__spec__", missing)
    main.__spec__ = importlib.machinery.ModuleSpec("__main__", None)
    try:
        yield
    finally:
        if saved is missing:
            del main.__spec__
        else:
            main.__spec__ = saved


class _Worker(WorkerHandle):
    """A worker process on a pipe."""

    def __init__(self, ctx: Any, spills: str) -> None:
        super().__init__()
        self.spills = spills  # the prefix of the pool's spill files
        self.sent_spills: List[str] = []  # spill files sent to it, which it may not have read
        self.conn, child_conn = ctx.Pipe()
        self.process = ctx.Process(target=worker_main,
                                   args=(child_conn, list(sys.path), spills),
                                   daemon=True, name="redun_fast worker")
        with _main_not_reimported():
            self.process.start()
        child_conn.close()

    @property
    def label(self) -> str:
        return f"the worker process (pid {self.process.pid})"

    def send(self, data: bytes) -> None:
        path = send_message(self.conn, data, self.spills)
        if path is not None:
            self.sent_spills = [p for p in self.sent_spills if os.path.exists(p)] + [path]

    def how_it_died(self) -> str:
        self.process.join(timeout=1)
        for path in self.sent_spills:  # what it died before reading is RAM: free it
            discard(path)
        remove_spills(f"{self.spills}{self.process.pid}-")  # and what it wrote but never sent
        return describe_exit(self.process.exitcode)


class ProcessExecutor(Executor):
    """Runs jobs in `max_workers` processes (default: the usable cores)."""

    kind = "processes"

    def __init__(self, max_workers: Optional[int] = None, start_method: str = "forkserver",
                 batch_seconds: float = 0.002, max_batch: int = 4096) -> None:
        if max_workers is not None and (not isinstance(max_workers, int) or max_workers < 1):
            raise ValueError(f"max_workers={max_workers!r} must be a positive integer")
        if start_method not in multiprocessing.get_all_start_methods():
            raise ValueError(f"start_method={start_method!r} is not available here; use one of "
                             f"{', '.join(multiprocessing.get_all_start_methods())}")
        self.max_workers = max_workers or usable_cores()
        self.start_method = start_method
        self.batch_seconds = batch_seconds
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._outstanding = Outstanding()  # every job submitted and not reported yet
        self._feeder = Feeder(self._outstanding, batch_seconds, max_batch)
        self._thread: Optional[threading.Thread] = None
        self._stopping = False
        self._workers: List[_Worker] = []

    @property
    def batches_sent(self) -> int:  # for tests and benchmarks: how well jobs are batched
        return self._feeder.batches_sent

    @property
    def jobs_sent(self) -> int:
        return self._feeder.jobs_sent

    # The scheduler's side.

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                if self._thread.is_alive() and not self._outstanding.failed:
                    return
                self._thread.join()  # it failed: it is stopping its workers
                self._close()  # start a new pool
            ctx = multiprocessing.get_context(self.start_method)
            if self.start_method == "forkserver":
                # Preload our worker, not the user's __main__ (which may not be guarded).
                ctx.set_forkserver_preload(["redun_fast.executors.pool_worker"])
            self._ctx = ctx
            self._stopping = False
            self._outstanding = Outstanding()
            self._feeder = Feeder(self._outstanding, self.batch_seconds, self.max_batch)
            self._wake_r, self._wake_w = os.pipe()
            remove_orphan_spills()  # of schedulers that were killed
            self._spills = spill_prefix(os.getpid(), uuid.uuid4().hex[:8])
            self._workers = [_Worker(ctx, self._spills) for _ in range(self.max_workers)]
            self._thread = threading.Thread(target=self._loop, name="redun_fast pool", daemon=True)
            self._thread.start()

    def submit_batch(self, jobs: Sequence[Any], deliver: Deliver) -> None:
        self.start()
        if self._feeder.broken is not None:
            deliver([(job, False, self._feeder.broken) for job in jobs])
            return
        if not self._outstanding.add(jobs, deliver):
            return
        self._feeder.add(jobs)
        os.write(self._wake_w, b"x")

    def stop(self) -> None:
        thread = self._thread
        if thread is None:
            return
        self._stopping = True
        os.write(self._wake_w, b"x")
        thread.join()
        self._close()

    def _close(self) -> None:
        self._thread = None
        os.close(self._wake_r)
        os.close(self._wake_w)

    # The pool thread.

    def _loop(self) -> None:
        try:
            while not self._stopping:
                for worker in self._feeder.distribute(self._workers):
                    self._died(worker)
                waitables = [self._wake_r]
                for worker in self._workers:
                    waitables += [worker.conn, worker.process.sentinel]
                for ready in wait(waitables):
                    if ready == self._wake_r:
                        os.read(self._wake_r, 4096)
                    else:
                        self._handle(ready)
        except Exception as error:  # a bug here must not leave the run waiting forever
            self._feeder.clear()
            self._outstanding.fail_all(thread_failed(self, error))  # error is their cause
        finally:
            self._shutdown_workers()

    def _handle(self, ready: Any) -> None:
        for worker in list(self._workers):
            if ready is worker.conn:
                try:
                    data = receive_message(worker.conn)
                except (EOFError, OSError):
                    return self._died(worker)
                return self._received(worker, data)
            if ready == worker.process.sentinel:
                return self._died(worker)

    def _received(self, worker: _Worker, data: bytes) -> None:
        kind, *body = pickle.loads(data)
        if kind == "results":
            self._feeder.received(worker, *body)
        elif kind == "refused":
            self._feeder.refused(worker, *body)
        else:  # a task printed: show it where the scheduler's output goes
            stream = sys.stdout if kind == "stdout" else sys.stderr
            stream.write(body[0])
            stream.flush()

    def _died(self, worker: _Worker) -> None:
        if worker.dead:
            return
        self._drain(worker)  # what it sent before it died counts: see Feeder.died
        replace = self._feeder.died(worker)
        worker.conn.close()
        index = self._workers.index(worker)
        if replace:
            self._workers[index] = _Worker(self._ctx, self._spills)
        else:
            del self._workers[index]

    def _drain(self, worker: _Worker) -> None:
        """Take in the messages a dead worker left in its pipe."""
        try:
            while worker.conn.poll():
                self._received(worker, receive_message(worker.conn))
        except (EOFError, OSError):
            pass

    def _shutdown_workers(self) -> None:
        for worker in self._workers:
            try:
                worker.conn.send_bytes(pickle.dumps(("stop",)))
            except (OSError, ValueError):
                pass
        for worker in self._workers:
            worker.process.join(timeout=0.5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=1)
            worker.conn.close()
        self._workers = []
        remove_spills(self._spills)  # messages no one will read now
