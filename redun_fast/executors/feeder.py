"""Feeding batches of jobs to a set of workers: batch sizing and death handling, written once
over an abstract worker handle (a local process for the pool; a pilot worker on another node,
reached over a socket, for Slurm's workers mode).

A batch carries about `batch_seconds` of work, sized from the measured duration of jobs
(16 jobs until one batch has been timed; slow jobs go one at a time); a worker holds at most
two batches, one when jobs are slow. When a worker dies, the jobs of a larger batch become
suspects and run again one by one, so only the job that kills a worker fails; a job that was
running alone when `max_crashes` workers died (1 for the pool, whose workers die only of their
jobs; more for pilots on nodes, which also die of the node) fails with a WorkerDiedError that
says how the last one died. So do the jobs of a batch whose results the scheduler cannot
unpickle. A worker that leaves (its allocation ends) hands back what it had not started.
Workers that keep dying before they finish a batch make the feeder `broken`: every job it
holds fails.
"""
import itertools
import math
import threading
from collections import deque
from typing import Any, Dict, List, Optional, Sequence, Tuple

from redun_fast.errors import WorkerDiedError
from redun_fast.executors.base import Outstanding
from redun_fast.executors.protocol import (
    batch_message, definitions, job_entries, load_results, shipped, to_results,
    unreadable_arguments, unreadable_result)
from redun_fast.executors.shipping import pickling_problem
from redun_fast.executors.usage import Usage

STARTUP_DEATHS = 3  # workers dying in a row before any of them finished a batch: broken


class WorkerHandle:
    """One worker as the feeder sees it. A transport subclasses it with `send` and `how_it_died`."""

    def __init__(self) -> None:
        self.known: dict = {}  # task hash -> shipped, of the function it holds (protocol)
        self.inflight: Dict[int, Tuple[list, bool]] = {}  # batch id -> (jobs, suspect)
        self.batches_done = 0
        self.dead = False

    def accepting(self) -> bool:
        """Whether it may be sent more work (a pilot near the end of its allocation is not)."""
        return True

    @property
    def label(self) -> str:
        """How errors name it: "the worker process (pid 123)"."""
        raise NotImplementedError

    def send(self, data: bytes) -> None:
        """Hand over one message; OSError if the worker is gone."""
        raise NotImplementedError

    def how_it_died(self) -> str:
        """"exit code 3", "killed by signal SIGKILL", ..."""
        raise NotImplementedError


class Feeder:
    """The jobs waiting for workers, and the batches the workers hold."""

    def __init__(self, outstanding: Outstanding, batch_seconds: float, max_batch: int,
                 max_crashes: int = 1) -> None:
        self.outstanding = outstanding  # where results are delivered
        self.batch_seconds = batch_seconds
        self.max_batch = max_batch
        self.max_crashes = max_crashes
        self.crashes: Dict[Any, int] = {}  # job -> workers that died running it alone
        self.lock = threading.Lock()  # pending and suspects are added to from other threads
        self.pending: deque = deque()  # jobs waiting for a worker
        self.suspects: deque = deque()  # jobs of a dead worker's batch: each runs alone
        self.job_seconds: Optional[float] = None  # running estimate of one job's duration
        self.batch_ids = itertools.count()
        self.startup_deaths = 0
        self.broken: Optional[Exception] = None
        self.batches_sent = 0  # for tests and benchmarks: how well jobs are batched
        self.jobs_sent = 0

    def add(self, jobs: Sequence[Any]) -> None:
        with self.lock:
            self.pending.extend(jobs)

    def clear(self) -> None:
        with self.lock:
            self.pending.clear()
            self.suspects.clear()

    @property
    def waiting(self) -> int:
        """Jobs waiting for a worker."""
        return len(self.pending) + len(self.suspects)

    def _batch_size(self, sharers: int) -> int:
        fair = math.ceil(len(self.pending) / max(1, sharers))
        if self.job_seconds is None:
            return max(1, min(fair, 16, self.max_batch))
        wanted = int(self.batch_seconds / max(self.job_seconds, 1e-7))
        return max(1, min(fair, wanted, self.max_batch))

    def distribute(self, workers: List[WorkerHandle], coming: int = 0) -> List[WorkerHandle]:
        """Send batches to the workers that have room; return those found dead on the way.
        `coming` workers are on their way (pilots still in Slurm's queue): the first to
        arrive takes only its share of the jobs, leaving theirs for them."""
        slow = self.job_seconds is not None and self.job_seconds >= self.batch_seconds
        limit = 1 if slow or self.job_seconds is None else 2
        dead = []
        while True:
            with self.lock:
                if not self.pending and not self.suspects:
                    return dead
                open_workers = [w for w in workers if len(w.inflight) < limit and not w.dead
                                and w not in dead and w.accepting()]
                if not open_workers:
                    return dead
                worker = min(open_workers, key=lambda w: len(w.inflight))
                suspect = bool(self.suspects)
                if suspect:  # from a dead worker's batch: alone, to find the job that kills
                    items = [self.suspects.popleft()]
                else:
                    size = min(self._batch_size(len(open_workers) + coming), len(self.pending))
                    items = [self.pending.popleft() for _ in range(size)]
            if not self._send(worker, items, suspect):
                dead.append(worker)

    def _send(self, worker: WorkerHandle, items: list, suspect: bool) -> bool:
        """Send one batch; False if the worker turned out to be dead (the batch waits again)."""
        batch_id = next(self.batch_ids)
        try:  # a job's key is its place in the batch
            new = definitions([job.task for job in items], worker.known)
            data = batch_message(batch_id, new, job_entries(items, range(len(items))))
        except Exception:
            items = self._drop_unpicklable(items)
            return self._send(worker, items, suspect) if items else True
        try:
            worker.send(data)
        except OSError:  # it died (its pipe broke) before it could take the batch
            with self.lock:
                (self.suspects if suspect else self.pending).extendleft(reversed(items))
            return False
        worker.known.update(shipped(definition) for definition in new)
        worker.inflight[batch_id] = (items, suspect)
        self.batches_sent += 1
        self.jobs_sent += len(items)
        return True

    def _drop_unpicklable(self, items: list) -> list:
        """Fail the jobs whose function or arguments cannot be sent; return the others."""
        good = []
        for job in items:
            error = pickling_problem(job)
            if error is None:
                good.append(job)
            else:
                self.outstanding.deliver([(job, False, error)])
        return good

    def received(self, worker: WorkerHandle, batch_id: int, usage: Usage,
                 payload: bytes) -> None:
        """A worker's results for one batch (protocol.py): delivered, and its timing learned.

        A value that cannot be unpickled here fails its job alone: a batch of several runs
        again one job at a time, as after a worker's death.
        """
        items, suspect = worker.inflight.pop(batch_id)
        worker.batches_done += 1
        self.startup_deaths = 0
        if self.crashes:  # those that survived a crash are forgiven
            for job in items:
                self.crashes.pop(job, None)
        per_job = usage.seconds / len(items)
        self.job_seconds = per_job if self.job_seconds is None else (
            0.7 * self.job_seconds + 0.3 * per_job)
        try:
            results = load_results(payload)
        except Exception as error:
            self._alone_or_failed(items, suspect, lambda job, error=error: unreadable_result(
                job.task.fullname, error))
            return
        self.outstanding.deliver(to_results(results, items.__getitem__, usage))

    def refused(self, worker: WorkerHandle, batch_id: int, error_text: str) -> None:
        """The worker could not unpickle a batch's jobs (an argument it cannot load): the
        job at fault fails alone, with the error naming its task."""
        items, suspect = worker.inflight.pop(batch_id)
        worker.batches_done += 1
        self._alone_or_failed(items, suspect, lambda job: unreadable_arguments(
            job.task.fullname, worker.label, error_text))

    def _alone_or_failed(self, items: list, suspect: bool, error_of: Any) -> None:
        """A batch with a fault in one of its jobs: a job that ran alone fails with
        error_of(job); the jobs of a larger batch run again, each alone, to find it."""
        if len(items) == 1 or suspect:
            self.outstanding.deliver([(job, False, error_of(job)) for job in items])
        else:
            with self.lock:
                self.suspects.extend(items)

    def died(self, worker: WorkerHandle) -> bool:
        """A worker is gone: fail or retry what it held. False when workers keep dying as
        they start: then every job fails and no worker should replace it.

        It ran its batches in order, and the transport has read every result it sent: so
        the first batch it still held is the one it died running, and the others never
        started. Those go back to the queue, untouched by suspicion.
        """
        worker.dead = True
        how = worker.how_it_died()
        idle = not worker.inflight
        held = [worker.inflight[batch_id] for batch_id in sorted(worker.inflight)]
        worker.inflight.clear()
        if held:  # the batch it died running: its job, or each of its jobs alone
            items, suspect = held[0]
            if len(items) == 1 or suspect:
                self._crashed(items, worker, how)
            else:
                with self.lock:
                    self.suspects.extend(items)
        not_started = [job for items, _ in held[1:] for job in items]
        with self.lock:
            self.pending.extendleft(reversed(not_started))
        if idle and worker.batches_done == 0:
            return self.failed_to_start(how)
        return True

    def _crashed(self, items: list, worker: WorkerHandle, how: str) -> None:
        """Jobs that were running alone when their worker died: each fails once it has
        killed max_crashes workers, else it runs again (alone) on another."""
        again, failed = [], []
        for job in items:
            self.crashes[job] = crashes = self.crashes.get(job, 0) + 1
            (failed if crashes >= self.max_crashes else again).append(job)
        for job in failed:
            del self.crashes[job]
            times = (f"; it was running alone on each of the {self.max_crashes} workers that "
                     "died" if self.max_crashes > 1 else "")
            self.outstanding.deliver([(job, False, WorkerDiedError(
                f"{worker.label} running {job.task.fullname} died: {how}{times}"))])
        with self.lock:
            self.suspects.extend(again)

    def failed_to_start(self, how: str) -> bool:
        """A worker died (or, for a pilot, its Slurm job ended) before it finished a batch.
        After STARTUP_DEATHS in a row the feeder is broken (`fail_all`), with `how` the last
        one went. Returns False then."""
        self.startup_deaths += 1
        if self.startup_deaths < STARTUP_DEATHS:
            return True
        self.fail_all(WorkerDiedError(f"workers die as they start: {how}"))
        return False

    def fail_all(self, error: Exception) -> None:
        """No worker can run these jobs: every job waiting fails with `error`, and so does
        every job added later (the executor checks `broken`)."""
        self.broken = error
        with self.lock:
            left = list(self.pending) + list(self.suspects)
            self.pending.clear()
            self.suspects.clear()
        self.outstanding.deliver([(job, False, error) for job in left])

    def left(self, worker: WorkerHandle) -> None:
        """A worker left on purpose (idle, or its allocation ending): what it holds, it had
        not started, so it waits again, blamed on nothing."""
        worker.dead = True
        with self.lock:
            for batch_id in sorted(worker.inflight, reverse=True):
                items, suspect = worker.inflight[batch_id]
                (self.suspects if suspect else self.pending).extendleft(reversed(items))
        worker.inflight.clear()
