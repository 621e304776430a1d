"""Result stores: LMDB on disk (`Scheduler(cache_dir=...)`, the command line's default) and in
memory (`Scheduler()`, for its own life). A cache is the folder; a store is the object that
keeps it (base.py: the interface)."""
from redun_fast.cache.base import ResultStore
from redun_fast.cache.lmdb_store import LmdbStore
from redun_fast.cache.memory import MemoryStore

__all__ = ["LmdbStore", "MemoryStore", "ResultStore"]
