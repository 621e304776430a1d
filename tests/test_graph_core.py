"""The compiled graph (csrc/_graph.pyx) and run ledger (_ledger.pyx) driven by hand on tiny
graphs, without the Reduction's loop, cache or executors: which jobs become ready when, what
a finished or failed job does to its parents, and what the ledger counts and records."""
from redun_fast import catch, task
from redun_fast._graph import Graph
from redun_fast._ledger import RunLedger
from redun_fast._scheduler_nodes import node_for
from redun_fast._status import JobStatus
from redun_fast.output import STATUSES, JobCounts

redun_namespace = "graphtest"


@task
def add(a, b):
    return a + b


@task
def fails(x):
    raise ValueError(x)


def new_graph():
    ledger = RunLedger(JobCounts())
    return Graph(ledger, node_for), ledger


def ready_calls(graph):
    """The jobs the graph made ready since the last call, as (task name, args)."""
    graph.propagate()
    jobs, graph.new_jobs = graph.new_jobs, []
    return jobs, [(job.task.name, job.args) for job in jobs]


def run(graph, ledger, job, value):
    """What the dispatch does for a job an executor ran."""
    ledger.running(job, "default", 1.0)
    graph.wait_for(job, value)


def test_the_job_status_enum_is_the_tables_columns():
    assert STATUSES == ("PENDING", "RUNNING", "FAILED", "CACHED", "DONE")
    assert [int(JobStatus[name]) for name in STATUSES] == [0, 1, 2, 3, 4]
    assert JobStatus.NEW < 0  # counted in no column


def test_a_call_waits_for_its_arguments_and_identical_calls_are_one_job():
    graph, ledger = new_graph()
    root = graph.add_root(add(add(1, 2), add(1, 2)))
    jobs, calls = ready_calls(graph)
    assert calls == [("add", (1, 2))]  # one job for the two identical calls; the root waits
    assert root.state == JobStatus.PENDING and jobs[0].status == JobStatus.NEW
    run(graph, ledger, jobs[0], 3)
    jobs, calls = ready_calls(graph)
    assert calls == [("add", (3, 3))]
    run(graph, ledger, jobs[0], 6)
    graph.propagate()
    assert (root.state, root.value) == (JobStatus.DONE, 6)
    assert ledger.counts.get("graphtest.add") == {
        "PENDING": 0, "RUNNING": 0, "FAILED": 0, "CACHED": 0, "DONE": 2, "TOTAL": 2}
    results, records, pinned = ledger.take()
    assert [(r[1], r[3]) for r in records] == [("graphtest.add", "DONE")] * 2
    assert len(ledger) == 0


def test_a_job_whose_result_is_an_expression_waits_for_it():
    graph, ledger = new_graph()
    root = graph.add_root(add(1, 1))
    (outer,), _ = ready_calls(graph)
    run(graph, ledger, outer, add(10, 20))  # the task returned an expression
    graph.propagate()
    assert outer.state == JobStatus.PENDING and outer.status == JobStatus.RUNNING
    (inner,), calls = ready_calls(graph)
    assert calls == [("add", (10, 20))]
    run(graph, ledger, inner, 30)
    graph.propagate()
    assert (outer.state, outer.value, root.value) == (JobStatus.DONE, 30, 30)


def test_a_failed_job_fails_its_parents_unless_caught():
    graph, ledger = new_graph()
    root = graph.add_root(add(fails(1), 5))
    (job,), _ = ready_calls(graph)
    ledger.running(job, "default", 1.0)
    error = ValueError(1)
    graph.fail(job, error)
    graph.propagate()
    assert (root.state, root.value) == (JobStatus.FAILED, error)
    assert ledger.counts.get("graphtest.fails")["FAILED"] == 1
    _, records, _ = ledger.take()
    assert records.tuples()[0][3] == "FAILED" and "ValueError: 1" in records.tuples()[0][6]

    graph, ledger = new_graph()
    root = graph.add_root(catch(fails(2), ValueError, lambda error: add(100, 1)))
    (job,), _ = ready_calls(graph)
    ledger.running(job, "default", 1.0)
    graph.fail(job, ValueError(2))
    (recovery,), calls = ready_calls(graph)
    assert calls == [("add", (100, 1))]
    run(graph, ledger, recovery, 101)
    graph.propagate()
    assert (root.state, root.value) == (JobStatus.DONE, 101)


def test_the_ledger_moves_a_job_between_columns_and_logs_each_change():
    graph, ledger = new_graph()
    lines = []
    ledger.log = lambda action, job, suffix: lines.append(f"{action} {job.task.name}{suffix}")
    graph.add_root(add(1, 2))
    (job,), _ = ready_calls(graph)
    ledger.waiting(job)
    assert ledger.counts.get("graphtest.add")["PENDING"] == 1
    ledger.running(job, "threads", 1.0)
    assert ledger.counts.get("graphtest.add")["PENDING"] == 0
    graph.wait_for(job, 3)
    assert ledger.counts.get("graphtest.add")["DONE"] == 1
    assert lines == ["Run    add on threads"]


def test_release_unlinks_the_graph():
    graph, _ = new_graph()
    expr = add(add(1, 2), 3)
    root = graph.add_root(expr)
    ready_calls(graph)
    assert expr._node is root
    graph.release()
    assert expr._node is None and root.core is None and not graph.new_jobs
