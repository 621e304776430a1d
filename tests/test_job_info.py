"""JobInfo: a task with a `job_info: JobInfo = JobInfo()` parameter is passed its job's ids, on
every executor; the placeholder never changes a call's eval hash."""
import os

import pytest

from redun_fast import Scheduler, task
from redun_fast.cache.lmdb_store import LmdbStore
from redun_fast.scheduler import JobInfo

redun_namespace = "jobinfotest"


@task()
def who(x, job_info: JobInfo = JobInfo()):
    return (x, job_info.execution_id, job_info.job_id, job_info.eval_hash, job_info.args_hash,
            job_info.task_name, job_info.options, os.getpid())


@task()
def plain(x):
    return x


@task()
def both(x):
    return [who(x), who(x + 1)]


@task(executor="processes", cpus=1)
def who_elsewhere(x, job_info: JobInfo = JobInfo()):
    return (job_info.job_id, job_info.task_name, job_info.options, os.getpid())


@pytest.mark.parametrize("executor", ["inline", "threads", "processes"])
def test_a_job_is_passed_its_execution_job_and_hashes(tmp_path, executor):
    store = LmdbStore(str(tmp_path / "cache"))
    with Scheduler(executor=executor, store=store) as scheduler:
        result = scheduler.run(both(1))
        records = {record.job_id: record for record in store.job_records(scheduler.execution_id)}
    assert [x for x, *_ in result] == [1, 2]
    for x, execution_id, job_id, eval_hash, args_hash, task_name, _, _ in result:
        assert execution_id == scheduler.execution_id
        record = records[int(job_id, 16)]
        assert (record.task_name, record.eval_hash.hex()) == ("jobinfotest.who", eval_hash)
        assert task_name == "jobinfotest.who"
    assert len({args_hash for *_, args_hash, _, _, _ in result}) == 2  # of (x,), not the ids


def test_the_job_info_reaches_a_worker_process_with_the_tasks_options():
    with Scheduler() as scheduler:
        job_id, task_name, options, pid = scheduler.run(who_elsewhere(1))
    assert pid != os.getpid() and len(job_id) == 16
    assert (task_name, options) == ("jobinfotest.who_elsewhere",
                                    {"executor": "processes", "cpus": 1})


def test_the_placeholder_does_not_change_the_eval_hash_and_a_rerun_is_cached(tmp_path):
    store = LmdbStore(str(tmp_path / "cache"))
    first = Scheduler(store=store).run(who(5))
    scheduler = Scheduler(store=store)
    again = scheduler.run(who(5, job_info=JobInfo()))  # passed explicitly: the same call
    assert again == first  # replayed: the first job's ids, not new ones
    assert scheduler.job_counts.rows["jobinfotest.who"][-2:] == [1, 0]  # cached 1, done 0


def test_a_task_without_a_job_info_parameter_gets_no_job_info():
    assert Scheduler().run(plain(JobInfo())) == JobInfo()  # an argument as any other


def test_get_current_job_says_to_use_a_job_info_parameter():
    from redun_fast.scheduler import get_current_job

    with pytest.raises(NotImplementedError, match=r"job_info: JobInfo = JobInfo\(\)"):
        get_current_job()
