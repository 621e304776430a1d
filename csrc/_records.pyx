# cython: language_level=3
"""Job records of a run, kept column by column and stored as one blob per batch.

A cached million-job run writes a million records (redun's Job rows: which job ran, was
replayed or failed, when, called by which job, with what result, where, at what cost). Kept
as columns of C numbers and written with one copy per column, a record costs about 65 bytes
and a few ns, where a pickled tuple per job cost a tenth of the run. Where a job ran and what
it cost is measured per executor batch (executors/usage.py), so it is kept once per batch, in
a small table the records index. Blob layout (little-endian):

    b"RFJ4", n (u32), length of meta (u32), meta = pickle((task names, {index: error text},
    costs, {index: provenance.Call})), job ids (u64 * n), task name index (u32 * n), eval
    hashes (16 B * n), status (u8 * n: a JobStatus), start (f64 * n), end (f64 * n),
    parent job ids (u64 * n: 0 for the root's), result hashes (u64 * n: xxh3-64 of the
    result as stored; 0 if none), cost index (u32 * n)

costs is a list of (executor, worker "host:pid", CPU seconds per job, peak bytes, (batch
start, batch seconds, jobs in the batch)), entry 0 all None (not known). Older batches are
read too: b"RFJ2" (the first six columns), b"RFJ1" (the same, statuses coded 0 DONE,
1 CACHED, 2 FAILED) and, before that, pickled lists of tuples.
"""
import pickle
import struct
import sys

from cpython.array cimport array, resize_smart
from libc.string cimport memcpy

from redun_fast._status import JobStatus

MAGIC = b"RFJ4"
_MAGIC_RFJ2 = b"RFJ2"
_MAGIC_RFJ1 = b"RFJ1"
_RFJ1_STATUSES = (JobStatus.DONE, JobStatus.CACHED, JobStatus.FAILED)  # by RFJ1 code
_STATUS_NAMES = {int(status): status.name for status in JobStatus}
_HEADER = struct.Struct("<4sII")
_BIG_ENDIAN = sys.byteorder == "big"
# ids, tasks, hashes, statuses, starts, ends; then (RFJ4 only) parents, results, costs
_COLUMNS = ("Q", "I", "B", "B", "d", "d", "Q", "Q", "I")
_RFJ2_COLUMNS = 6
_NO_COST = (None, None, None, None, None)  # executor, worker, cpu, peak, batch


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
        self.usages = array("I")
        self.names = []
        self.name_index = {}
        self.errors = {}
        self.calls = {}
        self.costs = [_NO_COST]
        self.cost_index = {}
        self.last_usage = None
        self.last_executor = None
        self.last_cost = 0

    def __len__(self):
        return self.n

    cdef int add(self, unsigned long long job_id, str task_name, bytes eval_hash,
                 unsigned char status, double started, double ended, object error,
                 unsigned long long parent, unsigned long long result,
                 unsigned int cost) except -1:
        """`cost`: where it ran and what it cost, an index into `costs` (see `cost`)."""
        cdef Py_ssize_t i = self.n
        if len(eval_hash) != 16:
            raise ValueError(f"an eval hash is 16 bytes, not {len(eval_hash)}")
        index = self.name_index.get(task_name)
        if index is None:
            index = self.name_index[task_name] = len(self.names)
            self.names.append(task_name)
        resize_smart(self.ids, i + 1)
        resize_smart(self.tasks, i + 1)
        resize_smart(self.hashes, 16 * (i + 1))
        resize_smart(self.statuses, i + 1)
        resize_smart(self.starts, i + 1)
        resize_smart(self.ends, i + 1)
        resize_smart(self.parents, i + 1)
        resize_smart(self.results, i + 1)
        resize_smart(self.usages, i + 1)
        self.ids.data.as_ulonglongs[i] = job_id
        self.tasks.data.as_uints[i] = <unsigned int>index
        memcpy(self.hashes.data.as_uchars + 16 * i, <const char *>eval_hash, 16)
        self.statuses.data.as_uchars[i] = status
        self.starts.data.as_doubles[i] = started
        self.ends.data.as_doubles[i] = ended
        self.parents.data.as_ulonglongs[i] = parent
        self.results.data.as_ulonglongs[i] = result
        self.usages.data.as_uints[i] = cost
        if error is not None:
            self.errors[i] = error
        self.n = i + 1
        return 0

    cdef unsigned int cost(self, str executor, object usage) except? 0:
        """The index in `costs` of where a job ran (`executor`, None if nothing ran it) and
        `usage`, the executors.usage.Usage of its batch (None if not measured)."""
        if executor is None:
            return 0
        if usage is self.last_usage and executor is self.last_executor:
            return self.last_cost  # the batch's other jobs
        if usage is None:
            entry = (executor, None, None, None, None)
        else:  # (worker, started, seconds, CPU seconds, peak bytes, jobs)
            worker, started, seconds, cpu, peak, jobs = usage
            entry = (executor, worker, None if cpu is None else cpu / jobs, peak,
                     (started, seconds, jobs))
        index = self.cost_entry(entry)
        self.last_usage, self.last_executor, self.last_cost = usage, executor, index
        return index

    cdef unsigned int cost_entry(self, tuple entry) except? 0:
        index = self.cost_index.get(entry)
        if index is None:
            index = self.cost_index[entry] = len(self.costs)
            self.costs.append(entry)
        return index

    def append(self, record):
        """Add one record given as a tuple of cache.records.JobRecord's fields, those from
        the parent on optional: how they are read back (see `tuples`), and how tests write
        them."""
        job_id, task_name, eval_hash, status, started, ended, error = record[:7]
        parent, result = (tuple(record[7:9]) + (0, 0))[:2]
        cost = tuple(record[9:14]) + _NO_COST[len(record[9:14]):]
        self.add(job_id, task_name, eval_hash, JobStatus[status].value, started, ended, error,
                 parent, result, 0 if cost == _NO_COST else self.cost_entry(cost))
        if len(record) > 14 and record[14] is not None:
            self.calls[self.n - 1] = record[14]

    def encode(self) -> bytes:
        meta = pickle.dumps((self.names, self.errors, self.costs, self.calls), protocol=5)
        parts = [_HEADER.pack(MAGIC, self.n, len(meta)), meta]
        for column in self.columns():
            if _BIG_ENDIAN:
                column = array(column.typecode, column)
                column.byteswap()
            parts.append(column.tobytes())
        return b"".join(parts)

    def columns(self):
        return (self.ids, self.tasks, self.hashes, self.statuses, self.starts, self.ends,
                self.parents, self.results, self.usages)

    def tuples(self) -> list:
        """The records as tuples, in the order they were added: the fields of
        cache.records.JobRecord (None for what is not known)."""
        names, errors, hashes, costs = self.names, self.errors, self.hashes.tobytes(), self.costs
        parents, calls = self.parents, self.calls
        return [(self.ids[i], names[self.tasks[i]], hashes[16 * i:16 * i + 16],
                 _STATUS_NAMES[self.statuses[i]], self.starts[i], self.ends[i], errors.get(i),
                 parents[i], self.results[i])
                + costs[self.usages[i]] + (calls.get(i),)
                for i in range(self.n)]

    def __iter__(self):
        return iter(self.tuples())


def decode(bytes data) -> list:
    """The record tuples of a stored batch (see the module docstring for the layout)."""
    magic = data[:4]
    if magic not in (MAGIC, _MAGIC_RFJ2, _MAGIC_RFJ1):
        return pickle.loads(data)  # a batch written before the column format
    _, n, meta_size = _HEADER.unpack_from(data)
    offset = _HEADER.size
    cdef JobRecords records = JobRecords()
    meta = pickle.loads(data[offset:offset + meta_size])
    records.names, records.errors = meta[0], meta[1]
    if magic == MAGIC:
        records.costs, records.calls = meta[2], meta[3]
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
    (records.ids, records.tasks, records.hashes, records.statuses, records.starts,
     records.ends, records.parents, records.results, records.usages) = columns
    records.n = n
    if magic == _MAGIC_RFJ1:
        records.statuses = array("B", [_RFJ1_STATUSES[code] for code in records.statuses])
    return records.tuples()
