"""The `redun_fast` command: run workflows (`run`), inspect and maintain the cache (`log`, `cache`).

    redun_fast run workflow.py main --n 10   run a task (see `redun_fast run --help`)
    redun_fast log                     recent executions
    redun_fast log EXEC_ID             one execution: its call, result, JOB STATUS table, costs
                                       per task and failed jobs (--jobs, --tree, --json)
    redun_fast log --file PATH         the job that wrote a file, its call, the files it read
    redun_fast report [EXEC_ID] [-o F]  an execution as one self-contained HTML page
    redun_fast cache stats             entries, values, runs and bytes on disk
    redun_fast cache clear             remove every result and run record
    redun_fast cache prune --older-than DAYS
    redun_fast config                  the effective settings, and where each comes from
"""
import argparse
import datetime
import json
import os
import sys
import time
from typing import List, Optional

from redun_fast.accounting import (
    call_tree, failure_kinds, format_bytes, format_seconds, task_summaries)
from redun_fast.cache.base import CacheError
from redun_fast.cache.lmdb_store import LmdbStore
from redun_fast.cache.records import ExecutionRecord, JobRecord
from redun_fast.cli_run import add_run_command, run_main
from redun_fast.config import CACHE_DIR_ENV, CONFIG_ENV, ConfigError, check_config, load_config
from redun_fast.errors import SecurityError
from redun_fast.output import JobCounts, trim_string
from redun_fast.provenance import file_writers, local_path
from redun_fast.report import write as write_report
from redun_fast.run_log import execution_log_path
from redun_fast.tags import matches, tag_argument, tag_lines


def _when(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: Optional[float]) -> str:
    return "-" if seconds is None else f"{seconds:.2f} s"


def cmd_log(store: LmdbStore, args: argparse.Namespace) -> int:
    if args.file is not None:
        return _log_file(store, args)
    if args.execution is None:
        executions = store.executions()
        if args.tag:
            executions = [e for e in executions if matches(e.tags, args.tag)]
        if args.json:
            return _print_json([_execution_json(e) for e in executions[: args.limit]])
        print(f"{'EXECUTION':10} {'START':19} {'DURATION':>10} {'STATE':11} "
              f"{'DONE':>8} {'CACHED':>8} {'FAILED':>7}  CALL")
        for execution in executions[: args.limit]:
            totals = JobCounts.from_dict(execution.counts).get_all()
            print(f"{execution.id[:8]:10} {_when(execution.start):19} "
                  f"{_duration(execution.duration):>10} {execution.shown_state:11} {totals['DONE']:>8} "
                  f"{totals['CACHED']:>8} {totals['FAILED']:>7}  {trim_string(execution.call, 80)}")
        return 0
    execution = store.execution(args.execution)
    jobs = store.job_records(execution.id)
    if args.json:
        found = _execution_json(execution)
        found["tasks"] = [summary._asdict() for summary in task_summaries(jobs)]
        if args.jobs:
            found["jobs"] = [_job_json(job) for job in jobs]
        return _print_json(found)
    if args.tree:
        for line in call_tree(jobs, fold=args.fold):
            print(line)
        return 0
    if args.jobs:
        _print_jobs(jobs)
        return 0
    print(f"Execution {execution.id}: {execution.shown_state}")
    print(f"  started  {_when(execution.start)}, took {_duration(execution.duration)}")
    print(f"  call     {execution.call}")
    if execution.result is not None:
        print(f"  result   {execution.result}")
    if execution.error:
        print(f"  error    {execution.error}")
    for i, line in enumerate(tag_lines(execution.tags)):
        print(f"  {'tags' if i == 0 else '':8} {line}")
    job_log = execution_log_path(store.path, execution.id)
    if os.path.exists(job_log):
        print(f"  job log  {job_log}")
    print()
    counts = JobCounts.from_dict(execution.counts)
    for line in counts.table(datetime.datetime.fromtimestamp(execution.end or execution.start)):
        print(line)
    left = counts.get_all()
    how = {"failed": "failed", "interrupted": "was interrupted"}.get(execution.state)
    if how and left["RUNNING"] + left["PENDING"]:
        # The table is the run's last moment: those jobs were abandoned, not left running.
        print(f"\n{left['RUNNING']:,} running and {left['PENDING']:,} pending jobs were "
              f"abandoned when the run {how}:\nnone of them is cached, so a rerun runs them.")
    _print_task_costs(jobs)
    failed = [job for job in jobs if job.status == "FAILED"]
    for job in failed[:SHOWN_FAILURES]:
        print(f"\n*** Failed job {job.job_id:016x}:  {job.task_name}"
              f" (eval_hash={job.eval_hash.hex()[:8]})")
        print("    " + (job.error or "").rstrip("\n").replace("\n", "\n    "))
    if len(failed) > SHOWN_FAILURES:  # thousands of tracebacks help no one: count the rest
        kinds = failure_kinds(failed[SHOWN_FAILURES:])
        print(f"\n*** {len(failed) - SHOWN_FAILURES:,} more failed jobs:")
        for (task_name, kind), count in kinds.most_common():
            print(f"    {count:>8,}  {task_name}: {kind}")
    print(f"\n(`redun_fast log {execution.id[:8]} --jobs` lists its jobs, `--tree` who called "
          "whom, `redun_fast report` draws it)")
    return 0


def _log_file(store: LmdbStore, args: argparse.Namespace) -> int:
    """Which job wrote a file: its call, the files it read, its execution."""
    writers = list(file_writers(store, args.file))
    if not writers:
        raise CacheError(f"no job recorded in {store.path} returned {args.file!r} (or a Dir "
                         "holding it): a job's record names the files in its result")
    execution, job, returned = writers[0]
    call, read, _ = job.call
    if args.json:
        return _print_json({"file": returned, "job": _job_json(job), "call": call, "read": read,
                            "execution": _execution_json(execution),
                            "earlier": len(writers) - 1})
    print(f"{returned}" + (f" (holds {args.file})" if returned != local_path(args.file)
                           else ""))
    print(f"  written by job {job.job_id:016x}: {call}")
    print(f"  in execution {execution.id} ({_when(execution.start)}, "
          f"{execution.shown_state}): {trim_string(execution.call, 80)}")
    print("  it read   " + ("\n" + " " * 12).join(read) if read else "  it read   no files")
    if len(writers) > 1:
        print(f"  ({len(writers) - 1} earlier job(s) returned it too; `--json` for scripts)")
    return 0


def _print_task_costs(jobs: List[JobRecord]) -> None:
    """Per task: how long its jobs took, their CPU time and peak memory (where measured)."""
    summaries = [summary for summary in task_summaries(jobs) if summary.duration_max is not None]
    if not summaries:
        return
    width = max(len(summary.task) for summary in summaries)
    print(f"\n{'TASK':{width}}  {'RAN':>8}  {'MIN':>9}  {'MEDIAN':>9}  {'MAX':>9}  "
          f"{'CPU/JOB':>9}  {'PEAK':>9}  EXECUTOR")
    for summary in summaries:
        print(f"{summary.task:{width}}  {summary.jobs - summary.cached:>8,}  "
              f"{format_seconds(summary.duration_min):>9}  "
              f"{format_seconds(summary.duration_median):>9}  "
              f"{format_seconds(summary.duration_max):>9}  "
              f"{format_seconds(summary.cpu_median):>9}  {format_bytes(summary.peak_max):>9}  "
              f"{','.join(summary.executors) or '-'}")


def _print_jobs(jobs: List[JobRecord]) -> None:
    print(f"{'JOB':16}  {'TASK':30}  {'STATUS':6}  {'START':19}  {'DURATION':>9}  "
          f"{'CPU':>9}  {'PEAK':>9}  {'EXECUTOR':10}  WORKER")
    for job in jobs:
        print(f"{job.job_id:016x}  {job.task_name:30}  {job.status:6}  {_when(job.start):19}  "
              f"{format_seconds(job.duration):>9}  {format_seconds(job.cpu):>9}  "
              f"{format_bytes(job.peak):>9}  {job.executor or '-':10}  {job.worker or '-'}")


def _execution_json(execution: ExecutionRecord) -> dict:
    found = execution.to_dict()
    del found["root_call"]  # bytes, for --rerun
    found["state"] = execution.shown_state
    found["duration"] = execution.duration
    return found


def _job_json(job: JobRecord) -> dict:
    found = job._asdict()
    found["job_id"] = f"{job.job_id:016x}"
    found["parent"] = f"{job.parent:016x}" if job.parent else None
    found["eval_hash"] = job.eval_hash.hex()
    found["result_hash"] = f"{job.result_hash:016x}" if job.result_hash else None
    found["duration"] = job.duration
    return found


def _print_json(data: object) -> int:
    json.dump(data, sys.stdout, indent=1)
    print()
    return 0


SHOWN_FAILURES = 5  # failed jobs `log ID` shows in full; the others are counted by error


def cmd_cache(store: LmdbStore, args: argparse.Namespace) -> int:
    if args.action == "stats":
        stats = store.stats()
        print(f"cache    {store.path}")
        print(f"results  {stats['results']}")
        print(f"values   {stats['values']}")
        print(f"runs     {stats['runs']}")
        print(f"bytes    {stats['bytes']}")
    elif args.action == "clear":
        stats = store.stats()
        what = (f"{stats['results']} results, {stats['values']} values and {stats['runs']} runs "
                f"in {store.path}")
        if not args.yes and not _confirmed(f"Remove all {what}? [y/N] "):
            print("nothing removed")
            return 1
        store.clear()
        print(f"removed {what}")
    else:
        if args.older_than is None or args.older_than < 0:
            raise CacheError("cache prune needs --older-than DAYS (a number >= 0), "
                             "e.g. `redun_fast cache prune --older-than 30`")
        removed = store.prune(time.time() - args.older_than * 86400)
        print(f"removed {removed['results']} results, {removed['values']} values and "
              f"{removed['runs']} runs not used in the last {args.older_than:g} days")
    return 0


def global_options(after_command: bool) -> argparse.ArgumentParser:
    """The options every command takes, before or after its name (`redun_fast --cache-dir X
    log` and `redun_fast log --cache-dir X`): after it, one given only before is kept."""
    default = argparse.SUPPRESS if after_command else None
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--cache-dir", default=default, help=(
        f"the cache folder (default: ${CACHE_DIR_ENV}, the config file's cache.dir, or "
        "./.redun_fast)"))
    options.add_argument("--config", default=default, help=(
        f"the config file (default: ${CONFIG_ENV} or ./.redun_fast/config.toml)"))
    return options


def _confirmed(question: str) -> bool:
    """The user's yes on a terminal; without one, there is no one to ask."""
    if not sys.stdin.isatty():
        raise CacheError("cache clear removes every result and record: pass --yes to confirm "
                         "(there is no terminal to ask on)")
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="redun_fast", description=__doc__, parents=[global_options(False)],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    after = global_options(True)
    add_run_command(commands, after)
    log = commands.add_parser("log", help="list executions, or show one", parents=[after],
                              description="Examples:\n  redun_fast log\n  redun_fast log 1a2b3c4d\n"
                              "  redun_fast log 1a2b3c4d --jobs\n  redun_fast log 1a2b3c4d --tree\n"
                              "  redun_fast log --json\n  redun_fast log --file results/a.bam",
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    log.add_argument("execution", nargs="?", help="an execution id or its first characters")
    log.add_argument("--limit", type=int, default=20, help="how many executions to list")
    log.add_argument("--jobs", action="store_true", help=(
        "with an execution: list its jobs (status, duration, CPU time, peak memory, executor, "
        "worker)"))
    log.add_argument("--tree", action="store_true",
                     help="with an execution: its jobs as the tree of who called whom")
    log.add_argument("--fold", type=int, default=300, metavar="N",
                     help="with --tree: show N children of a job, count the rest (default 300)")
    log.add_argument("--json", action="store_true", help="print JSON, for scripts")
    log.add_argument("-t", "--tag", "--exec-tag", action="append", default=[],
                     type=tag_argument(value_required=False), metavar="KEY[=VALUE]", help=(
                         "list only the executions that carry this tag (on the run, a task, a "
                         "job or a value; repeatable: all must match)"))
    log.add_argument("--file", metavar="PATH", help=(
        "the job that wrote PATH (it returned it as a File, or a Dir holding it): its call, "
        "the files it read, its execution"))
    log.set_defaults(func=cmd_log)
    report = commands.add_parser(
        "report", help="write an execution's report: one self-contained HTML file",
        parents=[after], formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Its call, counts, a timeline of its jobs, a table per task (durations, CPU "
        "time, peak memory), what Slurm was asked for next to what was used, its failures.\n"
        "Examples:\n  redun_fast report\n  redun_fast report 1a2b3c4d -o run.html")
    report.add_argument("execution", nargs="?",
                        help="an execution id or its first characters (default: the newest)")
    report.add_argument("-o", "--output", default="report.html", metavar="FILE",
                        help="where to write it (default: report.html)")
    report.set_defaults(func=cmd_report)
    cache = commands.add_parser(
        "cache", help="inspect or clean the cache", parents=[after],
        description="Examples:\n  redun_fast cache stats\n  redun_fast cache prune --older-than 30"
        "\n  redun_fast cache clear --yes",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    cache.add_argument("action", choices=["stats", "clear", "prune"])
    cache.add_argument("--older-than", type=float, metavar="DAYS",
                       help="with prune: remove results not used in this many days")
    cache.add_argument("--yes", action="store_true",
                       help="with clear: do not ask (as a script must: it has no terminal)")
    cache.set_defaults(func=cmd_cache)
    config = commands.add_parser(
        "config", help="show the effective settings and where each comes from",
        parents=[after],
        description="Precedence: command-line flag > environment > config file > default.\n"
        "Example:\n  redun_fast config", formatter_class=argparse.RawDescriptionHelpFormatter)
    config.set_defaults(func=None)
    return parser


def cmd_report(store: LmdbStore, args: argparse.Namespace) -> int:
    if args.execution is not None:
        execution = store.execution(args.execution)
    else:
        executions = store.executions()
        if not executions:
            raise CacheError(f"no executions in {store.path} yet: run a workflow first")
        execution = executions[0]
    size = write_report(store, execution, args.output)
    print(f"wrote {args.output} ({format_bytes(size)}): execution {execution.id[:8]}, "
          f"{execution.shown_state}, {trim_string(execution.call, 60)}")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    config = load_config({"cache.dir": args.cache_dir}, args.config)
    width = max(len(key) for key in config)
    for key, (value, source) in config.items():
        print(f"{key:{width}}  {value!r:24}  ({source})")
    check_config(config)  # after the table, which shows where each value comes from
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # what the user typed
    if args.command == "run":
        return run_main(args)
    try:
        if args.command == "config":
            return cmd_config(args)
        config = load_config({"cache.dir": args.cache_dir}, args.config)
        store = LmdbStore(config["cache.dir"][0], create=False, shared=config["cache.shared"][0])
        try:
            code = args.func(store, args)
            sys.stdout.flush()  # a reader gone shows here, where it is handled
            return code
        finally:
            store.close()
    except (CacheError, ConfigError, SecurityError) as error:
        print(f"redun_fast: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `redun_fast log ID | head`: the reader has seen enough
        # Python flushes stdout again at exit; point it at /dev/null so that says nothing.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
