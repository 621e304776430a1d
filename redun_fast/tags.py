"""Tags: key=value labels on executions, jobs, tasks and values, as redun keeps them.

They come from `@task(tags=[...])` (every job of the task), `apply_tags(value, tags,
job_tags, execution_tags)` in a workflow (the job whose result holds it, the run, the value),
`Scheduler.run(tags=...)` and `redun_fast run --tag key=value` (the run; the command line adds
`user`, and `project` and `doc` when given, as redun's does). A run's tags are kept in its
execution record (`ExecutionRecord.tags`, the layout of `run_tags`); `redun_fast log ID`
shows them and `redun_fast log --tag key=value` lists the executions that carry one.
"""
import argparse
import json
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from redun_fast._core import HashError, hash_value

Tag = Tuple[str, Any]


def check_tags(tags: Any) -> None:
    """redun's tags: a list of keys or (key, value) pairs."""
    if not isinstance(tags, (list, tuple)) or not all(
            isinstance(tag, str) or (isinstance(tag, (list, tuple)) and len(tag) == 2
                                     and isinstance(tag[0], str)) for tag in tags):
        raise ValueError(f"tags={tags!r} must be a list of keys or (key, value) pairs")


def as_pairs(tags: Iterable[Any]) -> List[list]:
    """Tags as [key, value] lists (JSON's shape; a key alone has the value None)."""
    tags = list(tags)
    check_tags(tags)
    return [[tag, None] if isinstance(tag, str) else [tag[0], tag[1]] for tag in tags]


def parse_tag(text: str, value_required: bool = True) -> Tag:
    """`env=prod` as ("env", "prod"): the value is JSON if it parses (`n=3` gives 3), else a
    string; `env` as ("env", None) where no value is required (a query: any value)."""
    key, sep, raw = text.partition("=")
    if not key or (value_required and not sep):
        raise ValueError(f"tag {text!r} must be KEY=VALUE, such as env=prod")
    if not sep:
        return key, None
    try:
        return key, json.loads(raw)
    except ValueError:
        return key, raw


def tag_argument(value_required: bool = True) -> Callable[[str], Tag]:
    """parse_tag as an argparse `type`, its error said as it is."""
    def parse(text: str) -> Tag:
        try:
            return parse_tag(text, value_required)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def format_tags(tags: Iterable[Any]) -> str:
    """`env=prod, n=3, draft`."""
    return ", ".join(key if value is None else
                     f"{key}={value if isinstance(value, str) else json.dumps(value)}"
                     for key, value in tags)


def run_tags(execution: Iterable[Any], applied: Iterable[tuple],
             task_tags: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """A run's tags as its record keeps them: {"execution": pairs, "tasks": {task name: pairs},
    "jobs": {job id (16 hex digits): pairs}, "values": {value hash: pairs}}; None if there
    are none. `applied`: (job id, value, tags, job_tags, execution_tags) of each apply_tags
    the run evaluated (the graph's `tags`)."""
    record: Dict[str, Any] = {"execution": as_pairs(execution), "tasks": {}, "jobs": {},
                              "values": {}}
    for name, tags in task_tags.items():
        if tags:
            record["tasks"][name] = as_pairs(tags)
    for job_id, value, tags, job_tags, execution_tags in applied:
        record["execution"] += as_pairs(execution_tags)
        if job_tags:
            record["jobs"].setdefault(f"{job_id:016x}", []).extend(as_pairs(job_tags))
        if tags:
            try:
                value_hash = hash_value(value)
            except (HashError, RecursionError):
                continue  # as redun, a value is tagged by its hash: this one has none
            record["values"].setdefault(value_hash, []).extend(as_pairs(tags))
    if not any(record.values()):
        return None
    return record


def matches(record: Optional[Dict[str, Any]], wanted: Iterable[Tag]) -> bool:
    """Whether a run's tags (run_tags) hold every wanted (key, value) on any of its entities
    (a value of None: the key with any value)."""
    if not record:
        return False
    held = [tag for tag in record.get("execution", [])]
    for group in ("tasks", "jobs", "values"):
        for tags in record.get(group, {}).values():
            held.extend(tags)
    return all(any(key == tag[0] and (value is None or value == tag[1]) for tag in held)
               for key, value in wanted)


SHOWN_TAGGED = 10  # tagged jobs and values `redun_fast log ID` lists, at most, of each kind


def tag_lines(record: Optional[Dict[str, Any]]) -> List[str]:
    """A run's tags as `redun_fast log ID` shows them, one entity a line."""
    if not record:
        return []
    lines = [f"execution: {format_tags(record['execution'])}"] if record.get("execution") else []
    lines += [f"task {name}: {format_tags(tags)}" for name, tags in record.get("tasks", {}).items()]
    for kind, group in (("job", "jobs"), ("value", "values")):
        tagged = list(record.get(group, {}).items())
        lines += [f"{kind} {key[:8]}: {format_tags(tags)}" for key, tags in tagged[:SHOWN_TAGGED]]
        if len(tagged) > SHOWN_TAGGED:
            lines.append(f"... {len(tagged) - SHOWN_TAGGED:,} more tagged {group} (`--json` lists "
                         "them all)")
    return lines
