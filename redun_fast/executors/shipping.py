"""How tasks and arguments travel to another process (a pool worker or a Slurm job).

A task from an importable module is sent by name and imported there. A task defined in
`__main__`, a notebook cell or a function body is sent by value with cloudpickle, together
with its name, hash and options, so the other process can run it and refer to it by hash.
"""
import importlib
import io
import pickle
import sys
from typing import Any, Callable, Dict, Optional, Tuple

import cloudpickle

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


def task_definition(task: Task) -> Tuple[str, Any]:
    """How a worker gets a task's function: ("import", module, attribute) or ("value", func)."""
    if is_importable(task):
        return ("import", (task.__module__, task.func.__name__))
    return ("value", task.func)


def load_definition(how: str, what: Any) -> Callable:
    if how == "import":
        module, attribute = what
        return getattr(importlib.import_module(module), attribute).func
    return what


def dumps_result(value: Any) -> bytes:
    """Pickle a worker's results for the scheduler: plain pickle, else cloudpickle (for
    classes that the worker only has by value, such as those defined in `__main__`)."""
    try:
        return pickle.dumps(value, protocol=5)
    except Exception:
        return cloudpickle.dumps(value, protocol=5)


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
