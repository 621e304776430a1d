"""Kill at random moments, rerun, and check that nothing committed is lost or run again.

A 20,000-job workflow (workflow.py) runs in a subprocess; the scheduler, or its workers, or
its Slurm array elements are killed at moments drawn from seeded random numbers. After each
kill the store must open cleanly and hold everything it held before; the next run must reuse
every committed job (its run log shows none of them) and the last run's result must be right.
REDUN_FAST_RELIABILITY_LONG=1 runs more seeds and more kills.
"""
import os
import random
import re
import signal
import subprocess
import time

import psutil
import pytest

from . import harness
from .conftest import require_slurm, scaled
from .workflow import expected

N = 20_000
SPIN = 0.0003  # 0.3 ms of work per job: a cold run takes 3 to 4 s, long enough to hit


class Resumable:
    """One cache, run again and again; checks the invariants after every run or kill."""

    def __init__(self, folder, n=N, spin=SPIN, **options):
        self.folder, self.n, self.spin, self.options = folder, n, spin, options
        self.cache = folder / "cache"
        self.committed = set()
        self.runs = 0
        self.kills = 0
        self.rerun_after_commit = 0  # jobs run again although their result was committed

    def start(self):
        self.runs += 1
        self.runlog = self.folder / f"run{self.runs}.log"
        return harness.start(self.cache, self.n, self.runlog, spin=self.spin, **self.options)

    def check(self):
        """After a run ended (killed or not): nothing lost, nothing committed ran again."""
        now = harness.committed(self.cache, self.n, spin=self.spin)  # opens cleanly
        assert now >= self.committed, f"{len(self.committed - now)} committed results lost"
        self.rerun_after_commit += len(set(harness.ran(self.runlog)) & self.committed)
        assert self.rerun_after_commit == 0
        self.committed = now

    def finish(self):
        proc = self.start()
        before = len(self.committed)
        result = harness.finish(proc)
        self.check()
        assert result["result"] == expected(0, self.n)
        assert result["cached"] == before and result["done"] == self.n - before
        assert len(self.committed) == self.n
        return result


def workers_of(pid):
    """The pool's worker processes: children of the forkserver, itself a child of `pid`."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [p for p in children if p.ppid() != pid]


def session_left(sid):
    left = []
    for process in psutil.process_iter(["pid"]):
        try:
            if os.getsid(process.pid) == sid:
                left.append(process)
        except (ProcessLookupError, PermissionError):
            pass
    return left


def wait_for_no_session(sid, timeout=10):
    deadline = time.time() + timeout
    while session_left(sid) and time.time() < deadline:
        time.sleep(0.1)
    return session_left(sid)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("seed", range(scaled(3, 12)))
def test_scheduler_killed_at_random_moments(tmp_path, seed):
    rng = random.Random(seed)
    run = Resumable(tmp_path)
    for _ in range(scaled(3, 6)):
        proc = run.start()
        # A moment within the run: start-up, then the jobs not yet committed on 2 workers.
        left = run.n - len(run.committed)
        time.sleep(rng.uniform(0.05, 0.8) * (0.6 + left * SPIN / 2 * 1.2))
        if proc.poll() is not None:  # it finished before the kill: fine, check and go on
            assert proc.returncode == 0, proc.stderr.read()
        else:
            proc.send_signal(signal.SIGKILL)  # the scheduler only: its workers must notice
            proc.wait()
            run.kills += 1
            assert wait_for_no_session(proc.pid) == [], "workers outlived their scheduler"
        run.check()
    run.finish()
    assert run.kills >= 1
    print(f"seed {seed}: {run.kills} kills survived, {run.runs} runs, "
          f"{run.rerun_after_commit} committed jobs run again")


@pytest.mark.timeout(600)
@pytest.mark.parametrize("seed", range(scaled(2, 8)))
def test_workers_killed_at_random_moments(tmp_path, seed):
    rng = random.Random(seed)
    run = Resumable(tmp_path)
    proc = run.start()
    while run.kills < scaled(4, 10) and proc.poll() is None:
        time.sleep(rng.uniform(0.2, 0.8))
        workers = workers_of(proc.pid)  # none yet while the scheduler starts
        if workers:
            rng.choice(workers).kill()
            run.kills += 1
    out, err = proc.communicate(timeout=300)
    # A worker killed while it ran a batch: the batch runs again, one job at a time. Killed
    # while it ran a single job, that job fails (WorkerDiedError) and so does the run.
    assert proc.returncode == 0 or "WorkerDiedError" in err, err[-2000:]
    run.check()
    if proc.returncode == 0:
        assert harness.finish_output(out)["result"] == expected(0, run.n)
    run.finish()
    assert run.kills >= 1
    print(f"seed {seed}: {run.kills} workers killed, {run.rerun_after_commit} committed jobs "
          "run again")


def slurm_elements(name_prefix="redun_fast-"):
    """(array id, index) of the queued or running elements of our arrays."""
    out = subprocess.run(["squeue", "-h", "-r", "-o", "%i %j"], capture_output=True, text=True,
                         timeout=30).stdout
    found = []
    for line in out.splitlines():
        job, name = line.split(maxsplit=1)
        if name.startswith(name_prefix) and "_" in job:
            array, index = job.split("_", 1)
            if index.isdigit():
                found.append((array, int(index)))
    return found


@pytest.mark.slurm
@pytest.mark.timeout(900)
@pytest.mark.parametrize("seed", range(scaled(1, 4)))
def test_slurm_elements_cancelled_at_random_moments(tmp_path, seed):
    require_slurm()
    rng = random.Random(seed)
    run = Resumable(tmp_path, n=2000, spin=0.002, executor="slurm")  # 20 elements of 100 jobs
    for _ in range(scaled(3, 6)):
        proc = run.start()
        elements = []
        while not elements and proc.poll() is None:  # until the array is queued
            time.sleep(0.1)
            elements = slurm_elements()
        time.sleep(rng.uniform(0.0, 2.0))  # then a random moment among its elements' lives
        elements = slurm_elements()
        if elements and proc.poll() is None:
            array, index = rng.choice(elements)
            subprocess.run(["scancel", f"{array}_{index}"], capture_output=True, timeout=30)
            run.kills += 1
        out, err = proc.communicate(timeout=600)
        # A cancelled element fails its jobs (no retries here), and so the run.
        assert proc.returncode == 0 or re.search(
            r"SlurmError: .* ended without results \((CANCELLED|VANISHED)", err), err[-2000:]
        run.check()
    run.finish()
    assert run.kills >= 1
    print(f"seed {seed}: {run.kills} elements cancelled, {run.rerun_after_commit} committed "
          "jobs run again")
