# cython: language_level=3
"""Canonical value encoding and 128-bit xxh3 hashes: the contract of the cache (DESIGN.md §3).

Every value is written as a type tag followed by its content, so `1`, `1.0`, `True` and `"1"`
differ; dicts and sets are written as sorted element digests, so a hash never depends on
insertion order or PYTHONHASHSEED. Changing any byte of this encoding invalidates every cache.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.math cimport isnan
from libc.stdint cimport uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy

import dataclasses
import pickle

import xxhash

from redun_fast.errors import ExpressionCycleError, HashError

from redun_fast._expression cimport TaskExpression

cdef object _xxh3_128 = xxhash.xxh3_128_digest

TOO_DEEP = (f"a value is nested deeper than {MAX_DEPTH} levels, or contains itself: pass "
            "flatter data (a list of records rather than a chain of nested ones)")
DEF NAN_BITS = 0x7FF8000000000000


cdef dict _type_names = {}  # type -> "module.qualname": formatting it was a third of a hook
# type -> hash(obj): for classes that cannot carry a __redun_hash__ of their own (the
# ProxyValues of redun_fast.value); looked up only for types outside the built-in ones.
cdef dict _hash_hooks = {}


def set_hash_hook(type cls, hook):
    """Hash instances of `cls` with `hook(obj)` (a str or bytes), or stop if hook is None."""
    if hook is None:
        _hash_hooks.pop(cls, None)
    else:
        _hash_hooks[cls] = hook


cdef str _type_name(type cls):
    name = _type_names.get(cls)
    if name is None:
        name = _type_names[cls] = f"{cls.__module__}.{cls.__qualname__}"
    return <str>name


cdef class Encoder:
    """A growable byte buffer that writes the canonical encoding of values."""

    cdef char* data
    cdef Py_ssize_t size
    cdef Py_ssize_t capacity

    def __cinit__(self):
        self.capacity = 128
        self.size = 0
        self.data = <char*>malloc(self.capacity)
        if self.data == NULL:
            raise MemoryError()

    def __dealloc__(self):
        free(self.data)

    cdef int reserve(self, Py_ssize_t n) except -1:
        cdef Py_ssize_t need = self.size + n
        cdef Py_ssize_t capacity
        cdef char* grown
        if need > self.capacity:
            capacity = max(need, 2 * self.capacity)
            grown = <char*>realloc(self.data, capacity)
            if grown == NULL:
                raise MemoryError()
            self.data = grown
            self.capacity = capacity
        return 0

    cdef int put(self, const char* src, Py_ssize_t n) except -1:
        self.reserve(n)
        memcpy(self.data + self.size, src, n)
        self.size += n
        return 0

    cdef int tag(self, char c) except -1:
        self.reserve(1)
        self.data[self.size] = c
        self.size += 1
        return 0

    cdef int u64(self, unsigned long long v) except -1:
        # Little-endian, whatever the machine: hashes must agree across machines.
        cdef int i
        self.reserve(8)
        for i in range(8):
            self.data[self.size + i] = <char>((v >> (8 * i)) & 0xFF)
        self.size += 8
        return 0

    cdef int put_bytes(self, bytes b) except -1:
        cdef Py_ssize_t n = PyBytes_GET_SIZE(b)
        self.u64(<uint64_t>n)
        return self.put(PyBytes_AS_STRING(b), n)

    cdef int put_str(self, str s) except -1:
        cdef Py_ssize_t n
        cdef const char* utf8
        try:
            utf8 = PyUnicode_AsUTF8AndSize(s, &n)
        except UnicodeEncodeError:
            # Lone surrogates have no UTF-8 form; keep them distinct rather than fail.
            return self.put_bytes(s.encode("utf-8", "surrogatepass"))
        self.u64(<uint64_t>n)
        return self.put(utf8, n)

    cdef int value(self, object obj, int depth) except -1:
        cdef type cls = type(obj)
        cdef long long small
        cdef int overflow = 0
        cdef double d
        cdef uint64_t bits
        if depth > MAX_DEPTH:
            raise RecursionError(TOO_DEEP)
        if obj is None:
            return self.tag(b"N")
        if cls is bool:
            return self.tag(b"T" if obj else b"F")
        if cls is int:
            small = PyLong_AsLongLongAndOverflow(obj, &overflow)
            if overflow == 0:
                self.tag(b"i")
                return self.u64(<uint64_t>small)
            self.tag(b"I")
            return self.put_bytes(obj.to_bytes((obj.bit_length() + 8) // 8, "little", signed=True))
        if cls is float:
            d = obj
            if isnan(d):
                bits = NAN_BITS
            else:
                memcpy(&bits, &d, 8)
            self.tag(b"f")
            return self.u64(bits)
        if cls is str:
            self.tag(b"s")
            return self.put_str(obj)
        if cls is bytes:
            self.tag(b"b")
            return self.put_bytes(obj)
        if cls is tuple:
            self.tag(b"t")
            return self.sequence(obj, depth)
        if cls is list:
            self.tag(b"l")
            return self.sequence(obj, depth)
        if cls is dict:
            self.tag(b"d")
            return self.mapping(obj, depth)
        if cls is set:
            self.tag(b"S")
            return self.unordered(obj, depth)
        if cls is frozenset:
            self.tag(b"Z")
            return self.unordered(obj, depth)
        return self.other(obj, cls, depth)

    cdef int sequence(self, object items, int depth) except -1:
        self.u64(len(items))
        for item in items:
            self.value(item, depth + 1)
        return 0

    cdef int mapping(self, dict obj, int depth) except -1:
        if not obj:  # every call without keyword arguments: no lists to build and sort
            return self.u64(0)
        pairs = sorted([_digest(k, depth + 1) + _digest(v, depth + 1) for k, v in obj.items()])
        self.u64(len(pairs))
        for pair in pairs:
            self.put(PyBytes_AS_STRING(pair), 32)
        return 0

    cdef int unordered(self, object obj, int depth) except -1:
        digests = sorted([_digest(item, depth + 1) for item in obj])
        self.u64(len(digests))
        for digest in digests:
            self.put(PyBytes_AS_STRING(digest), 16)
        return 0

    cdef int other(self, object obj, type cls, int depth) except -1:
        if cls is TaskExpression:  # read its hash, once set, without the hook's call
            own_hash = (<TaskExpression>obj)._hash
            if own_hash is not None:
                self.tag(b"h")
                self.put_str(_type_name(cls))
                return self.put_bytes(own_hash)
        hook = _hash_hooks.get(cls)
        if hook is None:
            hook = getattr(cls, "__redun_hash__", None)
        if hook is not None:
            try:
                own_hash = hook(obj)
            except (HashError, ExpressionCycleError, RecursionError):
                raise
            except Exception as error:  # a custom Value's get_hash: name it, and the fix
                raise HashError(
                    f"the hash of a {_type_name(cls)} failed: {type(error).__name__}: {error}; "
                    "fix its get_hash() (or __redun_hash__), or pass a value that can be hashed"
                ) from error
            self.tag(b"h")
            self.put_str(_type_name(cls))
            if isinstance(own_hash, str):
                own_hash = (<str>own_hash).encode()
            return self.put_bytes(own_hash)
        if isinstance(obj, tuple) and hasattr(cls, "_fields"):
            self.tag(b"n")
            self.put_str(_type_name(cls))
            return self.sequence(obj, depth)
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            fields = dataclasses.fields(obj)
            self.tag(b"c")
            self.put_str(_type_name(cls))
            self.u64(len(fields))
            for field in fields:
                self.put_str(field.name)
                self.value(getattr(obj, field.name), depth + 1)
            return 0
        if cls is bytearray:
            self.tag(b"B")
            return self.put_bytes(bytes(obj))
        try:
            data = pickle.dumps(obj, protocol=5)
        except Exception as error:
            raise HashError(
                f"cannot hash a value of type {_type_name(cls)}: it is not picklable ({error}); "
                "pass plain data, or give the class a __redun_hash__() method"
            ) from error
        self.tag(b"p")
        return self.put_bytes(data)

    cdef bytes getvalue(self):
        return PyBytes_FromStringAndSize(self.data, self.size)

    cdef bytes digest(self):
        return _xxh3_128(self.getvalue())


cdef bytes _digest(object obj, int depth):
    cdef Encoder enc = Encoder()
    enc.value(obj, depth)
    return enc.digest()


def encode_value(obj):
    """The canonical bytes of `obj` (the hash input); for tests and debugging."""
    cdef Encoder enc = Encoder()
    enc.value(obj, 0)
    return enc.getvalue()


def value_digest(obj):
    """The 16-byte hash of `obj`."""
    return _digest(obj, 0)


def hash_value(obj):
    """The hash of `obj` as 32 lowercase hex characters."""
    return _digest(obj, 0).hex()


def eval_digest(bytes task_digest, tuple args, dict kwargs):
    """The 16-byte eval hash of calling the task whose hash is `task_digest` with these arguments."""
    cdef Encoder enc = Encoder()
    enc.tag(b"e")
    enc.put(PyBytes_AS_STRING(task_digest), PyBytes_GET_SIZE(task_digest))
    enc.value(args, 0)
    enc.value(kwargs, 0)
    return enc.digest()


def call_digest(bytes task_digest, tuple args, dict kwargs, result):
    """The 16-byte call hash: which task, on which arguments, gave which result (provenance)."""
    cdef Encoder enc = Encoder()
    enc.tag(b"c")
    enc.put(PyBytes_AS_STRING(task_digest), PyBytes_GET_SIZE(task_digest))
    enc.put(PyBytes_AS_STRING(_digest((args, kwargs), 0)), 16)
    enc.put(PyBytes_AS_STRING(_digest(result, 0)), 16)
    return enc.digest()
