"""The bad-input catalog: each mistake a user can make gives an error that names the problem
and the fix (or, where redun accepts the input, the right result), and loses nothing."""
import importlib
import re
import logging
import sys
import threading
import warnings

import pytest

from redun_fast import Scheduler, cond, task
from redun_fast._core import HashError
from redun_fast._nested import ExpressionCycleError
from redun_fast.cache.serialize import SerializationError
from redun_fast.reduction import SchedulerError
from redun_fast.task import TaskNameClashWarning

redun_namespace = "reliability.bad_input"


@task
def ident(x):
    return x


@task
def inc(x):
    return x + 1


@task
def takes_two(a, b):
    return a + b


@task
def returns_function(x):
    return lambda: x


@task
def countdown(n):
    return n if n == 0 else countdown(n - 1)


def chain(n):
    expr = 0
    for _ in range(n):
        expr = inc(expr)
    return expr


@task
def returns_deep_chain(n):
    return chain(n)


@task(executor="nope")
def on_unknown_executor(x):
    return x


class Handle:
    """Hashable by its own rule, but holds a lock, so it cannot travel to a worker."""

    def __init__(self):
        self.lock = threading.Lock()

    def __redun_hash__(self):
        return "handle"


def cycle():
    samples = []
    call = ident(samples)
    samples.append(call)  # the call is now among its own arguments
    return call


def self_containing():
    value = []
    value.append(value)
    return ident(value)


def deep_value():
    value = 0
    for _ in range(5000):
        value = [value]
    return ident(value)


@pytest.fixture(scope="module")
def scheduler():
    scheduler = Scheduler(executor="inline")
    scheduler.logger.setLevel(logging.CRITICAL)
    return scheduler


# (what the user does, the expression, the error, a pattern its message must match)
ERRORS = [
    ("unhashable argument", lambda: ident(threading.Lock()), HashError,
     r"argument 'x' of reliability.bad_input.ident cannot be hashed.*_thread.lock.*pass plain "
     r"data, or give the class a __redun_hash__"),
    ("unpicklable result", lambda: returns_function(1), SerializationError,
     r"result of reliability.bad_input.returns_function is not picklable.*return plain data"),
    ("expression cycle", cycle, ExpressionCycleError,
     r"a call of reliability.bad_input.ident is among its own arguments.*build each argument "
     r"completely"),
    ("value that contains itself", self_containing, RecursionError,
     r"nested deeper than 2000 levels, or contains itself: pass flatter data"),
    ("value nested 5000 deep", deep_value, RecursionError, r"nested deeper than 2000 levels"),
    ("expression chain deeper than Python's recursion limit returned by a task",
     lambda: returns_deep_chain(sys.getrecursionlimit() * 20), SerializationError,
     r"result of reliability.bad_input.returns_deep_chain is nested too deeply to store.*"
     r"return flatter data"),
    ("task on an executor the scheduler does not have", lambda: on_unknown_executor(1),
     SchedulerError, r"unknown executor 'nope': use one of default, inline.*executors=\{'nope'"),
    ("task called with a missing argument", lambda: takes_two(1), TypeError,
     r"missing 1 required positional argument: 'b'"),
]


@pytest.mark.parametrize("what, make, error, message", ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_input_is_a_clear_error(scheduler, what, make, error, message):
    with pytest.raises(error, match=message):
        scheduler.run(make())
    assert scheduler.run(inc(41)) == 42  # the scheduler is still usable


# What redun accepts must work here too, however deep or odd.
ACCEPTED = [
    ("non-expression value", lambda: {"a": [1, 2]}, {"a": [1, 2]}),
    ("expression chain 100,000 calls deep", lambda: chain(100_000), 100_000),
    ("task recursion 20,000 levels deep", lambda: countdown(20_000), 0),
    ("expression in a nested value", lambda: {"x": [inc(1), (inc(2),)]}, {"x": [2, (3,)]}),
]


@pytest.mark.parametrize("what, make, expected", ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_odd_but_valid_input_works(scheduler, what, make, expected):
    assert scheduler.run(make()) == expected


def test_bool_test_on_an_expression():
    with pytest.raises(TypeError, match=r"cannot be coerced to bool.*use cond\(predicate"):
        if inc(1):
            pass
    assert Scheduler(executor="inline").run(cond(ident(True), inc(1), inc(2))) == 2


@pytest.mark.parametrize("options, message", [
    ({"cpus": -1}, r"task option cpus=-1 must be a positive integer"),
    ({"memory": "lots"}, r"task option memory='lots' must be GiB as a number.*'4G'"),
    ({"time": "soon"}, r"task option time='soon' must be minutes.*'0:30:00'"),
    ({"gpus": 1.5}, r"task option gpus=1.5 must be a non-negative integer"),
    ({"cache": "yes"}, r"task option cache='yes' must be a bool"),
    ({"executor": 3}, r"task option executor=3 must be a str"),
])
def test_invalid_task_options_fail_at_definition(options, message):
    def work(x):
        return x

    with pytest.raises(ValueError, match=message):
        task(**options)(work)
    with pytest.raises(ValueError, match=message):
        ident.options(**options)


@pytest.mark.parametrize("kwargs, message", [
    ({"executor": "nope"}, r"unknown executor 'nope': use one of inline, processes, slurm, "
                           r"threads \(or redun's names local and process, for threads and "
                           r"processes\) or pass an Executor instance"),
    ({"max_workers": 0}, r"max_workers=0 must be a positive integer"),
    ({"executor": "processes", "max_workers": -2}, r"max_workers=-2 must be a positive integer"),
])
def test_invalid_scheduler_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Scheduler(**kwargs)


def test_task_name_clash_between_modules(tmp_path, monkeypatch):
    for name, body in (("clash_a", "x + 1"), ("clash_b", "x + 2")):
        (tmp_path / f"{name}.py").write_text(
            f"from redun_fast import task\n\n@task\ndef shared_name(x):\n    return {body}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = importlib.import_module("clash_a")
        importlib.reload(first)  # redefining in the same module (a notebook cell) is fine
        assert not caught
        second = importlib.import_module("clash_b")
    [warning] = caught
    assert warning.category is TaskNameClashWarning
    assert warning.filename.endswith("clash_b.py")
    assert re.search(r"task shared_name is defined in module clash_a and again in clash_b.*"
                     r"redun_namespace", str(warning.message))
    # Results stay apart: the cache is keyed by each task's hash, not its name.
    scheduler = Scheduler(executor="inline")
    assert scheduler.run([first.shared_name(1), second.shared_name(1)]) == [2, 3]


@pytest.fixture(scope="module")
def pool():
    with Scheduler(executor="processes", max_workers=2) as scheduler:
        scheduler.logger.setLevel(logging.CRITICAL)
        yield scheduler


def make_closure(lock=None):
    """A task defined in a function; with a lock, it captures something that cannot travel.
    (Captured values are not part of a task's hash, as in redun: hence two names.)"""
    offset = 10

    @task(name="closure" if lock is None else "closure_with_lock")
    def closure(x):
        if lock is not None:
            with lock:
                pass
        return x + offset

    return closure


def test_closures_run_in_worker_processes_or_say_why_not(pool):
    assert pool.run([make_closure()(i) for i in range(3)]) == [10, 11, 12]
    with pytest.raises(TypeError, match=r"task reliability.bad_input.closure_with_lock cannot be sent to "
                                        r"another process.*lock.*define it at module level, or "
                                        r"use executor='threads'"):
        pool.run(make_closure(threading.Lock())(1))


def test_argument_that_cannot_travel_to_a_worker(pool):
    with pytest.raises(TypeError, match=r"argument 'x' of reliability.bad_input.ident is a .*"
                                        r"Handle, which cannot be sent to another process"):
        pool.run(ident(Handle()))
    assert pool.run(inc(1)) == 2


@pytest.mark.slurm
@pytest.mark.timeout(180)
def test_slurm_rejections_are_surfaced(slurm_scheduler):
    from redun_fast.executors.slurm import SlurmError

    scheduler, _ = slurm_scheduler
    scheduler.logger.setLevel(logging.CRITICAL)
    # Options the cluster rejects: sbatch's own words reach the user.
    with pytest.raises(SlurmError, match=r"sbatch: error: .*[Pp]artition"):
        scheduler.run(ident.options(partition="no_such_partition")(1))
    with pytest.raises(ValueError, match=r"unknown Slurm option\(s\) colour"):
        scheduler.run(ident.options(colour="blue")(2))
    with pytest.raises(TypeError, match=r"closure_with_lock cannot be sent to another process"):
        scheduler.run(make_closure(threading.Lock())(1))
    assert scheduler.run(make_closure()(1)) == 11  # a closure without a lock travels
