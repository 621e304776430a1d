"""`redun_fast run FILE TASK [--arg value ...]`: load a workflow, parse the task's arguments
from its signature, run it, print the result.

Arguments follow the parameters' annotations (or their defaults' types): int, float, str,
bool as --flag/--no-flag, and lists as repeated values or commas (--samples a b, --samples a,b).
"""
import argparse
import contextlib
import enum
import getpass
import importlib
import importlib.util
import inspect
import logging
import os
import pdb
import pickle
import sys
import traceback
import typing
from typing import Any, Callable, List, NamedTuple, Optional

from redun_fast.cache.base import CacheError
from redun_fast.config import ConfigError, config_context, executor_settings, load_config
from redun_fast.context import merge_contexts, parse_context_update, read_context_file
from redun_fast.executors import executor_kinds, make_executor
from redun_fast.errors import DryRunResult, SecurityError
from redun_fast.expression import Expression
from redun_fast.job_info import JobInfo
from redun_fast.output import format_task_call, task_traceback
from redun_fast.redun_ini import read_redun_ini
from redun_fast.run_log import JobLinesToFile
from redun_fast.scheduler import Scheduler, new_execution_id
from redun_fast.tags import tag_argument
from redun_fast.task import Task, get_task_registry
from redun_fast.value import get_type_registry


class UsageError(Exception):
    """A mistake on the command line: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, not the usage and a traceback."""

    def error(self, message: str) -> None:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def add_run_command(commands: Any, global_options: argparse.ArgumentParser) -> None:
    run = commands.add_parser(
        "run", help="run a task of a workflow file or module", parents=[global_options],
        description=__doc__ + "\nExamples:\n  redun_fast run workflow.py main --n 1000\n"
        "  redun_fast run --executor processes workflow.py main --samples a,b --no-paired\n"
        "  redun_fast run --dryrun my_package.workflow main",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("workflow", help="a .py file, or an importable module name")
    run.add_argument("task", help="a task of it: its name in the module, or its full name "
                     "(with --rerun: an execution id)")
    run.add_argument("task_args", nargs=argparse.REMAINDER, help="the task's arguments")
    run.add_argument("--executor",
                     help="default executor: threads (default), processes, inline or slurm")
    run.add_argument("--max-workers", type=int, help="workers of the default executor")
    run.add_argument("--no-cache", action="store_true", help="run every job, cached or not")
    run.add_argument("--dryrun", action="store_true",
                     help="show which jobs would run and which are cached; run nothing")
    run.add_argument("--context", action="append", default=[], metavar="KEY=VALUE",
                     help="set a context value for get_context (repeatable): bwa.threads=8; "
                     "VALUE is JSON if it parses, else a string")
    run.add_argument("--context-file", help="a JSON file of context, over the config file's "
                     "[context] (default: the setting scheduler.context_file)")
    run.add_argument("--rerun", action="store_true",
                     help="run an earlier execution's root call again: give its id (or its "
                     "first characters) in place of the task; task arguments given override")
    run.add_argument("--pdb", action="store_true",
                     help="on an error, start the debugger where it was raised")
    run.add_argument("--quiet", action="store_true", help="no job log lines, only the result")
    run.add_argument("--verbose", action="store_true", help=(
        "on a terminal, show each job's log line as it comes (by default they go to the "
        "execution's log file in the cache folder, and the terminal shows the progress)"))
    run.add_argument("--log-level", default="INFO",
                     choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    # redun's spellings: the execution's tags, its id, the root task's options and arguments.
    run.add_argument("-t", "--tag", action="append", default=[], type=tag_argument(),
                     metavar="KEY=VALUE", help="tag the execution (repeatable); `log --tag` "
                     "finds it again")
    run.add_argument("-p", "--project", help="tag the execution project=PROJECT")
    run.add_argument("--doc", help="tag the execution doc=DOC")
    run.add_argument("-u", "--user", help="tag the execution user=USER (default: you)")
    run.add_argument("-o", "--option", action="append", default=[], type=tag_argument(),
                     metavar="KEY=VALUE", help="override an option of the task run "
                     "(repeatable): -o executor=processes; VALUE is JSON if it parses")
    run.add_argument("--execution-id", help="the execution's id: a UUID not used before")
    run.add_argument("-i", "--input", metavar="FILE", help=(
        "a pickle of (args, kwargs) for the task; arguments given on the command line "
        "override it"))
    run.set_defaults(func=cmd_run)


def load_workflow(target: str) -> Any:
    """Import a workflow from a file path or a module name."""
    if target.endswith(".py") or os.sep in target:
        path = os.path.abspath(target)
        if not os.path.isfile(path):
            raise UsageError(f"no such workflow file: {target}")
        folder, name = os.path.split(path)[0], os.path.splitext(os.path.basename(path))[0]
        sys.path.insert(0, folder)  # workers import it by this name, as we do
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except SyntaxError as error:
            raise UsageError(f"{target}, line {error.lineno}: {error.msg}: "
                             f"{(error.text or '').strip()}") from error
        except Exception as error:  # it failed as it was imported
            raise UsageError(f"{target} failed as it was imported: {_where_in(error, path)}"
                             f"{type(error).__name__}: {error}") from error
        return module
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as error:
        raise UsageError(f"no such workflow file or module: {target} ({error})") from error


def _where_in(error: BaseException, path: str) -> str:
    """'line N: ' of the last frame of `error` in the file `path`, if it has one."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if frame.filename == path]
    return f"line {frames[-1].lineno}: " if frames else ""


def find_task(module: Any, name: str) -> Task:
    if name.startswith(module.__name__ + "."):  # `module.task`, as redun users write it
        name = name[len(module.__name__) + 1:]
    found = getattr(module, name, None)
    if not isinstance(found, Task):
        found = get_task_registry().get(name)
    if not isinstance(found, Task):
        names = sorted(key for key, value in vars(module).items() if isinstance(value, Task))
        raise UsageError(f"no task {name!r} in {module.__name__}; its tasks: "
                         f"{', '.join(names) or 'none'}")
    return found


def _parser_of(kind: Any) -> Callable:
    """How a command-line string becomes a `kind`: a Value (File, Dir, ...) says, through its
    parse_arg, as in redun; another type is called on it."""
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        def by_name(text: str) -> Any:  # by member name, as redun parses them
            try:
                return kind[text]
            except KeyError:
                raise argparse.ArgumentTypeError(
                    f"{text!r} is not a {kind.__name__}: use one of "
                    f"{', '.join(kind.__members__)}") from None

        by_name.__name__ = kind.__name__
        return by_name
    if isinstance(kind, type) and get_type_registry().get_type(kind, use_default=False):
        def parse(text: str) -> Any:
            return get_type_registry().parse_arg(kind, text)

        parse.__name__ = kind.__name__
        return parse
    return kind if callable(kind) else str


def _list_of(item_type: Callable) -> Callable:
    item_type = _parser_of(item_type)

    def parse(text: str) -> List[Any]:
        return [item_type(part) for part in text.split(",") if part != ""]

    parse.__name__ = getattr(item_type, "__name__", "value")
    return parse


def task_arguments(task: Task, argv: List[str], given_only: bool = False) -> dict:
    """Parse a task's arguments from the command line, by its signature; with `given_only`,
    only those the command line gives (none is required: a rerun has the others)."""
    parser = _Parser(prog=f"redun_fast run ... {task.name}", add_help=True)
    try:
        hints = typing.get_type_hints(task.func)
    except Exception:
        hints = {}
    list_params = set()
    for name, param in task.signature.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if isinstance(param.default, JobInfo):  # filled in by the scheduler
            continue
        kind = hints.get(name, param.annotation)
        lazy = isinstance(param.default, Expression)  # get_context(...): left to the task
        if kind is inspect.Parameter.empty:
            kind = (str if lazy or param.default is param.empty or param.default is None
                    else type(param.default))
        flags = sorted({f"--{name}", f"--{name.replace('_', '-')}"})
        required = param.default is param.empty and not given_only
        default = (argparse.SUPPRESS if lazy or given_only
                   else None if required else param.default)
        shown = _type_name(kind) + ("" if required or lazy else f", default {param.default!r}")
        kind = _without_optional(kind)
        origin = typing.get_origin(kind)
        if kind is bool:
            parser.add_argument(*flags, dest=name, action=argparse.BooleanOptionalAction,
                                required=required, default=default, help=shown)
        elif kind in (list, tuple) or origin in (list, tuple, List):
            item = (typing.get_args(kind) or (str,))[0]
            parser.add_argument(*flags, dest=name, nargs="+", type=_list_of(item),
                                required=required, default=default, help=shown)
            list_params.add(name)
        else:
            parser.add_argument(*flags, dest=name, required=required, default=default,
                                type=_parser_of(kind), help=shown)
    values = vars(parser.parse_args(_negative_numbers_attached(argv)))
    for name in list_params:  # --samples a b,c -> ["a", "b", "c"]
        given = values.get(name)
        if given is not None and given is not task.signature.parameters[name].default:
            values[name] = [item for group in given for item in group]
    return values


def _without_optional(kind: Any) -> Any:
    """`Optional[X]` (a Union of X and None) as X: the command line gives an X or nothing."""
    args = typing.get_args(kind)
    if typing.get_origin(kind) is typing.Union and type(None) in args:
        rest = [arg for arg in args if arg is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return kind


def _type_name(kind: Any) -> str:
    """How --help names a parameter's type: `int`, `list[int]`, `Optional[float]`."""
    if isinstance(kind, type) and not typing.get_args(kind):
        return kind.__name__
    return str(kind).replace("typing.", "")


def _negative_numbers_attached(argv: List[str]) -> List[str]:
    """`--x -inf` as `--x=-inf`: argparse takes "-inf" (or "-1e3") for an option otherwise."""
    joined: List[str] = []
    for token in argv:
        previous = joined[-1] if joined else ""
        if token.startswith("-") and _is_number(token) and previous.startswith("--") and (
                "=" not in previous):
            joined[-1] = f"{previous}={token}"
        else:
            joined.append(token)
    return joined


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def task_call(task: Task, values: dict) -> Any:
    """The task's call from parsed arguments: positional-only parameters by position."""
    params = task.signature.parameters.values()
    args = [values.pop(param.name) for param in params if param.kind is param.POSITIONAL_ONLY]
    return task(*args, **values)


def _with_redun_ini(config: dict) -> tuple:
    """The default executor and its workers, the context and the other executors, with a
    redun project's .redun/redun.ini under our settings (those not set come from it)."""
    executor, executor_source = config["scheduler.executor"]
    max_workers, workers_source = config["scheduler.max_workers"]
    ini = read_redun_ini()
    if ini is None:
        return executor, max_workers, {}, {}
    if executor_source == "default":
        executor = ini.executors.get("default", executor)
    if workers_source == "default":
        max_workers = ini.max_workers.get("default")
    others = {name: make_executor(kind, None, ini.max_workers.get(name))
              for name, kind in ini.executors.items() if name != "default"}
    return executor, max_workers, ini.context, others


def with_options(task: Task, options: List[tuple]) -> Task:
    """The task with `-o key=value` options over its own, checked as @task checks them."""
    if not options:
        return task
    try:
        return task.options(**dict(options))
    except ValueError as error:  # TaskOptionError: unknown or unusable, said with the known
        raise UsageError(f"-o/--option: {error}") from None


def input_arguments(task: Task, path: Optional[str]) -> dict:
    """The arguments of a `-i FILE` (redun's): a pickle of (args, kwargs), by parameter name."""
    if path is None:
        return {}
    try:
        with open(path, "rb") as stream:
            args, kwargs = pickle.load(stream)
        return task.named_arguments(tuple(args), dict(kwargs))
    except OSError as error:
        raise UsageError(f"cannot read the input file {path}: {error.strerror}") from None
    except Exception as error:  # not a pickle, or not of (args, kwargs)
        raise UsageError(f"the input file {path} must be a pickle of (args, kwargs), a tuple "
                         f"and a dict ({type(error).__name__}: {error})") from None


def execution_tags(args: argparse.Namespace) -> List[tuple]:
    """The tags `redun_fast run` gives its execution, as redun's run does: the user, the
    project and doc when given, then each --tag."""
    tags = [("user", args.user or _user_name())]
    tags += [(key, value) for key, value in (("project", args.project), ("doc", args.doc))
             if value is not None]
    return tags + list(args.tag)


def _user_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no $USER and no passwd entry (some containers)
        return str(os.getuid())


def rerun_call(store: Any, execution_id: str, argv: List[str]) -> Any:
    """The root call of an earlier execution (by id or its first characters), with the
    arguments the command line gives instead of its own."""
    execution = store.execution(execution_id)
    if execution.root_call is None:
        raise UsageError(f"execution {execution.id} cannot be rerun: its root was not one task "
                         "call on values, or its arguments were too big to keep")
    fullname, args, kwargs = pickle.loads(execution.root_call)
    task = get_task_registry().get(fullname)
    if task is None:
        raise UsageError(f"execution {execution.id} ran {fullname}, which this workflow does "
                         "not define")
    named = task.named_arguments(args, kwargs)
    named.update(task_arguments(task, argv, given_only=True))
    return task_call(task, named)


def cmd_run(args: argparse.Namespace) -> int:
    module = load_workflow(args.workflow)
    if not args.rerun:
        task = with_options(find_task(module, args.task), args.option)
        kwargs = {**input_arguments(task, args.input),
                  **task_arguments(task, args.task_args, given_only=bool(args.input))}
    config = load_config({"scheduler.executor": args.executor,
                          "scheduler.max_workers": args.max_workers,
                          "scheduler.context_file": args.context_file,
                          "cache.dir": args.cache_dir}, args.config)
    executor, max_workers, ini_context, others = _with_redun_ini(config)
    context_file = config["scheduler.context_file"][0]
    context = merge_contexts([ini_context, config_context(args.config),
                              read_context_file(context_file) if context_file else {}]
                             + [parse_context_update(update) for update in args.context])
    try:
        scheduler = Scheduler(executor=executor, executors=others,
                              cache_dir=config["cache.dir"][0],
                              shared_cache=config["cache.shared"][0],
                              status_interval=config["scheduler.status_interval"][0],
                              context=context,
                              executor_settings={kind: executor_settings(config, kind)
                                                 for kind in executor_kinds()},
                              **({"max_workers": max_workers} if max_workers else {}))
    except ValueError as error:  # an unknown executor, a bad worker count
        raise UsageError(str(error)) from error
    with scheduler:
        scheduler.logger.setLevel(logging.WARNING if args.quiet else args.log_level)
        call = (rerun_call(scheduler.store, args.task, args.task_args) if args.rerun
                else task_call(task, kwargs))
        try:
            args.execution_id = new_execution_id(scheduler.store, args.execution_id)
        except ValueError as error:
            raise UsageError(f"--execution-id: {error}") from None
        to_file = sys.stderr.isatty() and not (args.verbose or args.quiet or args.dryrun)
        job_log = JobLinesToFile(scheduler, config["cache.dir"][0]) if to_file else None
        try:
            with job_log or contextlib.nullcontext():
                result = _run(scheduler, call, args)
        finally:
            if job_log is not None and job_log.path is not None:
                print(f"[redun] This execution's job log: {job_log.path}", file=sys.stderr)
    if isinstance(result, _Exit):
        return result.code
    print(result)
    return 0


class _Exit(NamedTuple):
    code: int


def _run(scheduler: Scheduler, call: Any, args: argparse.Namespace) -> Any:
    """The run's result, or how `redun_fast run` exits (_Exit) when it has none to print."""
    try:
        result = scheduler.run(call, cache=not args.no_cache, dryrun=args.dryrun,
                               exec_argv=["redun_fast", *args.argv],
                               tags=execution_tags(args), execution_id=args.execution_id)
    except DryRunResult as dry:
        cached = scheduler.job_counts.get_all()["CACHED"]
        print(f"Dryrun: {cached} jobs cached, {len(dry.would_run)} would run "
              "(and the jobs that need their results):")
        for job in dry.would_run:
            print(f"  {format_task_call(job.task, job.args, job.kwargs)}")
        return _Exit(0)
    except KeyboardInterrupt:
        done = scheduler.job_counts.get_all()["DONE"]
        print(f"redun_fast run: interrupted; the {done:,} jobs that finished are committed, "
              "and a rerun resumes from them", file=sys.stderr)
        return _Exit(130)
    except Exception as error:
        if args.pdb:  # as redun's --pdb: look at the failure where it happened
            print("Uncaught exception. Entering post-mortem debugging.", file=sys.stderr)
            pdb.post_mortem(sys.exc_info()[2])
        if not scheduler.logger.isEnabledFor(logging.INFO):  # its traceback was not logged
            print("".join(task_traceback(error)), end="", file=sys.stderr)
        print(f"redun_fast run: the run failed: {type(error).__name__}: {error}",
              file=sys.stderr)
        return _Exit(1)
    return result


def run_main(args: argparse.Namespace) -> Optional[int]:
    try:
        return cmd_run(args)
    except (UsageError, ConfigError, CacheError, SecurityError) as error:
        print(f"redun_fast run: error: {error}", file=sys.stderr)
        return 2
