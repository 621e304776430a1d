"""How tasks and arguments travel to another process (a pool worker or a Slurm job).

A worker must run exactly the code the scheduler hashed, with the globals the scheduler has
now. A task from an importable module is sent by name and imported there, with its function
by value as a fallback and a digest of the data globals it reads (globals_digest): if the
module changed on disk since the scheduler imported it (the imported task's hash differs), or
the scheduler's program changed such a global (`module.FACTOR = 100`: the digests differ), the
worker runs the fallback, made again when the digest changes. The scheduler reads those
globals once a run: a task run in the scheduler's process that changes them mid-run is not
seen by the workers until the next run. A task defined in `__main__`, a notebook cell or a
function body is sent by value with cloudpickle (its globals as they are now), and a worker
holds it by what was shipped, so a changed global is shipped again.
"""
import importlib
import io
import pickle
import sys
import threading
import types
from typing import Any, Callable, Dict, Optional, Tuple

import cloudpickle
import xxhash

from redun_fast import runs
from redun_fast.task import Task

_importable_cache: Dict[str, bool] = {}


def is_importable(task: Task) -> bool:
    """True if another process can get this very task by importing its module."""
    known = _importable_cache.get(task.hash)
    if known is None:
        module = sys.modules.get(task.__module__)
        known = (
            task.__module__ != "__main__"
            and getattr(module, "__file__", None) is not None
            and getattr(module, task.func.__name__, None) is task
        )
        _importable_cache[task.hash] = known
    return known


class ShippingPickler(cloudpickle.Pickler):
    """cloudpickle, plus tasks that cannot be imported by name are sent by value."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, Task) and not is_importable(obj):
            return obj.reduce_by_value()
        return super().reducer_override(obj)


def ship(value: Any) -> bytes:
    """Pickle `value` for another process."""
    buffer = io.BytesIO()
    ShippingPickler(buffer, protocol=5).dump(value)
    return buffer.getvalue()


def task_definition(task: Task) -> Tuple[str, Any, Any]:
    """How a worker gets a task's function, and what identifies what was shipped:
    ("import", (module, attribute, the function by value or None, D), D), D being the
    digest of its globals (globals_digest), or ("value", the pickled function, its digest)."""
    if is_importable(task):
        made = _fallbacks.get(task.hash)
        if made is None or made[0] != runs.number:  # the globals are read once a run
            digest = globals_digest(task.func)
            fallback = made[2] if made is not None and made[1] == digest else None
            made = _fallbacks[task.hash] = (runs.number, digest,
                                            fallback or _by_value(task.func))
        _, digest, fallback = made
        return ("import", (task.__module__, task.func.__name__, fallback, digest), digest)
    data = ship(task.func)  # now, with its globals as they are now
    return ("value", data, xxhash.xxh3_64_digest(data))


# task hash -> (the run it was made in, the digest of its globals, its function by value)
_fallbacks: Dict[str, Tuple[int, Optional[bytes], Optional[bytes]]] = {}


def globals_digest(func: Callable) -> Optional[bytes]:
    """A digest of the data globals `func` reads (not modules, functions or classes, which
    its module's code defines), or None when it reads none. Values that cannot be pickled are
    left out: they could not be shipped either."""
    names = _global_names.get(func.__code__)
    if names is None:
        names = _global_names[func.__code__] = tuple(sorted(_names_read(func.__code__)))
    found = func.__globals__
    values = []
    for name in names:
        value = found.get(name, _ABSENT)
        if value is not _ABSENT and not isinstance(value, _CODE_TYPES) and not callable(value):
            try:
                values.append(pickle.dumps((name, value), protocol=5))
            except Exception:
                pass
    return xxhash.xxh3_64_digest(b"".join(values)) if values else None


_ABSENT = object()
_CODE_TYPES = (types.ModuleType, type)
_global_names: Dict[types.CodeType, Tuple[str, ...]] = {}


def _names_read(code: types.CodeType) -> set:
    """The global (and attribute) names a code object and the code nested in it use."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names_read(const)
    return names


_by_value_lock = threading.Lock()


def _by_value(func: Callable) -> Optional[bytes]:
    """An importable module's function pickled by value (None if it cannot be)."""
    module = sys.modules.get(func.__module__)
    with _by_value_lock:  # registering a module is global to cloudpickle: one at a time
        try:
            cloudpickle.register_pickle_by_value(module)
        except (ValueError, TypeError):
            return None
        try:
            return ship(func)
        except Exception:
            return None
        finally:
            cloudpickle.unregister_pickle_by_value(module)


def load_definition(task_hash: str, fullname: str, how: str, what: Any) -> Callable:
    """The function a definition stands for, in the worker (see task_definition)."""
    if how == "value":
        return pickle.loads(what)
    module, attribute, fallback, digest = what
    found = getattr(importlib.import_module(module), attribute)
    if getattr(found, "hash", None) == task_hash and globals_digest(found.func) == digest:
        return found.func
    if fallback is None:
        raise ImportError(
            f"{module}.{attribute} is not the code the scheduler hashed as {fullname} (its "
            f"file changed since the scheduler imported it, or a global it reads), and its "
            "function could not be sent by value; run the workflow again")
    return pickle.loads(fallback)


class _ResultPickler(cloudpickle.Pickler):
    """cloudpickle, minus what it fakes for a result: it turns an open file into a StringIO
    of its contents and pickles a module; plain pickle refuses both, and so must the pool,
    or such a result would be cached as something it is not (threads refuse it too)."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, (io.IOBase, types.ModuleType)):
            raise pickle.PicklingError(f"cannot pickle {type(obj).__qualname__!r} object")
        return super().reducer_override(obj)


def dumps_result(value: Any) -> bytes:
    """Pickle a worker's results for the scheduler: plain pickle, else cloudpickle (for
    classes that the worker only has by value, such as those defined in `__main__`)."""
    try:
        return pickle.dumps(value, protocol=5)
    except Exception:
        buffer = io.BytesIO()
        _ResultPickler(buffer, protocol=5).dump(value)
        return buffer.getvalue()


def pickling_problem(job: Any) -> Optional[Exception]:
    """The error for a job whose function or an argument cannot be pickled, or None."""
    task = job.task
    try:
        ship(task_definition(task))
    except Exception as error:
        return TypeError(f"task {task.fullname} cannot be sent to another process: its function "
                         f"is not picklable ({error}); define it at module level, or use "
                         "executor='threads'")
    try:
        params = list(task.signature.parameters)
    except (TypeError, ValueError):
        params = []
    named = {**{params[i] if i < len(params) else f"#{i}": arg
                for i, arg in enumerate(job.args)}, **job.kwargs}
    for name, value in named.items():
        try:
            ship(value)
        except Exception as error:
            kind = f"{type(value).__module__}.{type(value).__qualname__}"
            return TypeError(f"argument {name!r} of {task.fullname} is a {kind}, which cannot be "
                             f"sent to another process ({error}); pass plain data, or use "
                             "executor='threads'")
    return None
