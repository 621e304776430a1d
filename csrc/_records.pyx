# cython: language_level=3
"""Job records of a run, kept column by column and stored as one blob per batch.

A cached million-job run writes a million records (redun's Job rows: which job ran, was
replayed or failed, when, called by which job, with what result, where, at what cost). Kept
as columns of C numbers and written with one copy per column, a record costs about 80 bytes
and a few ns, where a pickled tuple per job cost a tenth of the run. Blob layout
(little-endian):

    b"RFJ3", n (u32), length of meta (u32), meta = pickle((names, {index: error text})),
    job ids (u64 * n), task name index (u32 * n), eval hashes (16 B * n), status (u8 * n: a
    JobStatus), start (f64 * n), end (f64 * n), parent job ids (u64 * n: 0 for the root's),
    result hashes (u64 * n: xxh3-64 of the result as stored; 0 if none), executor name index
    (u32 * n), worker name index (u32 * n), CPU seconds (f32 * n: NaN if not measured), peak
    memory in KiB (u32 * n: 0 if not measured)

Names (tasks, executors, workers) share one table, whose entry 0 is "" (none). Older batches
are read too: b"RFJ2" (the first six columns), b"RFJ1" (the same, statuses coded 0 DONE,
1 CACHED, 2 FAILED) and, before that, pickled lists of tuples.
"""
import pickle
import struct
import sys

from cpython.array cimport array, resize_smart
from libc.string cimport memcpy

from redun_fast._status import JobStatus

MAGIC = b"RFJ3"
_MAGIC_RFJ2 = b"RFJ2"
_MAGIC_RFJ1 = b"RFJ1"
_RFJ1_STATUSES = (JobStatus.DONE, JobStatus.CACHED, JobStatus.FAILED)  # by RFJ1 code
_STATUS_NAMES = {int(status): status.name for status in JobStatus}
_HEADER = struct.Struct("<4sII")
_BIG_ENDIAN = sys.byteorder == "big"
# ids, tasks, hashes, statuses, starts, ends; then parents, results, executors, workers, cpus,
# peaks (RFJ3 only)
_COLUMNS = ("Q", "I", "B", "B", "d", "d", "Q", "Q", "I", "I", "f", "I")
_RFJ2_COLUMNS = 6
NAN = float("nan")


cdef class JobRecords:
    """Records of finished jobs, appended by the graph core, committed by the store."""

    def __cinit__(self):
        self.n = 0
        self.ids = array("Q")
        self.tasks = array("I")
        self.hashes = array("B")
        self.statuses = array("B")
        self.starts = array("d")
        self.ends = array("d")
        self.parents = array("Q")
        self.results = array("Q")
        self.executors = array("I")
        self.workers = array("I")
        self.cpus = array("f")
        self.peaks = array("I")
        self.names = [""]
        self.name_index = {"": 0}
        self.errors = {}

    def __len__(self):
        return self.n

    cdef unsigned int name(self, str name) except? 0:
        """The index of `name` in the names table (0 for None or "")."""
        if name is None:
            return 0
        index = self.name_index.get(name)
        if index is None:
            index = self.name_index[name] = len(self.names)
            self.names.append(name)
        return index

    cdef int add(self, unsigned long long job_id, str task_name, bytes eval_hash,
                 unsigned char status, double started, double ended, object error,
                 unsigned long long parent, unsigned long long result, str executor,
                 str worker, float cpu, double peak) except -1:
        cdef Py_ssize_t i = self.n
        if len(eval_hash) != 16:
            raise ValueError(f"an eval hash is 16 bytes, not {len(eval_hash)}")
        cdef unsigned int task_index = self.name(task_name)
        cdef unsigned int executor_index = self.name(executor)
        cdef unsigned int worker_index = self.name(worker)
        resize_smart(self.ids, i + 1)
        resize_smart(self.tasks, i + 1)
        resize_smart(self.hashes, 16 * (i + 1))
        resize_smart(self.statuses, i + 1)
        resize_smart(self.starts, i + 1)
        resize_smart(self.ends, i + 1)
        resize_smart(self.parents, i + 1)
        resize_smart(self.results, i + 1)
        resize_smart(self.executors, i + 1)
        resize_smart(self.workers, i + 1)
        resize_smart(self.cpus, i + 1)
        resize_smart(self.peaks, i + 1)
        self.ids.data.as_ulonglongs[i] = job_id
        self.tasks.data.as_uints[i] = task_index
        memcpy(self.hashes.data.as_uchars + 16 * i, <const char *>eval_hash, 16)
        self.statuses.data.as_uchars[i] = status
        self.starts.data.as_doubles[i] = started
        self.ends.data.as_doubles[i] = ended
        self.parents.data.as_ulonglongs[i] = parent
        self.results.data.as_ulonglongs[i] = result
        self.executors.data.as_uints[i] = executor_index
        self.workers.data.as_uints[i] = worker_index
        self.cpus.data.as_floats[i] = cpu
        self.peaks.data.as_uints[i] = <unsigned int>min(peak / 1024.0, 4294967295.0)
        if error is not None:
            self.errors[i] = error
        self.n = i + 1
        return 0

    def append(self, record):
        """Add one record given as a tuple (job id, task name, eval hash, status name, start,
        end, error[, parent, result hash, executor, worker, cpu seconds, peak bytes]): how
        they are read back (see `tuples`), and how tests write them."""
        job_id, task_name, eval_hash, status, started, ended, error = record[:7]
        parent, result, executor, worker, cpu, peak = (
            tuple(record[7:]) + _UNKNOWN[len(record) - 7:])
        self.add(job_id, task_name, eval_hash, JobStatus[status].value, started, ended, error,
                 parent, result, executor, worker, NAN if cpu is None else cpu, peak or 0)

    def encode(self) -> bytes:
        meta = pickle.dumps((self.names, self.errors), protocol=5)
        parts = [_HEADER.pack(MAGIC, self.n, len(meta)), meta]
        for column in self.columns():
            if _BIG_ENDIAN:
                column = array(column.typecode, column)
                column.byteswap()
            parts.append(column.tobytes())
        return b"".join(parts)

    def columns(self):
        return (self.ids, self.tasks, self.hashes, self.statuses, self.starts, self.ends,
                self.parents, self.results, self.executors, self.workers, self.cpus, self.peaks)

    def tuples(self) -> list:
        """The records as tuples, in the order they were added: the fields of
        cache.records.JobRecord (None for a name, CPU time or peak not known)."""
        names, errors, hashes = self.names, self.errors, self.hashes.tobytes()
        cpus, peaks = self.cpus, self.peaks
        return [(self.ids[i], names[self.tasks[i]], hashes[16 * i:16 * i + 16],
                 _STATUS_NAMES[self.statuses[i]], self.starts[i], self.ends[i], errors.get(i),
                 self.parents[i], self.results[i], names[self.executors[i]] or None,
                 names[self.workers[i]] or None, None if cpus[i] != cpus[i] else cpus[i],
                 peaks[i] * 1024 if peaks[i] else None)
                for i in range(self.n)]

    def __iter__(self):
        return iter(self.tuples())


_UNKNOWN = (0, 0, None, None, None, None)  # the RFJ3 fields of a record that lacks them


def decode(bytes data) -> list:
    """The record tuples of a stored batch (see the module docstring for the layout)."""
    magic = data[:4]
    if magic not in (MAGIC, _MAGIC_RFJ2, _MAGIC_RFJ1):
        return pickle.loads(data)  # a batch written before the column format
    _, n, meta_size = _HEADER.unpack_from(data)
    offset = _HEADER.size
    cdef JobRecords records = JobRecords()
    records.names, records.errors = pickle.loads(data[offset:offset + meta_size])
    offset += meta_size
    columns = []
    for number, typecode in enumerate(_COLUMNS if magic == MAGIC else _COLUMNS[:_RFJ2_COLUMNS]):
        column = array(typecode)
        size = column.itemsize * n * (16 if number == 2 else 1)  # an eval hash is 16 bytes
        column.frombytes(data[offset:offset + size])
        if _BIG_ENDIAN:
            column.byteswap()
        offset += size
        columns.append(column)
    if offset != len(data):
        raise ValueError(f"a job record batch of {len(data)} bytes, where {offset} were expected")
    if magic != MAGIC:  # older: the columns it lacks say "not known"
        columns += [array(typecode, bytes(array(typecode).itemsize * n))
                    for typecode in _COLUMNS[_RFJ2_COLUMNS:]]
        columns[10] = array("f", [NAN]) * n
        records.names = [""] + records.names
        columns[1] = array("I", [index + 1 for index in columns[1]])
    (records.ids, records.tasks, records.hashes, records.statuses, records.starts,
     records.ends, records.parents, records.results, records.executors, records.workers,
     records.cpus, records.peaks) = columns
    records.n = n
    if magic == _MAGIC_RFJ1:
        records.statuses = array("B", [_RFJ1_STATUSES[code] for code in records.statuses])
    return records.tuples()
