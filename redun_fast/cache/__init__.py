"""Result stores: in memory (the default of `Scheduler()`); LMDB comes with the cache issue."""
from redun_fast.cache.base import ResultStore
from redun_fast.cache.memory import MemoryStore

__all__ = ["MemoryStore", "ResultStore"]
