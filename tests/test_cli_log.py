"""`redun_fast log ID`: a run's result, its jobs, its call tree and its costs, on a real store."""
import json
import re
import subprocess
import sys
import textwrap

import pytest

from test_cli_cache import redun_fast

SCRIPT = """
import sys
from redun_fast import Scheduler, task
redun_namespace = "tree"

@task
def leaf(i):
    return i * 10

@task
def branch(n):
    return [leaf(i) for i in range(n)]

@task
def main(n):
    return {"total": branch(n), "name": "run"}

Scheduler(cache_dir=sys.argv[1], executor=sys.argv[3]).run(main(int(sys.argv[2])))
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A store with one run of main(8) on processes, then the same run replayed."""
    folder = tmp_path_factory.mktemp("log")
    script = folder / "wf.py"
    script.write_text(textwrap.dedent(SCRIPT))
    cache = folder / "cache"
    for _ in range(2):
        subprocess.run([sys.executable, str(script), str(cache), "8", "processes"], check=True,
                       capture_output=True, timeout=120)
    listed = redun_fast("log", cache=cache).stdout.splitlines()
    return cache, listed[2].split()[0], listed[1].split()[0]  # (cache, first run, replay)


def test_log_of_an_execution_shows_its_result_and_what_each_task_cost(runs):
    cache, ran, replayed = runs
    out = redun_fast("log", ran, cache=cache)
    assert out.returncode == 0, out.stderr
    assert "  result   {'total': [0, 10, 20, 30, 40, 50, 60, 70], 'name': 'run'}" in out.stdout
    costs = out.stdout.split("\nTASK ")[1].splitlines()
    assert costs[0].split() == ["RAN", "MIN", "MEDIAN", "MAX", "CPU/JOB", "PEAK", "EXECUTOR"]
    leaf = next(line for line in costs if line.startswith("tree.leaf "))
    assert leaf.split()[1] == "8" and leaf.split()[-1] == "processes"
    assert re.search(r"\d+\.\d (KiB|MiB)", leaf)  # its worker's peak memory was measured
    again = redun_fast("log", replayed, cache=cache).stdout
    assert "  result   {'total': [0, 10, 20" in again  # a replay has the same result


def test_log_jobs_lists_each_job_with_its_status_executor_and_worker(runs):
    cache, ran, replayed = runs
    lines = redun_fast("log", ran, "--jobs", cache=cache).stdout.splitlines()
    assert lines[0].split() == ["JOB", "TASK", "STATUS", "START", "DURATION", "CPU", "PEAK",
                                "EXECUTOR", "WORKER"]
    leaves = [line.split() for line in lines[1:] if " tree.leaf " in line]
    assert len(leaves) == 8
    assert {row[2] for row in leaves} == {"DONE"}
    assert {row[-2] for row in leaves} == {"processes"}
    assert all(re.fullmatch(r"[\w.-]+:\d+", row[-1]) for row in leaves)  # host:pid
    cached = [line.split() for line in redun_fast("log", replayed, "--jobs",
                                                  cache=cache).stdout.splitlines()[1:]]
    assert {row[2] for row in cached} == {"CACHED"} and len(cached) == 10


def test_log_tree_prints_who_called_whom_and_folds_many_children(runs):
    cache, ran, _ = runs
    tree = redun_fast("log", ran, "--tree", cache=cache).stdout.splitlines()
    assert tree[0].startswith("tree.main  DONE")
    assert tree[1].startswith("  tree.branch  DONE")
    assert [line.startswith("    tree.leaf  DONE") for line in tree[2:]] == [True] * 8
    folded = redun_fast("log", ran, "--tree", "--fold", "3", cache=cache).stdout.splitlines()
    assert len(folded) == 6
    assert folded[-1] == "    … 5 more leaf jobs"


def test_log_json_is_for_scripts(runs):
    cache, ran, _ = runs
    listed = json.loads(redun_fast("log", "--json", cache=cache).stdout)
    assert [run["state"] for run in listed] == ["done", "done"]
    assert listed[1]["id"].startswith(ran)
    one = json.loads(redun_fast("log", ran, "--json", "--jobs", cache=cache).stdout)
    assert one["result"].startswith("{'total': [0, 10")
    assert {task["task"]: task["jobs"] for task in one["tasks"]} == {
        "tree.leaf": 8, "tree.branch": 1, "tree.main": 1}
    by_id = {job["job_id"]: job for job in one["jobs"]}
    leaf = next(job for job in one["jobs"] if job["task_name"] == "tree.leaf")
    assert by_id[leaf["parent"]]["task_name"] == "tree.branch"
    assert leaf["executor"] == "processes" and leaf["cpu"] >= 0 and leaf["peak"] > 0
