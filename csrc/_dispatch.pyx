# cython: language_level=3
"""A job's way between the graph and the world outside it, once per job, so compiled.

Out: a new job is replayed from the cache when its result was found (`replay`), else marked
running and grouped for its executor (`plan`). Back: an executor's result is serialized for
the store and handed to the graph, which reduces any expressions inside it (`ingest`). The
Reduction owns this bridge and the store: it looks jobs up, passes the results in, and gives
the serializer (`loads`, `load_checked`, `dumps`), so nothing here does I/O or imports the
cache. A stored result that holds values with a validity check (Files) is marked (its first
byte is CHECKED, cache/serialize.py): only those rows go through `load_checked`.
"""
import pickle

import xxhash

from redun_fast._graph cimport Graph, Job
from redun_fast._ledger cimport RunLedger
from redun_fast._records cimport now as _now
from redun_fast._status cimport PENDING

DEF READS_CACHE = 1  # the task reads the cache (its `cache` option is true)
DEF IN_SCHEDULER = 2  # the task runs in the scheduler (Task.runs_in_scheduler: root_task)
DEF JOB_INFO = 4  # the task takes a JobInfo, filled in as its job is planned (job_info.py)
DEF CHECKED = 86  # ord("V"): cache/serialize.py's mark of a result whose values are checked

# A task that runs in the scheduler only unquotes its argument: the store keeps that it ran,
# and a replay runs it again rather than unpickling a whole expression tree.
RAN_IN_SCHEDULER = pickle.dumps(None, protocol=5)

# A job's result hash, for provenance (its record): of the result as the store keeps it.
cdef object _result_hash = xxhash.xxh3_64_intdigest


cdef class Dispatch:
    cdef Graph graph
    cdef RunLedger ledger
    cdef object loads  # bytes -> value
    cdef object load_checked  # marked bytes -> value; raises StaleResultError if one is stale
    cdef object dumps  # (value, task name, eval hash) -> bytes, or (bytes, postprocessed
                       # value); raises an error naming the task
    cdef object not_replayed  # (job, error): its cached result is stale or cannot be loaded
    cdef object label_of  # executor name -> how the log names it ("on processes")
    cdef object fill_job_info  # job -> None: its JobInfo placeholders filled in
    cdef dict plans  # task -> (mode bits, executor name, its label): read once per task and run
    cdef public Py_ssize_t running  # jobs handed to executors and not back yet

    def __init__(self, Graph graph, loads, load_checked, dumps, not_replayed, label_of=str,
                 fill_job_info=None):
        self.graph = graph
        self.ledger = graph.ledger
        self.loads = loads
        self.load_checked = load_checked
        self.dumps = dumps
        self.not_replayed = not_replayed
        self.label_of = label_of
        self.fill_job_info = fill_job_info
        self.plans = {}
        self.running = 0

    cdef tuple plan_of(self, task):
        found = self.plans.get(task)
        if found is None:
            mode = ((READS_CACHE if task.get_option("cache", True) else 0)
                    | (IN_SCHEDULER if task.runs_in_scheduler else 0)
                    | (JOB_INFO if getattr(task, "takes_job_info", False) else 0))
            name = task.get_option("executor") or "default"
            found = self.plans[task] = (mode, name, self.label_of(name))
        return <tuple>found

    cpdef str executor_of(self, task):
        """The name of the executor that runs `task`'s jobs ("default" unless it says)."""
        return self.plan_of(task)[1]

    cpdef list replay(self, list jobs, list found):
        """Replay the jobs whose cached result was found (unless their task has cache=False);
        return the others, which must run."""
        cdef list to_run = []
        cdef Job job
        cdef int mode
        cdef double now = _now()
        for job, data in zip(jobs, found):
            if data is None:
                to_run.append(job)
                continue
            mode = self.plan_of(job.task)[0]
            if not mode & READS_CACHE:
                to_run.append(job)
                continue
            try:
                if type(data) is not bytes:  # the store found the entry damaged
                    raise data
                if mode & IN_SCHEDULER:
                    result = job.task.func(*job.args, **job.kwargs)
                elif (<bytes>data)[0] == CHECKED:
                    result = self.load_checked(data)
                    job.result_hash = _result_hash(data)
                else:
                    result = self.loads(data)
                    job.result_hash = _result_hash(data)
            except Exception as error:  # a stale File; the class of a cached value renamed
                self.not_replayed(job, error)
                to_run.append(job)
                continue
            self.ledger.cached(job, now)
            self.graph.wait_for(job, result)  # a cached expression is evaluated further
            if job.state == PENDING:
                self.ledger.pin(job.eval_hash)
        return to_run

    cpdef dict plan(self, list jobs):
        """Mark jobs as running; return them by executor name (those that run in the
        scheduler under None)."""
        cdef dict batches = {}
        cdef Job job
        cdef tuple plan
        cdef double now = _now()
        for job in jobs:
            plan = self.plan_of(job.task)
            executor_name = plan[1]
            self.ledger.running(job, plan[2], now)
            if <int>plan[0] & JOB_INFO:
                self.fill_job_info(job)
            key = None if <int>plan[0] & IN_SCHEDULER else executor_name
            batch = batches.get(key)
            if batch is None:
                batch = batches[key] = []
            (<list>batch).append(job)
        return batches

    cpdef ingest(self, list results):
        """Results from an executor, as (job, ok, value or error): keep the successes for the
        store, continue the reduction."""
        cdef Job job
        for job, ok, value in results:
            self.running -= 1
            if not ok:
                self.graph.fail(job, value)
                continue
            if <int>self.plan_of(job.task)[0] & IN_SCHEDULER:
                data = RAN_IN_SCHEDULER
            else:
                try:
                    data = self.dumps(value, job.task.fullname, job.eval_hash)
                except Exception as error:  # not picklable: the job fails, nothing is stored
                    self.graph.fail(job, error)
                    continue
                if type(data) is tuple:  # postprocessing replaced values inside the result
                    data, value = data
                job.result_hash = _result_hash(data)
                if (<bytes>data)[0] == CHECKED:  # it returned files: who wrote them is kept
                    self.ledger.note_files(job, value)
            self.ledger.store(job.eval_hash, data)
            self.graph.wait_for(job, value)  # the result may hold more expressions to reduce
            if job.state == PENDING:
                self.ledger.pin(job.eval_hash)
