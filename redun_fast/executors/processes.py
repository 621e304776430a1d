"""A pool of worker processes fed with batches of jobs, sized to about a couple of milliseconds.

One pool thread owns the workers: it sends batches (each worker holds at most two, one when
jobs are slow), reads batches of results, and watches for workers that die. A dead worker's
batch is retried one job at a time, so only the job that kills a worker fails, with an error
that says how it died; the worker is replaced. Functions travel once per task per worker
(see shipping.py); workers start from a forkserver, safe with the scheduler's threads.
"""
import contextlib
import importlib.machinery
import itertools
import math
import multiprocessing
import os
import pickle
import signal
import sys
import threading
from collections import deque
from multiprocessing.connection import wait
from typing import Any, Dict, List, Optional, Sequence, Tuple

from redun_fast.executors.base import Executor, Outstanding, Report, thread_failed
from redun_fast.executors.pool_worker import worker_main
from redun_fast.executors.shipping import pickling_problem, ship, task_definition
from redun_fast.executors.transport import receive_message, send_message


class WorkerDiedError(RuntimeError):
    """The worker process running a job died (crash, signal, out of memory)."""


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker; shown as the error's cause."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""'


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


class _Worker:
    def __init__(self, ctx: Any) -> None:
        self.conn, child_conn = ctx.Pipe()
        self.process = ctx.Process(target=worker_main, args=(child_conn, list(sys.path)),
                                   daemon=True, name="redun_fast worker")
        with _main_not_reimported():
            self.process.start()
        child_conn.close()
        self.known: set = set()  # task hashes whose function this worker has
        self.inflight: Dict[int, Tuple[list, bool]] = {}  # batch id -> (jobs, suspect)
        self.batches_done = 0
        self.dead = False


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
        self._pending: deque = deque()  # jobs waiting for a worker
        self._suspects: deque = deque()  # jobs of a dead worker's batch: each runs alone
        self._outstanding = Outstanding()  # every job submitted and not reported yet
        self._thread: Optional[threading.Thread] = None
        self._stopping = False
        self._workers: List[_Worker] = []
        self._batch_ids = itertools.count()
        self._job_seconds: Optional[float] = None  # running estimate of one job's duration
        self._startup_deaths = 0
        self._broken: Optional[Exception] = None
        self.batches_sent = 0  # for tests and benchmarks: how well jobs are batched
        self.jobs_sent = 0

    # The scheduler's side.

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                if self._thread.is_alive():
                    return
                self._close()  # the pool thread failed: start a new pool
            ctx = multiprocessing.get_context(self.start_method)
            if self.start_method == "forkserver":
                # Preload our worker, not the user's __main__ (which may not be guarded).
                ctx.set_forkserver_preload(["redun_fast.executors.pool_worker"])
            self._ctx = ctx
            self._stopping = False
            self._broken = None
            self._startup_deaths = 0
            self._pending.clear()
            self._suspects.clear()
            self._outstanding = Outstanding()
            self._wake_r, self._wake_w = os.pipe()
            self._workers = [_Worker(ctx) for _ in range(self.max_workers)]
            self._thread = threading.Thread(target=self._loop, name="redun_fast pool", daemon=True)
            self._thread.start()

    def submit_batch(self, jobs: Sequence[Any], report: Report) -> None:
        self.start()
        if self._broken is not None:
            report([(job, False, self._broken) for job in jobs])
            return
        if not self._outstanding.add(jobs, report):
            return
        with self._lock:
            self._pending.extend(jobs)
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
                self._distribute()
                waitables = [self._wake_r]
                for worker in self._workers:
                    waitables += [worker.conn, worker.process.sentinel]
                for ready in wait(waitables):
                    if ready == self._wake_r:
                        os.read(self._wake_r, 4096)
                    else:
                        self._handle(ready)
        except Exception as error:  # a bug here must not leave the run waiting forever
            with self._lock:
                self._pending.clear()
                self._suspects.clear()
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

    def _batch_size(self, idle_workers: int) -> int:
        fair = math.ceil(len(self._pending) / max(1, idle_workers))
        if self._job_seconds is None:
            return max(1, min(fair, 16))
        wanted = int(self.batch_seconds / max(self._job_seconds, 1e-7))
        return max(1, min(fair, wanted, self.max_batch))

    def _distribute(self) -> None:
        slow = self._job_seconds is not None and self._job_seconds >= self.batch_seconds
        limit = 1 if slow or self._job_seconds is None else 2
        while True:
            with self._lock:
                if not self._pending and not self._suspects:
                    return
                open_workers = [w for w in self._workers if len(w.inflight) < limit]
                if not open_workers:
                    return
                worker = min(open_workers, key=lambda w: len(w.inflight))
                suspect = bool(self._suspects)
                if suspect:  # from a dead worker's batch: alone, to find the job that kills
                    items = [self._suspects.popleft()]
                else:
                    size = min(self._batch_size(len(open_workers)), len(self._pending))
                    items = [self._pending.popleft() for _ in range(size)]
            self._send(worker, items, suspect)

    def _send(self, worker: _Worker, items: list, suspect: bool) -> None:
        tasks = {job.task.hash: job.task for job in items}
        definitions = [(task_hash, task.fullname, *task_definition(task))
                       for task_hash, task in tasks.items() if task_hash not in worker.known]
        batch_id = next(self._batch_ids)
        # A job's key is its place in the batch.
        jobs = [(key, job.task.hash, job.args, job.kwargs) for key, job in enumerate(items)]
        try:
            data = ship(("run", batch_id, definitions, jobs))
        except Exception:
            items = self._drop_unpicklable(items)
            if items:
                self._send(worker, items, suspect)
            return
        try:
            send_message(worker.conn, data)
        except OSError:  # the worker died (its pipe broke) before it could take the batch
            with self._lock:
                (self._suspects if suspect else self._pending).extendleft(reversed(items))
            return self._died(worker)
        worker.known.update(definition[0] for definition in definitions)
        worker.inflight[batch_id] = (items, suspect)
        self.batches_sent += 1
        self.jobs_sent += len(items)

    def _drop_unpicklable(self, items: list) -> list:
        """Fail the jobs whose function or arguments cannot be sent; return the others."""
        good = []
        for job in items:
            error = pickling_problem(job)
            if error is None:
                good.append(job)
            else:
                self._outstanding.report([(job, False, error)])
        return good

    def _received(self, worker: _Worker, data: bytes) -> None:
        kind, *body = pickle.loads(data)
        if kind != "results":  # a task printed: show it where the scheduler's output goes
            stream = sys.stdout if kind == "stdout" else sys.stderr
            stream.write(body[0])
            stream.flush()
            return
        batch_id, seconds, results = body
        items, _ = worker.inflight.pop(batch_id)
        worker.batches_done += 1
        self._startup_deaths = 0
        per_job = seconds / len(items)
        self._job_seconds = per_job if self._job_seconds is None else (
            0.7 * self._job_seconds + 0.3 * per_job)
        records = []
        for key, ok, value, tb in results:
            if not ok and tb:
                value.__cause__ = RemoteTraceback(tb)
            records.append((items[key], ok, value))
        self._outstanding.report(records)

    def _died(self, worker: _Worker) -> None:
        if worker.dead:
            return
        worker.dead = True
        worker.process.join(timeout=1)
        how = describe_exit(worker.process.exitcode)
        retry = []
        for items, suspect in worker.inflight.values():
            if len(items) == 1 or suspect:
                self._outstanding.report([(job, False, WorkerDiedError(
                    f"the worker process (pid {worker.process.pid}) running "
                    f"{job.task.fullname} died: {how}")) for job in items])
            else:
                retry += items  # one of these killed it: run each alone to find out which
        if not worker.inflight and worker.batches_done == 0:
            self._startup_deaths += 1
        worker.conn.close()
        index = self._workers.index(worker)
        if self._startup_deaths >= 3:
            self._broken = WorkerDiedError(f"worker processes die as they start: {how}")
            with self._lock:
                left = list(self._pending) + list(self._suspects) + retry
                self._pending.clear()
                self._suspects.clear()
            self._outstanding.report([(job, False, self._broken) for job in left])
            del self._workers[index]
            return
        self._workers[index] = _Worker(self._ctx)
        with self._lock:
            self._suspects.extend(retry)

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
