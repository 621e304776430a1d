"""The Slurm executor's arrays mode on the real local cluster that slurm/start-local-cluster.sh
starts (the workers mode: test_slurm_workers.py).

Skipped when no cluster answers (needs_slurm.py).
"""
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from redun_fast import File, Scheduler, script, task
from redun_fast.cache.lmdb_store import LmdbStore
from needs_slurm import require_slurm, scontrol
from unloadable import maybe_unloadable
from redun_fast.executors.processes import RemoteTraceback
from redun_fast.executors.slurm import SlurmError, SlurmExecutor


require_slurm(module_level=True)

pytestmark = [pytest.mark.slurm, pytest.mark.timeout(240)]

redun_namespace = "slurmtest"


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


@task(cpus=2, memory="300M", time="0:05:00", partition="short")
def heavy(x):
    return x * 2


@task
def inc(x):
    return x + 1


@task
def fails(x):
    raise KeyError(f"sample {x} is missing")


@task
def sleeps(seconds):
    time.sleep(seconds)
    return seconds


@task
def exits(code):
    os._exit(code)


@task
def flaky(marker):
    """Kills its element the first time, succeeds the second."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return "second try"


@task(nout=2, executor="slurm")
def split_name(name):
    first, last = name.split()
    return first, last


@task(limits=["db"], executor="slurm")
def query(x):
    return x * 10


def slurm_scheduler(tmp_path, **options):
    executor = SlurmExecutor(mode="arrays", staging_dir=str(tmp_path / "staging"),
                             poll_interval=0.3, submit_delay=0.1, **options)
    return Scheduler(executor=executor)


def test_walkthrough_fan_out_on_slurm(tmp_path, capsys):
    with slurm_scheduler(tmp_path) as scheduler:
        values = [add(i, 1) for i in range(10)]
        assert scheduler.run(add_many(values)) == 55
        executor = scheduler.executors["default"]
        assert executor.sbatch_calls >= 1 and executor.elements_submitted >= 10
    starts = [line for line in capsys.readouterr().out.splitlines() if line.startswith("start")]
    assert {f"start add({i}, 1)" for i in range(10)} <= set(starts)  # task output is shown
    assert not os.listdir(tmp_path / "staging")  # finished work leaves nothing staged


@task
def write_on_node(path, text):
    out = File(path)
    out.write(text)
    return out, socket.gethostname()


def test_files_and_scripts_on_slurm_are_hashed_where_written_and_cached(tmp_path):
    executor = SlurmExecutor(mode="arrays", staging_dir=str(tmp_path / "staging"),
                             poll_interval=0.3, submit_delay=0.1)
    reads = tmp_path / "reads.fq"
    reads.write_text("ACGT\n")
    expr = lambda: [write_on_node(str(tmp_path / "a.txt"), "from a node"),  # noqa: E731
                    script("tr A-Z a-z < in.fq > out.fq; hostname",
                           inputs=[File(str(reads)).stage("in.fq")],
                           outputs=[File(str(tmp_path / "lower.fq")).stage("out.fq"), File("-")],
                           tempdir=True)]
    with Scheduler(executor=executor, store=LmdbStore(str(tmp_path / "cache"))) as scheduler:
        (written, _), (lower, stdout) = scheduler.run(expr())
        assert written.read() == "from a node" and written.hash == File(written.path).hash
        assert lower.read() == "acgt\n" and stdout.strip()
        sbatch_calls = executor.sbatch_calls
        scheduler.run(expr())
        assert executor.sbatch_calls == sbatch_calls  # fully cached: nothing submitted
        (tmp_path / "lower.fq").unlink()
        scheduler.run(expr())
        assert executor.sbatch_calls == sbatch_calls + 1 and (tmp_path / "lower.fq").exists()


def test_resources_reach_slurm_and_groups_make_separate_arrays(tmp_path):
    with slurm_scheduler(tmp_path) as scheduler:
        assert scheduler.run([heavy(1), heavy(2), inc(3)]) == [2, 4, 4]
        executor = scheduler.executors["default"]
        assert executor.sbatch_calls == 2  # one array per resource set
        shown = [scontrol(job_id) for job_id in executor.array_ids]
    heavy_job = next(text for text in shown if "Partition=short" in text)
    assert "NumCPUs=2" in heavy_job and "MinMemoryNode=300M" in heavy_job
    assert "TimeLimit=00:05:00" in heavy_job


def test_task_exception_keeps_type_and_traceback(tmp_path):
    with slurm_scheduler(tmp_path) as scheduler:
        with pytest.raises(KeyError, match="sample 7 is missing") as info:
            scheduler.run(fails(7))
    assert isinstance(info.value.__cause__, RemoteTraceback)
    assert "in fails" in info.value.__cause__.text


def test_element_exiting_non_zero(tmp_path):
    with slurm_scheduler(tmp_path) as scheduler:
        with pytest.raises(SlurmError, match=r"ended without results \(FAILED: .*ExitCode=3:0"):
            scheduler.run(exits(3))


def test_element_cancelled_with_scancel(tmp_path):
    with slurm_scheduler(tmp_path) as scheduler:
        executor = scheduler.executors["default"]

        def cancel_when_running():
            deadline = time.time() + 60
            while time.time() < deadline:
                if executor.array_ids and "JobState=RUNNING" in scontrol(executor.array_ids[0]):
                    subprocess.run(["scancel", executor.array_ids[0]])
                    return
                time.sleep(0.2)

        canceller = threading.Thread(target=cancel_when_running)
        canceller.start()
        with pytest.raises(SlurmError, match=r"ended without results \(CANCELLED"):
            scheduler.run(sleeps(60))
        canceller.join()


@pytest.mark.timeout(180)
def test_time_limit(tmp_path):
    with slurm_scheduler(tmp_path) as scheduler:
        with pytest.raises(SlurmError, match=r"ended without results \(TIMEOUT"):
            scheduler.run(sleeps.options(time="0:00:02")(300))


def test_retries_resubmit_what_did_not_finish(tmp_path):
    with slurm_scheduler(tmp_path) as scheduler:
        with pytest.raises(SlurmError, match="ended without results"):
            scheduler.run(flaky(str(tmp_path / "no-retry")))
    with slurm_scheduler(tmp_path, retries=1) as scheduler:
        assert scheduler.run([flaky(str(tmp_path / "marker")), inc(1)]) == ["second try", 2]
        assert scheduler.executors["default"].sbatch_calls == 2  # the first array, then the retry


def test_bad_options_are_clear_errors(tmp_path):
    with slurm_scheduler(tmp_path) as scheduler:
        with pytest.raises(ValueError, match=r"unknown Slurm option\(s\) mem: use cpus, memory"):
            scheduler.run(inc.options(mem=4)(1))
        with pytest.raises(ValueError, match=r"memory='lots' must be GiB as a number"):
            scheduler.run(inc.options(memory="lots")(1))
        with pytest.raises(SlurmError, match=r"sbatch refused the job: sbatch: error: "
                                             r"invalid partition specified: nope"):
            scheduler.run(inc.options(partition="nope")(1))
    with pytest.raises(ValueError, match="cpus=-1 must be a positive integer"):
        SlurmExecutor(cpus=-1)


RERUN = """
import sys, time
from redun_fast import File, Scheduler, script, task
from redun_fast.cache.lmdb_store import LmdbStore
from redun_fast.executors.slurm import SlurmExecutor

redun_namespace = "rerun"

@task
def slow(x):
    time.sleep(4)
    return x * 10

if __name__ == "__main__":
    executor = SlurmExecutor(mode="arrays", staging_dir=sys.argv[1], poll_interval=0.3,
                             submit_delay=0.1)
    scheduler = Scheduler(executor=executor, cache_dir=sys.argv[2])
    scheduler.logger.setLevel("WARNING")
    print(scheduler.run([slow(i) for i in range(4)]), executor.sbatch_calls, flush=True)
"""


def test_rerun_after_a_scheduler_kill_adopts_running_elements(tmp_path):
    script = tmp_path / "rerun.py"
    script.write_text(textwrap.dedent(RERUN))
    staging, cache = tmp_path / "staging", tmp_path / "cache"
    args = [sys.executable, str(script), str(staging), str(cache)]
    first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and not list(staging.glob("*/owner")):
        time.sleep(0.1)
    assert list(staging.glob("*/owner")), "the first scheduler never submitted its array"
    first.send_signal(signal.SIGKILL)
    first.wait()
    second = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    result, sbatch_calls = second.stdout.rsplit(" ", 1)
    assert result == "[0, 10, 20, 30]"
    assert int(sbatch_calls) == 0  # everything came from the first scheduler's elements
    assert re.fullmatch(r"\d+", sbatch_calls.strip())


def test_ctrl_c_cancels_the_schedulers_arrays(tmp_path):
    script = tmp_path / "long.py"
    script.write_text(textwrap.dedent(RERUN).replace("time.sleep(4)", "time.sleep(120)"))
    staging = tmp_path / "staging"
    proc = subprocess.Popen([sys.executable, str(script), str(staging), str(tmp_path / "cache")],
                            start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not list(staging.glob("*/owner")):
        time.sleep(0.1)
    owner, = staging.glob("*/owner")
    array_id = owner.read_text().split()[2]
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    _, err = proc.communicate(timeout=30)
    assert "KeyboardInterrupt" in err
    deadline = time.time() + 30
    while time.time() < deadline and "JobState=CANCELLED" not in scontrol(f"{array_id}_0"):
        time.sleep(0.5)
    assert "JobState=CANCELLED" in scontrol(f"{array_id}_0")


class Unshippable:
    """Hashable (it says how) but not picklable."""

    def __init__(self):
        self.lock = threading.Lock()

    def __redun_hash__(self):
        return "unshippable"


@task
def identity(x):
    return x


def test_an_argument_that_cannot_travel_fails_only_its_job(tmp_path):
    with slurm_scheduler(tmp_path) as scheduler:
        with pytest.raises(TypeError, match=r"argument 'x' of slurmtest.identity is a "
                                            r"test_slurm.Unshippable, which cannot be sent"):
            scheduler.run([identity(Unshippable()), inc(1)])
        executor = scheduler.executors["default"]
        deadline = time.time() + 10  # the run failed at once; the array is submitted meanwhile
        while executor.elements_submitted == 0 and time.time() < deadline:
            time.sleep(0.05)
        assert executor.elements_submitted == 1  # inc(1) still went to Slurm
        assert scheduler.run(inc(1)) == 2


def test_a_task_that_cannot_travel_fails_only_its_jobs(tmp_path):
    lock = threading.Lock()

    @task
    def locked(x):
        with lock:  # the function carries a lock: it cannot be pickled for a Slurm job
            return x

    with slurm_scheduler(tmp_path) as scheduler:
        with pytest.raises(TypeError, match=r"task slurmtest.locked cannot be sent to another "
                                            r"process: its function is not picklable"):
            scheduler.run([locked(1), inc(5)])
        assert scheduler.run(inc(5)) == 6  # the other task of the group still runs


def test_scheduler_options_do_not_reach_sbatch(tmp_path):
    # nout and limits are the scheduler's options: on Slurm they used to fail the job with
    # "unknown Slurm option(s) nout"; now only Slurm's own options become sbatch flags.
    executor = SlurmExecutor(mode="arrays", staging_dir=str(tmp_path / "staging"),
                             poll_interval=0.3, submit_delay=0.1)
    with Scheduler(executors={"slurm": executor}, limits={"db": 2}) as scheduler:
        first, last = split_name("Ada Lovelace")
        assert scheduler.run([first, last, [query(i) for i in range(3)]]) == [
            "Ada", "Lovelace", [0, 10, 20]]
        assert executor.sbatch_calls >= 2  # both tasks ran on the cluster


def test_a_module_saved_during_a_run_does_not_change_what_elements_run(tmp_path, monkeypatch):
    # As on the pool (test_processes): an element imports the module by name, and must still
    # run the code the scheduler hashed when the file changed since.
    import importlib

    path = tmp_path / "edited_on_slurm.py"
    path.write_text('from redun_fast import task\n\n@task(namespace="edited_slurm")\n'
                    'def value_of(x):\n    return x + 1\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "edited_on_slurm", raising=False)
    workflow = importlib.import_module("edited_on_slurm")
    path.write_text(path.read_text().replace("x + 1", "x + 1000"))
    try:
        with slurm_scheduler(tmp_path) as scheduler:
            assert scheduler.run(workflow.value_of(1)) == 2
    finally:
        sys.modules.pop("edited_on_slurm", None)


def test_a_staging_folder_with_spaces_and_percent_signs(tmp_path, capsys):
    staging = tmp_path / "my runs" / "100%"
    executor = SlurmExecutor(mode="arrays", staging_dir=str(staging), poll_interval=0.3, submit_delay=0.1)
    with Scheduler(executor=executor) as scheduler:
        assert scheduler.run(add(2, 3)) == 5
    assert "start add(2, 3)" in capsys.readouterr().out  # the element's log was found


def test_a_result_the_scheduler_cannot_unpickle_fails_only_its_job(tmp_path):
    # The element's results are one file: its jobs run again one per element, and only the
    # job whose result cannot be loaded fails (as on the pool).
    from redun_fast.errors import SerializationError

    with slurm_scheduler(tmp_path, jobs_per_element=10) as scheduler:
        with pytest.raises(SerializationError, match=r"the result of unloadable.maybe_unloadable "
                                                     r"cannot be unpickled in the scheduler"):
            scheduler.run([maybe_unloadable(i, 2) for i in range(4)])
        counts = scheduler.job_counts.get("unloadable.maybe_unloadable")
        assert counts["FAILED"] == 1
        assert scheduler.run([maybe_unloadable(i, 2) for i in (0, 1, 3)]) == [0, 1, 3]
