# cython: language_level=3
"""Unpickling the small results most tasks return, without building an Unpickler.

A replayed job's result is unpickled once per job: for an int, pickle.loads spends about
0.1 us setting up an Unpickler for four bytes. Here a protocol 5 pickle of exactly one int,
float, short str, bool or None is read directly; anything else goes to pickle.loads, so the
result is always what pickle.loads(data) returns.
"""
import pickle

from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.string cimport memcpy
from libc.stdint cimport int32_t, uint64_t

cdef object _pickle_loads = pickle.loads


cdef inline uint64_t _u64le(const unsigned char *p):
    cdef uint64_t v = 0
    cdef int k
    for k in range(8):
        v |= (<uint64_t>p[k]) << (8 * k)
    return v


cpdef object loads(bytes data):
    """pickle.loads(data), fast for one small scalar pickled with protocol 5."""
    cdef const unsigned char *p = data
    cdef Py_ssize_t n = len(data)
    cdef Py_ssize_t i = 2
    cdef unsigned char op
    cdef uint64_t bits
    cdef double d
    cdef Py_ssize_t size
    cdef int k
    if n < 4 or p[0] != 0x80 or p[1] != 5 or p[n - 1] != b'.':
        return _pickle_loads(data)
    if p[2] == 0x95:  # FRAME: 8-byte length of the rest, up to STOP
        if n < 12 or _u64le(p + 3) != <uint64_t>(n - 11):
            return _pickle_loads(data)
        i = 11
    op = p[i]
    size = n - i - 2  # bytes between the opcode and STOP
    if op == b'K' and size == 1:  # BININT1
        return p[i + 1]
    if op == b'M' and size == 2:  # BININT2
        return p[i + 1] | (p[i + 2] << 8)
    if op == b'J' and size == 4:  # BININT: 4 bytes, little-endian, signed
        return <int32_t>(p[i + 1] | (p[i + 2] << 8) | (p[i + 3] << 16)
                         | (<uint64_t>p[i + 4] << 24))
    if op == b'N' and size == 0:
        return None
    if op == 0x88 and size == 0:
        return True
    if op == 0x89 and size == 0:
        return False
    if op == b'G' and size == 8:  # BINFLOAT: big-endian double
        bits = 0
        for k in range(8):
            bits = (bits << 8) | p[i + 1 + k]
        memcpy(&d, &bits, 8)
        return d
    if op == 0x8c and size >= 2 and p[n - 2] == 0x94 and p[i + 1] == size - 2:
        # SHORT_BINUNICODE, then MEMOIZE
        return PyUnicode_DecodeUTF8(<const char *>p + i + 2, size - 2, "surrogatepass")
    return _pickle_loads(data)
