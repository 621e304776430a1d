"""Executor kinds by name, as redun's `register_executor`: a name, the class (imported when
first used), the settings of its config section (`[name]` in config.toml) and the task options
it reads. Adding an executor is its own module plus one `register_executor` line.
"""
import importlib
import inspect
from typing import Any, Callable, Dict, NamedTuple, Optional, Sequence, Tuple, Union

from redun_fast.executors.base import Executor
from redun_fast.options import register_task_option


class ExecutorKind(NamedTuple):
    name: str
    target: Union[type, str]  # the Executor class, or "module:Class" to import when first used
    settings: Tuple[Any, ...]  # config.Setting of its section, "name.key"

    def load(self) -> type:
        if isinstance(self.target, str):
            module, _, attribute = self.target.partition(":")
            return getattr(importlib.import_module(module), attribute)
        return self.target


_KINDS: Dict[str, ExecutorKind] = {}
# redun's names for our kinds: its "local" executor is a thread pool, and redun programs name
# a process pool "process".
ALIASES = {"local": "threads", "process": "processes"}


def kind_name(name: str) -> str:
    """The kind an executor name stands for (an alias resolved)."""
    return ALIASES.get(name, name)


def register_executor(name: str, target: Union[type, str], settings: Sequence[Any] = (),
                      task_options: Optional[Dict[str, Tuple[Callable[[Any], None], str]]] = None,
                      label: Optional[str] = None) -> None:
    """Make `name` an executor kind. `task_options` maps the options its jobs may take to
    (check, help); `label` is how errors name the executor ("Slurm")."""
    _KINDS[name] = ExecutorKind(name, target, tuple(settings))
    for option, (check, help) in (task_options or {}).items():
        register_task_option(option, label or name, check, help)


def executor_kinds() -> Dict[str, ExecutorKind]:
    return dict(_KINDS)


def make_executor(spec: Any, settings: Optional[Dict[str, Any]] = None,
                  max_workers: Optional[int] = None) -> Executor:
    """An Executor from an instance, or from a kind name and its config section's settings.

    max_workers goes to kinds that take it (threads, processes); others do without it.
    """
    if isinstance(spec, Executor):
        return spec
    kind = _KINDS.get(kind_name(spec))
    if kind is None:
        raise ValueError(f"unknown executor {spec!r}: use one of {', '.join(sorted(_KINDS))} "
                         "(or redun's names local and process, for threads and processes) or "
                         "pass an Executor instance")
    cls = kind.load()
    options = dict(settings or {})
    if max_workers is not None and "max_workers" in inspect.signature(cls.__init__).parameters:
        options["max_workers"] = max_workers
    return cls(**options)
