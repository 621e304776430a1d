"""Four schedulers in four processes on one store, on overlapping workflows (50,000 jobs in
all): every result right, the store consistent, results committed by one scheduler reused by
the others that look them up later, and a final run finds everything.

Two schedulers that reach the same job at the same moment compute it once: the one that looked
it up first claims it, the other waits for its result (cache/claims.py).
"""
import time
from collections import Counter

import pytest

from redun_fast.cache.lmdb_store import LmdbStore

from . import harness
from .conftest import scaled
from .workflow import expected

SCHEDULERS = 4


@pytest.mark.timeout(600)
def test_four_schedulers_share_one_store(tmp_path):
    per = scaled(12_500, 50_000)  # jobs per scheduler; each overlaps its neighbours by half
    half, spin = per // 2, 0.0005
    cache = tmp_path / "cache"
    procs, running_together = [], 0
    for k in range(SCHEDULERS):
        if k:  # start while the previous one runs, once it committed a third of the overlap
            wait_until_committed(cache, k * half, half, half // 3, spin, procs[-1][2])
        runlog = tmp_path / f"run{k}.log"
        procs.append((k, runlog, harness.start(cache, per, runlog, start=k * half,
                                                spin=spin)))
        running_together = max(running_together, sum(p.poll() is None for _, _, p in procs))
    for k, _, proc in procs:
        result = harness.finish(proc)
        assert result["result"] == expected(k * half, per)
        assert result["done"] + result["cached"] == per
    union = half * (SCHEDULERS + 1)
    runs = Counter(i for _, runlog, _ in procs for i in harness.ran(runlog))
    assert set(runs) == set(range(union))
    assert harness.committed(cache, union, spin=spin) == set(range(union))
    store = LmdbStore(str(cache), create=False)
    stats = store.stats()
    store.close()
    # One row per distinct job, plus each scheduler's main and total: no duplicates.
    assert stats["results"] == union + 2 * SCHEDULERS
    assert stats["runs"] == SCHEDULERS
    everything = harness.run(cache, union, executor="inline", spin=spin)
    assert everything == {"result": expected(0, union), "done": 0, "cached": union}
    submitted = per * SCHEDULERS
    twice = sum(count - 1 for count in runs.values())
    reused = submitted - union - twice
    # Jobs committed by one scheduler before another looked them up were not computed again,
    # and none was computed by two.
    assert reused >= (SCHEDULERS - 1) * (half // 3)
    assert twice == 0, f"{twice} jobs were computed by two schedulers"
    assert running_together >= 2
    print(f"{submitted} jobs submitted by {SCHEDULERS} schedulers ({running_together} running at "
          f"once), {union} distinct: {reused} reused from the others, {twice} computed twice")


def wait_until_committed(cache, start, n, enough, spin, proc, timeout=120):
    deadline = time.time() + timeout
    while not (cache / "data.mdb").exists() or len(
            harness.committed(cache, n, start=start, spin=spin)) < enough:
        assert proc.poll() is None or proc.returncode == 0
        assert time.time() < deadline, "the previous scheduler made no progress"
        time.sleep(0.05)
