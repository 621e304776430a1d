"""Differential tests: random workflows (tests/fuzz_workflows.py) give one of the reference
evaluator's outcomes on inline, threads, processes and the Slurm cluster; a rerun on the same
cache runs nothing but its cache=False calls; after one task's source changes, exactly that
task's calls run again; and redun 0.44.1 gives the same values, and runs the same calls again
after the same change. What ran is counted twice: by the engine, and by a side effect of each
task's body (a line in ran.log, written from whatever process or node ran it).

REDUN_FAST_FUZZ_LONG=1 runs many more examples.
"""
import collections
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings

from hypothesis import strategies as st

from fuzz_workflows import (CHANGEABLE, REDUN_FAST_IMPORTS, REDUN_IMPORTS, TASKS,
                            expected_runs, outcome, outcomes, possible, source, task_source,
                            workflows)
from needs_redun import requires_redun
from needs_slurm import require_slurm, workers_executor
from redun_fast import Scheduler
from redun_fast._status import JobStatus
from redun_fast.cache.lmdb_store import LmdbStore

LONG = os.environ.get("REDUN_FAST_FUZZ_LONG") == "1"
# Where the workflows' Files and ran.log go (read as the tasks are defined; worker processes and
# Slurm jobs inherit it).
os.environ.setdefault("FUZZ_FILES", tempfile.mkdtemp(prefix="fuzz_files_"))
EXAMPLES = 400 if LONG else 40
SLURM_EXAMPLES = 40 if LONG else 8
RAN_LOG = os.path.join(os.environ["FUZZ_FILES"], "ran.log")
RAN_WAIT = 60  # seconds for the bodies a failed run left running to end (and write their line)

# One workflow of each of the later kinds, so that each is checked however few the examples.
EACH_KIND = [
    ("script", ("call", "inc", [("int", 3)])),
    ("flat", [("int", 1), ("call", "inc", [("int", 2)])]),
    ("gather", [("call", "boom", [("int", 4)]), ("int", 5), ("call", "boom", [("int", 8)])]),
    ("dict", ("int", 3), "name"),
    ("file", ("list", [("int", 1), ("call", "inc", [("int", 2)])])),
    ("same", ("list", [("fresh", ("int", 2)), ("call", "inc", [("int", 2)])])),
    ("mapping", [("tuple", [("int", 1)]), ("attr", [("int", 3), ("int", 5)], "denominator")]),
    # Values equal in Python but of other types, or of other signs, are other arguments.
    ("list", [("kind", ("lit", value)) for value in (1, True, 1.0, "1", 0.0, -0.0, (1, 2))]
     + [("kind", ("list", [("int", 1), ("int", 2)]))]),
]

# Workflows the fuzzer found engines to differ on, shrunk: always among those checked.
FOUND = [
    # redun caches a handled error: a rerun replays recover(error), and runs boom(4) again
    # only when the catch itself changed (redun_fast ran boom again each time; caught.py).
    "[catch(boom(4), ValueError, recover), catch(boom(inc(3)), ValueError, recover)]",
]

namespace = {}
exec(REDUN_FAST_IMPORTS + TASKS, namespace)
EXECUTED = (JobStatus.RUNNING, JobStatus.FAILED, JobStatus.DONE)  # a body ran (or runs on)


@pytest.fixture(scope="module", params=["inline", "threads", "processes"])
def engine(request, tmp_path_factory):
    store = LmdbStore(str(tmp_path_factory.mktemp(request.param) / "cache"))
    with Scheduler(executor=request.param, store=store) as scheduler:
        scheduler.logger.setLevel("WARNING")
        yield scheduler


@settings(max_examples=EXAMPLES, deadline=None, derandomize=not LONG,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(tree=workflows, changed=st.sampled_from(CHANGEABLE))
def test_a_random_workflow_gives_the_reference_outcome_and_reruns_from_the_cache(engine, tree,
                                                                                  changed):
    check(engine, tree, changed)


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    require_slurm()
    folder = tmp_path_factory.mktemp("slurm")
    with Scheduler(executor=workers_executor(folder),
                   store=LmdbStore(str(folder / "cache"))) as scheduler:
        scheduler.logger.setLevel("WARNING")
        yield scheduler


@settings(max_examples=SLURM_EXAMPLES, deadline=None, derandomize=not LONG,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(tree=workflows, changed=st.sampled_from(CHANGEABLE))
def test_a_random_workflow_on_the_slurm_cluster(slurm, tree, changed):
    check(slurm, tree, changed)


def check(engine, tree, changed):
    """One of the reference's outcomes, on a first run and a rerun; when the outcome is a
    value, the rerun runs only what is not cached (cache=False calls, failures a catch_all
    handled), and so does a run after `changed`'s code changes (not what it computes), and
    `changed`'s calls too."""
    text = source(tree)
    alternatives = possible(tree)
    allowed = outcomes(alternatives)
    first = run(engine, text)
    assert repr(first.outcome) in allowed, (text, first.outcome, list(allowed))
    again = run(engine, text)
    assert repr(again.outcome) in allowed, (text, again.outcome, list(allowed))
    note(f"outcome: {'one of several' if len(allowed) > 1 else first.outcome[0]}")
    if len(allowed) > 1 or first.outcome[0] != "value":
        return  # (a failed job is never cached: a rerun runs it again)
    assert_ran(again.ran, expected_runs(alternatives), text)
    exec(task_source(changed, changed=uuid.uuid4().hex), namespace)
    try:
        after = run(engine, text)
    finally:
        exec(task_source(changed), namespace)
    assert repr(after.outcome) in allowed, (text, changed, after.outcome)
    assert_ran(after.ran, expected_runs(alternatives, changed), (text, changed))


def assert_ran(ran, expected, what):
    least, most = expected
    note("runs: exact" if least == most else "runs: a range (calls a catch may cut off)")
    assert all(least[name] <= ran[name] <= most[name] for name in set(ran) | set(least)), (
        what, "ran", dict(ran), "at least", dict(least), "at most", dict(most))


@pytest.mark.parametrize("tree", EACH_KIND, ids=[tree[0] for tree in EACH_KIND])
def test_each_kind_of_workflow_after_each_source_change(engine, tree):
    for changed in CHANGEABLE:
        check(engine, tree, changed)


def test_a_handled_error_is_cached_as_redun_caches_it(engine):
    text = FOUND[0]
    assert run(engine, text).outcome == ("value", [-1, -1])
    rerun = run(engine, text)
    # boom(4) did not run again: its recovery was replayed
    assert (rerun.outcome, rerun.ran) == (("value", [-1, -1]), collections.Counter())
    exec(task_source("inc", changed=uuid.uuid4().hex), namespace)
    try:
        changed = run(engine, text)
    finally:
        exec(task_source("inc"), namespace)
    # inc(3) changed the second catch: its boom(4) ran (and failed) again, the first's did not
    assert changed.outcome == ("value", [-1, -1])
    assert changed.ran == collections.Counter({"inc": 1, "boom": 1})


def note(what):
    """Count `what` in hypothesis's statistics (pytest --hypothesis-show-statistics)."""
    if currently_in_test_context():
        event(what)


class Run(NamedTuple):
    outcome: tuple  # ("value", v) or ("error", the exception's type name)
    ran: collections.Counter  # bodies that ran, by task, counted by their lines in ran.log


def run(engine, text):
    """Run the workflow. A run's lines in ran.log are those written from its start until as
    many as the jobs it ran (the engine's count) are there: after a failure, jobs it left
    running end on their own. A call's body runs once in a run, and the log agrees with the
    engine on how many of each task's ran."""
    before, start = executed(engine), log_size()
    result = outcome(lambda: engine.run(eval(text, namespace)))
    counted = collections.Counter({name: count - before.get(name, 0)
                                   for name, count in executed(engine).items()})
    deadline = time.monotonic() + RAN_WAIT
    while len(lines := ran_since(start)) < sum(counted.values()):
        assert time.monotonic() < deadline, (text, counted, lines)
        time.sleep(0.01)
    assert len(lines) == len(set(lines)), (text, "a call ran twice in one run", lines)
    ran = collections.Counter(line.split(" ", 1)[0] for line in lines)
    assert ran == +counted, (text, ran, counted)
    return Run(result, ran)


def executed(engine):
    """The jobs of each fuzz task whose body ran or runs on, as the engine counts them."""
    return {name.split(".", 1)[1]: sum(row[status] for status in EXECUTED)
            for name, row in engine.job_counts.rows.items() if name.startswith("fuzz.")}


def log_size():
    return os.path.getsize(RAN_LOG) if os.path.exists(RAN_LOG) else 0


def ran_since(offset):
    """The whole lines written to ran.log after `offset`."""
    if not os.path.exists(RAN_LOG):
        return []
    with open(RAN_LOG) as log:
        log.seek(offset)
        text = log.read()
    return text[:text.rfind("\n") + 1].splitlines()


RUNNER = textwrap.dedent("""
    import sys
    for line in open(sys.argv[1]).read().splitlines():
        scheduler = Scheduler()  # one each: after a failed run, redun's next one can fail too
        scheduler.logger.setLevel("ERROR")
        try:
            print(repr(("value", scheduler.run(eval(line)))))
        except Exception as error:
            print(repr(("error", type(error).__name__)))
""")


# A scheduler on a cache that outlives it (one per workflow: what a failed run computed
# before it stopped is a race, and must not decide what a later workflow finds cached), and
# the wait for jobs a failed run left running.
PERSISTENT_SCHEDULER = {
    "redun": textwrap.dedent("""
        from redun.config import Config

        def make_scheduler(cache):
            scheduler = Scheduler(config=Config({"backend": {"db_uri": f"sqlite:///{cache}.db"}}))
            scheduler.load()  # (redun's run does not open a database it was given)
            scheduler.logger.setLevel("ERROR")
            return scheduler

        def settle(scheduler):
            for executor in scheduler.executors.values():
                executor.stop()  # waits for its threads
    """),
    "redun_fast": textwrap.dedent("""
        def make_scheduler(cache):
            scheduler = Scheduler(executor="inline", cache_dir=cache)  # inline: no thread left
            scheduler.logger.setLevel("ERROR")
            return scheduler

        def settle(scheduler):
            scheduler.close()
    """),
}

SOURCE_CHANGE_RUNNER = textwrap.dedent("""
    import importlib, sys, warnings
    warnings.simplefilter("ignore")  # the same task names in several modules, on purpose
    sys.path.insert(0, ".")
    lines = open(sys.argv[1]).read().splitlines()

    def run_all(module):
        # Each workflow's outcome, and the set of calls that ran (after a failure, which ran
        # is a race: not compared). A set: redun may run one call twice where its argument is
        # an error raised under two catches (it hashes the error with where it came from).
        found = []
        for number, line in enumerate(lines):
            del module.RAN[:]
            scheduler = make_scheduler(f"cache{number}")
            try:
                value = ("value", scheduler.run(eval(line, vars(module))))
            except Exception as error:
                value = ("error", type(error).__name__)
            settle(scheduler)
            found.append((value, sorted(set(module.RAN)) if value[0] == "value" else None))
        return found

    base = importlib.import_module("tasks_as_they_were")
    print(repr(("first run", run_all(base))))
    for name in sys.argv[2].split(","):
        print(repr((name, run_all(importlib.import_module(f"tasks_with_{name}_changed")))))
        importlib.reload(base)  # its tasks are the newest again
""")


def generated_workflows(count=EXAMPLES):
    """The source of `count` random workflows (the same ones each time, unless LONG)."""
    found = []

    @settings(max_examples=count, deadline=None, derandomize=not LONG, database=None)
    @given(tree=workflows)
    def collect(tree):
        found.append(source(tree))

    collect()
    return found


def caught(text):
    """The tasks called inside the expressions of the workflow's catches. redun keys a
    handled error by the catch's expression with its tasks' names, not their code: after such
    a task changes, redun replays the old recovery (and keeps -1 even where the changed task no
    longer fails); redun_fast evaluates the expression again. So for these tasks only values
    are compared."""
    names = set()
    for start in [match.end() for match in re.finditer(r"catch\(", text)]:
        depth, end = 0, start
        while depth or text[end] != ",":
            depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(text[end], 0)
            end += 1
        names.update(re.findall(r"\b(" + "|".join(CHANGEABLE) + r")\b", text[start:end]))
    return names


@requires_redun
@pytest.mark.timeout(3600 if LONG else 300)  # long: 109 workflows x 18 runs x 2 engines
def test_a_source_change_runs_the_same_calls_again_on_redun(tmp_path):
    # (Long mode: a quarter of the others' count, as each workflow runs 18 times on each engine
    # and redun creates a database per workflow.)
    found = FOUND + [source(tree) for tree in EACH_KIND] + generated_workflows(
        EXAMPLES // 4 if LONG else EXAMPLES)
    (tmp_path / "workflows.txt").write_text("\n".join(found) + "\n")
    outputs = {}
    for engine, imports in (("redun", REDUN_IMPORTS), ("redun_fast", REDUN_FAST_IMPORTS)):
        imports += PERSISTENT_SCHEDULER[engine]
        folder = tmp_path / engine
        folder.mkdir()
        (folder / "tasks_as_they_were.py").write_text(imports + TASKS)
        for name in CHANGEABLE:
            changed = TASKS.replace(task_source(name), task_source(name, changed="changed"))
            (folder / f"tasks_with_{name}_changed.py").write_text(imports + changed)
        (folder / "runner.py").write_text(imports + SOURCE_CHANGE_RUNNER)
        out = subprocess.run([sys.executable, "runner.py", str(tmp_path / "workflows.txt"),
                              ",".join(CHANGEABLE)], cwd=folder, capture_output=True, text=True,
                             env={**os.environ, "FUZZ_FILES": str(folder / "files")},
                             timeout=3000 if LONG else 280)
        assert out.returncode == 0, out.stderr[-3000:]
        outputs[engine] = [eval(line) for line in out.stdout.splitlines()]
    assert len(outputs["redun_fast"]) == len(CHANGEABLE) + 1
    differences = [(stage, text, ours, theirs)
                   for (stage, our_runs), (_, their_runs) in zip(outputs["redun_fast"],
                                                                 outputs["redun"])
                   for text, ours, theirs in zip(found, our_runs, their_runs)
                   if ours != theirs and not (ours[0] == theirs[0] and stage in caught(text))]
    assert differences == [], "\n".join(map(repr, differences))


@requires_redun
def test_random_workflows_give_the_same_values_on_redun(tmp_path):
    found = generated_workflows()
    (tmp_path / "workflows.txt").write_text("\n".join(found) + "\n")
    outputs = {}
    for engine, imports in (("redun", REDUN_IMPORTS), ("redun_fast", REDUN_FAST_IMPORTS)):
        program = tmp_path / f"on_{engine}.py"
        program.write_text(imports + TASKS + RUNNER)
        out = subprocess.run([sys.executable, str(program), str(tmp_path / "workflows.txt")],
                             cwd=tmp_path, capture_output=True, text=True, timeout=600,
                             env={**os.environ, "FUZZ_FILES": str(tmp_path / f"files_{engine}")})
        assert out.returncode == 0, out.stderr[-3000:]
        outputs[engine] = out.stdout.splitlines()
    assert len(outputs["redun"]) == len(found)
    differences = [(text, ours, theirs) for text, ours, theirs
                   in zip(found, outputs["redun_fast"], outputs["redun"]) if ours != theirs]
    assert differences == [], "\n".join(map(repr, differences))
