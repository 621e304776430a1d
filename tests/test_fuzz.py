"""Differential tests: random workflows (tests/fuzz_workflows.py) give the reference
evaluator's value or exception on inline, threads and processes; a rerun on the same cache
runs nothing but its cache=False calls; after one task's source changes, exactly that task's
calls run again; and redun 0.44.1 gives the same values, and runs the same calls again after
the same change.

REDUN_FAST_FUZZ_LONG=1 runs many more examples.
"""
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import uuid

import pytest
from hypothesis import HealthCheck, given, settings

from hypothesis import strategies as st

from fuzz_workflows import (CHANGEABLE, REDUN_FAST_IMPORTS, REDUN_IMPORTS, TASKS, outcome,
                            reference, source, task_source, workflows)
from needs_redun import requires_redun
from needs_slurm import require_slurm, workers_executor
from redun_fast import Scheduler
from redun_fast.cache.lmdb_store import LmdbStore

LONG = os.environ.get("REDUN_FAST_FUZZ_LONG") == "1"
# Where the workflows' Files go (read as the tasks are defined; worker processes inherit it).
os.environ.setdefault("FUZZ_FILES", tempfile.mkdtemp(prefix="fuzz_files_"))
EXAMPLES = 400 if LONG else 40
SLURM_EXAMPLES = 40 if LONG else 8
NOT_CACHED = {"fuzz.fresh", "redun.root_task"}  # run again on a rerun, by design

# One workflow of each of the later kinds, so that each is checked however few the examples.
EACH_KIND = [
    ("script", ("call", "inc", [("int", 3)])),
    ("flat", [("int", 1), ("call", "inc", [("int", 2)])]),
    ("gather", [("call", "boom", [("int", 4)]), ("int", 5), ("call", "boom", [("int", 8)])]),
    ("dict", ("int", 3), "name"),
    ("file", ("list", [("int", 1), ("call", "inc", [("int", 2)])])),
]

# Workflows the fuzzer found engines to differ on, shrunk: always among those checked.
FOUND = [
    # redun caches a handled error: a rerun replays recover(error), and runs boom(4) again
    # only when the catch itself changed (redun_fast ran boom again each time; caught.py).
    "[catch(boom(4), ValueError, recover), catch(boom(inc(3)), ValueError, recover)]",
]

namespace = {}
exec(REDUN_FAST_IMPORTS + TASKS, namespace)


def done_counts(scheduler):
    return {name: row[-1] for name, row in scheduler.job_counts.rows.items()}


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
    """The reference's outcome; on a rerun, nothing runs again; after `changed`'s code
    changes (not what it computes), exactly its calls run again."""
    text = source(tree)
    calls = set()
    expected = outcome(lambda: reference(tree, calls))
    assert rerun(engine, text)[0] == expected, text
    again, ran_again = rerun(engine, text)
    assert again == expected, text
    if expected[0] != "value":  # a failed job is never cached: it runs again, and may be first
        return
    assert ran_again == {}, text
    exec(task_source(changed, changed=uuid.uuid4().hex), namespace)
    try:
        again, ran_again = rerun(engine, text)
    finally:
        exec(task_source(changed), namespace)
    count = len({call for call in calls if call[0] == changed})
    assert (again, ran_again) == (expected, {f"fuzz.{changed}": count} if count else {}), (
        text, changed)


@pytest.mark.parametrize("tree", EACH_KIND, ids=[tree[0] for tree in EACH_KIND])
def test_each_kind_of_workflow_after_each_source_change(engine, tree):
    for changed in CHANGEABLE:
        check(engine, tree, changed)


def test_a_handled_error_is_cached_as_redun_caches_it(engine):
    ran = namespace["RAN"]
    text = FOUND[0]
    assert rerun(engine, text)[0] == ("value", [-1, -1])
    del ran[:]
    assert rerun(engine, text) == (("value", [-1, -1]), {})
    if engine.executors["default"].__class__.__name__ != "ProcessExecutor":
        assert ran == []  # boom(4) did not run again: its recovery was replayed
    failed = engine.job_counts.rows["fuzz.boom"][2]
    exec(task_source("inc", changed=uuid.uuid4().hex), namespace)
    try:
        assert rerun(engine, text) == (("value", [-1, -1]), {"fuzz.inc": 1})
    finally:
        exec(task_source("inc"), namespace)
    # inc(3) changed the second catch: its boom(4) ran (and failed) again, the first's did not
    assert engine.job_counts.rows["fuzz.boom"][2] == failed + 1


def rerun(engine, text):
    """Run the workflow: its outcome, and how many jobs of each task ran (cache=False ones
    aside)."""
    before = done_counts(engine)
    result = outcome(lambda: engine.run(eval(text, namespace)))
    return result, {name: count - before.get(name, 0) for name, count in done_counts(engine).items()
                    if count != before.get(name, 0) and name not in NOT_CACHED}


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
@pytest.mark.timeout(3600 if LONG else 300)  # long: 106 workflows x 16 runs x 2 engines
def test_a_source_change_runs_the_same_calls_again_on_redun(tmp_path):
    # (Long mode: a quarter of the others' count, as each workflow runs 16 times on each engine
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
