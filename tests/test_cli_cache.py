"""`redun_fast log` and `redun_fast cache ...` on a real store, through the real command."""
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from redun_fast.cache.records import ExecutionRecord
from redun_fast.pids import HOST

SCRIPT = """
import sys
from redun_fast import Scheduler, task
redun_namespace = "cli"

@task
def square(x):
    if x < 0:
        raise ValueError(f"negative input {x}")
    return x * x

scheduler = Scheduler(cache_dir=sys.argv[1])
print(scheduler.run([square(i) for i in range(int(sys.argv[2]))]))
"""


def redun_fast(*args, cache=None, env=None):
    env = {**os.environ, **(env or {})}
    cache_args = ["--cache-dir", str(cache)] if cache is not None else []
    return subprocess.run([sys.executable, "-m", "redun_fast", *cache_args, *args],
                          capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture
def cache(tmp_path):
    script = tmp_path / "wf.py"
    script.write_text(textwrap.dedent(SCRIPT))
    cache = tmp_path / "cache"
    subprocess.run([sys.executable, str(script), str(cache), "3"], check=True, capture_output=True)
    failed = subprocess.run([sys.executable, str(script), str(cache), "-2"], capture_output=True)
    assert failed.returncode == 0  # range(-2) is empty: a run of just the root
    bad = tmp_path / "bad.py"
    bad.write_text(textwrap.dedent(SCRIPT).replace("range(int(sys.argv[2]))", "[2, -5]"))
    assert subprocess.run([sys.executable, str(bad), str(cache), "0"],
                          capture_output=True).returncode != 0
    return cache


def test_console_script_is_installed():
    assert shutil.which("redun_fast") is not None
    assert subprocess.run(["redun_fast", "--help"], capture_output=True, text=True).stdout.startswith(
        "usage: redun_fast")


def test_log_lists_executions_newest_first(cache):
    out = redun_fast("log", cache=cache)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["EXECUTION", "START", "DURATION", "STATE", "DONE", "CACHED",
                                "FAILED", "CALL"]
    # id, date, time, duration, "s", state, done, cached, failed, call
    assert [line.split()[5] for line in lines[1:]] == ["failed", "done", "done"]
    # The failed run: square(2) cached; square(-5) and the root failed.
    assert lines[1].split()[6:9] == ["0", "1", "2"]
    assert lines[3].split()[6:9] == ["4", "0", "0"]


def test_log_of_one_execution_shows_its_table_and_failed_jobs(cache):
    exec_id = redun_fast("log", cache=cache).stdout.splitlines()[1].split()[0]
    out = redun_fast("log", exec_id, cache=cache)
    assert out.returncode == 0, out.stderr
    assert re.search(rf"^Execution {exec_id}[0-9a-f-]+: failed$", out.stdout, re.M)
    assert "| cli.square            0       0       1       1       0       2" in out.stdout
    assert re.search(r"\*\*\* Failed job [0-9a-f]{16}:  cli.square", out.stdout)
    assert "ValueError: negative input -5" in out.stdout
    missing = redun_fast("log", "zzzz", cache=cache)
    assert missing.returncode == 2
    assert "no execution matches 'zzzz' in " in missing.stderr


def test_cache_stats_clear_and_prune(cache):
    stats = redun_fast("cache", "stats", cache=cache).stdout
    assert re.search(r"^results  6$", stats, re.M)  # 3 squares and 3 roots (the failed one's too)
    assert re.search(r"^runs     3$", stats, re.M)
    assert int(re.search(r"^bytes    (\d+)$", stats, re.M).group(1)) > 0
    refused = redun_fast("cache", "clear", cache=cache)  # no terminal to ask on: --yes
    assert refused.returncode == 2 and "pass --yes to confirm" in refused.stderr
    assert re.search(r"^runs     3$", redun_fast("cache", "stats", cache=cache).stdout, re.M)
    usage = redun_fast("cache", "prune", cache=cache)
    assert usage.returncode == 2 and "--older-than DAYS" in usage.stderr
    pruned = redun_fast("cache", "prune", "--older-than", "1", cache=cache)
    assert pruned.stdout.startswith("removed 0 results, 0 values and 0 runs")
    pruned = redun_fast("cache", "prune", "--older-than", "0", cache=cache)
    assert pruned.stdout.startswith("removed 6 results, 0 values and 3 runs")
    cleared = redun_fast("cache", "clear", "--yes", cache=cache)
    assert cleared.returncode == 0
    assert cleared.stdout == f"removed 0 results, 0 values and 0 runs in {cache}\n"
    stats = redun_fast("cache", "stats", cache=cache).stdout
    assert re.search(r"^results  0$", stats, re.M) and re.search(r"^runs     0$", stats, re.M)


def test_cache_clear_asks_on_a_terminal(cache):
    import pty

    for answer, removed in (("n", False), ("y", True)):
        controller, terminal = pty.openpty()
        proc = subprocess.Popen([sys.executable, "-m", "redun_fast", "--cache-dir", str(cache),
                                 "cache", "clear"], stdin=terminal, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        os.write(controller, f"{answer}\n".encode())
        out, _ = proc.communicate(timeout=60)
        os.close(terminal)
        os.close(controller)
        assert ("removed 6 results" in out) == removed and ("nothing removed" in out) != removed
        assert proc.returncode == (0 if removed else 1)


def test_cache_dir_from_environment_and_missing_cache(cache, tmp_path):
    out = redun_fast("cache", "stats", env={"REDUN_FAST_CACHE_DIR": str(cache)})
    assert out.returncode == 0 and f"cache    {cache}" in out.stdout
    missing = redun_fast("log", cache=tmp_path / "nothing")
    assert missing.returncode == 2
    assert missing.stderr.startswith(f"redun_fast: error: no cache at {tmp_path / 'nothing'}")


LONG_RUN = """
import sys, time
from redun_fast import Scheduler, task

@task
def slow(x):
    time.sleep(60)
    return x

scheduler = Scheduler(executor="inline", cache_dir=sys.argv[1])
scheduler.run(slow(1))
"""


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_run_whose_scheduler_is_gone_is_shown_interrupted(tmp_path, how):
    # Such runs were shown as running for good.
    script = tmp_path / "long.py"
    script.write_text(LONG_RUN)
    cache = tmp_path / "cache"
    proc = subprocess.Popen([sys.executable, str(script), str(cache)], stderr=subprocess.PIPE,
                            text=True)
    try:
        for _ in range(300):  # until the run is recorded, at most 30 s
            if "Start Execution" in (proc.stderr.readline() or ""):
                break
        listing = redun_fast("log", cache=cache).stdout
        assert re.search(r" running +0 ", listing), listing
        proc.send_signal(how)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    listing = redun_fast("log", cache=cache).stdout
    assert re.search(r" interrupted +0 ", listing), listing
    execution_id = listing.splitlines()[1].split()[0]
    assert ": interrupted" in redun_fast("log", execution_id, cache=cache).stdout


def test_a_running_record_whose_pid_another_process_took_is_shown_interrupted():
    # The scheduler's pid, reused by a process (this one) that started after the run did.
    started = psutil.Process().create_time()
    record = ExecutionRecord("0" * 32, started - 60, None, "t.work()", "running", {}, None,
                             host=HOST, pid=os.getpid())
    assert record.shown_state == "interrupted"
    assert record._replace(start=time.time()).shown_state == "running"


PARENT_AND_SLOW_CHILD = """
import os, sys, time
from redun_fast import Scheduler, task
redun_namespace = "live"

@task
def child(x):
    print("child started", flush=True)
    while not os.path.exists(sys.argv[2]):  # until the test has pruned
        time.sleep(0.05)
    return x * 2

@task
def parent(x):
    return child(x + 1)  # a result that is an expression: the job waits for it

@task
def leaf(x):
    return x

scheduler = Scheduler(executor="threads", cache_dir=sys.argv[1])
print(scheduler.run([leaf(1), parent(1)]), flush=True)
print("counts", scheduler.job_counts.get("live.parent")["DONE"],
      scheduler.job_counts.get("live.child")["DONE"], flush=True)
"""


@pytest.mark.parametrize("days", ["1", "0"])
def test_a_prune_during_a_run_keeps_what_the_run_wrote(tmp_path, days):
    # The parent's result (the expression) is stored when it returns, but recorded as used
    # only when its child is done: a prune in between removed it, so the run's DONE parent
    # had no result and ran again next time. --older-than 0 removed all of the run's results.
    script = tmp_path / "live.py"
    script.write_text(PARENT_AND_SLOW_CHILD)
    cache, go_on = tmp_path / "cache", tmp_path / "pruned"
    proc = subprocess.Popen([sys.executable, str(script), str(cache), str(go_on)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "child started"
        time.sleep(0.3)  # let the commit of the parent's result happen (every 50 ms)
        pruned = redun_fast("cache", "prune", "--older-than", days, cache=cache)
        assert pruned.returncode == 0, pruned.stderr
        go_on.touch()
        assert proc.stdout.readline().strip() == "[1, 4]"
        proc.wait(timeout=60)
    finally:
        proc.kill()
    again = subprocess.run([sys.executable, str(script), str(cache), str(go_on)],
                           capture_output=True, text=True, timeout=60)
    assert again.stdout.split("\n")[-2] == "counts 0 0"  # fully cached: nothing ran again


def test_damaged_run_records_are_skipped_with_a_warning(cache):
    # A damaged execution record crashed `log` with an UnpicklingError, a damaged batch of
    # job records crashed `prune` with a ValueError.
    import uuid

    import lmdb

    env = lmdb.open(str(cache), max_dbs=8)
    executions, jobs = env.open_db(b"executions"), env.open_db(b"jobs")
    with env.begin(write=True) as txn:
        txn.put(b"\x00" * 8 + b"\x01" * 16, b"not a pickle", db=executions)
        key, batch = next(iter(txn.cursor(jobs)))
        txn.put(key, batch[:-7], db=jobs)  # cut short
    env.close()
    listing = redun_fast("log", cache=cache)
    assert listing.returncode == 0, listing.stderr
    assert len(listing.stdout.splitlines()) == 4  # the header and the three good runs
    assert "1 damaged execution records in the cache at" in listing.stderr
    shown = redun_fast("log", str(uuid.UUID(bytes=key[:16])), cache=cache)
    assert shown.returncode == 0 and "a damaged batch of job records" in shown.stderr
    pruned = redun_fast("cache", "prune", "--older-than", "0", cache=cache)
    assert pruned.returncode == 0, pruned.stderr
    assert "removed" in pruned.stdout


ALL_FAIL = """
import sys
from redun_fast import Scheduler, catch_all, task

@task
def check(x):
    if x % 3:
        raise ValueError(f"sample {x} is bad")
    raise KeyError(x)

Scheduler(executor="inline", cache_dir=sys.argv[1]).run(catch_all([check(i) for i in range(600)]))
"""


def log_of_a_failed_run(tmp_path, program):
    """What `log ID` shows of the run of `program` (which must fail) on a fresh cache."""
    script = tmp_path / "failing_program.py"
    script.write_text(program)
    cache = tmp_path / "cache"
    assert subprocess.run([sys.executable, str(script), str(cache)],
                          capture_output=True).returncode != 0
    execution_id = redun_fast("log", cache=cache).stdout.splitlines()[1].split()[0]
    return redun_fast("log", execution_id, cache=cache).stdout


def test_log_of_a_run_with_many_failures_shows_a_few_and_counts_the_rest(tmp_path):
    # Every failure's traceback in full: 600 jobs printed thousands of lines.
    shown = log_of_a_failed_run(tmp_path, ALL_FAIL)
    assert shown.count("*** Failed job") == 5
    assert "*** 596 more failed jobs:" in shown  # 600 checks and the root failed
    # Of 600 checks, 200 raise KeyError (0, 3, ...) and 400 ValueError; the first five are
    # shown (0 to 4: two KeyErrors); catch_all's root job fails with the first error.
    counts = re.findall(r"^ +([\d,]+)  (\S+): (\w+)$", shown, re.M)
    assert counts == [("397", "check", "ValueError"), ("198", "check", "KeyError"),
                      ("1", "redun.root_task", "KeyError")]
    assert len(shown.splitlines()) < 120


FAIL_FAST = """
import sys, time
from redun_fast import Scheduler, task
redun_namespace = "clifast"

@task
def work(x):
    if x == 0:
        raise ValueError("the first sample is bad")
    time.sleep(0.5)
    return x

Scheduler(executor="threads", cache_dir=sys.argv[1]).run([work(i) for i in range(8)])
"""


def test_log_of_a_failed_run_says_its_running_jobs_were_abandoned(tmp_path):
    # The run fails at work(0) while the others still sleep: its table shows them RUNNING,
    # which read as if they ran on for good.
    shown = log_of_a_failed_run(tmp_path, FAIL_FAST)
    running = int(re.search(r"^\| ALL +(\d+) +(\d+)", shown, re.M).group(2))
    assert running > 0
    assert (f"{running} running and 0 pending jobs were abandoned when the run failed:\nnone of "
            "them is cached, so a rerun runs them.") in shown
    listed = redun_fast("log", cache=tmp_path / "cache").stdout  # the list is unchanged
    assert "abandoned" not in listed


def test_log_piped_into_a_reader_that_stops_early_ends_quietly(cache):
    # `redun_fast log | head -1` printed a BrokenPipeError traceback.
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line
    try:
        shown = subprocess.run([sys.executable, "-m", "redun_fast", "--cache-dir", str(cache),
                                "log"], stdout=write_end, stderr=subprocess.PIPE, text=True,
                               timeout=60)
    finally:
        os.close(write_end)
    assert shown.returncode == 1 and shown.stderr == ""


def test_the_global_options_work_after_the_command_too(cache, tmp_path):
    # `redun_fast log --cache-dir X` was "unrecognized arguments", as the README says it works.
    before = redun_fast("--cache-dir", str(cache), "log")
    after = redun_fast("log", "--cache-dir", str(cache))
    assert after.returncode == 0, after.stderr
    assert after.stdout == before.stdout and len(after.stdout.splitlines()) == 4  # 3 runs
    stats = redun_fast("cache", "stats", "--cache-dir", str(cache))
    assert stats.returncode == 0 and str(cache) in stats.stdout
    # After the command wins over before it; given only before, it is kept.
    elsewhere = redun_fast("--cache-dir", str(tmp_path / "nowhere"), "config", "--cache-dir",
                           str(cache))
    assert str(cache) in elsewhere.stdout and "nowhere" not in elsewhere.stdout
    kept = redun_fast("--cache-dir", str(cache), "config")
    assert str(cache) in kept.stdout
    workflow = tmp_path / "squares.py"
    workflow.write_text("from redun_fast import task\n\n@task\ndef square(x: int):\n"
                        "    return x * x\n")
    run = subprocess.run([sys.executable, "-m", "redun_fast", "run", "--cache-dir",
                          str(tmp_path / "run-cache"), str(workflow), "square", "--x", "4"],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[-1] == "16" and (tmp_path / "run-cache").is_dir()
