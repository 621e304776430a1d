# The run ledger (csrc/_ledger.pyx), reached by the graph (csrc/_graph.pyx) and the dispatch
# (csrc/_dispatch.pyx) through typed attributes.
from redun_fast._graph cimport Job
from redun_fast._records cimport JobRecords


cdef class RunLedger:
    cdef public object counts  # output.JobCounts of this run
    cdef dict rows  # its rows, task name -> [count per JobStatus], updated here directly
    cdef public JobRecords job_records  # of jobs ended since the last commit
    cdef public list to_store  # (eval hash, serialized result) waiting for the next commit
    cdef public list pinned  # eval hashes to keep from `cache prune` while the run goes on
    cdef public list failed_keys  # eval hashes of jobs failed since the last commit (claims)
    cdef public object log  # log(action, job, suffix) while the logger shows INFO, else None
    cdef dict calls  # job id -> provenance.describe(...), for jobs that returned files

    cdef int set_status(self, Job job, int status) except -1
    cpdef waiting(self, Job job)
    cpdef running(self, Job job, str executor_name, double now)
    cpdef cached(self, Job job, double now)
    cpdef done(self, Job job)
    cpdef failed(self, Job job, object error)
    cdef int record(self, Job job, int status, object error) except -1
    cpdef note_files(self, Job job, object value)
    cpdef store(self, bytes eval_hash, bytes data)
    cpdef pin(self, bytes eval_hash)
