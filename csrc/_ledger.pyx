# cython: language_level=3
"""The ledger of one run: each job's status changes, counted per task (the JOB STATUS table),
recorded (job records, committed with the results) and told to the log, in one place.

The graph (finish, fail) and the dispatch (replay, plan) move jobs through it; the Reduction
takes what it gathered at each commit (`take`). It does no I/O: `log` is the Reduction's.
"""
import traceback

from redun_fast._graph cimport Job
from redun_fast.output import trim_string
from redun_fast._records cimport JobRecords, now as _now
from redun_fast._status cimport NEW, PENDING, RUNNING, FAILED, CACHED, DONE


cdef class RunLedger:
    def __init__(self, counts):
        self.counts = counts
        self.rows = counts.rows
        self.job_records = JobRecords()
        self.to_store = []
        self.pinned = []
        self.failed_keys = []
        self.log = None
        self.calls = {}

    cdef int set_status(self, Job job, int status) except -1:
        """Move the job to the `status` column of its task's row."""
        row = self.rows.get(job.task.fullname)
        if row is None:
            row = self.rows[job.task.fullname] = [0] * (DONE + 1)  # a column per status
        if job.status != NEW:
            (<list>row)[job.status] -= 1
        (<list>row)[status] += 1
        job.status = status
        return 0

    cpdef waiting(self, Job job):
        """The job waits for its limits (PENDING until `running`)."""
        self.set_status(job, PENDING)

    cpdef running(self, Job job, str executor_name, double now):
        job.started = now
        job.executor = executor_name
        self.set_status(job, RUNNING)
        if self.log is not None:
            self.log("Run   ", job, f" on {executor_name}")

    cpdef cached(self, Job job, double now):
        """Its result was found in the cache (it may still wait for expressions inside it)."""
        job.started = now
        self.set_status(job, CACHED)
        if self.log is not None:
            self.log("Cached", job, f" (eval_hash={job.eval_hash.hex()[:8]})")

    cpdef done(self, Job job):
        """The job's value is final: a cached job stays CACHED in the table."""
        if job.status == RUNNING:
            self.set_status(job, DONE)
        self.record(job, job.status, None)

    cpdef failed(self, Job job, object error):
        if self.log is not None:  # the error on the line: the traceback comes once, at the end
            shown = f"{type(error).__name__}: {error}".splitlines()[0]
            self.log("*** Reject", job, f": {trim_string(shown)}")
        self.set_status(job, FAILED)
        self.failed_keys.append(job.eval_hash)
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        self.record(job, FAILED, text[-4000:])

    cdef int record(self, Job job, int status, object error) except -1:
        cdef JobRecords records = self.job_records
        records.add(job.id, job.task.fullname, job.eval_hash, status, job.started, _now(),
                    error, job.parent_job, job.result_hash, records.cost(job.executor, job.usage))
        if self.calls:  # (empty but for runs whose jobs return files)
            call = self.calls.pop(job.id, None)
            if call is not None:
                records.calls[records.n - 1] = call
        return 0

    cpdef note_files(self, Job job, object value):
        """`job` returned files (`value` holds File or Dir values): its record keeps its call
        and the paths it read and returned, for `redun_fast log --file`."""
        from redun_fast.provenance import describe  # (here: it imports what imports us)
        self.calls[job.id] = describe(job.task, job.args, job.kwargs, value)

    cpdef store(self, bytes eval_hash, bytes data):
        """A result to commit: kept until `take`."""
        self.to_store.append((eval_hash, data))

    cpdef pin(self, bytes eval_hash):
        """The job's result is in the store but the job has no record until the expressions
        it returned are done: the store keeps it from `cache prune` meanwhile."""
        self.pinned.append(eval_hash)

    def take(self):
        """The results, job records and pins gathered since the last call, for one commit."""
        gathered = self.to_store, self.job_records, self.pinned
        self.to_store, self.job_records, self.pinned = [], JobRecords(), []
        return gathered

    def __len__(self):
        """How many results, records and pins wait for the next commit."""
        return len(self.to_store) + len(self.job_records) + len(self.pinned)
