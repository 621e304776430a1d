"""A redun project's config, `.redun/redun.ini` (or $REDUN_CONFIG/redun.ini), read by
`redun_fast run` for what has a meaning here, so that a redun project keeps its settings.

Taken: `[scheduler]` `context` (JSON) and `context_file`; `[executors.NAME]` of `type = local`
(`mode = thread` or `process`, `max_workers`), NAME "default" being the default executor.
Everything else (the database backend, cloud executors, ...) is named in one warning and
ignored. redun_fast's own config file (config.py) and the command line come first.
"""
import configparser
import json
import logging
import os
from typing import Any, Dict, List, NamedTuple, Optional

from redun_fast.context import read_context_file
from redun_fast.errors import ConfigError

REDUN_CONFIG_ENV = "REDUN_CONFIG"  # redun's: the folder that holds redun.ini
logger = logging.getLogger("redun_fast")


class RedunIni(NamedTuple):
    path: str
    context: Dict[str, Any]
    executors: Dict[str, str]  # executor name -> our kind ("threads", "processes")
    max_workers: Dict[str, int]  # executor name -> its max_workers, where given


def redun_ini_path() -> str:
    return os.path.join(os.environ.get(REDUN_CONFIG_ENV) or ".redun", "redun.ini")


def read_redun_ini(path: Optional[str] = None) -> Optional[RedunIni]:
    """The redun.ini at `path` (default: redun's place for it), or None if there is none."""
    path = path or redun_ini_path()
    if not os.path.exists(path):
        return None
    parser = configparser.ConfigParser()
    try:
        parser.read(path)
    except configparser.Error as error:
        raise ConfigError(f"{path} is not a valid redun.ini: {error}") from None
    ignored: List[str] = []
    context: Dict[str, Any] = {}
    executors: Dict[str, str] = {}
    max_workers: Dict[str, int] = {}
    for section in parser.sections():
        values = dict(parser[section])
        if section == "scheduler":
            context = _context(path, values)
            ignored += [f"[scheduler] {key}" for key in values
                        if key not in ("context", "context_file")]
        elif section.startswith("executors."):
            name = section.split(".", 1)[1]
            kind = _local_kind(values)
            if kind is None:
                ignored.append(f"[{section}] (type {values.get('type', '?')})")
                continue
            executors[name] = kind
            if values.get("max_workers"):
                try:
                    max_workers[name] = int(values["max_workers"])
                except ValueError:
                    raise ConfigError(f"{path}: [{section}] max_workers = "
                                      f"{values['max_workers']!r} must be a whole number") from None
            ignored += [f"[{section}] {key}" for key in values
                        if key not in ("type", "mode", "max_workers")]
        else:
            ignored.append(f"[{section}]")
    if ignored:
        logger.warning("%s: redun_fast ignores %s (no meaning here: the cache is its own, and "
                       "only local executors map to its executors)", path, ", ".join(ignored))
    return RedunIni(path, context, executors, max_workers)


def _context(path: str, values: Dict[str, str]) -> Dict[str, Any]:
    if values.get("context") and values.get("context_file"):
        raise ConfigError(f"{path}: [scheduler] sets both context and context_file; keep one")
    if values.get("context_file"):  # relative to where the workflow runs, as in redun
        return read_context_file(values["context_file"])
    if not values.get("context"):
        return {}
    try:
        context = json.loads(values["context"])
    except ValueError as error:
        raise ConfigError(f"{path}: [scheduler] context is not valid JSON: {error}") from None
    if not isinstance(context, dict):
        raise ConfigError(f"{path}: [scheduler] context must be a JSON object ({{...}})")
    return context


def _local_kind(values: Dict[str, str]) -> Optional[str]:
    """Our executor kind for redun's local executor, or None for another type."""
    if values.get("type", "local") != "local":
        return None
    return "processes" if values.get("mode", "thread") == "process" else "threads"
