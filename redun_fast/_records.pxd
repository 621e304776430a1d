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
    cdef list names
    cdef dict name_index
    cdef dict errors  # record index -> error text (failed jobs only)

    cdef int add(self, unsigned long long job_id, str task_name, bytes eval_hash,
                 unsigned char status, double started, double ended, object error) except -1
