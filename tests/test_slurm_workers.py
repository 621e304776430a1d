"""The Slurm executor's workers mode (pilot workers) on the real local cluster that
slurm/start-local-cluster.sh starts; skipped when no cluster answers (needs_slurm.py).

Pilots connect to the scheduler over loopback (address="127.0.0.1"), or, on the multi-node
cluster, over the private bridge its script made (needs_slurm.scheduler_address).
"""
import os
import pickle
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from redun_fast import Scheduler, task
from redun_fast.errors import SlurmError, WorkerDiedError
from redun_fast.executors.network import connect
from redun_fast.executors.processes import RemoteTraceback
from needs_slurm import (require_slurm, scheduler_address, scontrol, wait_until,
                         workers_executor)

require_slurm(module_level=True)

pytestmark = [pytest.mark.slurm, pytest.mark.timeout(240)]

redun_namespace = "workerstest"


@task
def add(a, b):
    print(f"start add({a}, {b})")
    return a + b


@task
def add_many(values):
    if len(values) == 1:
        return values[0]
    k = len(values) // 2
    return add(add_many(values[:k]), add_many(values[k:]))


@task
def inc(x):
    return x + 1


@task(cpus=2, memory="300M", time="0:05:00", partition="short")
def heavy(x):
    return x * 2


@task
def where(x):
    return x, os.environ.get("SLURM_JOB_ID"), os.environ.get("SLURMD_NODENAME")


@task
def fails(x):
    raise KeyError(f"sample {x} is missing")


@task
def exits(code):
    os._exit(code)


@task
def sleeps(seconds, marker=None):
    if marker:
        open(marker, "w").close()
    time.sleep(seconds)
    return seconds


@task
def counted(x, marks):
    open(os.path.join(marks, f"{x}.{os.getpid()}.{time.monotonic_ns()}"), "w").close()
    return x


@task
def waits_for(values, marker, release):
    """Marks that it started, then waits (at most 120 s) for the test to release it."""
    open(marker, "w").close()
    deadline = time.time() + 120
    while not os.path.exists(release) and time.time() < deadline:
        time.sleep(0.1)
    return sum(values)


@task
def doubled(data):
    return data + data


@task(time="0:02:00")
def timed(x):
    return x, os.environ.get("SLURM_JOB_ID")


def squeue_ids(array_ids):
    """The elements of these arrays Slurm still runs or will run."""
    out = subprocess.run(["squeue", "-h", "-j", ",".join(array_ids), "-o", "%i %T"],
                         capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.split()[1] in ("PENDING", "RUNNING")]


def test_waves_of_jobs_reuse_running_workers(tmp_path, capsys):
    executor = workers_executor(tmp_path)
    assert executor.mode == "workers"
    with Scheduler(executor=executor) as scheduler:
        values = [add(i, 1) for i in range(10)]
        assert scheduler.run(add_many(values)) == 55  # 19 waves of jobs
        assert scheduler.run([inc(i) for i in range(2000)]) == list(range(1, 2001))
        assert executor.sbatch_calls <= 2 and executor.workers_connected <= 2
        array_ids = list(executor.array_ids)
        assert squeue_ids(array_ids)  # the workers wait for more work
    starts = [line for line in capsys.readouterr().out.splitlines() if line.startswith("start")]
    assert {f"start add({i}, 1)" for i in range(10)} <= set(starts)  # task output is shown
    assert wait_until(lambda: not squeue_ids(array_ids), 30)  # closing ended every worker
    assert os.listdir(tmp_path / "staging" / "workers") == []  # the run's folder is removed


def test_large_values_travel_through_the_staging_folder_and_back(tmp_path):
    # 9 MiB each way: above transport.LARGE, so both spill to the run's folder, signed.
    data = os.urandom(1 << 20) * 9
    with Scheduler(executor=workers_executor(tmp_path), cache_dir=str(tmp_path / "cache")) \
            as scheduler:
        assert scheduler.run(doubled(data)) == data + data


def test_resource_groups_get_their_own_workers(tmp_path):
    executor = workers_executor(tmp_path)
    with Scheduler(executor=executor) as scheduler:
        assert scheduler.run([heavy(1), heavy(2), inc(3)]) == [2, 4, 4]
        assert executor.sbatch_calls == 2  # one array of workers per resource set
        shown = [scontrol(job_id) for job_id in executor.array_ids]
    heavy_job = next(text for text in shown if "Partition=short" in text)
    assert "NumCPUs=2" in heavy_job and "MinMemoryNode=300M" in heavy_job
    assert "TimeLimit=00:05:00" in heavy_job


def test_a_task_exception_keeps_its_type_and_is_not_retried(tmp_path):
    executor = workers_executor(tmp_path)
    with Scheduler(executor=executor) as scheduler:
        with pytest.raises(KeyError, match="sample 7 is missing") as info:
            scheduler.run(fails(7))
        assert executor.workers_connected == 1  # it ran once, on one worker
    assert isinstance(info.value.__cause__, RemoteTraceback)
    assert "in fails" in info.value.__cause__.text


def test_a_job_that_kills_its_workers_fails_after_max_crashes(tmp_path):
    executor = workers_executor(tmp_path, max_crashes=2)
    with Scheduler(executor=executor) as scheduler:
        with pytest.raises(WorkerDiedError, match=r"the Slurm worker \d+_\d+ on \S+ \(pid \d+\) "
                                                  r"running workerstest.exits died: its "
                                                  r"connection closed; Slurm says .*; it was "
                                                  r"running alone on each of the 2 workers"):
            scheduler.run(exits(3))
        assert scheduler.run(inc(1)) == 2  # the executor still works


def test_a_worker_cancelled_mid_job_has_its_job_run_elsewhere(tmp_path):
    executor = workers_executor(tmp_path)
    marker = tmp_path / "started"
    with Scheduler(executor=executor) as scheduler:
        def cancel_when_started():
            if wait_until(marker.exists, 60):
                subprocess.run(["scancel", executor.array_ids[0]])

        canceller = threading.Thread(target=cancel_when_started)
        canceller.start()
        assert scheduler.run(sleeps(2, str(marker))) == 2
        canceller.join()
        assert executor.sbatch_calls == 2  # the first worker was cancelled: a second one ran it


def test_workers_that_never_connect_fail_the_run_with_their_log(tmp_path):
    executor = workers_executor(tmp_path)
    with Scheduler(executor=executor) as scheduler:
        with pytest.raises(WorkerDiedError, match=r"workers die as they start: Slurm job \d+_\d+ "
                                                  r"ended before it connected to the scheduler "
                                                  r"at [\d.]+:\d+ \(FAILED"):
            # A Python that cannot start: the pilot dies before it connects.
            scheduler.run(inc.options(sbatch_args=["--export=ALL,PYTHONHOME=/nonexistent"])(1))


def test_sbatch_refusing_workers_fails_their_jobs_with_its_message(tmp_path):
    with Scheduler(executor=workers_executor(tmp_path)) as scheduler:
        with pytest.raises(SlurmError, match=r"sbatch refused the job: sbatch: error: "
                                             r"invalid partition specified: nope"):
            scheduler.run(inc.options(partition="nope")(1))


def test_a_job_is_not_started_on_a_worker_without_time_left_for_it(tmp_path):
    # time="0:02:00" with workers of 2 minutes: each worker has room for its first job only.
    executor = workers_executor(tmp_path, max_workers=1)
    with Scheduler(executor=executor) as scheduler:
        results = scheduler.run([timed(i) for i in range(3)])
    assert [x for x, _ in results] == [0, 1, 2]
    assert len({job for _, job in results}) == 3 and executor.workers_connected == 3
    executor = workers_executor(tmp_path, max_workers=1, worker_time="0:30:00")
    with Scheduler(executor=executor) as scheduler:
        results = scheduler.run([timed(i) for i in range(3)])
        shown = scontrol(executor.array_ids[0])
    assert len({job for _, job in results}) == 1  # a 30-minute worker runs all three
    assert "TimeLimit=00:30:00" in shown


class Payload:
    """Runs `open(mark, "w")` if it is ever unpickled."""

    def __init__(self, mark):
        self.mark = mark

    def __reduce__(self):
        return (open, (self.mark, "w"))


def test_a_worker_with_a_wrong_secret_is_refused_before_anything_is_unpickled(tmp_path, caplog):
    executor = workers_executor(tmp_path)
    mark = tmp_path / "payload-ran"
    with Scheduler(executor=executor) as scheduler:
        executor.start()
        with pytest.raises(ConnectionError):  # it closes on us without proving itself
            connect(executor._listener.address, os.urandom(32), send_timeout=5)
        # One that does not even try: a wrong proof, then a pickle right behind it.
        with socket.create_connection(executor._listener.address, timeout=5) as sock:
            sock.recv(36)
            sock.sendall(os.urandom(64) + pickle.dumps(("hello", Payload(str(mark)))))
            try:
                closed = sock.recv(1) == b""
            except ConnectionResetError:  # closed with what we sent unread
                closed = True
            assert closed
        assert scheduler.run(inc(1)) == 2  # the run goes on
        assert executor.workers_connected == 1
    assert not mark.exists()
    assert caplog.text.count("does not hold this run's secret") == 2


SCHEDULER = """
import os
import sys
from redun_fast import Scheduler
from redun_fast.executors.slurm import SlurmExecutor
from test_slurm_workers import counted, waits_for

if __name__ == "__main__":
    folder, address = sys.argv[1:]
    executor = SlurmExecutor(staging_dir=os.path.join(folder, "staging"), address=address,
                             poll_interval=0.3, submit_interval=0.5, heartbeat=1.0,
                             heartbeat_timeout=4.0)
    scheduler = Scheduler(executor=executor, cache_dir=os.path.join(folder, "cache"))
    scheduler.logger.setLevel("WARNING")
    marks = os.path.join(folder, "marks")
    values = [counted(x, marks) for x in range(3)]
    started, release = os.path.join(folder, "started"), os.path.join(folder, "release")
    print(scheduler.run(waits_for(values, started, release)), flush=True)
"""


def scheduler_command(tmp_path):
    """A scheduler whose last job, after three quick ones, waits on a worker until released."""
    script = tmp_path / "scheduler.py"
    script.write_text(textwrap.dedent(SCHEDULER))
    (tmp_path / "marks").mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.dirname(__file__)] + sys.path)}
    return [sys.executable, str(script), str(tmp_path), scheduler_address()], env


def start_scheduler(tmp_path):
    """That scheduler in a subprocess, once its last job runs: (process, its workers' ids)."""
    command, env = scheduler_command(tmp_path)
    proc = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert wait_until((tmp_path / "started").exists, 90), "the job never started on a worker"
    jobs = subprocess.run(["squeue", "-h", "-n", "redun_fast-workers-0", "-o", "%i"],
                          capture_output=True, text=True).stdout.split()
    return proc, jobs


def test_a_scheduler_that_stops_answering_leaves_no_worker_running(tmp_path):
    proc, jobs = start_scheduler(tmp_path)
    assert jobs
    os.killpg(proc.pid, signal.SIGSTOP)  # alive, its sockets open, silent: only pings tell
    try:
        # heartbeat_timeout=4: the worker gives up on it and its Slurm job ends.
        assert wait_until(lambda: not squeue_ids([job.split("_")[0] for job in jobs]), 30)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_ctrl_c_cancels_every_worker(tmp_path):
    proc, jobs = start_scheduler(tmp_path)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    _, err = proc.communicate(timeout=30)
    assert "KeyboardInterrupt" in err
    assert wait_until(lambda: not squeue_ids([job.split("_")[0] for job in jobs]), 30)



def test_a_killed_scheduler_leaves_no_worker_and_its_rerun_runs_only_what_was_not_committed(
        tmp_path):
    proc, jobs = start_scheduler(tmp_path)
    assert jobs
    time.sleep(0.5)  # the quick jobs' results are committed (every 50 ms)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert wait_until(lambda: not squeue_ids([job.split("_")[0] for job in jobs]), 30)
    (tmp_path / "release").touch()
    command, env = scheduler_command(tmp_path)
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.split()[-1] == "3"  # 0 + 1 + 2
    ran = sorted(int(name.split(".")[0]) for name in os.listdir(tmp_path / "marks"))
    assert ran == [0, 1, 2]  # each quick job once: the rerun replayed them from the cache
