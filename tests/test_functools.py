"""redun's functional helpers, catch_all and nout, and a redun program run unchanged."""
import subprocess
import sys
import time
from pathlib import Path

import pytest

from needs_redun import requires_redun

from redun_fast import Scheduler, catch, catch_all, task
from redun_fast.functools import (
    apply_func, as_task, compose, const, delay, eval_, flat_map, flatten, force, identity,
    map_, seq, starmap, zip_,
)

redun_namespace = "fnt"
ROOT = Path(__file__).resolve().parent.parent


@task
def double(x):
    return 2 * x


@task
def inc(x):
    return x + 1


@task
def pair_up(x):
    return [x, x]


@task
def numbers(n):
    return list(range(n))


@task
def stamp(name):
    start = time.time()
    time.sleep(0.2)
    return (name, start, time.time())


@task
def may_fail(x):
    if x % 2:
        raise ValueError(f"odd {x}")
    return x


@task
def described(values):
    return [f"error: {value}" if isinstance(value, Exception) else value for value in values]


@task
def minus_one(error):
    return -1


@task
def gather_later():
    return catch_all([may_fail(7), may_fail(8)], ValueError, described)


@task
def missing(key):
    raise KeyError(key)


@task(nout=2)
def divmod_task(a, b):
    return divmod(a, b)


@pytest.fixture
def scheduler():
    return Scheduler()


def test_map_starmap_flatten_flat_map_zip(scheduler):
    assert scheduler.run(map_(double, [1, 2, 3])) == [2, 4, 6]
    assert scheduler.run(map_(double, numbers(3))) == [0, 2, 4]  # a list still to compute
    assert scheduler.run(map_(double, map_(inc, [1, 2]))) == [4, 6]
    assert scheduler.run(starmap(double, [{"x": 1}, {"x": 5}])) == [2, 10]
    assert scheduler.run(flatten([[1], [2, 3], []])) == [1, 2, 3]
    assert scheduler.run(flat_map(pair_up, [1, 2])) == [1, 1, 2, 2]
    assert scheduler.run(zip_([1, 2], ["a", "b"])) == [(1, "a"), (2, "b")]


def test_seq_runs_one_after_the_other(scheduler):
    results = scheduler.run(seq([stamp("a"), stamp("b"), stamp("c")]))
    assert [name for name, _, _ in results] == ["a", "b", "c"]
    assert results[0][2] <= results[1][1] and results[1][2] <= results[2][1]
    parallel = scheduler.run([stamp("d"), stamp("e")])
    assert parallel[1][1] < parallel[0][2]  # without seq they overlap
    assert scheduler.run(seq([])) == []


def test_compose_const_delay_force_identity_eval(scheduler):
    assert scheduler.run(compose(double, inc)(3)) == 8  # double(inc(3))
    assert scheduler.run(const(7, double(1))) == 7
    assert scheduler.run(force(delay(double(4)))) == 8
    assert scheduler.run(identity([double(1)])) == [2]
    assert scheduler.run(eval_("x * y", 6, 7, pos_args=["x", "y"])) == 42
    assert scheduler.run(apply_func(max, 3, 9)) == 9
    assert scheduler.run(as_task(len)("abcd")) == 4


def test_catch_all_waits_for_everything_then_recovers(scheduler):
    assert scheduler.run(catch_all([may_fail(2), may_fail(4)], ValueError, described)) == [2, 4]
    # As redun's: recover gets the values, each error in place of the expression that raised it
    # (it got the first error alone before).
    assert scheduler.run(catch_all([may_fail(2), may_fail(3), may_fail(6), may_fail(9)],
                                   ValueError, described)) == [2, "error: odd 3", 6,
                                                               "error: odd 9"]
    assert scheduler.job_counts.get("fnt.may_fail")["DONE"] == 3  # the others ran to the end
    with pytest.raises(ValueError, match="odd 5"):
        scheduler.run(catch_all([may_fail(5)], KeyError, described))
    with pytest.raises(KeyError, match="k"):  # an error not of the class is raised, not caught
        scheduler.run(catch_all([may_fail(3), missing("k")], ValueError, described))
    # A job that had failed already when the catch_all came to it (here in a catch, before the
    # task that returns the catch_all ran) is an error in place too.
    assert Scheduler(executor="inline").run([catch(may_fail(7), ValueError, minus_one),
                                             gather_later()]) == [-1, ["error: odd 7", 8]]


def test_nout_unpacks_results(scheduler):
    quotient, remainder = divmod_task(17, 5)
    assert scheduler.run([remainder, quotient]) == [2, 3]
    with pytest.raises(TypeError, match=r"declare @task\(nout=N\) to unpack"):
        a, b = double(1)


EXPECTED_PROGRAM_OUTPUT = (
    "{'samples': {'sample1': 0.6111, 'sample2': 0.5, 'sample3': 0.5}, "
    "'rounded': {'sample1': 0.6, 'sample2': 0.5, 'sample3': 0.5}, "
    "'reads': {'sample1': 3, 'sample2': 2, 'sample3': 4}, 'low': 0.5, 'high': 0.6111}\n")


def run_program(source, cwd):
    (cwd / "program.py").write_text(source)
    out = subprocess.run([sys.executable, "program.py", "reads"], cwd=cwd, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_a_redun_program_runs_unchanged_but_for_its_imports(tmp_path):
    source = (ROOT / "examples" / "redun_program.py").read_text()
    assert "from redun import File, Scheduler, apply_tags, get_context, script, task" in source
    ported = (source.replace("from redun import", "from redun_fast import")
                    .replace("from redun.functools import", "from redun_fast.functools import"))
    assert sum(a != b for a, b in zip(source.splitlines(), ported.splitlines())) == 2
    assert run_program(ported, tmp_path) == EXPECTED_PROGRAM_OUTPUT
    assert (tmp_path / "reads" / "sample2.txt").read_text() == "ATATAT\nGCGCGC\n"


def test_the_port_its_docstring_gives_runs_on_redun_fast(tmp_path):
    # As shipped it failed with "No module named 'redun'" and did not say how else to run it.
    source = (ROOT / "examples" / "redun_program.py").read_text()
    command = next(line.strip() for line in source.splitlines() if line.strip().startswith("sed "))
    command = command.replace("examples/redun_program.py", str(ROOT / "examples" /
                                                               "redun_program.py"))
    command = command.replace("python ported.py", f"{sys.executable} ported.py reads")
    out = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout == EXPECTED_PROGRAM_OUTPUT
    assert "from redun_fast import File" in (tmp_path / "ported.py").read_text()


@requires_redun
def test_the_redun_program_gives_the_same_output_on_redun(tmp_path):
    source = (ROOT / "examples" / "redun_program.py").read_text()
    assert run_program(source, tmp_path) == EXPECTED_PROGRAM_OUTPUT
