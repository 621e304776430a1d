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


SETTINGS = [
    Setting("scheduler.executor", str, "threads", "REDUN_FAST_EXECUTOR"),
    Setting("scheduler.max_workers", int, None, "REDUN_FAST_MAX_WORKERS"),
    Setting("scheduler.status_interval", float, 20.0, None),
    Setting("cache.dir", str, DEFAULT_CACHE_DIR, CACHE_DIR_ENV),
    Setting("slurm.partition", str, None, "REDUN_FAST_SLURM_PARTITION"),
    Setting("slurm.account", str, None, "REDUN_FAST_SLURM_ACCOUNT"),
    Setting("slurm.qos", str, None, None),
    Setting("slurm.time", str, None, None),
    Setting("slurm.staging_dir", str, None, None),
    Setting("slurm.jobs_per_element", int, None, None),
    Setting("slurm.parallelism", int, None, None),
]
_BY_KEY = {setting.key: setting for setting in SETTINGS}


def default_cache_dir(explicit: Optional[str] = None) -> str:
    return explicit or os.environ.get(CACHE_DIR_ENV) or DEFAULT_CACHE_DIR


def config_path(explicit: Optional[str] = None) -> str:
    return explicit or os.environ.get(CONFIG_ENV) or os.path.join(DEFAULT_CACHE_DIR, "config.toml")


def _convert(setting: Setting, value: Any, where: str) -> Any:
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


def _read_file(path: str) -> Dict[str, Any]:
    if not os.path.exists(path):
        return {}
    try:
        with open(path, "rb") as file:
            data = tomllib.load(file)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from error
    flat = {}
    for section, values in data.items():
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: {section} = ... must be inside a [section]; sections: "
                              "scheduler, cache, slurm")
        for name, value in values.items():
            key = f"{section}.{name}"
            if key not in _BY_KEY:
                raise ConfigError(f"{path}: unknown setting {key}; known: {', '.join(_BY_KEY)}")
            flat[key] = _convert(_BY_KEY[key], value, path)
    return flat


def load_config(flags: Optional[Dict[str, Any]] = None,
                path: Optional[str] = None) -> Dict[str, Tuple[Any, str]]:
    """Every setting's value and where it came from: flag > environment > file > default."""
    path = config_path(path)
    from_file = _read_file(path)
    effective = {}
    for setting in SETTINGS:
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


def slurm_options(config: Dict[str, Tuple[Any, str]]) -> Dict[str, Any]:
    """The SlurmExecutor arguments that the settings give."""
    return {key.split(".", 1)[1]: value for key, (value, _) in config.items()
            if key.startswith("slurm.") and value is not None}
