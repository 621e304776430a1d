"""One run's graph reduction: the loop that drives the compiled graph, ledger and dispatch.

A run is composed of three compiled parts: the graph of its expressions and jobs
(csrc/_graph.pyx), its ledger of job statuses, records and results to store (_ledger.pyx),
and the dispatch between the graph and the cache and executors (_dispatch.pyx). Each tick:
start new nodes and propagate finished ones (the graph), look the new jobs up in the cache
in one batch, replay the hits, submit the misses to their executors in batches, ingest the
results that came back, and commit what the ledger gathered in one transaction at most every
FLUSH_INTERVAL. `evaluate` is the loop and returns an Outcome; every other method is one step.
"""
import gc
import logging
import queue
import threading
import time
from typing import Any, Dict, List, NamedTuple, Optional

from redun_fast._dispatch import Dispatch
from redun_fast._graph import Graph, Job
from redun_fast._ledger import RunLedger
from redun_fast._scheduler_nodes import node_for
from redun_fast._status import JobStatus
from redun_fast.cache.claims import CLAIM_POLL, CLAIMED
from redun_fast.cache.serialize import ResultSerializer, load_checked, loads
from redun_fast.caught import CaughtErrors
# (DryRunResult: importable from here, as before.)
from redun_fast.errors import DryRunResult, SchedulerError, StaleResultError  # noqa: F401
from redun_fast.executors.base import run_job
from redun_fast.job_info import fill_job_info
from redun_fast.limits import Limits
from redun_fast.progress import Progress
from redun_fast.output import JOB_LINE, JobCounts, format_task_call

# Group commit: results and job records are written at most this often, or when this many wait.
FLUSH_INTERVAL = 0.05
FLUSH_MAX = 20000
# Results waiting to be ingested, in executor batches (a pool batch holds up to 4,096): an
# executor thread with more waits, so that workers faster than the scheduler cannot pile up
# a million results in memory.
MAX_WAITING_BATCHES = 64
# Python's full garbage collections walk every live object, and a run keeps millions of
# nodes alive: they took a third of a cached run's time. During a run only the young
# generations are collected, every GC_INTERVAL seconds; the full collection comes after.
GC_INTERVAL = 0.5
PENDING = JobStatus.PENDING
RUNNING = JobStatus.RUNNING
FAILED = JobStatus.FAILED


class Outcome(NamedTuple):
    """How a run ended: "done" with its value, "failed" with the error, or "dryrun" (it
    stopped where jobs would run; `value` is None)."""

    state: str
    value: Any


class Reduction:
    def __init__(self, scheduler: Any, use_cache: bool, dryrun: bool = False,
                 context: Optional[dict] = None) -> None:
        self.counts = JobCounts()  # this run's; the scheduler adds them to its own
        self.ledger = RunLedger(self.counts)
        self.graph = Graph(self.ledger, node_for)
        self.graph.context = context or {}
        self.graph.caught = CaughtErrors(scheduler.store, self.ledger, use_cache)
        self.dispatch = Dispatch(self.graph, loads, load_checked, ResultSerializer().dumps,
                                 self.not_replayed, scheduler.executor_label,
                                 lambda job: fill_job_info(job, scheduler.execution_id))
        self.scheduler = scheduler
        self.logger: logging.Logger = scheduler.logger
        self.store = scheduler.store
        self.use_cache = use_cache
        self.last_flush = time.monotonic()
        self.completed: "queue.Queue[list]" = queue.Queue(maxsize=MAX_WAITING_BATCHES)
        self.delivered_here: List[list] = []  # by the scheduler's own thread (inline): no wait
        self.thread = threading.get_ident()
        self.open = True  # False once the run ended: late results are dropped
        self.dryrun = dryrun  # look jobs up and replay hits, but run nothing
        self.would_run: List[Job] = []
        self.limits = Limits(scheduler.limits)  # jobs of tasks with limits wait here for room
        # Jobs another scheduler on the store is computing (cache/claims.py), by eval hash:
        # their results are looked for every CLAIM_POLL s.
        self.awaiting: Dict[bytes, List[Job]] = {}
        self.next_watch = 0.0
        if self.logger.isEnabledFor(logging.INFO):
            self.ledger.log = self.log_job
        self.progress = Progress(
            self.counts, lambda: scheduler.log_status(self.counts),
            table_interval=scheduler.status_interval,
        ) if scheduler.progress and self.logger.isEnabledFor(logging.INFO) else None

    def evaluate(self, expr: Any) -> Outcome:
        """Reduce `expr` (a TaskExpression). Whatever happens, what finished is committed and
        the graph is released (its nodes are not garbage-collected: they must be unlinked)."""
        gc_enabled = gc.isenabled()
        gc.disable()
        if not self.dryrun:
            self.store.open_session()
        try:
            root = self._evaluate(expr)
            state = ("dryrun" if root.state == PENDING else
                     "failed" if root.state == FAILED else "done")
            return Outcome(state, None if state == "dryrun" else root.value)
        finally:
            self.close()
            try:
                self.flush_store()  # a Ctrl-C or a failed run keeps what finished
            finally:
                self.store.close_session()
                self.graph.release()
                if gc_enabled:
                    gc.enable()
                if self.progress is not None:
                    self.progress.close()

    def _evaluate(self, expr: Any) -> Any:
        root = self.graph.add_root(expr)
        next_gc = time.monotonic() + GC_INTERVAL
        while root.state == PENDING:
            if time.monotonic() >= next_gc:
                gc.collect(1)
                next_gc = time.monotonic() + GC_INTERVAL
            if self.progress is not None:
                self.progress.tick()
            if self.store.watched:
                self.watch_store()
            self.graph.propagate()
            if self.graph.new_jobs:
                self.dispatch_new_jobs()
                continue
            if root.state != PENDING:
                break
            if self.dispatch.running == 0 and not self.awaiting:
                if self.dryrun:
                    break  # what is left waits for jobs that a real run would run
                raise SchedulerError(
                    "the workflow cannot make progress: an expression waits on itself "
                    "(a cycle in the expression graph)"
                )
            self.ingest_next()
        return root

    def deliver(self, results: list) -> None:
        """Executors hand their results over here, from any thread."""
        if threading.get_ident() == self.thread:
            self.delivered_here.append(results)
            return
        while self.open:  # wait while MAX_WAITING_BATCHES are queued, but not past the run
            try:
                self.completed.put(results, timeout=0.1)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        """The run ended: executor threads waiting to deliver are let go, and not heard."""
        self.open = False
        while True:
            try:
                self.completed.get_nowait()
            except queue.Empty:
                return

    def ingest_next(self) -> None:
        """Wait for executor results and ingest all that have arrived; commit on the way."""
        unflushed = len(self.ledger) > 0
        if unflushed and (len(self.ledger.to_store) >= FLUSH_MAX
                          or time.monotonic() - self.last_flush >= FLUSH_INTERVAL):
            self.flush_store()
            unflushed = False
        if self.delivered_here:
            batches, self.delivered_here = self.delivered_here, []
            for results in batches:
                self.take_back(results)
            return
        waits = [FLUSH_INTERVAL] if unflushed else []
        if self.store.watched:  # look at the store's sessions and awaited results meanwhile
            waits.append(CLAIM_POLL)
        if self.progress is not None:
            waits.append(max(self.progress.wait, 0.01))
        try:
            results = self.completed.get(timeout=min(waits) if waits else None)
        except queue.Empty:
            return self.flush_store()
        self.take_back(results)
        while True:
            try:
                self.take_back(self.completed.get_nowait())
            except queue.Empty:
                return

    def take_back(self, results: list) -> None:
        """Ingest an executor's results; the limits their jobs held may let waiting jobs run."""
        self.dispatch.ingest(results)
        if self.limits.active:
            self.send(self.limits.released([job for job, _, _ in results]))

    def dispatch_new_jobs(self) -> None:
        """Replay cached jobs and submit the others, in batches, per executor."""
        jobs, self.graph.new_jobs = self.graph.new_jobs, []
        # In chunks, committing job records on the way: a million cached jobs replay without
        # holding a million lookups and records at once.
        for start in range(0, len(jobs), FLUSH_MAX):
            chunk = jobs[start:start + FLUSH_MAX] if len(jobs) > FLUSH_MAX else jobs
            found = self.store.lookup([job.eval_hash for job in chunk]) if self.use_cache else (
                [None] * len(chunk))
            if self.store.claiming:
                chunk, found = self.set_aside_claimed(chunk, found)
            to_run = self.dispatch.replay(chunk, found)
            if self.dryrun:
                to_run = self._dry(to_run)
            self.submit(to_run)
            if len(self.ledger.job_records) >= FLUSH_MAX:
                self.flush_store()
            if self.progress is not None:  # a million replays take seconds: keep the line live
                self.progress.tick()

    def set_aside_claimed(self, jobs: List[Job], found: list) -> tuple:
        """The jobs another scheduler computes now wait for its result (`awaiting`); those of
        tasks that do not read the cache run here anyway."""
        kept, kept_found = [], []
        for job, data in zip(jobs, found):
            if data is CLAIMED and job.task.get_option("cache", True):
                self.awaiting.setdefault(job.eval_hash, []).append(job)
                self.ledger.waiting(job)
                continue
            kept.append(job)
            kept_found.append(None if data is CLAIMED else data)
        return kept, kept_found

    def watch_store(self) -> None:
        """Every CLAIM_POLL s: if another scheduler opened the store, commit what finished and
        claim what runs, so that it waits for those; replay or take over awaited jobs."""
        now = time.monotonic()
        if now < self.next_watch:
            return
        self.next_watch = now + CLAIM_POLL
        if self.store.joined():
            self.flush_store()
            self.store.claim_in_flight([
                job.eval_hash for job in self.graph.jobs.values()
                if job.status in (RUNNING, PENDING) and job.eval_hash not in self.awaiting])
        if not self.awaiting:
            return
        keys = list(self.awaiting)
        ready, ready_found = [], []
        for key, data in zip(keys, self.store.lookup(keys)):
            if data is not CLAIMED:  # its result, or its claim is ours now: run it here
                for job in self.awaiting.pop(key):
                    ready.append(job)
                    ready_found.append(data)
        if ready:
            self.submit(self.dispatch.replay(ready, ready_found))

    def submit(self, to_run: List[Job]) -> None:
        """Send jobs to their executors, in batches; those over their limits wait."""
        ready, waiting, refused = self.limits.admit(to_run)
        for job, why in refused:
            self.graph.fail(job, SchedulerError(why))
        for job in waiting:  # PENDING in the table until `plan` runs it
            self.ledger.waiting(job)
        self.send(ready)

    def send(self, to_run: List[Job]) -> None:
        """Send jobs that may run to their executors, in batches."""
        for executor_name, batch in self.dispatch.plan(to_run).items():
            if executor_name is None:  # runs in the scheduler (root_task only unquotes)
                self.dispatch.running += len(batch)
                self.dispatch.ingest([run_job(job) for job in batch])
                continue
            try:
                executor = self.scheduler.get_executor(executor_name)
            except ValueError as error:
                for job in batch:
                    self.graph.fail(job, SchedulerError(f"{job.task.fullname}: {error}"))
                continue
            self.dispatch.running += len(batch)
            executor.submit_batch(batch, self.deliver)

    def _dry(self, jobs: List[Job]) -> List[Job]:
        """In a dry run, only what runs in the scheduler runs (it runs nothing); the other
        jobs are listed."""
        for job in jobs:
            if not job.task.runs_in_scheduler:
                self.would_run.append(job)
                if self.ledger.log is not None:
                    self.log_job("Dryrun", job, f" on {self.dispatch.executor_of(job.task)}")
        return [job for job in jobs if job.task.runs_in_scheduler]

    def not_replayed(self, job: Job, error: Exception) -> None:
        if isinstance(error, StaleResultError):  # redun's "Miss" line: reactive, not wrong
            if self.ledger.log is not None:
                self.log_job("Miss  ", job, f":  Cached result is no longer valid ({error})")
            return
        self.logger.warning(
            "cached result of %s cannot be read (%s: %s); running it again",
            job.task.fullname, type(error).__name__, error,
        )

    def flush_store(self) -> None:
        """Commit the results and job records gathered since the last flush, in one transaction."""
        results, records, pinned = self.ledger.take()
        released, self.ledger.failed_keys = self.ledger.failed_keys, []
        if self.dryrun:
            results = pinned = []  # only the root job ran: there is no result to keep
        if results or records or pinned:
            self.store.commit(results, records, pinned=pinned, released=released)
        self.last_flush = time.monotonic()

    def log_job(self, action: str, job: Job, suffix: str) -> None:
        """The ledger's log of status changes: `Run    Job 1a2b3c4d:  ns.add(a=1, b=2) on ...`."""
        call = format_task_call(job.task, job.args, job.kwargs)
        job_id = f"{job.id:016x}"[:8]
        # A failure is shown wherever the log goes; the others may go to a file (run_log.py).
        self.logger.info(f"{action} Job {job_id}:  {call}{suffix}",
                         extra=None if action.startswith("***") else JOB_LINE)
