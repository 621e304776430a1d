"""@task(limits=...) with Scheduler(limits=...): at most that many such jobs run at once."""
import time

import pytest

from redun_fast import Scheduler, task
from redun_fast.reduction import SchedulerError

redun_namespace = "limits"


def most_at_once(intervals):
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


@task(limits=["db"])
def query(x):
    start = time.time()
    time.sleep(0.1)
    return (start, time.time())


@task(limits={"gpu": 2})
def train(x):
    start = time.time()
    time.sleep(0.1)
    return (start, time.time())


@task
def free(x):
    start = time.time()
    time.sleep(0.1)
    return (start, time.time())


def test_limits_cap_concurrency():
    scheduler = Scheduler(limits={"db": 3, "gpu": 4})
    assert most_at_once(scheduler.run([query(i) for i in range(9)])) == 3
    assert most_at_once(scheduler.run([train(i) for i in range(6)])) == 2  # 2 of 4 each
    assert most_at_once(scheduler.run([free(i) for i in range(6)])) == 6
    assert scheduler.job_counts.get("limits.query")["DONE"] == 9


def test_an_unnamed_limit_allows_one():
    assert most_at_once(Scheduler().run([query(i) for i in range(4)])) == 1


def test_limits_that_can_never_fit_and_bad_limits_are_errors():
    with pytest.raises(SchedulerError, match=r"limits.train needs limits \{'gpu': 2\}, more than "
                                             r"the scheduler has \(\{'gpu': 1\}\)"):
        Scheduler(limits={"gpu": 1}).run(train(1))
    with pytest.raises(ValueError, match=r"limits=\{'db': 0\} must be a list of names or a dict"):
        Scheduler().run(free.options(limits={"db": 0})(1))
