"""Results kept in a dict for the life of the Scheduler (the walkthrough's `Scheduler()`)."""
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from redun_fast.cache.base import ResultStore


class MemoryStore(ResultStore):
    def __init__(self) -> None:
        self._results: Dict[bytes, bytes] = {}

    def lookup(self, keys: Sequence[bytes]) -> List[Optional[bytes]]:
        get = self._results.get
        return [get(key) for key in keys]

    def store(self, items: Iterable[Tuple[bytes, bytes]]) -> None:
        self._results.update(items)

    def __len__(self) -> int:
        return len(self._results)
