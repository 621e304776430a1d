# The compiled job-record buffer (csrc/_records.pyx), shared with the graph core (_graph.pyx).
from cpython.array cimport array

cdef enum:  # a record's status, as stored
    RECORD_DONE = 0
    RECORD_CACHED = 1
    RECORD_FAILED = 2


cdef class JobRecords:
    cdef Py_ssize_t n
    cdef array ids  # "Q"
    cdef array tasks  # "I": index into `names`
    cdef array hashes  # "B": 16 bytes per record
    cdef array statuses  # "B": RECORD_*
    cdef array starts  # "d"
    cdef array ends  # "d"
    cdef list names
    cdef dict name_index
    cdef dict errors  # record index -> error text (failed jobs only)

    cdef int add(self, unsigned long long job_id, str task_name, bytes eval_hash,
                 unsigned char status, double started, double ended, object error) except -1
