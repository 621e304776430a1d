"""The run's context: settings a workflow reads with get_context (redun's context API).

    @task
    def align(reads: File, threads: int = get_context("bwa.threads", 4)): ...

A run's context is a nested dict, filled (each over the one before) from the config file's
[context] table, a JSON context file (`scheduler.context_file`, `--context-file`),
`Scheduler(context=...)`, `run(..., context=...)` and `redun_fast run --context key=value`.
`get_context("a.b", default)` is evaluated by the scheduler (csrc/_scheduler_nodes.pyx) to
the value at that dotted path, or `default` when there is none, so the value becomes part of
the call's arguments and of its eval hash: a changed setting runs the calls that read it.
"""
import json
from typing import Any, Dict, Iterable, Optional

from redun_fast.builtins import scheduler_task
from redun_fast.errors import ConfigError

# The keyword under which a get_context default of a task with a context of its own
# (Task.update_context) carries that context to the scheduler (_scheduler_nodes.ContextNode).
OWN_CONTEXT = "_task_context"


@scheduler_task
def get_context(var_path: str, default: Any = None) -> Any:
    """The value at the dotted path `var_path` of the run's context, or `default`."""
    raise TypeError("get_context() is evaluated by the scheduler: use it as a task's default "
                    "argument or in a workflow")


def get_context_value(context: Any, var_path: str, default: Any = None) -> Any:
    """The value at `var_path` ("a.b.c") in nested dicts, or `default` where the path stops."""
    if not isinstance(var_path, str) or not var_path:
        raise ValueError(f"get_context needs a dotted path such as 'bwa.threads', not "
                         f"{var_path!r}")
    value = context
    for part in var_path.split("."):
        if not isinstance(value, dict) or part not in value:
            return default
        value = value[part]
    return value


def merge_contexts(contexts: Iterable[Optional[Dict[str, Any]]]) -> Dict[str, Any]:
    """Later dicts win, key by key, nested dicts merged rather than replaced."""
    merged: Dict[str, Any] = {}
    for context in contexts:
        for key, value in (context or {}).items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = merge_contexts([merged[key], value])
            else:
                merged[key] = value
    return merged


def parse_context_update(text: str) -> Dict[str, Any]:
    """`bwa.threads=8` as {"bwa": {"threads": 8}}: the value is JSON if it parses, else a string."""
    key, sep, raw = text.partition("=")
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--context {text!r} must be KEY=VALUE, with a dotted KEY such as "
                          "bwa.threads=8")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    for part in reversed(key.split(".")):
        value = {part: value}
    return value


def read_context_file(path: str) -> Dict[str, Any]:
    """A JSON context file: an object at its top."""
    try:
        with open(path) as stream:
            context = json.load(stream)
    except OSError as error:
        raise ConfigError(f"cannot read the context file {path}: {error.strerror or error}") from None
    except ValueError as error:
        raise ConfigError(f"the context file {path} is not valid JSON: {error}") from None
    if not isinstance(context, dict):
        raise ConfigError(f"the context file {path} must hold a JSON object ({{...}}), not a "
                          f"{type(context).__name__}")
    return context
