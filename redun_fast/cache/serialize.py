"""How results are turned into bytes for a store, and back: pickle protocol 5."""
import pickle
from typing import Any

from redun_fast.errors import SerializationError

# pickle.loads, reading a result that is one int, float, short str, bool or None without
# building an Unpickler: it runs once per cached job.
from redun_fast._unpickle import loads  # noqa: F401


def dumps(value: Any, task_name: str) -> bytes:
    try:
        return pickle.dumps(value, protocol=5)
    except RecursionError as error:
        raise SerializationError(
            f"result of {task_name} is nested too deeply to store ({error}): a "
            f"{type(value).__qualname__} whose nesting exceeds Python's recursion limit; return "
            "flatter data, e.g. a list of calls combined by one task, rather than a long chain"
        ) from error
    except Exception as error:
        raise SerializationError(
            f"result of {task_name} is not picklable: {type(value).__module__}."
            f"{type(value).__qualname__} ({error}); return plain data, or define the class at "
            "module level so pickle can find it"
        ) from error

