"""Scheduler: evaluates expressions with executors and a result store, logging as redun does.

`Scheduler()` keeps results in memory for its own life and runs tasks on 20 threads, like
the walkthrough's. Each `run` is one Reduction (see reduction.py); job counts add up across
runs of one Scheduler, as the walkthrough's status tables show.
"""
import contextlib
import logging
import pickle
import shlex
import signal
import threading
import time
import uuid
import weakref
from typing import Any, Dict, Iterable, Iterator, List, Optional

from redun_fast.builtins import (  # noqa: F401  (redun.scheduler's names, importable here)
    apply_tags, catch, catch_all, cond, root_task, throw,
)
from redun_fast.cache.base import ResultStore
from redun_fast.cache.lmdb_store import LmdbStore
from redun_fast.cache.memory import MemoryStore
from redun_fast.cache.records import new_execution
from redun_fast.config import default_cache_dir
from redun_fast.context import merge_contexts
from redun_fast.executors import Executor, executor_kinds, make_executor
from redun_fast.executors.registry import kind_name
from redun_fast.expression import SchedulerExpression, TaskExpression, quote
from redun_fast.runs import new_run
from redun_fast.tags import as_pairs, run_tags
from redun_fast.task import get_task_registry
from redun_fast._nested import find_expressions
from redun_fast.errors import DryRunResult, SchedulerError, not_supported
from redun_fast.reduction import Reduction
from redun_fast.output import JobCounts, logger, short_repr, task_traceback, trim_string


_current = threading.local()  # the scheduler running on this thread (get_current_scheduler)


def get_current_scheduler(required: bool = True) -> Optional["Scheduler"]:
    """The Scheduler running on this thread (the one whose run called this, from a task on the
    inline executor or a scheduler built-in); an error when there is none, unless not required."""
    scheduler = getattr(_current, "scheduler", None)
    if scheduler is None and required:
        raise SchedulerError("no scheduler is running on this thread: get_current_scheduler() "
                             "works during Scheduler.run, in the scheduler's thread")
    return scheduler


def set_current_scheduler(scheduler: Optional["Scheduler"]) -> None:
    _current.scheduler = scheduler


from redun_fast._graph import Job  # noqa: E402,F401  (redun.scheduler.Job, for annotations)
from redun_fast.job_info import JobInfo  # noqa: E402,F401  (redun.scheduler.JobInfo)


subrun = not_supported("subrun", "run the expression in this scheduler, with the task option "
                        "executor=... naming where its jobs run (processes, slurm)")
fork_thread = not_supported("fork_thread", "it forks a Handle, and redun_fast has no Handles")
join_thread = not_supported("join_thread", "it joins Handles, and redun_fast has no Handles")
merge_handles = not_supported("merge_handles", "redun_fast has no Handles")
get_current_job = not_supported(
    "get_current_job", "a job may run in another process or on a Slurm node, where there is no "
    "scheduler Job object to return (redun's works only in its thread executor); give the task "
    "a parameter `job_info: JobInfo = JobInfo()`, which is passed the job's ids wherever it runs")


ROOT_CALL_MAX = 1 << 20  # bytes of a root call's arguments kept for --rerun, at most


def _root_call(expr: TaskExpression) -> Optional[bytes]:
    """A root call on values, pickled for `redun_fast run --rerun` (None if it cannot be)."""
    try:
        data = pickle.dumps((expr.task.fullname, expr.args, expr.kwargs), protocol=5)
    except Exception:
        return None
    return data if len(data) <= ROOT_CALL_MAX else None


def new_execution_id(store: ResultStore, given: Optional[str] = None) -> str:
    """A new execution's id: `given` if it is a UUID the store has not seen, else a new one."""
    if given is None:
        return str(uuid.uuid4())
    try:
        given = str(uuid.UUID(given))
    except (ValueError, TypeError, AttributeError):
        raise ValueError(f"execution id {given!r} must be a UUID, such as "
                         f"{uuid.uuid4()}") from None
    if any(execution.id == given for execution in store.executions()):
        raise ValueError(f"execution id {given} is taken: an execution in this cache has it")
    return given


def needs_root_task(expr: Any) -> bool:
    """A run's root must be one task call with concrete arguments; anything else is wrapped."""
    if not isinstance(expr, TaskExpression) or isinstance(expr, SchedulerExpression):
        return True
    return bool(find_expressions((expr.args, expr.kwargs), []))


class Scheduler:
    """Evaluates expressions: `Scheduler().run(add(1, 2))` returns 3.

    executor: the default executor, a kind name ("threads", "inline") or an Executor.
    executors: more executors by name, for `@task(executor=name)`.
    max_workers: worker count of the default executor when it is given by kind.
    executor_settings: arguments of executors made by kind name, by kind (the config file's
        sections: {"slurm": {"partition": "short"}}).
    cache_dir: folder of a persistent LMDB store (created if needed), shared by every
        process that uses it; without it, results live in memory for this Scheduler's life.
        It must be yours alone (0700 when created), unless `shared_cache` (README: Security).
    store: a ResultStore to use instead (overrides cache_dir).
    context: the settings get_context reads (a nested dict; run(context=...) adds to it).
    limits: how many jobs may hold each named resource at once, for @task(limits=...)
        (a name not given here allows 1, as in redun).
    progress: for runs over 2 s, a live line on a terminal, or the JOB STATUS table every
        `status_interval` seconds in a log (only while the logger shows INFO).
    """

    def __init__(
        self,
        executor: Any = "threads",
        executors: Optional[Dict[str, Executor]] = None,
        max_workers: Optional[int] = None,
        cache_dir: Optional[str] = None,
        store: Optional[ResultStore] = None,
        logger: logging.Logger = logger,
        progress: bool = True,
        status_interval: float = 20.0,
        limits: Optional[Dict[str, int]] = None,
        executor_settings: Optional[Dict[str, Dict[str, Any]]] = None,
        shared_cache: bool = False,
        context: Optional[Dict[str, Any]] = None,
    ) -> None:
        self.logger = logger
        self.progress = progress
        self.status_interval = status_interval
        self.limits = dict(limits or {})
        self.context = dict(context or {})  # what get_context reads (redun_fast/context.py)
        if store is None:
            store = (LmdbStore(cache_dir, shared=shared_cache) if cache_dir is not None
                     else MemoryStore())
        self.store = store
        self.cache_dir = cache_dir
        self.executor_settings = dict(executor_settings or {})
        self.executors: Dict[str, Executor] = {}
        self._add_executor("default", executor, max_workers)
        for name, spec in (executors or {}).items():
            self._add_executor(name, spec)
        self.job_counts = JobCounts()
        self.execution_id: Optional[str] = None  # of the run going on, or of the last one
        # Workers live as long as the Scheduler (or until close()), not just one run.
        self._finalizer = weakref.finalize(self, _stop_executors, self.executors)

    def close(self) -> None:
        """Stop the executors' workers and close the store."""
        _stop_executors(self.executors)
        self.store.close()

    def __enter__(self) -> "Scheduler":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def _add_executor(self, name: str, spec: Any, max_workers: Optional[int] = None) -> Executor:
        settings = self.executor_settings.get(kind_name(spec)) if isinstance(spec, str) else None
        executor = self.executors[name] = make_executor(spec, settings, max_workers)
        # Executors that keep files (Slurm's staging) keep them next to the cache.
        executor.use_folder(self.cache_dir or default_cache_dir())
        return executor

    def executor_label(self, name: str) -> str:
        """How the log names an executor (`Run Job ... on processes`): by its name, except
        the default one, by its kind ("default" for threads, as in redun)."""
        executor = self.executors.get(name)
        kind = getattr(executor, "kind", None)
        if name != "default" or kind == "threads" or kind not in executor_kinds():
            return name
        return kind

    def get_executor(self, name: str) -> Executor:
        executor = self.executors.get(name)
        if executor is None:
            if kind_name(name) not in executor_kinds():
                known = sorted(set(self.executors) | set(executor_kinds()))
                raise ValueError(
                    f"unknown executor {name!r}: use one of {', '.join(known)}, or pass "
                    f"Scheduler(executors={{{name!r}: ...}})"
                )
            executor = self._add_executor(name, name)
        executor.start()
        return executor

    def run(self, expr: Any, cache: bool = True, dryrun: bool = False,
            context: Optional[Dict[str, Any]] = None,
            exec_argv: Optional[List[str]] = None, tags: Iterable[Any] = (),
            execution_id: Optional[str] = None) -> Any:
        """Evaluate `expr` to a concrete value; a failed task re-raises its own exception here.

        dryrun: look every job up in the cache and replay what is there, but run nothing;
        raises DryRunResult (listing the jobs that would run) unless all of it was cached.
        context: merged over the Scheduler's context for this run (get_context reads it).
        exec_argv: the command that started the run, as redun takes it (["redun_fast", "run",
        "wf.py", "main"]): the execution is shown and recorded as that, not as `expr`.
        tags: the execution's tags, [(key, value), ...] (tags.py).
        execution_id: the execution's id, a UUID this store has not seen (default: a new one).
        """
        new_run()  # File hashes and task globals remembered from before are taken again
        root_call = None
        if needs_root_task(expr):
            expr = root_task(quote(expr))
        else:
            root_call = _root_call(expr)
        if exec_argv:
            call = shown = " ".join(map(shlex.quote, exec_argv[1:]))
        else:
            call = trim_string(repr(expr))
            shown = shlex.quote(call)
        execution_tags = as_pairs(tags)
        execution_id = new_execution_id(self.store, execution_id)
        execution = new_execution(execution_id, call, root_call)._replace(
            tags=run_tags(execution_tags, (), {}))
        self.execution_id = execution.id
        self.store.commit(execution=execution)
        self.log(f"Start Execution {execution.id}:  redun {shown}")
        reduction = Reduction(self, use_cache=cache, dryrun=dryrun,
                              context=merge_contexts([self.context, context]))
        previous = get_current_scheduler(required=False)
        set_current_scheduler(self)
        try:
            with _sigterm_as_interrupt():
                outcome = reduction.evaluate(expr)
        except BaseException as error:  # Ctrl-C or a scheduler error: what finished is kept
            _stop_executors(self.executors)
            interrupted = isinstance(error, KeyboardInterrupt)
            self._end(execution, reduction, "interrupted" if interrupted else "failed", error,
                      tags=execution_tags)
            raise
        finally:
            set_current_scheduler(previous)
        failed = outcome.state == "failed"
        self._end(execution, reduction, outcome.state, outcome.value if failed else None,
                  None if failed or outcome.state == "dryrun" else short_repr(outcome.value),
                  execution_tags)
        self.log_status()
        self.log(f"Execution duration: {time.time() - execution.start:.2f} seconds")
        if outcome.state == "dryrun":
            self.log("Dryrun: Additional jobs would run.")
            raise DryRunResult(reduction.would_run)
        if failed:
            error = outcome.value
            self.log("*** Execution failed. Traceback (most recent task last):")
            for line in task_traceback(error):
                for part in line.rstrip("\n").split("\n"):
                    self.log(part)
            raise error
        return outcome.value

    def _end(self, execution, reduction: Reduction, state: str, error: Any,
             result: Optional[str] = None, tags: Iterable[Any] = ()) -> None:
        """Add the run's job counts to this scheduler's and record how the execution ended."""
        self.job_counts.merge(reduction.counts)
        counts = reduction.counts.as_dict()
        registry = get_task_registry()
        task_tags = {name: registry.get(name).get_option("tags") for name in counts
                     if registry.get(name) is not None}
        requested = {name: resources for executor in self.executors.values()
                     for name, resources in executor.requested().items() if name in counts}
        self.store.commit(execution=execution._replace(
            end=time.time(), state=state, counts=counts,
            error=None if error is None else f"{type(error).__name__}: {error}", result=result,
            requested=requested or None, tags=run_tags(tags, reduction.graph.tags, task_tags),
        ))

    def log_status(self, running: Optional[JobCounts] = None) -> None:
        """Log the JOB STATUS table: this scheduler's counts, plus a running run's."""
        counts = self.job_counts
        if running is not None:
            counts = JobCounts.from_dict(self.job_counts.as_dict())
            counts.merge(running)
        self.log()
        for line in counts.table():
            self.log(line)
        self.log()

    def log(self, message: str = "", level: int = logging.INFO) -> None:
        self.logger.log(level, message)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """During a run, SIGTERM (a batch system ending the job, `kill`) is handled like Ctrl-C:
    workers stop, what finished is committed, the run is recorded as interrupted. Only where
    nobody else handles SIGTERM, and only in the main thread (where signals are delivered)."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt("SIGTERM")

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _stop_executors(executors: Dict[str, Executor]) -> None:
    for executor in executors.values():
        executor.stop()
