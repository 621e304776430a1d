# cython: language_level=3
"""Job records of a run, kept column by column and stored as one blob per batch.

A cached million-job run writes a million records (redun's Job rows: which job ran, was
replayed or failed, when). Kept as columns of C numbers and written with one copy per
column, a record costs about 45 bytes and a few ns, where a pickled tuple per job cost a
tenth of the run. Blob layout (little-endian):

    b"RFJ2", n (u32), length of meta (u32), meta = pickle((task names, {index: error text})),
    job ids (u64 * n), task name index (u32 * n), eval hashes (16 B * n), status (u8 * n: a
    JobStatus), start (f64 * n), end (f64 * n)

Older batches are read too: b"RFJ1" (the same columns, statuses coded 0 DONE, 1 CACHED,
2 FAILED) and, before that, pickled lists of tuples.
"""
import pickle
import struct
import sys

from cpython.array cimport array, resize_smart
from libc.string cimport memcpy

from redun_fast._status import JobStatus

MAGIC = b"RFJ2"
_MAGIC_RFJ1 = b"RFJ1"
_RFJ1_STATUSES = (JobStatus.DONE, JobStatus.CACHED, JobStatus.FAILED)  # by RFJ1 code
_STATUS_NAMES = {int(status): status.name for status in JobStatus}
_HEADER = struct.Struct("<4sII")
_BIG_ENDIAN = sys.byteorder == "big"
_COLUMNS = ("Q", "I", "B", "B", "d", "d")  # ids, tasks, hashes, statuses, starts, ends


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
        self.names = []
        self.name_index = {}
        self.errors = {}

    def __len__(self):
        return self.n

    cdef int add(self, unsigned long long job_id, str task_name, bytes eval_hash,
                 unsigned char status, double started, double ended, object error) except -1:
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
        self.ids.data.as_ulonglongs[i] = job_id
        self.tasks.data.as_uints[i] = <unsigned int>index
        memcpy(self.hashes.data.as_uchars + 16 * i, <const char *>eval_hash, 16)
        self.statuses.data.as_uchars[i] = status
        self.starts.data.as_doubles[i] = started
        self.ends.data.as_doubles[i] = ended
        if error is not None:
            self.errors[i] = error
        self.n = i + 1
        return 0

    def append(self, record):
        """Add one record given as a tuple (job id, task name, eval hash, status name, start,
        end, error): how they are read back, and how tests write them."""
        job_id, task_name, eval_hash, status, started, ended, error = record
        self.add(job_id, task_name, eval_hash, JobStatus[status].value, started, ended, error)

    def encode(self) -> bytes:
        meta = pickle.dumps((self.names, self.errors), protocol=5)
        parts = [_HEADER.pack(MAGIC, self.n, len(meta)), meta]
        for column in (self.ids, self.tasks, self.hashes, self.statuses, self.starts, self.ends):
            if _BIG_ENDIAN:
                column = array(column.typecode, column)
                column.byteswap()
            parts.append(column.tobytes())
        return b"".join(parts)

    def tuples(self) -> list:
        """The records as tuples, in the order they were added (see `append`)."""
        names, errors, hashes = self.names, self.errors, self.hashes.tobytes()
        return [(self.ids[i], names[self.tasks[i]], hashes[16 * i:16 * i + 16],
                 _STATUS_NAMES[self.statuses[i]], self.starts[i], self.ends[i], errors.get(i))
                for i in range(self.n)]

    def __iter__(self):
        return iter(self.tuples())


def decode(bytes data) -> list:
    """The record tuples of a stored batch (see the module docstring for the layout)."""
    if not data.startswith(MAGIC) and not data.startswith(_MAGIC_RFJ1):
        return pickle.loads(data)  # a batch written before the column format
    _, n, meta_size = _HEADER.unpack_from(data)
    offset = _HEADER.size
    cdef JobRecords records = JobRecords()
    records.names, records.errors = pickle.loads(data[offset:offset + meta_size])
    offset += meta_size
    columns = []
    for number, typecode in enumerate(_COLUMNS):
        column = array(typecode)
        size = column.itemsize * n * (16 if number == 2 else 1)  # an eval hash is 16 bytes
        column.frombytes(data[offset:offset + size])
        if _BIG_ENDIAN:
            column.byteswap()
        offset += size
        columns.append(column)
    if offset != len(data):
        raise ValueError(f"a job record batch of {len(data)} bytes, where {offset} were expected")
    (records.ids, records.tasks, records.hashes, records.statuses, records.starts,
     records.ends) = columns
    records.n = n
    if data.startswith(_MAGIC_RFJ1):
        records.statuses = array("B", [_RFJ1_STATUSES[code] for code in records.statuses])
    return records.tuples()
