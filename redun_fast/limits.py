"""Resource limits, as in redun: `@task(limits=["db"])` or `@task(limits={"gpu": 2})` with
`Scheduler(limits={"db": 4, "gpu": 2})`. A limit the scheduler does not name allows 1.

A job whose limits are used up waits (PENDING in the status table) until a running job that
holds them comes back from its executor.
"""
from collections import deque
from typing import Any, Dict, List


def job_limits(task: Any) -> Dict[str, int]:
    limits = task.get_option("limits") or {}
    if isinstance(limits, (list, tuple)):
        limits = {name: 1 for name in limits}
    if not isinstance(limits, dict) or not all(
            isinstance(name, str) and isinstance(count, int) and count > 0
            for name, count in limits.items()):
        raise ValueError(f"{task.fullname}: limits={limits!r} must be a list of names or a dict "
                         "of name -> positive count, e.g. limits=['db'] or limits={'gpu': 2}")
    return limits


class Limits:
    def __init__(self, available: Dict[str, int]) -> None:
        self.available = dict(available)
        self.used: Dict[str, int] = {}
        self.waiting: deque = deque()  # jobs that did not fit, first come first served

    def fits(self, needs: Dict[str, int]) -> bool:
        return all(self.available.get(name, 1) - self.used.get(name, 0) >= count
                   for name, count in needs.items())

    def take(self, needs: Dict[str, int]) -> None:
        for name, count in needs.items():
            self.used[name] = self.used.get(name, 0) + count

    def release(self, needs: Dict[str, int]) -> None:
        for name, count in needs.items():
            self.used[name] -= count

    def admit(self, jobs: List[Any]) -> List[Any]:
        """The jobs that may run now, taking their limits; the others wait, in order."""
        ready = []
        for job in jobs:
            needs = job_limits(job.task)
            if needs and (self.waiting or not self.fits(needs)):
                self.waiting.append(job)
            else:
                self.take(needs)
                ready.append(job)
        return ready

    def released(self, jobs: List[Any]) -> List[Any]:
        """Give back what these finished jobs held; return the waiting jobs that now fit."""
        for job in jobs:
            self.release(job_limits(job.task))
        ready = []
        while self.waiting and self.fits(job_limits(self.waiting[0].task)):
            job = self.waiting.popleft()
            self.take(job_limits(job.task))
            ready.append(job)
        return ready
