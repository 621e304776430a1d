"""Differential tests: random workflows (tests/fuzz_workflows.py) give the reference
evaluator's value or exception on inline, threads and processes; a rerun on the same cache
runs nothing but its cache=False calls; and redun 0.44.1 gives the same values.

REDUN_FAST_FUZZ_LONG=1 runs many more examples.
"""
import os
import subprocess
import sys
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings

from fuzz_workflows import (REDUN_FAST_IMPORTS, REDUN_IMPORTS, TASKS, outcome, reference, source,
                            workflows)
from needs_redun import requires_redun
from redun_fast import Scheduler
from redun_fast.cache.lmdb_store import LmdbStore

LONG = os.environ.get("REDUN_FAST_FUZZ_LONG") == "1"
EXAMPLES = 400 if LONG else 40
NOT_CACHED = {"fuzz.fresh", "redun.root_task"}  # run again on a rerun, by design

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
@given(tree=workflows)
def test_a_random_workflow_gives_the_reference_outcome_and_reruns_from_the_cache(engine, tree):
    text = source(tree)
    expected = outcome(lambda: reference(tree))
    assert outcome(lambda: engine.run(eval(text, namespace))) == expected, text
    before = done_counts(engine)
    assert outcome(lambda: engine.run(eval(text, namespace))) == expected, text
    ran_again = {name: count - before.get(name, 0) for name, count in done_counts(engine).items()
                 if count != before.get(name, 0) and name not in NOT_CACHED}
    if expected[0] == "value":  # a failed job is never cached: it runs again, and may be first
        assert ran_again == {}, text


RUNNER = textwrap.dedent("""
    import sys
    scheduler = Scheduler()
    scheduler.logger.setLevel("ERROR")
    for line in open(sys.argv[1]).read().splitlines():
        try:
            print(repr(("value", scheduler.run(eval(line)))))
        except Exception as error:
            print(repr(("error", type(error).__name__)))
""")


@requires_redun
def test_random_workflows_give_the_same_values_on_redun(tmp_path):
    found = []

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=not LONG, database=None)
    @given(tree=workflows)
    def collect(tree):
        found.append(source(tree))

    collect()
    (tmp_path / "workflows.txt").write_text("\n".join(found) + "\n")
    outputs = {}
    for engine, imports in (("redun", REDUN_IMPORTS), ("redun_fast", REDUN_FAST_IMPORTS)):
        program = tmp_path / f"on_{engine}.py"
        program.write_text(imports + TASKS + RUNNER)
        out = subprocess.run([sys.executable, str(program), str(tmp_path / "workflows.txt")],
                             cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr[-3000:]
        outputs[engine] = out.stdout.splitlines()
    assert len(outputs["redun"]) == len(found)
    differences = [(text, ours, theirs) for text, ours, theirs
                   in zip(found, outputs["redun_fast"], outputs["redun"]) if ours != theirs]
    assert differences == []
