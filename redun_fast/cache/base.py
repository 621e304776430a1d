"""The result store interface: eval hash (16 bytes) -> serialized result, read and written in batches.

The scheduler serializes and deserializes; a store only keeps bytes. `store` writes one
batch atomically (one transaction per scheduler tick in the LMDB store).
"""
from typing import Iterable, List, Optional, Sequence, Tuple


class ResultStore:
    def lookup(self, keys: Sequence[bytes]) -> List[Optional[bytes]]:
        raise NotImplementedError

    def store(self, items: Iterable[Tuple[bytes, bytes]]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass
