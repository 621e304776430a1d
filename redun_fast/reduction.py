"""One run's graph reduction: expand expressions into nodes, run ready jobs in batches, substitute.

State: `nodes` (by expression identity), `jobs` (by eval hash: identical calls are one job),
`finished` (nodes whose parents are not told yet), and per-tick batches of new jobs and of
results to store. `evaluate` is the loop; every other method is one transition.
"""
import itertools
import logging
import queue
import random
import time
import traceback
from collections import deque
from typing import Any, Dict, List

from redun_fast._core import HashError, eval_digest, hash_value
from redun_fast.builtins import root_task
from redun_fast.cache.serialize import SerializationError, dumps, loads
from redun_fast._nested import find_expressions, substitute
from redun_fast.nodes import DONE, FAILED, PENDING, Job, Node, make_node
from redun_fast.report import CACHED, RUNNING, JobCounts, format_task_call
from redun_fast.report import DONE as STATUS_DONE
from redun_fast.report import FAILED as STATUS_FAILED

# Group commit: results and job records are written at most this often, or when this many wait.
FLUSH_INTERVAL = 0.05
FLUSH_MAX = 20000
_SCRAMBLE = 0x9E3779B97F4A7C15  # odd: makes consecutive job numbers look random in the logs
# The root job's result is its own (quoted) argument: the store only needs to know it ran.
_ROOT_RESULT = dumps(None, "redun.root_task")


class SchedulerError(RuntimeError):
    """The workflow cannot proceed (unknown executor, an expression that waits on itself)."""


class Reduction:
    def __init__(self, scheduler: Any, use_cache: bool) -> None:
        self.scheduler = scheduler
        self.logger: logging.Logger = scheduler.logger
        self.counts = JobCounts()  # this run's; the scheduler adds them to its own
        self.store = scheduler.store
        self.use_cache = use_cache
        self.nodes: Dict[int, Node] = {}
        self.jobs: Dict[bytes, Job] = {}
        self.to_start: List[Node] = []
        self.finished: deque = deque()
        self.new_jobs: List[Job] = []
        self.to_store: List[tuple] = []
        self.job_records: List[tuple] = []  # JobRecord fields
        self.last_flush = time.monotonic()
        self.completed: "queue.SimpleQueue[list]" = queue.SimpleQueue()
        self.running = 0
        self.job_numbers = itertools.count(random.getrandbits(64))

    # The loop.

    def evaluate(self, expr: Any) -> Node:
        """Reduce `expr` (a TaskExpression) and return its node, DONE or FAILED."""
        root = self.wait_for_root(expr)
        while root.state == PENDING:
            self.propagate()
            if self.new_jobs:
                self.dispatch()
                continue
            if root.state != PENDING:
                break
            if self.running == 0:
                raise SchedulerError(
                    "the workflow cannot make progress: an expression waits on itself "
                    "(a cycle in the expression graph)"
                )
            self.ingest_next()
        self.flush_store()
        return root

    def ingest_next(self) -> None:
        """Wait for executor results and ingest all that have arrived; commit on the way."""
        unflushed = self.to_store or self.job_records
        if unflushed and (len(self.to_store) >= FLUSH_MAX
                          or time.monotonic() - self.last_flush >= FLUSH_INTERVAL):
            self.flush_store()
            unflushed = False
        try:
            records = self.completed.get(timeout=FLUSH_INTERVAL if unflushed else None)
        except queue.Empty:
            return self.flush_store()
        self.ingest(records)
        while not self.completed.empty():
            self.ingest(self.completed.get())

    def wait_for_root(self, expr: Any) -> Node:
        root = make_node(expr)
        self.nodes[id(expr)] = root
        self.to_start.append(root)
        return root

    def propagate(self) -> None:
        """Start new nodes and tell parents about finished nodes until nothing changes."""
        to_start, finished = self.to_start, self.finished
        while to_start or finished:
            while to_start:
                to_start.pop().start(self)
            while finished:
                node = finished.popleft()
                parents, node.parents = node.parents, None
                for parent in parents:
                    if parent.state != PENDING:
                        continue
                    if node.state == DONE:
                        parent.waiting -= 1
                        if parent.waiting == 0:
                            parent.ready(self)
                    else:
                        parent.child_failed(self, node.value)

    # Transitions of nodes.

    def wait_for(self, node: Node, template: Any) -> List[Node]:
        """Make `node` wait for the expressions in `template`; call `ready` if there are none."""
        node.template = template
        linked: List[Node] = []
        new: List[Node] = []
        failed = None
        nodes = self.nodes
        exprs = find_expressions(template, [])
        node.concrete = not exprs
        for expr in exprs:
            child = nodes.get(id(expr))
            if child is None:
                child = nodes[id(expr)] = make_node(expr)
                new.append(child)
            if child.state == PENDING:
                child.parents.append(node)
                node.waiting += 1
                linked.append(child)
            elif child.state == FAILED:
                failed = child
                break
        # Started last-in first-out: reversed keeps left-to-right order of submission.
        self.to_start.extend(reversed(new))
        if failed is not None:
            for child in linked:
                child.parents.remove(node)
            node.waiting = 0
            node.child_failed(self, failed.value)
        elif node.waiting == 0:
            node.ready(self)
        return linked

    def resolved(self, node: Node) -> Any:
        """The node's template with each expression replaced by its value."""
        return node.template if node.concrete else substitute(node.template, self.nodes)

    def finish(self, node: Node, value: Any) -> None:
        node.state = DONE
        node.value = value
        if type(node) is Job:
            if node.status == RUNNING:
                self.counts.move(node.task.fullname, RUNNING, STATUS_DONE)
            self.record(node, "CACHED" if node.status == CACHED else "DONE", None)
        self.finished.append(node)

    def fail(self, node: Node, error: BaseException) -> None:
        node.state = FAILED
        node.value = error
        if type(node) is Job:
            self.log_job("*** Reject", node, suffix=":")
            self.counts.move(node.task.fullname, node.status, STATUS_FAILED)
            self.record(node, "FAILED", "".join(
                traceback.format_exception(type(error), error, error.__traceback__))[-4000:])
        self.finished.append(node)

    def record(self, job: Job, status: str, error: Any) -> None:
        # A plain tuple in JobRecord's field order: one per job, so kept cheap.
        self.job_records.append(
            (job.id, job.task.fullname, job.eval_hash, status, job.started, time.time(), error))

    # Jobs.

    def request_job(self, node: Node, args: tuple, kwargs: dict) -> None:
        """Attach a task node whose arguments are concrete to the job of that call."""
        task = node.expr.task
        try:
            eval_hash = eval_digest(task.digest, args, kwargs)
        except (HashError, RecursionError) as error:
            return self.fail(node, _argument_error(task, args, kwargs, error))
        job = self.jobs.get(eval_hash)
        if job is None:
            job_id = (next(self.job_numbers) * _SCRAMBLE) & 0xFFFFFFFFFFFFFFFF
            job = self.jobs[eval_hash] = Job(job_id, task, args, kwargs, eval_hash)
            self.new_jobs.append(job)
        node.job = job
        if job.state == PENDING:
            job.parents.append(node)
            node.waiting = 1
        elif job.state == DONE:
            self.finish(node, job.value)
        else:
            self.fail(node, job.value)

    def dispatch(self) -> None:
        """Replay cached jobs and submit the others, in batches, per executor."""
        jobs, self.new_jobs = self.new_jobs, []
        readable = [job for job in jobs if self.use_cache and job.task.get_option("cache", True)]
        found = dict(zip((job.eval_hash for job in readable),
                         self.store.lookup([job.eval_hash for job in readable])))
        batches: Dict[str, List[Job]] = {}
        now = time.time()
        for job in jobs:
            job.started = now
            data = found.get(job.eval_hash)
            if data is not None and self.replay(job, data):
                continue
            executor_name = job.task.get_option("executor") or "default"
            job.status = RUNNING
            self.counts.add(job.task.fullname, RUNNING)
            self.log_job("Run   ", job, suffix=f" on {executor_name}")
            if job.task is root_task:
                # The root job only unquotes the user's expression: do it here, on any executor.
                self.running += 1
                self.ingest([(job, True, job.args[0].eval())])
            else:
                batches.setdefault(executor_name, []).append(job)
        for executor_name, batch in batches.items():
            try:
                executor = self.scheduler.get_executor(executor_name)
            except ValueError as error:
                for job in batch:
                    self.fail(job, SchedulerError(f"{job.task.fullname}: {error}"))
                continue
            self.running += len(batch)
            executor.submit_batch(batch, self.completed.put)

    def replay(self, job: Job, data: bytes) -> bool:
        try:
            result = job.args[0].eval() if job.task is root_task else loads(data)
        except Exception as error:  # e.g. the class of a cached value was renamed since
            self.logger.warning(
                "cached result of %s cannot be read (%s: %s); running it again",
                job.task.fullname, type(error).__name__, error,
            )
            return False
        job.status = CACHED
        self.counts.add(job.task.fullname, CACHED)
        if self.logger.isEnabledFor(logging.INFO):
            self.log_job("Cached", job, suffix=f" (eval_hash={job.eval_hash.hex()[:8]})")
        self.returned(job, result)
        return True

    def ingest(self, records: list) -> None:
        """Results from an executor: store the successes, then continue their reduction."""
        for job, ok, value in records:
            self.running -= 1
            if ok:
                try:
                    data = _ROOT_RESULT if job.task is root_task else dumps(value, job.task.fullname)
                except SerializationError as error:
                    self.fail(job, error)
                    continue
                self.to_store.append((job.eval_hash, data))
                self.returned(job, value)
            else:
                self.fail(job, value)

    def returned(self, job: Job, result: Any) -> None:
        """A job's task returned `result`; it may hold more expressions to reduce."""
        self.wait_for(job, result)

    def flush_store(self) -> None:
        """Commit the results and job records gathered since the last flush, in one transaction."""
        if self.to_store or self.job_records:
            self.store.commit(self.to_store, self.job_records)
            self.to_store, self.job_records = [], []
        self.last_flush = time.monotonic()

    def log_job(self, action: str, job: Job, suffix: str) -> None:
        if self.logger.isEnabledFor(logging.INFO):
            call = format_task_call(job.task, job.args, job.kwargs)
            job_id = f"{job.id:016x}"[:8]
            self.logger.info(f"{action} Job {job_id}:  {call}{suffix}")


def _argument_error(task: Any, args: tuple, kwargs: dict, error: Exception) -> HashError:
    """Name the argument that cannot be hashed, and the task."""
    try:
        bound = task.signature.bind_partial(*args, **kwargs).arguments
    except (TypeError, ValueError):
        bound = {**{str(i): arg for i, arg in enumerate(args)}, **kwargs}
    for name, value in bound.items():
        try:
            hash_value(value)
        except (HashError, RecursionError) as cause:
            return HashError(f"argument {name!r} of {task.fullname} cannot be hashed: {cause}")
    return HashError(f"arguments of {task.fullname} cannot be hashed: {error}")
