"""Where things are by default: the cache folder is `--cache-dir`, else $REDUN_FAST_CACHE_DIR,
else `./.redun_fast`."""
import os
from typing import Optional

CACHE_DIR_ENV = "REDUN_FAST_CACHE_DIR"
DEFAULT_CACHE_DIR = ".redun_fast"


def default_cache_dir(explicit: Optional[str] = None) -> str:
    return explicit or os.environ.get(CACHE_DIR_ENV) or DEFAULT_CACHE_DIR
