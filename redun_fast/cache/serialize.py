"""How results are turned into bytes for a store, and back: pickle protocol 5.

A result that holds values with a validity check (a File, a Dir, a custom Value whose
`is_valid` can say no) is stored marked: CHECKED, then PICKLED and the pickle of (those
values, result), or, for a result that is one value whose class packs itself (File),
PACKED, the length of its type name, the name and the packed bytes. Replay checks those
values, and only for marked rows; other rows are a plain pickle (they start with pickle's
PROTO opcode, never CHECKED), so a result without such values costs no more to store or
replay than before. The values are found while the result is pickled, by `reducer_override`,
which pickle calls only for objects outside its built-in types.
"""
import io
import pickle
from typing import Any, List, Optional

from redun_fast.errors import SerializationError, StaleResultError
from redun_fast.value import (
    PLAIN,
    Value,
    get_type_registry,
    postprocess_result,
    reduce_serialized,
)

# pickle.loads, reading a result that is one int, float, short str, bool or None without
# building an Unpickler: it runs once per cached job.
from redun_fast._unpickle import loads  # noqa: F401

CHECKED = ord("V")  # the first byte of a marked row (a pickle starts with 0x80)
PICKLED, PACKED = b"p", b"k"  # its second byte
_PLAIN_TYPES = (int, str, float, bool, bytes, type(None))
_registry = get_type_registry()


class _ResultPickler(pickle.Pickler):
    """Notes the values with a validity check or a postprocess step, and pickles those whose
    type serializes itself through that type."""

    def __init__(self, file: Any) -> None:
        super().__init__(file, protocol=5)
        self.checked: List[Any] = []
        self.postprocessed = False

    def reducer_override(self, obj: Any) -> Any:
        traits = _registry.traits_of(type(obj))
        if traits is PLAIN:
            return NotImplemented
        if traits.validated:
            self.checked.append(obj)
        if traits.postprocessed:
            self.postprocessed = True
        return reduce_serialized(obj) if traits.serialized else NotImplemented


class ResultSerializer:
    """One run's serializer (its pickler is reused, so one per thread that stores)."""

    def __init__(self) -> None:
        self._buffer = io.BytesIO()
        self._pickler = _ResultPickler(self._buffer)

    def _pickle(self, value: Any) -> bytes:
        buffer, pickler = self._buffer, self._pickler
        buffer.seek(0)
        buffer.truncate()
        pickler.checked, pickler.postprocessed = [], False
        try:
            pickler.dump(value)
        finally:
            pickler.clear_memo()
        return buffer.getvalue()

    def dumps(self, value: Any, task_name: str, eval_hash: Optional[bytes] = None) -> Any:
        """The stored form of a task's result: bytes, or (bytes, value) when postprocessing
        replaced values inside it (the replaced value is the one to pass on)."""
        if type(value) in _PLAIN_TYPES:  # most results: nothing inside to note
            return pickle.dumps(value, protocol=5)
        try:
            traits = _registry.traits_of(type(value))
            if traits.packed and traits.validated and not traits.postprocessed:
                return _packed(value)  # a File: no pickle to write first
            data = self._pickle(value)
            if self._pickler.postprocessed and eval_hash is not None:
                value = postprocess_result(value, eval_hash)
                return self._marked(value, self._pickle(value)), value
            return self._marked(value, data)
        except RecursionError as error:
            raise SerializationError(
                f"result of {task_name} is nested too deeply to store ({error}): a "
                f"{type(value).__qualname__} whose nesting exceeds Python's recursion limit; "
                "return flatter data, e.g. a list of calls combined by one task, rather than a "
                "long chain") from error
        except OSError as error:  # a File inside that cannot be hashed
            raise SerializationError(
                f"result of {task_name} holds a file that cannot be hashed: {error}") from error
        except Exception as error:
            raise SerializationError(
                f"result of {task_name} is not picklable: {type(value).__module__}."
                f"{type(value).__qualname__} ({type(error).__name__}: {error}); return plain "
                "data, or define the class at module level so pickle can find it") from error

    def _marked(self, value: Any, data: bytes) -> bytes:
        checked = self._pickler.checked
        if not checked:
            return data
        return b"V" + PICKLED + self._pickle((checked, value))


def _packed(value: Any) -> bytes:
    name = type(value).type_name.encode()
    if len(name) > 255:
        raise SerializationError(f"the type name of {type(value).__qualname__} is longer than 255 "
                                 "bytes: give the class a shorter type_name")
    return b"V" + PACKED + bytes([len(name)]) + name + value.__redun_pack__()


def load_checked(data: bytes) -> Any:
    """A marked row's result, if every value it holds is still valid; else StaleResultError."""
    if data[1:2] == PACKED:  # one value, itself the value to check
        end = 3 + data[2]
        value = _registry.value_type(data[3:end].decode()).__redun_unpack__(data[end:])
        checked = (value,)
    else:
        checked, value = pickle.loads(data[2:])
    for item in checked:
        if not (item if isinstance(item, Value) else _registry.get_value(item)).is_valid():
            raise StaleResultError(f"{item!r} is no longer valid")
    return value
