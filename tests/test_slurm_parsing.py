"""What the Slurm executor reads and writes, tested without a cluster: squeue and scontrol
output recorded on the local cluster (tests/data/slurm_recorded.txt), the sbatch script, and
the Slurm task options and their flags. The cluster tests are in test_slurm.py."""
import os
import re
import shlex
import sys
import time

import pytest

from redun_fast import task
from redun_fast.executors.slurm.options import SLURM_OPTIONS, sbatch_flags, time_seconds
from redun_fast.executors.slurm.sbatch import (
    FAILED_STATES, describe_job, element_state, parse_squeue, render_pilot_script,
    render_script)

HERE = os.path.dirname(os.path.abspath(__file__))


def recorded():
    """The recorded outputs by their `== title` line."""
    sections, title = {}, None
    with open(os.path.join(HERE, "data", "slurm_recorded.txt")) as data:
        for line in data:
            if line.startswith("#"):
                continue
            if line.startswith("== "):
                title = line[3:].strip()
                sections[title] = ""
            elif title is not None:
                sections[title] += line
    return list(sections.values())


def test_squeue_lists_elements_and_pending_ranges():
    early, later = (parse_squeue(text) for text in recorded()[:2])
    assert early == {"4352_1": "FAILED", "4352_[3-5%2]": "PENDING", "4352_2": "RUNNING",
                     "4352_0": "RUNNING"}
    states = [element_state(early, "4352", i) for i in range(7)]
    assert states == ["RUNNING", "FAILED", "RUNNING", "PENDING", "PENDING", "PENDING", None]
    assert [element_state(later, "4352", i) for i in range(6)] == [
        "COMPLETED", "FAILED", "COMPLETED", "COMPLETED", "COMPLETED", "PENDING"]
    assert element_state(later, "435", 2) is None  # another job's id is not a prefix match
    assert "FAILED" in FAILED_STATES and "COMPLETED" not in FAILED_STATES


def test_pending_ranges_with_lists_and_steps():
    states = parse_squeue("77_[1,3,5-7%4] PENDING\n77_0 RUNNING\n\nnoise\n")
    assert [element_state(states, "77", i) for i in range(9)] == [
        "RUNNING", "PENDING", None, "PENDING", None, "PENDING", "PENDING", "PENDING", None]


def test_scontrol_tells_why_an_element_failed():
    assert describe_job(recorded()[2]) == (
        "JobState=FAILED Reason=NonZeroExitCode ExitCode=3:0")
    assert describe_job("") == "Slurm no longer knows it"


def test_the_sbatch_script_runs_the_worker_on_each_chunk():
    script = render_script("/shared/stage/ab12", 5, ("--cpus-per-task=2", "--mem=4096M"), 3,
                           name="redun_fast-ab12")
    lines = script.splitlines()
    assert lines[:6] == ["#!/bin/bash", "#SBATCH --job-name=redun_fast-ab12",
                         "#SBATCH --array=0-4%3",
                         '#SBATCH --output="/shared/stage/ab12/log_%a.out"',
                         "#SBATCH --cpus-per-task=2", "#SBATCH --mem=4096M"]
    assert shlex.split(lines[6]) == [
        "exec", sys.executable, "-m", "redun_fast.executors.slurm.element", "/shared/stage/ab12",
        "$SLURM_ARRAY_TASK_ID"]
    assert "%" not in render_script("/s", 1, (), None, name="x").splitlines()[2]


def test_the_log_path_survives_spaces_and_percent_signs():
    # Unquoted, "/scratch/my runs" cut the path at the space, and "%" became a pattern.
    lines = render_script("/scratch/my runs/100%/ab12", 1, (), None, name="x").splitlines()
    assert lines[3] == '#SBATCH --output="/scratch/my runs/100%%/ab12/log_%a.out"'
    assert shlex.split(lines[4])[4] == "/scratch/my runs/100%/ab12"
    with pytest.raises(ValueError, match="holds a double quote or a newline"):
        render_script('/scratch/"quoted"', 1, (), None, name="x")


def test_slurm_options_become_sbatch_flags():
    assert sbatch_flags({"cpus": 4, "memory": 0.5, "gpus": 1, "time": "1:00:00",
                         "partition": "short", "account": "lab", "qos": "normal",
                         "constraint": "avx", "sbatch_args": ["--exclusive"]}) == (
        "--cpus-per-task=4", "--mem=512M", "--gres=gpu:1", "--time=1:00:00",
        "--partition=short", "--account=lab", "--qos=normal", "--constraint=avx", "--exclusive")
    assert sbatch_flags({"memory": "8G", "time": 30, "gpus": 0}) == ("--mem=8G", "--time=30")
    # The scheduler's options are not Slurm's business: they make no flags.
    assert sbatch_flags({"nout": 2, "limits": ["db"], "cache": False, "retries": 1}) == ()
    assert set(SLURM_OPTIONS) >= {"cpus", "memory", "time", "partition", "sbatch_args"}
    # None leaves an option unset, at definition and in the flags (as before the registry).
    def unset(x):
        return x

    assert task(cpus=None, partition=None, memory=None)(unset).get_option("cpus") is None
    assert sbatch_flags({"cpus": None, "partition": None, "sbatch_args": None}) == ()


@pytest.mark.parametrize("options, message", [
    ({"cpus": 0}, "cpus=0 must be a positive integer"),
    ({"cpus": True}, "cpus=True must be a positive integer"),
    ({"memory": "4 GB"}, "memory='4 GB' must be GiB as a number"),
    ({"time": -5}, "time=-5 must be minutes"),
    ({"partition": ""}, "partition='' must be a non-empty string"),
    ({"sbatch_args": "--exclusive"}, r"sbatch_args='--exclusive' must be a list of strings"),
    ({"retries": -1}, "retries=-1 must be a non-negative integer"),
])
def test_bad_slurm_options_are_refused_when_the_task_is_defined(options, message):
    def work(x):
        return x

    with pytest.raises(ValueError, match=re.escape("task option ") + message):
        task(**options)(work)
    with pytest.raises(ValueError, match=message):
        sbatch_flags(options)


def left_by_a_dead_scheduler(folder):
    """An owner file of a scheduler on another host whose lease ran out an hour ago."""
    (folder / "owner").write_text("some-other-host 12345 999\n")
    an_hour_ago = time.time() - 3600
    os.utime(folder / "owner", (an_hour_ago, an_hour_ago))


def test_stray_files_in_a_staging_folder_are_left_alone_with_one_warning(tmp_path, caplog):
    # A left-over folder of a scheduler that died, plus things redun_fast did not write:
    # "chunk_0.pkl.orig" used to stop SlurmExecutor.start() with "invalid literal for int()".
    import pickle

    from redun_fast.executors.slurm import SlurmExecutor

    from redun_fast.signing import new_key, sign

    folder = tmp_path / "staging" / "ab12cd34ef56"
    folder.mkdir(parents=True)
    left_by_a_dead_scheduler(folder)
    key = new_key(str(folder / "key"))
    jobs = [(b"e" * 16, "taskhash", (1,), {})]
    (folder / "chunk_0.pkl").write_bytes(sign(key, pickle.dumps(jobs)))
    (folder / "chunk_0.pkl.orig").write_bytes(sign(key, pickle.dumps(jobs)))
    (folder / "chunk_1.pkl").write_bytes(sign(key, pickle.dumps({"not": "a chunk"})))
    (folder / "log_0.out").write_text("")
    (folder / "notes.txt").write_text("mine")
    executor = SlurmExecutor(mode="arrays", staging_dir=str(tmp_path / "staging"))
    executor._find_orphans()
    assert set(executor._orphans) == {b"e" * 16}  # the real chunk is adopted
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert all(name in warnings[0] for name in ("chunk_0.pkl.orig", "chunk_1.pkl", "notes.txt"))
    assert "log_0.out" not in warnings[0] and (folder / "notes.txt").exists()



class Payload:
    """Unpickling it leaves a mark: what a forged pickle would do, harmlessly."""

    def __init__(self, mark):
        self.mark = mark

    def __reduce__(self):
        return (open, (self.mark, "w"))


def test_forged_staging_files_are_never_unpickled(tmp_path, caplog):
    # Another user (or anyone who can write there) plants pickles in a staging folder: an
    # unsigned chunk in a left-over folder, a forged result. Neither may be unpickled.
    import pickle

    from redun_fast.errors import SecurityError
    from redun_fast.executors.slurm import SlurmExecutor
    from redun_fast.executors.slurm.arrays import _Array
    from redun_fast.signing import new_key, sign

    mark = tmp_path / "payload-ran"
    folder = tmp_path / "staging" / "0123456789ab"
    folder.mkdir(parents=True)
    left_by_a_dead_scheduler(folder)
    key = new_key(str(folder / "key"))
    (folder / "chunk_0.pkl").write_bytes(pickle.dumps([(b"f" * 16, Payload(str(mark)), (), {})]))
    forged_with_another_key = sign(b"k" * 32, pickle.dumps(Payload(str(mark))))
    (folder / "chunk_1.pkl").write_bytes(forged_with_another_key)
    executor = SlurmExecutor(mode="arrays", staging_dir=str(tmp_path / "staging"))
    executor._find_orphans()
    assert executor._orphans == {} and not mark.exists()
    assert "chunk_0.pkl" in caplog.text and "chunk_1.pkl" in caplog.text

    delivered = []
    job = type("Job", (), {"eval_hash": b"g" * 16, "task": None})()
    executor._outstanding.add([job], delivered.extend)
    (folder / "result_0.pkl").write_bytes(pickle.dumps(("results", 0, 0.1, Payload(str(mark)))))
    executor._collect(_Array(str(folder), "999", {0: [job]}, adopted=False, key=key), 0)
    assert not mark.exists()
    [(_, ok, error)] = delivered
    assert not ok and isinstance(error, SecurityError)
    assert f"{folder}/result_0.pkl is not signed with this run's key" in str(error)


def test_a_staging_folder_of_another_user_is_refused(tmp_path):
    from redun_fast.errors import SecurityError
    from redun_fast.executors.slurm import SlurmExecutor

    staging = tmp_path / "staging"
    staging.mkdir()
    staging.chmod(0o777)
    with pytest.raises(SecurityError, match=r"can be written by its group or by others "
                                            r"\(mode 777\).*chmod go-w"):
        SlurmExecutor(mode="arrays", staging_dir=str(staging)).start()
    if os.getuid() == 0:  # only root can give a folder away
        staging.chmod(0o700)
        os.chown(staging, 65534, 65534)
        with pytest.raises(SecurityError, match=r"belongs to .*uid 65534.*not to you"):
            SlurmExecutor(mode="arrays", staging_dir=str(staging)).start()


def test_the_pilot_script_runs_long_lived_workers_warned_before_their_time_limit():
    script = render_pilot_script("/shared/stage/workers/ab12", 4, ("--time=30",), "w-0",
                                 cpus_per_job=2, drain_seconds=60)
    lines = script.splitlines()
    assert lines[1:6] == ["#SBATCH --job-name=w-0", "#SBATCH --array=0-3",
                          '#SBATCH --output="/shared/stage/workers/ab12/log_%A_%a.out"',
                          "#SBATCH --time=30", "#SBATCH --signal=B:USR1@60"]
    assert shlex.split(lines[6]) == [
        "exec", sys.executable, "-m", "redun_fast.executors.slurm.pilot",
        "/shared/stage/workers/ab12", "2"]


@pytest.mark.parametrize("value, seconds", [
    (None, None), (5, 300), ("30", 1800), ("30:15", 1815), ("1:00:00", 3600),
    ("2-3", 183600), ("2-3:04", 183840), ("2-03:04:05", 183845)])
def test_slurm_times_in_seconds(value, seconds):
    assert time_seconds(value) == seconds  # as sbatch reads --time


def test_a_pilot_takes_a_timed_job_only_if_it_has_the_time_left():
    from redun_fast.executors.slurm.workers import _Group, _Pilot

    group = _Group(0, ("--time=10",), {"time": 10}, None, None, 0.002, 3)
    assert group.feeder.max_batch == 1  # timed jobs go alone, each checked against the time
    assert group.worker_seconds == 600 and group.flags == ("--time=10",)
    started = time.time() - 300  # five of its ten minutes are gone
    pilot = _Pilot(None, group, "/stage", b"k" * 32,
                   ("hello", "7_0", "node", 1, 0, started, "n1"))
    assert pilot.accepting()  # fresh: its allocation was asked for such a job
    pilot.batches_done = 1
    assert not pilot.accepting()  # a 10-minute job does not fit in the 5 left
    longer = _Group(1, ("--time=10",), {"time": 10}, "1:00:00", None, 0.002, 3)
    assert longer.flags == ("--time=60",)  # workers of an hour for 10-minute jobs
    pilot = _Pilot(None, longer, "/stage", b"k" * 32,
                   ("hello", "8_0", "node", 1, 0, started, "n1"))
    pilot.batches_done = 1
    assert pilot.accepting()
    pilot.inflight = {i: ([], False) for i in range(6)}  # queued behind 60 minutes of work
    assert not pilot.accepting()
    untimed = _Group(2, (), {}, None, None, 0.002, 3)
    assert untimed.worker_seconds is None and untimed.flags == ()
    assert untimed.feeder.max_batch == 4096
