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
from redun_fast.errors import not_supported
from redun_fast.scheduler import Scheduler, get_current_scheduler, merge_handles, set_current_scheduler
from redun_fast.scripting import script
from redun_fast.task import PartialTask, Task, get_current_namespace, get_task_registry, namespace, task
from redun_fast.value import ProxyValue, Value, get_type_registry

__version__ = "0.1.0"


def run(expr, config_dir=None, **run_config):
    """redun's `redun.run(expr)`: evaluate `expr` on a Scheduler made from the config file
    (./.redun_fast/config.toml, or `config_dir`/config.toml) and kept for the next call."""
    import os

    from redun_fast.config import load_config

    scheduler = _schedulers.get(config_dir)
    if scheduler is None:
        path = None if config_dir is None else os.path.join(config_dir, "config.toml")
        config = load_config(path=path)
        scheduler = _schedulers[config_dir] = Scheduler(
            executor=config["scheduler.executor"][0], cache_dir=config["cache.dir"][0],
            shared_cache=config["cache.shared"][0])
    return scheduler.run(expr, **run_config)


_schedulers = {}  # config_dir -> the Scheduler run() made for it


class Handle:
    """redun's Handle (a value for a connection or other state threaded through jobs)."""

    def __init__(self, *args, **kwargs):
        raise NotImplementedError(
            "redun_fast does not support Handle (state threaded through jobs, with forks and "
            "merges): open the connection inside the task that uses it")


class ShardedS3Dataset:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError(
            "redun_fast does not support ShardedS3Dataset: it has no s3:// filesystem (see "
            "redun_fast.fs.register_filesystem); copy the data to a shared filesystem and use Dir")

# redun's executor classes: here an executor is named by kind (Scheduler(executor="processes"),
# @task(executor=...), the config file), and batch systems other than Slurm are not supported.
_BY_KIND = ("executors are chosen by kind here: Scheduler(executor=\"threads\" or \"processes\"), "
            "executors={name: kind}, or the config file's [scheduler] executor and [KIND] sections")
LocalExecutor = not_supported("LocalExecutor", _BY_KIND)
register_executor = not_supported("register_executor", _BY_KIND)
AWSBatchExecutor, AWSGlueExecutor, DockerExecutor, GCPBatchExecutor, K8SExecutor = (
    not_supported(name, "it runs jobs on a cloud or container service; redun_fast runs them "
                  "on this machine or on a Slurm cluster (executor=\"slurm\")")
    for name in ("AWSBatchExecutor", "AWSGlueExecutor", "DockerExecutor", "GCPBatchExecutor",
                 "K8SExecutor"))
AliasExecutor = not_supported("AliasExecutor", _BY_KIND + " (one kind may have many names)")

__all__ = _errors + [
    "ContentDir",
    "ContentFile",
    "Dir",
    "Expression",
    "Handle",
    "File",
    "FileSet",
    "PartialTask",
    "ProxyValue",
    "QuotedExpression",
    "Scheduler",
    "ShardedS3Dataset",
    "SimpleExpression",
    "StagingDir",
    "StagingFile",
    "Task",
    "TaskExpression",
    "Value",
    "AWSBatchExecutor",
    "AWSGlueExecutor",
    "AliasExecutor",
    "DockerExecutor",
    "GCPBatchExecutor",
    "K8SExecutor",
    "LocalExecutor",
    "apply_tags",
    "catch",
    "catch_all",
    "cond",
    "functools",
    "get_context",
    "get_current_namespace",
    "get_current_scheduler",
    "get_task_registry",
    "get_type_registry",
    "merge_handles",
    "namespace",
    "register_executor",
    "quote",
    "root_task",
    "run",
    "script",
    "set_current_scheduler",
    "task",
    "throw",
]
