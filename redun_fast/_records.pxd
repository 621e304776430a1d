# The compiled job-record buffer (csrc/_records.pyx), shared with the run ledger (_ledger.pyx).
from cpython.array cimport array
from posix.time cimport clock_gettime, timespec, CLOCK_REALTIME


cdef inline double now():
    """time.time(), without a Python call: job records are stamped with it."""
    cdef timespec ts
    clock_gettime(CLOCK_REALTIME, &ts)
    return ts.tv_sec + ts.tv_nsec * 1e-9


cdef class JobRecords:
    cdef Py_ssize_t n
    cdef array ids  # "Q"
    cdef array tasks  # "I": index into `names`
    cdef array hashes  # "B": 16 bytes per record
    cdef array statuses  # "B": a JobStatus (FAILED, CACHED or DONE)
    cdef array starts  # "d"
    cdef array ends  # "d"
    cdef array parents  # "Q": the id of the job whose result held this call, 0 for the root
    cdef array results  # "Q": xxh3-64 of the result as stored, 0 if none (failed, in-scheduler)
    cdef array usages  # "I": index into `costs`, 0 if nothing is known (a cached job)
    cdef list names  # task names
    cdef dict name_index
    cdef dict errors  # record index -> error text (failed jobs only)
    cdef dict calls  # record index -> provenance.Call (jobs that returned files only)
    # Where jobs ran and what they cost, one entry per executor batch: (executor, worker,
    # CPU seconds per job, peak bytes, (batch start, batch seconds, jobs in the batch));
    # costs[0] is all None (nothing known: a cached job).
    cdef list costs
    cdef dict cost_index
    cdef object last_usage  # the last (executor, usage) looked up and its index: a batch's
    cdef str last_executor  # jobs are recorded one after the other
    cdef unsigned int last_cost

    cdef int add(self, unsigned long long job_id, str task_name, bytes eval_hash,
                 unsigned char status, double started, double ended, object error,
                 unsigned long long parent, unsigned long long result,
                 unsigned int cost) except -1
    cdef unsigned int cost(self, str executor, object usage) except? 0
    cdef unsigned int cost_entry(self, tuple entry) except? 0
