"""Pilot workers on the multi-node local cluster (slurm/start-local-cluster.sh --nodes 3):
jobs spread over the nodes, and a node that dies or is cut off mid-run costs only the jobs it
was running, which run again elsewhere. Skipped on a one-node cluster, unless CI demands the
nodes (needs_slurm.require_nodes).

Each job leaves a start mark `<x>.<node>.<pid>` in a folder, so a test can tell where every
job ran and how often.
"""
import os
import subprocess
import threading
import time

import pytest

from redun_fast import Scheduler, task
from needs_slurm import require_nodes, wait_until, workers_executor

require_nodes(3)

pytestmark = [pytest.mark.slurm, pytest.mark.timeout(300)]

redun_namespace = "nodestest"
VICTIM = "node2"  # the node a test kills or cuts off
HERE = os.path.dirname(os.path.abspath(__file__))


@task
def marked(x, marks, seconds):
    node = os.environ.get("SLURMD_NODENAME")
    open(os.path.join(marks, f"{x}.{node}.{os.getpid()}"), "w").close()
    time.sleep(seconds)
    return x * 10, node


def starts(marks):
    """x -> the nodes its job started on, in the order the marks were made."""
    found = {}
    for name in sorted(os.listdir(marks), key=lambda name: os.stat(marks / name).st_mtime_ns):
        x, node, _ = name.split(".")
        found.setdefault(int(x), []).append(node)
    return found


def node_states():
    out = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %T"], capture_output=True, text=True)
    return dict(line.split() for line in out.stdout.splitlines() if line.strip())


@pytest.fixture(autouse=True)
def idle_nodes():
    """Each test starts on three idle nodes: a job of the test before still ending
    (COMPLETING) on the victim would keep Slurm from placing a worker there."""
    def idle():
        return all(state == "idle" for state in node_states().values())

    if not wait_until(idle, 60):  # a job the node lost for good: down ends it, then resume
        for name, state in node_states().items():
            if state != "idle":
                subprocess.run(["scontrol", "update", f"NodeName={name}", "State=DOWN",
                                "Reason=a test found it stuck"], check=False)
                subprocess.run(["scontrol", "update", f"NodeName={name}", "State=RESUME"],
                               check=False)
        assert wait_until(idle, 30), node_states()
    yield


@pytest.fixture
def heal():
    """Afterwards, bring the victim back: its link up, its daemon restarted, the node resumed."""
    yield
    subprocess.run(["bash", os.path.join(HERE, "..", "slurm", "start-local-cluster.sh"),
                    "--nodes", "3"], check=True, capture_output=True, timeout=120)


def run_hurting_the_victim(tmp_path, hurt):
    """Run 24 jobs of 1.5 s on three workers; once a job starts on the victim, `hurt` it.
    Returns the results and where each job started."""
    marks = tmp_path / "marks"
    marks.mkdir()
    executor = workers_executor(tmp_path, max_workers=3)

    def hurt_when_the_victim_runs_a_job():
        deadline = time.time() + 120
        while time.time() < deadline:
            if any(f".{VICTIM}." in name for name in os.listdir(marks)):
                return hurt()
            time.sleep(0.1)

    hurter = threading.Thread(target=hurt_when_the_victim_runs_a_job)
    with Scheduler(executor=executor) as scheduler:
        hurter.start()
        results = scheduler.run([marked(x, str(marks), 1.5) for x in range(24)])
    hurter.join()
    return results, starts(marks)


def assert_only_the_victims_jobs_ran_again(results, started):
    assert [value for value, _ in results] == [x * 10 for x in range(24)]
    assert sorted(started) == list(range(24))
    again = {x: nodes for x, nodes in started.items() if len(nodes) > 1}
    assert again, "the victim's job did not run again elsewhere"
    for x, nodes in again.items():
        # A job ran twice only because it was on the victim; its result came from elsewhere.
        assert set(nodes[:-1]) == {VICTIM} and nodes[-1] != VICTIM, (x, nodes)
    assert results[min(again)][1] != VICTIM


def test_a_handful_of_workers_spreads_over_the_nodes(tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    executor = workers_executor(tmp_path, max_workers=3)
    with Scheduler(executor=executor) as scheduler:
        results = scheduler.run([marked(x, str(marks), 1.0) for x in range(9)])
    assert [value for value, _ in results] == [x * 10 for x in range(9)]
    assert {node for _, node in results} == {"node1", "node2", "node3"}
    assert executor.workers_connected == 3


def test_a_node_killed_mid_run_costs_only_the_jobs_it_was_running(tmp_path, heal):
    def kill_the_node():  # every process of its namespace: slurmd, the worker, its job
        pids = subprocess.run(["ip", "netns", "pids", f"rf-{VICTIM}"], capture_output=True,
                              text=True, check=True).stdout.split()
        subprocess.run(["kill", "-9", *pids], check=False)

    results, started = run_hurting_the_victim(tmp_path, kill_the_node)
    assert_only_the_victims_jobs_ran_again(results, started)


def test_a_node_cut_off_mid_run_is_given_up_after_the_heartbeat_timeout(tmp_path, heal):
    # Its processes live on, silent: no connection closes, only the missing pings tell.
    def cut_off_the_node():
        subprocess.run(["ip", "link", "set", f"rfh{VICTIM[-1]}", "down"], check=True)

    began = time.monotonic()
    results, started = run_hurting_the_victim(tmp_path, cut_off_the_node)
    assert_only_the_victims_jobs_ran_again(results, started)
    assert time.monotonic() - began < 120
