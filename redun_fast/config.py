"""Settings of the command line: flag > environment > config file > default.

The config file is `./.redun_fast/config.toml` (or $REDUN_FAST_CONFIG, or --config):

    [scheduler]
    executor = "processes"      # threads, processes, inline or slurm
    max_workers = 8
    status_interval = 20        # seconds between JOB STATUS tables in logs

    [cache]
    dir = "/scratch/me/.redun_fast"

    [slurm]
    partition = "short"
    account = "lab"
    time = "1:00:00"
    jobs_per_element = 100

    [context]                   # what get_context reads: any nested tables and values
    bwa = { threads = 8 }
"""
import os
from typing import Any, Dict, NamedTuple, Optional, Tuple

from redun_fast.errors import ConfigError

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

CACHE_DIR_ENV = "REDUN_FAST_CACHE_DIR"
CONFIG_ENV = "REDUN_FAST_CONFIG"
DEFAULT_CACHE_DIR = ".redun_fast"


class Setting(NamedTuple):
    key: str  # "section.name" in the file
    kind: type
    default: Any
    env: Optional[str]


# The scheduler's and the cache's; each executor kind adds its own section (all_settings).
SETTINGS = [
    Setting("scheduler.executor", str, "threads", "REDUN_FAST_EXECUTOR"),
    Setting("scheduler.max_workers", int, None, "REDUN_FAST_MAX_WORKERS"),
    Setting("scheduler.status_interval", float, 20.0, None),
    # A JSON file of context (get_context), over the config file's [context] table.
    Setting("scheduler.context_file", str, None, "REDUN_FAST_CONTEXT_FILE"),
    Setting("cache.dir", str, DEFAULT_CACHE_DIR, CACHE_DIR_ENV),
    # Shared with other users on purpose: they can run code as you (README: Security).
    Setting("cache.shared", bool, False, "REDUN_FAST_CACHE_SHARED"),
]


def all_settings() -> Dict[str, Setting]:
    """Every setting by key: the scheduler's, the cache's and each executor kind's section."""
    from redun_fast.executors import executor_kinds  # they register their sections

    settings = list(SETTINGS)
    for kind in executor_kinds().values():
        settings += kind.settings
    return {setting.key: setting for setting in settings}


_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def default_cache_dir(explicit: Optional[str] = None) -> str:
    return explicit or os.environ.get(CACHE_DIR_ENV) or DEFAULT_CACHE_DIR


def config_path(explicit: Optional[str] = None) -> str:
    return explicit or os.environ.get(CONFIG_ENV) or os.path.join(DEFAULT_CACHE_DIR, "config.toml")


def _convert(setting: Setting, value: Any, where: str) -> Any:
    if setting.kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _BOOLEANS:
            return _BOOLEANS[value.lower()]
        raise ConfigError(f"{where}: {setting.key} = {value!r} must be true or false")
    if setting.kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, setting.kind) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return setting.kind(value)
        except ValueError:
            pass
    raise ConfigError(f"{where}: {setting.key} = {value!r} must be a {setting.kind.__name__}")


CONTEXT_SECTION = "context"  # free-form: the run's context (redun_fast/context.py)


def _read_toml(path: str) -> Dict[str, Any]:
    if not os.path.exists(path):
        return {}
    try:
        with open(path, "rb") as file:
            return tomllib.load(file)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from error


def config_context(path: Optional[str] = None) -> Dict[str, Any]:
    """The config file's [context] table (empty without one)."""
    context = _read_toml(config_path(path)).get(CONTEXT_SECTION, {})
    if not isinstance(context, dict):
        raise ConfigError(f"{config_path(path)}: context = ... must be a [context] table")
    return context


def _read_file(path: str) -> Dict[str, Any]:
    data = _read_toml(path)
    flat = {}
    known = all_settings()
    for section, values in data.items():
        if section == CONTEXT_SECTION:
            continue
        if not isinstance(values, dict):
            sections = ", ".join(dict.fromkeys(key.split(".")[0] for key in known))
            raise ConfigError(f"{path}: {section} = ... must be inside a [section]; sections: "
                              f"{sections}")
        for name, value in values.items():
            key = f"{section}.{name}"
            if key not in known:
                raise ConfigError(f"{path}: unknown setting {key}; known: {', '.join(known)}")
            flat[key] = _convert(known[key], value, path)
    return flat


def load_config(flags: Optional[Dict[str, Any]] = None,
                path: Optional[str] = None) -> Dict[str, Tuple[Any, str]]:
    """Every setting's value and where it came from: flag > environment > file > default."""
    path = config_path(path)
    from_file = _read_file(path)
    effective = {}
    for setting in all_settings().values():
        flag = (flags or {}).get(setting.key)
        env = os.environ.get(setting.env) if setting.env else None
        if flag is not None:
            effective[setting.key] = (_convert(setting, flag, "command line"), "flag")
        elif env:
            effective[setting.key] = (_convert(setting, env, f"${setting.env}"),
                                      f"environment {setting.env}")
        elif setting.key in from_file:
            effective[setting.key] = (from_file[setting.key], f"config {path}")
        else:
            effective[setting.key] = (setting.default, "default")
    return effective


def executor_settings(config: Dict[str, Tuple[Any, str]], kind: str) -> Dict[str, Any]:
    """The arguments an executor kind gets from its section of the settings (those set)."""
    return {key.split(".", 1)[1]: value for key, (value, _) in config.items()
            if key.startswith(f"{kind}.") and value is not None}


def check_config(config: Dict[str, Tuple[Any, str]]) -> None:
    """Raise, as `redun_fast run` would, the ConfigError of a setting no executor takes: an
    unknown executor kind, a bad worker count, an executor section's bad value."""
    from redun_fast.executors import executor_kinds, make_executor
    from redun_fast.executors.registry import kind_name

    kind, source = config["scheduler.executor"]
    workers, workers_source = config["scheduler.max_workers"]
    try:
        make_executor(kind, executor_settings(config, kind_name(kind)), workers)
    except (TypeError, ValueError) as error:
        where = f"scheduler.executor = {kind!r} ({source})"
        if workers is not None:
            where += f", scheduler.max_workers = {workers!r} ({workers_source})"
        raise ConfigError(f"{where}: {error}") from error
    for other in executor_kinds():
        settings = executor_settings(config, other)
        if other == kind_name(kind) or not settings:
            continue
        try:
            make_executor(other, settings)
        except (TypeError, ValueError) as error:
            where = ", ".join(f"{other}.{key} ({config[f'{other}.{key}'][1]})"
                              for key in settings)
            raise ConfigError(f"the [{other}] settings {where}: {error}") from error
