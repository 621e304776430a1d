"""Owners of Slurm staging folders (executors/slurm/owner.py): a scheduler on another host is
alive while its lease is renewed, so another scheduler neither adopts nor removes its folders;
once the lease has run out, its folders are taken over (arrays) or removed (workers)."""
import os
import pickle
import time

import psutil

from redun_fast.executors.slurm import SlurmExecutor, owner
from redun_fast.executors.slurm.workers import _remove_dead_runs
from redun_fast.signing import new_key, sign


def owned_by(folder, host, pid, *fields, age=0.0):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "owner").write_text(" ".join((host, str(pid), *fields)) + "\n")
    then = time.time() - age
    os.utime(folder / "owner", (then, then))


def test_a_scheduler_on_another_host_lives_while_its_lease_is_renewed(tmp_path):
    fresh, stale = tmp_path / "fresh", tmp_path / "stale"
    owned_by(fresh, "other-host", 12345, age=10)
    owned_by(stale, "other-host", 12345, age=owner.LEASE_SECONDS + 1)
    assert owner.owner_alive(*_host_pid_renewed(fresh))
    assert not owner.owner_alive(*_host_pid_renewed(stale))


def test_a_scheduler_on_this_host_lives_while_its_process_does(tmp_path, monkeypatch):
    monkeypatch.setattr(owner, "LEASE_SECONDS", 1.0)
    mine, gone, reused = tmp_path / "mine", tmp_path / "gone", tmp_path / "reused"
    owned_by(mine, owner.HOST, os.getpid(), age=1.5)  # a pid needs no lease
    owned_by(gone, owner.HOST, 2 ** 22 + 1)  # above pid_max: no such process
    # Last renewed before this process started: its owner was another process with this pid.
    owned_by(reused, owner.HOST, os.getpid(),
             age=time.time() - psutil.Process().create_time() + 60)
    assert owner.owner_alive(*_host_pid_renewed(mine))
    assert not owner.owner_alive(*_host_pid_renewed(gone))
    assert not owner.owner_alive(*_host_pid_renewed(reused))


def _host_pid_renewed(folder):
    host, pid, _, renewed = owner.read(str(folder))
    return host, pid, renewed


def test_the_lease_is_renewed_now_and_then(tmp_path):
    folder = tmp_path / "run"
    owned_by(folder, owner.HOST, os.getpid(), age=3600)
    lease = owner.Lease()
    lease.renew(time.monotonic(), [str(folder)])
    assert time.time() - os.stat(folder / "owner").st_mtime > 3000  # not yet: just made
    lease.renew(time.monotonic() + owner.RENEW_SECONDS + 1, [str(folder), str(tmp_path / "x")])
    assert time.time() - os.stat(folder / "owner").st_mtime < 60


def test_arrays_adopt_only_the_folders_of_schedulers_whose_lease_ran_out(tmp_path):
    staging = tmp_path / "staging"
    for name, age, eval_hash in (("live", 10, b"l" * 16), ("dead", 3600, b"d" * 16)):
        folder = staging / name
        owned_by(folder, "other-host", 12345, "999", age=age)
        key = new_key(str(folder / "key"))
        jobs = [(eval_hash, "taskhash", (1,), {})]
        (folder / "chunk_0.pkl").write_bytes(sign(key, pickle.dumps(jobs)))
    staging.chmod(0o700)
    executor = SlurmExecutor(mode="arrays", staging_dir=str(staging))
    executor._find_orphans()
    assert set(executor._orphans) == {b"d" * 16}
    # The adopted folder is claimed, so that no third scheduler adopts it as well.
    host, pid, fields, _ = owner.read(str(staging / "dead"))
    assert (host, pid, fields) == (owner.HOST, os.getpid(), ["999"])
    assert owner.read(str(staging / "live"))[:2] == ("other-host", 12345)


def test_workers_remove_the_run_folders_of_dead_schedulers_only(tmp_path):
    runs = tmp_path / "workers"
    owned_by(runs / "live-elsewhere", "other-host", 12345, age=10)
    owned_by(runs / "dead-elsewhere", "other-host", 12345, age=owner.LEASE_SECONDS + 1)
    owned_by(runs / "dead-here", owner.HOST, 2 ** 22 + 1)
    owned_by(runs / "live-here", owner.HOST, os.getpid())
    (runs / "not-ours").mkdir()
    _remove_dead_runs(str(runs))
    assert sorted(os.listdir(runs)) == ["live-elsewhere", "live-here", "not-ours"]
