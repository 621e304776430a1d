"""What a run's job records say of each job: who called it, its result, where it ran, its cost."""
import os
import socket

import xxhash

from redun_fast import Scheduler, task
from redun_fast.cache.lmdb_store import LmdbStore

redun_namespace = "recordtest"


@task
def leaf(x):
    return x * 2


@task
def middle(n):
    return [leaf(i) for i in range(n)]


@task
def top(n):
    return middle(n)


@task(executor="processes")
def burn(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


@task(executor="processes")
def grow(megabytes):
    block = bytearray(megabytes << 20)
    for i in range(0, len(block), 4096):  # touch every page, so it is resident
        block[i] = 1
    return len(block)


def records_of(store, execution=0):
    run = sorted(store.executions(), key=lambda e: e.start)[execution]
    return {job.task_name: job for job in store.job_records(run.id)}, run


def test_each_job_names_the_job_whose_result_called_it(tmp_path):
    store = LmdbStore(str(tmp_path / "cache"))
    Scheduler(store=store).run(top(3))
    jobs, _ = records_of(store)
    all_jobs = store.job_records(store.executions()[0].id)
    by_id = {job.job_id: job for job in all_jobs}
    assert jobs["recordtest.top"].parent == 0  # the run's root
    assert by_id[jobs["recordtest.middle"].parent].task_name == "recordtest.top"
    leaves = [job for job in all_jobs if job.task_name == "recordtest.leaf"]
    assert len(leaves) == 3
    assert {by_id[job.parent].task_name for job in leaves} == {"recordtest.middle"}


def test_a_result_hash_is_of_the_result_the_store_keeps_and_a_replay_says_the_same(tmp_path):
    store = LmdbStore(str(tmp_path / "cache"))
    Scheduler(store=store).run(leaf(21))
    Scheduler(store=store).run(leaf(21))
    ran, _ = records_of(store, 0)
    replayed, _ = records_of(store, 1)
    job = ran["recordtest.leaf"]
    [stored] = store.lookup([job.eval_hash])
    assert job.result_hash == xxhash.xxh3_64_intdigest(stored) != 0
    assert replayed["recordtest.leaf"].status == "CACHED"
    assert replayed["recordtest.leaf"].result_hash == job.result_hash
    assert ran["recordtest.leaf"].executor == "default"  # threads, as redun names them
    assert replayed["recordtest.leaf"].executor is None  # nothing ran it


def test_jobs_on_processes_record_their_worker_cpu_time_and_peak_memory(tmp_path):
    store = LmdbStore(str(tmp_path / "cache"))
    with Scheduler(executor="processes", max_workers=1, store=store) as scheduler:
        scheduler.run(grow(200))  # (one run each: not in one batch, which would share it)
        scheduler.run(burn(3_000_000))
        grown, burned = (records_of(store, run)[0][name] for run, name in
                         ((0, "recordtest.grow"), (1, "recordtest.burn")))
    for job in (burned, grown):
        assert job.executor == "processes"
        host, pid = job.worker.rsplit(":", 1)
        assert host == socket.gethostname() and int(pid) != os.getpid()
    # The loop takes a good part of a second of CPU time; a share of nothing would be 0.
    assert burned.cpu is not None and burned.cpu > 0.05
    # The worker held 200 MiB at its peak; its peak is measured again for the next batch.
    assert grown.peak is not None and grown.peak >= 200 << 20
    assert burned.peak is not None and burned.peak < grown.peak
    assert burned.worker == grown.worker  # the same process (max_workers=1)
