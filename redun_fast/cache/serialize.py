"""How results are turned into bytes for a store, and back: pickle protocol 5."""
import pickle
from typing import Any


class SerializationError(TypeError):
    """A task result that cannot be stored."""


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


loads = pickle.loads  # (an alias, not a wrapper: it runs once per cached job)
