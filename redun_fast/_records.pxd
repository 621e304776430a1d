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
    cdef array executors  # "I": index into `names`, 0 if none (a cached job)
    cdef array workers  # "I": index into `names` ("host:pid"), 0 if not known
    cdef array cpus  # "f": CPU seconds, its share of its batch's; NaN if not measured
    cdef array peaks  # "I": KiB, its batch's peak resident memory; 0 if not measured
    cdef list names  # task, executor and worker names; names[0] is ""
    cdef dict name_index
    cdef dict errors  # record index -> error text (failed jobs only)

    cdef unsigned int name(self, str name) except? 0
    cdef int add(self, unsigned long long job_id, str task_name, bytes eval_hash,
                 unsigned char status, double started, double ended, object error,
                 unsigned long long parent, unsigned long long result, str executor,
                 str worker, float cpu, double peak) except -1
