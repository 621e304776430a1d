"""The reliability suite: faults, load and bad input (`pytest -m reliability`).

Its randomized parts are bounded for CI; `REDUN_FAST_RELIABILITY_LONG=1` runs them longer
(more seeds, bigger workflows) on a machine with time to spare.
"""
import os

import pytest

from needs_slurm import require_slurm

LONG = os.environ.get("REDUN_FAST_RELIABILITY_LONG") == "1"


def scaled(ci: int, long: int) -> int:
    return long if LONG else ci


def pytest_collection_modifyitems(items):
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.reliability)


@pytest.fixture
def slurm_scheduler(tmp_path):
    """A Scheduler on the local Slurm cluster, with its executor: (scheduler, executor)."""
    require_slurm()
    from redun_fast import Scheduler
    from redun_fast.executors.slurm import SlurmExecutor

    executor = SlurmExecutor(mode="arrays", staging_dir=str(tmp_path / "staging"), poll_interval=0.3)
    with Scheduler(executor=executor, cache_dir=str(tmp_path / "cache")) as scheduler:
        yield scheduler, executor
