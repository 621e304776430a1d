"""Tasks: functions whose calls build TaskExpressions, named `namespace.name`, hashed by source.

A task's hash (DESIGN.md §3) covers its full name and either its `version` or its source
text, plus `hash_includes`; options such as `cache` or `cpus` never change it, and are
checked when the task is defined (options.py).
"""
import asyncio
import functools
import inspect
import re
import sys
import textwrap
import warnings
from typing import Any, Callable, Dict, Optional

from redun_fast._core import hash_value
from redun_fast.errors import TaskNameClashWarning
from redun_fast.expression import Expression, SchedulerExpression, TaskExpression
from redun_fast.job_info import JobInfo
from redun_fast.options import check_task_options

_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_NAME_RE = re.compile(rf"^{_IDENTIFIER}$")
_NAMESPACE_RE = re.compile(rf"^({_IDENTIFIER}(\.{_IDENTIFIER})*)?$")

_current_namespace = ""

# Set once a task has a context of its own (update_context): then a call's get_context
# defaults are copies of their own, since one expression is evaluated once per run, and two
# calls may now see two contexts.
_task_contexts = False


def namespace(name: Optional[str] = None) -> None:
    """Set the namespace of tasks defined from now on (None or "" unsets it)."""
    global _current_namespace
    _check_namespace(name or "")
    _current_namespace = name or ""


def get_current_namespace() -> str:
    """The namespace `namespace()` set ("" when none)."""
    return _current_namespace


def _user_stacklevel() -> int:
    """The warnings stacklevel of the first caller outside this module (the @task line)."""
    level, frame = 1, sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        level += 1
        frame = frame.f_back
    return level


class TaskRegistry:
    """Every task defined in this process, by full name (the newest wins) and by hash."""

    def __init__(self) -> None:
        self._by_name: Dict[str, "Task"] = {}
        self._by_hash: Dict[str, "Task"] = {}

    def add(self, task: "Task") -> None:
        old = self._by_name.get(task.fullname)
        if old is not None and old.__module__ != task.__module__:
            # Redefining in the same module (a notebook cell run twice) is normal; two modules
            # with one name is a mistake that would mix their rows in logs and status tables.
            warnings.warn(TaskNameClashWarning(
                f"task {task.fullname} is defined in module {old.__module__} and again in "
                f"{task.__module__}; their results are cached apart, but logs, status tables "
                f"and lookups by name cannot tell them apart (the newest wins). Give one of the "
                f"modules a namespace: redun_namespace = \"...\" at its top, or "
                f"@task(namespace=...)"), stacklevel=_user_stacklevel())
        self._by_name[task.fullname] = task
        self._by_hash[task.hash] = task

    def get(self, fullname: str) -> Optional["Task"]:
        return self._by_name.get(fullname)

    def get_by_hash(self, task_hash: str) -> Optional["Task"]:
        return self._by_hash.get(task_hash)

    def __iter__(self):
        return iter(list(self._by_name.values()))

    def __len__(self) -> int:
        return len(self._by_name)


_registry = TaskRegistry()


def get_task_registry() -> TaskRegistry:
    return _registry


def _with_options(task: "Task", options: dict, context: Optional[dict] = None) -> "Task":
    """`task` as it was pickled: with these options and this context of its own."""
    if task._options != options:
        task = task.options(**options)
    return task.update_context(context) if context else task


def _is_get_context(default: Any) -> bool:
    return isinstance(default, SchedulerExpression) and default.task.fullname == "redun.get_context"


def _own_copy(default: Any) -> Any:
    """A get_context default as an expression of this call's own (see _task_contexts)."""
    if isinstance(default, SchedulerExpression):
        return SchedulerExpression(default.task, default.args, default.kwargs)
    return default


# How a task pickled by reference is found again. A scheduler takes the task's current
# definition, by name: an expression replayed from the cache then calls the task as it is now,
# so a parent whose child task changed replays, and only the child runs again (redun's rule).
# A worker must run exactly the code the scheduler hashed: worker processes call
# require_exact_tasks(), and there a task is found by its hash or not at all.
_exact_tasks = False


def require_exact_tasks() -> None:
    global _exact_tasks
    _exact_tasks = True


def _lookup_task(fullname: str, task_hash: str, module: str, options: dict,
                 context: Optional[dict] = None) -> "Task":
    """Unpickle a task by reference (see require_exact_tasks)."""
    find = _registry.get_by_hash if _exact_tasks else (
        lambda _: _registry.get(fullname) or _registry.get_by_hash(task_hash))
    found = find(task_hash)
    if found is None and module not in sys.modules:
        __import__(module)
        found = find(task_hash)
    if found is None:
        raise LookupError(
            f"task {fullname} with hash {task_hash[:8]} is not defined in this process "
            f"(module {module}); its code changed or was never imported"
        )
    return _with_options(found, options, context)


def _task_by_value(cls: type, state: dict) -> "Task":
    """Unpickle a task sent by value (Task.reduce_by_value): the one this process knows by
    that hash, if any, else this one, registered."""
    found = _registry.get_by_hash(state["hash"])
    if found is None:
        found = cls.__new__(cls)
        found.__dict__.update(state)
        _registry.add(found)
    return _with_options(found, state["_options"], state.get("context_override"))


def _awaited(func: Callable) -> Callable:
    """An async function as a plain one that runs it to the end in an event loop of its own."""
    @functools.wraps(func)
    def awaited(*args: Any, **kwargs: Any) -> Any:
        return asyncio.run(func(*args, **kwargs))

    return awaited


def _lazy_defaults(func: Callable) -> tuple:
    """(position, name, default) of the parameters whose default is an expression, such as
    get_context(...), or a JobInfo(): a call that leaves them out passes them, so the scheduler
    evaluates them, or fills the JobInfo in (positions of keyword-only parameters are past any
    call's arguments)."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return ()
    lazy = []
    for position, param in enumerate(params):
        if isinstance(param.default, (Expression, JobInfo)):
            keyword_only = param.kind is param.KEYWORD_ONLY
            lazy.append((sys.maxsize if keyword_only else position, param.name, param.default))
    return tuple(lazy)


def _check_namespace(value: str) -> None:
    if not isinstance(value, str) or not _NAMESPACE_RE.match(value):
        raise ValueError(
            f"invalid task namespace {value!r}: use dot-separated Python identifiers, "
            "e.g. 'my_project' or 'lab.rnaseq'"
        )


def get_func_source(func: Callable) -> str:
    """The source of `func` from its `def` line on, decorators trimmed and dedented.

    Dedented so that moving a task out of a function or class does not change its hash.
    """
    try:
        source = inspect.getsource(func)
    except (OSError, TypeError):
        # No source file (exec, some REPLs): the compiled code still pins the behaviour.
        code = func.__code__
        return f"<code {code.co_name} {code.co_code.hex()} {code.co_consts!r} {code.co_names!r}>"
    lines = source.split("\n")
    for i, line in enumerate(lines):
        if re.match(r"^ *(async +)?def ", line):
            return textwrap.dedent("\n".join(lines[i:]))
    return textwrap.dedent(source)


class Task:
    """A function turned into a task: calling it returns a TaskExpression."""

    # root_task's: its result is its own (quoted) argument, so its job runs in the scheduler,
    # is replayed by running it again, and the store keeps only that it ran.
    runs_in_scheduler = False

    def __init__(
        self,
        func: Callable,
        name: Optional[str] = None,
        namespace: Optional[str] = None,
        version: Optional[str] = None,
        source: Optional[str] = None,
        hash_includes: Optional[list] = None,
        options: Optional[Dict[str, Any]] = None,
    ) -> None:
        self.func = func
        self.name = name or func.__name__
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise ValueError(
                f"invalid task name {self.name!r}: use a Python identifier (letters, digits, _), "
                "or pass @task(name=...)"
            )
        if namespace is None:
            # The defining module's globals; works even before the module is in sys.modules.
            namespace = getattr(func, "__globals__", {}).get("redun_namespace")
        if namespace is None:
            namespace = _current_namespace
        _check_namespace(namespace)
        self.namespace = namespace
        self.fullname = f"{namespace}.{self.name}" if namespace else self.name
        self.version = version
        self.source = source if source is not None else get_func_source(func)
        self.hash_includes = list(hash_includes or [])
        self._options = dict(options or {})
        if self._options:
            check_task_options(self._options)
        self.hash = self._calc_hash()
        self.digest = bytes.fromhex(self.hash)
        self._signature = None
        self._lazy_defaults = _lazy_defaults(func)
        self.context_override: Optional[dict] = None  # update_context's
        # The dispatch fills a JobInfo placeholder in (job_info.py) for these tasks only.
        self.takes_job_info = any(isinstance(default, JobInfo)
                                  for _, _, default in self._lazy_defaults)
        if inspect.iscoroutinefunction(func):  # redun awaits an async task where it runs
            self.func = _awaited(func)
        self.__doc__ = func.__doc__
        self.__module__ = func.__module__
        self.__name__ = self.name
        self.__qualname__ = getattr(func, "__qualname__", self.name)
        self.__wrapped__ = func

    def _calc_hash(self) -> str:
        includes = sorted(hash_value(value) for value in self.hash_includes)
        if self.version is None:
            return hash_value(("Task", self.fullname, "source", self.source, includes))
        return hash_value(("Task", self.fullname, "version", str(self.version), includes))

    @property
    def signature(self) -> inspect.Signature:
        if self._signature is None:
            self._signature = inspect.signature(self.func)
        return self._signature

    def named_arguments(self, args: tuple, kwargs: dict, defaults: bool = False) -> Dict[str, Any]:
        """A call's arguments by parameter name (`*args` as a tuple, `**kwargs` spread out);
        with `defaults`, the parameters the call leaves out too. Positions where the function
        has no signature, or no parameter, are named "0", "1", ..."""
        try:
            params = list(self.signature.parameters.values())
        except (TypeError, ValueError):  # builtins without a signature
            params = []
        if not params:
            return {**{str(i): arg for i, arg in enumerate(args)}, **kwargs}
        named: Dict[str, Any] = {}
        for i, param in enumerate(params):
            if param.kind is param.VAR_POSITIONAL:
                named[param.name] = tuple(args[i:])
            elif param.kind is param.VAR_KEYWORD:
                named.update({k: v for k, v in kwargs.items() if k not in named})
            elif i < len(args):
                named[param.name] = args[i]
            elif param.name in kwargs or defaults:
                named[param.name] = kwargs.get(param.name, param.default)
        if not any(param.kind is param.VAR_POSITIONAL for param in params):
            named.update({str(i): arg for i, arg in enumerate(args) if i >= len(params)})
        return named

    def get_option(self, key: str, default: Any = None) -> Any:
        return self._options.get(key, default)

    @property
    def task_options(self) -> Dict[str, Any]:
        return dict(self._options)

    def options(self, **options: Any) -> "Task":
        """A copy of this task with options overridden (same hash: options never change results)."""
        check_task_options(options)
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._options = {**self._options, **options}
        return clone

    def partial(self, *args: Any, **kwargs: Any) -> "PartialTask":
        return PartialTask(self, args, kwargs)

    def update_context(self, context: Optional[dict] = None, **kwargs: Any) -> "Task":
        """A copy of this task whose jobs, and the jobs they call, see the run's context
        updated by `context` and `kwargs` (nested dicts merged), as redun's: its get_context
        defaults read it too. Its calls hash apart from the task's (a different context may
        give a different result); its `hash`, which names its code, stays the task's."""
        global _task_contexts
        from redun_fast._graph import use_job_contexts
        from redun_fast.context import OWN_CONTEXT, merge_contexts

        own = merge_contexts([self.context_override, context, kwargs])
        clone = self.options()
        clone.context_override = own
        clone.digest = bytes.fromhex(hash_value(("Task", self.hash, "context", own)))
        clone._lazy_defaults = tuple(
            (position, name, SchedulerExpression(default.task, default.args,
                                                 {**default.kwargs, OWN_CONTEXT: own})
             if _is_get_context(default) else default)
            for position, name, default in self._lazy_defaults)
        _task_contexts = True
        use_job_contexts()
        return clone

    def __call__(self, *args: Any, **kwargs: Any) -> TaskExpression:
        if self._lazy_defaults:  # get_context(...) as a default: the call carries it
            kwargs = {**{name: _own_copy(default) if _task_contexts else default
                         for position, name, default in self._lazy_defaults
                         if position >= len(args) and name not in kwargs}, **kwargs}
        return TaskExpression(self, args, kwargs)

    def __redun_hash__(self) -> str:
        return self.hash

    def __repr__(self) -> str:
        return f"Task(fullname={self.fullname}, hash={self.hash[:8]})"

    def __reduce__(self):
        return (_lookup_task, (self.fullname, self.hash, self.__module__, self._options,
                               self.context_override))

    def reduce_by_value(self) -> tuple:
        """How another process that cannot import the task gets it: all of it, its function
        included (a pickler that sends functions by value, as cloudpickle does, must pickle
        it). executors/shipping.py uses it for tasks of `__main__` or a notebook."""
        return (_task_by_value, (type(self), {**self.__dict__, "_signature": None}))


class PartialTask:
    """A task with some arguments bound: `add.partial(1)(10)` is `add(1, 10)`."""

    def __init__(self, task: Task, args: tuple, kwargs: dict) -> None:
        self.task = task
        self.args = args
        self.kwargs = kwargs
        self.hash = hash_value(("PartialTask", task.hash, args, kwargs))

    @property
    def fullname(self) -> str:
        return self.task.fullname

    @property
    def name(self) -> str:
        return self.task.name

    @property
    def namespace(self) -> str:
        return self.task.namespace

    def options(self, **options: Any) -> "PartialTask":
        return PartialTask(self.task.options(**options), self.args, self.kwargs)

    def partial(self, *args: Any, **kwargs: Any) -> "PartialTask":
        return PartialTask(self.task, self.args + args, {**self.kwargs, **kwargs})

    def __call__(self, *args: Any, **kwargs: Any) -> TaskExpression:
        return self.task(*(self.args + args), **{**self.kwargs, **kwargs})

    def __redun_hash__(self) -> str:
        return self.hash

    def __repr__(self) -> str:
        return (
            f"PartialTask(fullname={self.fullname}, hash={self.hash[:8]}, "
            f"args={self.args!r}, kwargs={self.kwargs!r})"
        )

    def __reduce__(self):
        return (PartialTask, (self.task, self.args, self.kwargs))


def task(
    func: Optional[Callable] = None,
    *,
    name: Optional[str] = None,
    namespace: Optional[str] = None,
    version: Optional[str] = None,
    source: Optional[str] = None,
    hash_includes: Optional[list] = None,
    **options: Any,
) -> Any:
    """Turn a function into a Task; usable bare (`@task`) or with options (`@task(cache=False)`)."""

    def deco(func: Callable) -> Task:
        new_task = Task(
            func,
            name=name,
            namespace=namespace,
            version=version,
            source=source,
            hash_includes=hash_includes,
            options=options,
        )
        _registry.add(new_task)
        return new_task

    if func is not None:
        return deco(func)
    return deco
