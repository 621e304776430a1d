"""Resource limits, as in redun: `@task(limits=["db"])` or `@task(limits={"gpu": 2})` with
`Scheduler(limits={"db": 4, "gpu": 2})`. A limit the scheduler does not name allows 1.

A job whose limits are used up waits (PENDING in the status table) until a running job that
holds them comes back from its executor.
"""
from collections import deque
from typing import Any, Dict, List, Tuple


def parse_limits(limits: Any) -> Dict[str, int]:
    """A task's `limits` option as {name: count}; a ValueError says what it must be."""
    if isinstance(limits, (list, tuple)):
        limits = {name: 1 for name in limits}
    if not isinstance(limits, dict) or not all(
            isinstance(name, str) and isinstance(count, int) and count > 0
            for name, count in limits.items()):
        raise ValueError(f"limits={limits!r} must be a list of names or a dict of name -> "
                         "positive count, e.g. limits=['db'] or limits={'gpu': 2}")
    return limits


class Limits:
    def __init__(self, available: Dict[str, int]) -> None:
        self.available = dict(available)
        self.used: Dict[str, int] = {}
        self.waiting: deque = deque()  # jobs that did not fit, first come first served
        self._needs: Dict[Any, Dict[str, int]] = {}  # task -> its limits, parsed once

    @property
    def active(self) -> bool:
        """Some job holds or waits for limits (so finished jobs may free room)."""
        return bool(self.waiting) or any(self.used.values())

    def needs(self, task: Any) -> Dict[str, int]:
        needs = self._needs.get(task)
        if needs is None:
            needs = self._needs[task] = parse_limits(task.get_option("limits") or {})
        return needs

    def fits(self, needs: Dict[str, int]) -> bool:
        return all(self.available.get(name, 1) - self.used.get(name, 0) >= count
                   for name, count in needs.items())

    def _take(self, needs: Dict[str, int]) -> None:
        for name, count in needs.items():
            self.used[name] = self.used.get(name, 0) + count

    def admit(self, jobs: List[Any]) -> Tuple[List[Any], List[Any], List[Tuple[Any, Any]]]:
        """Split jobs into those that run now (taking their limits), those that start waiting,
        and those refused, with the message saying the job needs more than the scheduler has
        at all."""
        ready, waiting, refused = [], [], []
        for job in jobs:
            needs = self.needs(job.task)  # checked when the task was defined
            if not needs:
                ready.append(job)
            elif any(count > self.available.get(name, 1) for name, count in needs.items()):
                allowed = {name: self.available.get(name, 1) for name in needs}
                refused.append((job, f"{job.task.fullname} needs limits {needs}, more than the "
                                     f"scheduler has ({allowed}); raise them with "
                                     "Scheduler(limits={...})"))
            elif self.waiting or not self.fits(needs):
                self.waiting.append(job)
                waiting.append(job)
            else:
                self._take(needs)
                ready.append(job)
        return ready, waiting, refused

    def released(self, jobs: List[Any]) -> List[Any]:
        """Give back what these finished jobs held; return the waiting jobs that now fit."""
        for job in jobs:
            for name, count in self.needs(job.task).items():
                self.used[name] -= count
        ready = []
        while self.waiting and self.fits(self.needs(self.waiting[0].task)):
            job = self.waiting.popleft()
            self._take(self.needs(job.task))
            ready.append(job)
        return ready
