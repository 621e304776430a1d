"""The reduction loop: nested values, deduplication, caching rules, failures, cond and catch."""
import gc
import weakref
import collections
import dataclasses
import logging
import threading
import time
import traceback

import pytest

from redun_fast import Scheduler, catch, cond, task, throw
from redun_fast._core import HashError
from redun_fast.cache.serialize import SerializationError
from redun_fast.reduction import SchedulerError

redun_namespace = "sched"

calls = collections.Counter()
calls_lock = threading.Lock()


def record(name):
    with calls_lock:
        calls[name] += 1


@pytest.fixture(autouse=True)
def reset_calls():
    calls.clear()


@task
def add(a, b):
    record(("add", a, b))
    return a + b


@task
def inc(x):
    record(("inc", x))
    return x + 1


@task
def boom(x):
    record(("boom", x))
    raise ValueError(f"bad value {x}")


@task
def divide(a, b):
    return a / b


@task
def recover(error):
    return f"recovered from {type(error).__name__}"


@task
def recover_other(error):
    return "other"


@task
def identity(x):
    return x


@task
def constant(value, error):
    return value


@task
def get_adder():
    return add


@task
def make_many(n):
    return [inc(i) for i in range(n)]


@task(executor="inline")
def where_am_i():
    return threading.get_ident()


@task(executor="nope")
def on_unknown_executor():
    return 1


@task
def returns_lambda():
    return lambda: 1


@task
def sleepy(x):
    time.sleep(0.3)
    return (x, time.time())


Pair = collections.namedtuple("Pair", "left right")


@dataclasses.dataclass
class Sample:
    name: str
    reads: object


@pytest.fixture(params=["inline", "threads"])
def scheduler(request):
    return Scheduler(executor=request.param)


def test_nested_values_are_walked(scheduler):
    expr = {
        "tuple": (inc(1), 2),
        "set": {inc(2), 10},
        "frozenset": frozenset([inc(3)]),
        "namedtuple": Pair(inc(4), "x"),
        "dataclass": Sample("s1", [inc(5)]),
        inc(6): "key",
    }
    assert scheduler.run(expr) == {
        "tuple": (2, 2),
        "set": {3, 10},
        "frozenset": frozenset([4]),
        "namedtuple": Pair(5, "x"),
        "dataclass": Sample("s1", [6]),
        7: "key",
    }


def test_non_expressions_are_returned(scheduler):
    assert scheduler.run(5) == 5
    assert scheduler.run([1, "a"]) == [1, "a"]


def test_identical_calls_in_one_run_are_one_job(scheduler):
    assert scheduler.run([inc(1), inc(1), add(inc(1), inc(1)), inc(2)]) == [2, 2, 4, 3]
    assert calls[("inc", 1)] == 1 and calls[("add", 2, 2)] == 1
    counts = scheduler.job_counts.get("sched.inc")
    assert counts["DONE"] == 2 and counts["TOTAL"] == 2


def test_results_are_cached_across_runs_of_one_scheduler(scheduler):
    assert scheduler.run(add(1, 2)) == 3
    assert scheduler.run(add(1, 2)) == 3
    assert calls[("add", 1, 2)] == 1
    assert scheduler.job_counts.get("sched.add")["CACHED"] == 1
    # cache=False for the run runs it again, and the new result is stored.
    assert scheduler.run(add(1, 2), cache=False) == 3
    assert calls[("add", 1, 2)] == 2


def test_task_returning_expressions_and_cached_expression_results(scheduler, caplog):
    assert scheduler.run(make_many(3)) == [1, 2, 3]
    caplog.set_level(logging.INFO, logger="redun_fast")
    assert scheduler.run(make_many(3)) == [1, 2, 3]
    # The cached result of make_many is a list of expressions: each is replayed from the cache.
    cached = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Cached")]
    assert len(cached) == 4
    assert sum(calls.values()) == 3


def test_higher_order_tasks(scheduler):
    assert scheduler.run(get_adder()(1, 2)) == 3
    assert scheduler.run(identity(add)) is add


def test_failing_task_reraises_and_is_not_cached(scheduler, caplog):
    caplog.set_level(logging.INFO, logger="redun_fast")
    for attempt in (1, 2):
        with pytest.raises(ValueError, match="bad value 7") as info:
            scheduler.run(add(boom(7), 1))
        frames = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
        assert "boom" in frames  # the worker's traceback is attached
        assert calls[("boom", 7)] == attempt
    messages = [r.getMessage() for r in caplog.records]
    # The error on the Reject line itself (it ended in an empty colon).
    assert any(m.startswith("*** Reject Job") and m.endswith("sched.boom(x=7): ValueError: bad "
                                                              "value 7") for m in messages)
    assert "*** Execution failed. Traceback (most recent task last):" in messages
    assert scheduler.job_counts.get("sched.boom")["FAILED"] == 2


def test_completed_siblings_of_a_failure_are_cached(scheduler):
    with pytest.raises(ValueError):
        scheduler.run([inc(1), boom(1)])
    assert scheduler.run(inc(1)) == 2
    assert calls[("inc", 1)] == 1


def test_unknown_executor_is_a_clear_error(scheduler):
    with pytest.raises(SchedulerError, match=r"sched.on_unknown_executor: unknown executor 'nope'"):
        scheduler.run(on_unknown_executor())


def test_executor_per_task(caplog):
    scheduler = Scheduler()
    caplog.set_level(logging.INFO, logger="redun_fast")
    assert scheduler.run(where_am_i()) == threading.get_ident()
    assert any(r.getMessage().endswith("sched.where_am_i() on inline") for r in caplog.records)
    with pytest.raises(ValueError, match="unknown executor 'nope'"):
        Scheduler(executor="nope")


def test_threads_run_in_parallel_and_max_workers_limits_them():
    start = time.time()
    results = Scheduler().run([sleepy(1), sleepy(2)])
    assert abs(results[0][1] - results[1][1]) < 0.25  # finished together: they overlapped
    serial = Scheduler(max_workers=1).run([sleepy(3), sleepy(4)])
    assert abs(serial[0][1] - serial[1][1]) >= 0.25  # one after the other
    assert time.time() - start > 0.85


def test_unhashable_argument_names_task_and_argument(scheduler):
    with pytest.raises(HashError, match=r"argument 'x' of sched.identity cannot be hashed: .*not picklable"):
        scheduler.run(identity(lambda: 1))


def test_unpicklable_result_names_the_task(scheduler):
    with pytest.raises(SerializationError, match=r"result of sched.returns_lambda is not picklable"):
        scheduler.run(returns_lambda())


def test_cond_evaluates_only_the_chosen_branch(scheduler):
    assert scheduler.run(cond(inc(0), inc(10), boom(1))) == 11
    assert calls[("boom", 1)] == 0
    assert scheduler.run(cond(identity(False), boom(2), inc(20))) == 21
    assert scheduler.run(cond(False, boom(3), identity(0), boom(4), inc(30))) == 31
    assert scheduler.run(cond(False, boom(5), identity(1), inc(40), boom(6))) == 41
    assert scheduler.run(cond(False, boom(7))) is None
    assert sum(calls[("boom", i)] for i in range(8)) == 0


def test_catch_recovers_from_matching_errors(scheduler):
    assert scheduler.run(catch(divide(1, 0), ZeroDivisionError, recover)) == (
        "recovered from ZeroDivisionError"
    )
    assert scheduler.run(catch(divide(1, 2), ZeroDivisionError, recover)) == 0.5
    assert scheduler.run(
        catch(boom(1), (KeyError, ZeroDivisionError), recover_other, ValueError, recover)
    ) == "recovered from ValueError"
    assert scheduler.run(add(catch(throw(KeyError("k")), KeyError, constant.partial("x")), "!")) == "x!"
    with pytest.raises(ValueError, match="bad value 2"):
        scheduler.run(catch(boom(2), ZeroDivisionError, recover))


def test_deep_dependency_chains_do_not_recurse(scheduler):
    expr = 0
    for _ in range(3000):
        expr = inc(expr)
    assert scheduler.run([expr]) == [3000]


def test_status_table_layout(caplog):
    scheduler = Scheduler(executor="inline")
    caplog.set_level(logging.INFO, logger="redun_fast")
    with pytest.raises(ValueError):
        scheduler.run([inc(100), boom(100)])
    lines = [r.getMessage() for r in caplog.records]
    start = next(i for i, line in enumerate(lines) if line.startswith("| JOB STATUS"))
    assert lines[start + 1:start + 7] == [
        "| TASK            PENDING RUNNING  FAILED  CACHED    DONE   TOTAL",
        "| ",
        "| ALL                   0       0       2       0       1       3",
        "| redun.root_task       0       0       1       0       0       1",
        "| sched.boom            0       0       1       0       0       1",
        "| sched.inc             0       0       0       0       1       1",
    ]


class Sentinel:
    """An argument whose life tells whether a run's graph was freed."""

    def __redun_hash__(self):
        return "sentinel"


@task
def fails_with(sentinel):
    raise ValueError("boom")


@pytest.mark.parametrize("executor", ["inline", "threads"])
def test_a_failed_run_leaves_no_graph_behind(executor):
    # Graph nodes are not garbage-collected; a failed job's error holds its traceback, whose
    # frames hold the job: the run must unlink them, or every failed run would leak its graph.
    sentinel = Sentinel()
    alive = weakref.ref(sentinel)
    with pytest.raises(ValueError, match="boom"):
        Scheduler(executor=executor).run(fails_with(sentinel))
    del sentinel
    gc.collect()
    assert alive() is None


@task
def fail_on(x, bad):
    if x == bad:
        raise KeyError(x)
    time.sleep(0.001)
    return x


@pytest.mark.timeout(120)
@pytest.mark.parametrize("executor", ["threads", "processes"])
def test_results_wait_for_the_scheduler_without_deadlock(monkeypatch, executor):
    # With room for one waiting batch, executor threads wait for the scheduler to ingest:
    # the run still completes, and a failed run still lets the waiting threads go.
    monkeypatch.setattr("redun_fast.reduction.MAX_WAITING_BATCHES", 1)
    others = set(threading.enumerate())
    with Scheduler(executor=executor, max_workers=8) as scheduler:
        scheduler.logger.setLevel(logging.WARNING)
        assert scheduler.run([fail_on(i, -1) for i in range(2000)]) == list(range(2000))
        with pytest.raises(KeyError):
            scheduler.run([fail_on(3, 3)] + [fail_on(i, 3) for i in range(2000, 6000)])
        time.sleep(0.5)  # the jobs left keep running: their results fill the waiting room
    # Leaving the `with` stopped the executors: no thread of theirs is stuck reporting (one
    # would also hang the interpreter's exit, which joins thread-pool threads).
    for thread in set(threading.enumerate()) - others:
        if thread.name.startswith("redun_fast"):
            thread.join(timeout=5)
            assert not thread.is_alive(), f"{thread.name} is stuck"


gate_open = threading.Event()
gate_arrivals = threading.Semaphore(0)


@task
def gate(x):
    gate_arrivals.release()
    assert gate_open.wait(timeout=30), "the test never opened the gate"
    return x


@task
def concat(a, b):
    return a + b


@pytest.mark.timeout(60)
def test_one_expression_reduced_by_two_runs_at_once():
    # An expression points at its node in the run reducing it; a second run (another thread,
    # another scheduler) reducing the same objects meanwhile must keep nodes of its own.
    shared = [gate(i) for i in range(3)]
    expr = concat(identity(shared), [inc(add(shared[0], shared[1]))])
    results = []

    def run():
        results.append(Scheduler(executor="threads").run(expr))

    gate_open.clear()
    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for _ in range(6):  # both runs hold the three gate jobs at once
        assert gate_arrivals.acquire(timeout=30)
    gate_open.set()
    for thread in threads:
        thread.join(timeout=30)
    assert results == [[0, 1, 2, 2]] * 2
    # Each run unlinked its graph from the expressions at its end: a third run starts afresh.
    assert all(e._node is None for e in shared + [expr, expr.args[0], expr.args[1][0]])
    assert Scheduler(executor="inline").run(expr) == [0, 1, 2, 2]
