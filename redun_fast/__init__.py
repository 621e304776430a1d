"""redun_fast: redun's lazy task expressions and content-hash caching, fast enough for millions of jobs.

    from redun_fast import Scheduler, task
"""
try:
    from redun_fast import _core  # noqa: F401  (the compiled hashing core)
except ImportError as error:  # a source checkout that was never built
    raise ImportError(
        "redun_fast's compiled core (redun_fast._core) is missing or broken: "
        f"{error}. Build it with `pip install -e .` (or `python setup.py build_ext --inplace`) "
        "from the project folder; it needs Cython and a C compiler."
    ) from error

from redun_fast import functools  # noqa: F401  (redun.functools, for `import redun_fast as redun`)
from redun_fast.builtins import apply_tags, catch, catch_all, cond, root_task, throw
from redun_fast.errors import *  # noqa: F401,F403  (every public error)
from redun_fast.errors import __all__ as _errors
from redun_fast.expression import (
    Expression,
    QuotedExpression,
    SimpleExpression,
    TaskExpression,
    quote,
)
from redun_fast.context import get_context
from redun_fast.file import ContentDir, ContentFile, Dir, File, FileSet, StagingDir, StagingFile
from redun_fast.scheduler import Scheduler
from redun_fast.scripting import script
from redun_fast.task import PartialTask, Task, get_task_registry, namespace, task
from redun_fast.value import ProxyValue, Value, get_type_registry

__version__ = "0.1.0"

__all__ = _errors + [
    "ContentDir",
    "ContentFile",
    "Dir",
    "Expression",
    "File",
    "FileSet",
    "PartialTask",
    "ProxyValue",
    "QuotedExpression",
    "Scheduler",
    "SimpleExpression",
    "StagingDir",
    "StagingFile",
    "Task",
    "TaskExpression",
    "Value",
    "apply_tags",
    "catch",
    "catch_all",
    "cond",
    "functools",
    "get_context",
    "get_task_registry",
    "get_type_registry",
    "namespace",
    "quote",
    "root_task",
    "script",
    "task",
    "throw",
]
