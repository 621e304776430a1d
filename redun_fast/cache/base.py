"""The store interface: results by eval hash, plus run records, written in one batch per tick.

The scheduler serializes results; a store keeps bytes. `commit` writes one tick's results,
job records and (optionally) its execution record atomically, so a crash loses at most the
last uncommitted tick and never leaves a result without its record.
"""
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from redun_fast.cache.records import ExecutionRecord, JobRecord
from redun_fast.errors import CacheError


class ResultStore:
    # Whether schedulers in other processes may use this store at once: a run then opens a
    # session in it, and looks at it every claims.CLAIM_POLL s (cache/claims.py).
    watched = False
    claiming = False  # lookups claim the keys they do not find (another session is open)

    def open_session(self) -> None:
        """A run begins (see cache/claims.py; a store only this process uses has nothing to do)."""

    def close_session(self) -> None:
        """The run ended: its claims are released."""

    def joined(self) -> bool:
        """Whether a session opened or closed since this run last looked (then call
        claim_in_flight)."""
        return False

    def claim_in_flight(self, keys: Sequence[bytes]) -> None:
        """After `joined`: claim `keys` (the jobs this run computes now) if another session is
        open, and say that this run has seen it."""

    def lookup(self, keys: Sequence[bytes], claim: bool = True) -> List[Any]:
        """The serialized result (bytes) for each eval hash: None where there is none, a
        CacheError where the stored entry is damaged (the job then runs again). While the
        store is `claiming`, keys not found are claimed unless `claim` is false, and those
        another run claims are claims.CLAIMED."""
        raise NotImplementedError

    def commit(
        self,
        results: Sequence[Tuple[bytes, bytes]] = (),
        jobs: Iterable[tuple] = (),  # JobRecord fields: a _records.JobRecords, or tuples
        execution: Optional[ExecutionRecord] = None,
        pinned: Sequence[bytes] = (),  # eval hashes of stored results whose jobs run on
        released: Sequence[bytes] = (),  # eval hashes of failed jobs: their claims are dropped
    ) -> None:
        """`pinned` results are kept from `prune` until the execution ends (it commits its
        record with a state other than "running"). The claims on committed results, and on
        `released` keys, are released (cache/claims.py)."""
        raise NotImplementedError

    def executions(self) -> List[ExecutionRecord]:
        """Every execution, newest first."""
        raise NotImplementedError

    def job_records(self, execution_id: str) -> List[JobRecord]:
        raise NotImplementedError

    def execution(self, prefix: str) -> ExecutionRecord:
        """The one execution whose id starts with `prefix` (what a user types: its first
        characters); a CacheError says when none or several do."""
        matches = [e for e in self.executions() if e.id.startswith(prefix)]
        if len(matches) == 1:
            return matches[0]
        where = f" in {self.path}" if hasattr(self, "path") else ""
        if not matches:
            raise CacheError(f"no execution matches {prefix!r}{where}: `redun_fast log` lists "
                             "them")
        raise CacheError(f"{len(matches)} executions match {prefix!r}{where}: give more of "
                         "the id (`redun_fast log` lists them)")

    def stats(self) -> Dict[str, int]:
        raise NotImplementedError

    def clear(self) -> None:
        raise NotImplementedError

    def prune(self, older_than: float) -> Dict[str, int]:
        """Remove results not used by an execution started since `older_than` (a time.time())."""
        raise NotImplementedError

    def close(self) -> None:
        pass
