"""What a run on the real local Slurm cluster records of its jobs (where they ran, what they
cost) and what its report sets beside it (what Slurm was asked for); skipped without a
cluster (needs_slurm.py)."""
import re

import pytest

from redun_fast import Scheduler, task
from redun_fast.cache.lmdb_store import LmdbStore
from redun_fast.executors.slurm import SlurmExecutor
from redun_fast.report import render
from needs_slurm import require_slurm, workers_executor

require_slurm(module_level=True)

pytestmark = [pytest.mark.slurm, pytest.mark.timeout(240)]

redun_namespace = "slurmreport"


@task(cpus=2, memory="300M", time="0:05:00", partition="short")
def heavy(x):
    block = bytearray(40 << 20)  # resident: 40 MiB, every page touched
    for i in range(0, len(block), 4096):
        block[i] = 1
    return x * 2


@task
def light(x):
    return x + 1


def executor_for(mode, tmp_path):
    if mode == "workers":
        return workers_executor(tmp_path)
    return SlurmExecutor(mode="arrays", staging_dir=str(tmp_path / "staging"),
                         poll_interval=0.3, submit_delay=0.1)


@pytest.mark.parametrize("mode", ["workers", "arrays"])
def test_a_slurm_run_records_where_jobs_ran_and_its_report_shows_what_was_asked(tmp_path,
                                                                                  mode):
    with Scheduler(executor=executor_for(mode, tmp_path),
                   cache_dir=str(tmp_path / "cache")) as scheduler:
        assert scheduler.run([heavy(1), heavy(2), light(3)]) == [2, 4, 4]
    store = LmdbStore(str(tmp_path / "cache"), create=False)
    [execution] = store.executions()
    assert execution.requested == {
        "slurmreport.heavy": {"cpus": 2, "memory": 300 << 20, "time": 300},
        "slurmreport.light": {}}
    jobs = {job.task_name: job for job in store.job_records(execution.id)}
    heavy_job = jobs["slurmreport.heavy"]
    assert heavy_job.executor == "slurm" and re.fullmatch(r"[\w.-]+:\d+", heavy_job.worker)
    assert heavy_job.peak >= 40 << 20 and heavy_job.cpu is not None
    page = render(execution, store.job_records(execution.id))
    asked = page.split("Slurm: asked and used")[1]
    row = re.search(r"<tr><td>slurmreport\.heavy</td>(.*?)</tr>", asked).group(1)
    cells = re.findall(r"<td>(.*?)</td>", row)
    assert cells[0] == "2" and cells[2] == "300.0 MiB" and cells[4] == "5.0 min"
    assert cells[3].endswith("MiB") and float(cells[3].split()[0]) >= 40  # peak used
    assert re.search(r"<tr><td>slurmreport\.light</td><td>-</td>", asked)
