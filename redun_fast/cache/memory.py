"""Results and run records in dicts, for the life of the Scheduler (the walkthrough's `Scheduler()`)."""
from typing import Dict, List, Optional, Sequence, Tuple

from redun_fast.cache.base import ResultStore
from redun_fast.cache.records import ExecutionRecord, JobRecord


class MemoryStore(ResultStore):
    def __init__(self) -> None:
        self._results: Dict[bytes, bytes] = {}
        self._executions: Dict[str, ExecutionRecord] = {}
        self._jobs: Dict[str, List[tuple]] = {}
        self._current: Optional[str] = None

    def lookup(self, keys: Sequence[bytes], claim: bool = True) -> List[Optional[bytes]]:
        get = self._results.get
        return [get(key) for key in keys]

    def commit(
        self,
        results: Sequence[Tuple[bytes, bytes]] = (),
        jobs: Sequence[tuple] = (),
        execution: Optional[ExecutionRecord] = None,
        pinned: Sequence[bytes] = (),
        released: Sequence[bytes] = (),
    ) -> None:  # one process: a prune cannot run while it writes, so nothing needs pinning
        self._results.update(results)
        if execution is not None:
            self._executions[execution.id] = execution
            self._current = execution.id
        if jobs:
            self._jobs.setdefault(self._current, []).extend(jobs)

    def executions(self) -> List[ExecutionRecord]:
        return sorted(self._executions.values(), key=lambda e: e.start, reverse=True)

    def job_records(self, execution_id: str) -> List[JobRecord]:
        return [JobRecord(*job) for job in self._jobs.get(execution_id, [])]

    def stats(self) -> Dict[str, int]:
        return {
            "results": len(self._results),
            "values": 0,
            "runs": len(self._executions),
            "bytes": sum(len(data) for data in self._results.values()),
        }

    def clear(self) -> None:
        self.__init__()

    def prune(self, older_than: float) -> Dict[str, int]:
        recent = {e.id for e in self._executions.values() if e.start >= older_than}
        used = {job[2] for eid in recent for job in self._jobs.get(eid, [])}
        stale = [key for key in self._results if key not in used]
        for key in stale:
            del self._results[key]
        old_runs = [eid for eid in self._executions if eid not in recent]
        for eid in old_runs:
            del self._executions[eid]
            self._jobs.pop(eid, None)
        return {"results": len(stale), "values": 0, "runs": len(old_runs)}

    def __len__(self) -> int:
        return len(self._results)
