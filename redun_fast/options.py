"""Task options: the one registry of every option a task may take, who reads it, how it is checked.

`@task(...)` and `.options(...)` check their options here, once: an unknown option, or a value
its reader cannot use, is an error then, not when a job reaches an executor hours later. The
scheduler's own options are registered below; each executor kind registers the options it reads
(executors/registry.py), so an executor may add options of its own.
"""
import difflib
from typing import Any, Callable, Dict, NamedTuple

from redun_fast.errors import TaskOptionError
from redun_fast.tags import check_tags


class TaskOption(NamedTuple):
    name: str
    reader: str  # "scheduler", or the executor that reads it, as its errors name it ("Slurm")
    check: Callable[[Any], None]  # raises ValueError("name=value must be ...")
    help: str


_OPTIONS: Dict[str, TaskOption] = {}
_executors_registered = False


def register_task_option(name: str, reader: str, check: Callable[[Any], None],
                         help: str = "") -> None:
    known = _OPTIONS.get(name)
    if known is not None and known.reader != reader:
        raise ValueError(f"task option {name!r} is read by {known.reader} already; an option has "
                         f"one reader, so {reader} must name its own")
    _OPTIONS[name] = TaskOption(name, reader, check, help)


def task_options() -> Dict[str, TaskOption]:
    """Every known task option, by name (the executors' included)."""
    global _executors_registered
    if not _executors_registered:  # they register theirs when the package is first imported
        _executors_registered = True
        import redun_fast.executors  # noqa: F401
    return _OPTIONS


def check_task_options(options: Dict[str, Any]) -> None:
    """Raise a TaskOptionError naming an unknown or unusable option, and the known ones."""
    known = task_options()
    unknown = [name for name in options if name not in known]
    if unknown:
        raise TaskOptionError(unknown_options_message(unknown))
    for name, value in options.items():
        try:
            known[name].check(value)
        except ValueError as error:
            raise TaskOptionError(f"task option {error}") from None


def unknown_options_message(unknown: list) -> str:
    """`unknown task option(s) mem (did you mean memory?): ...`, then the known options by
    reader, so that the user sees which are whose."""
    known = task_options()
    guesses = [match for name in unknown
               for match in difflib.get_close_matches(name, list(known), n=1)]
    names = ", ".join(sorted(unknown))
    hint = f" (did you mean {', '.join(guesses)}?)" if guesses else ""
    readers: Dict[str, list] = {}
    for option in known.values():
        readers.setdefault(option.reader, []).append(option.name)
    parts = [f"the scheduler's are {', '.join(readers.pop('scheduler', []))}"]
    parts += [f"unknown {reader} option(s) {names}: use {', '.join(owned)}"
              for reader, owned in readers.items()]
    return f"unknown task option(s) {names}{hint}: {'; '.join(parts)}"


def instance_of(name: str, kind: type) -> Callable[[Any], None]:
    """The check of an option whose value must be a `kind` (a bool is not an int)."""
    def check(value: Any) -> None:
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ValueError(f"{name}={value!r} must be a {kind.__name__}")

    return check


def _register_scheduler_options() -> None:
    from redun_fast.limits import parse_limits

    register_task_option("cache", "scheduler", instance_of("cache", bool),
                         "read the cache (results are always written)")
    register_task_option("executor", "scheduler", instance_of("executor", str),
                         "the executor that runs the task's jobs")
    register_task_option("nout", "scheduler", instance_of("nout", int),
                         "how many values a call unpacks to: a, b = f()")
    register_task_option("limits", "scheduler", parse_limits,
                         "resources a job holds while it runs: ['db'] or {'gpu': 2}")
    register_task_option("tags", "scheduler", check_tags,
                         "redun's tags, [(key, value), ...] or [key, ...]: kept in the record "
                         "of each run of its jobs (tags.py)")
    register_task_option("prov", "scheduler", instance_of("prov", bool),
                         "redun's provenance switch: accepted (no provenance graph is kept)")
    register_task_option("check_valid", "scheduler", _one_of("check_valid", ("full", "shallow")),
                         "redun's validity check: accepted; every cached job is checked (full)")


def _one_of(name: str, allowed: tuple) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if value not in allowed:
            raise ValueError(f"{name}={value!r} must be one of {', '.join(allowed)}")

    return check


_register_scheduler_options()
