"""Micro-benchmarks of the hot path: `python -m pytest benchmarks/test_micro.py`.

Not part of the test suite (testpaths is tests/); figures are per call unless the name says
per 10,000 (one batch).
"""
import logging
import os
import pickle

import pytest

from redun_fast import Scheduler
from redun_fast._core import eval_digest, hash_value, value_digest
from redun_fast.cache.lmdb_store import LmdbStore
from redun_fast.cache.memory import MemoryStore
from redun_fast.cache.serialize import loads
from workloads import inc, total

TASK = value_digest("bench.inc")
KEYS = [eval_digest(TASK, (i,), {}) for i in range(10_000)]
ROWS = [(key, pickle.dumps(i, protocol=5)) for i, key in enumerate(KEYS)]


def test_eval_hash_of_one_int(benchmark):
    benchmark(eval_digest, TASK, (12345,), {})


def test_eval_hash_of_typical_arguments(benchmark):
    benchmark(eval_digest, TASK, ("sample_042", 3, 0.5), {"reference": "hg38", "paired": True})


def test_hash_of_a_dict_of_lists(benchmark):
    value = {f"sample_{i}": [i, i + 1, "x"] for i in range(20)}
    benchmark(hash_value, value)


@pytest.fixture
def store(tmp_path):
    store = LmdbStore(str(tmp_path / "cache"))
    yield store
    store.close()


def test_store_commit_per_10000(benchmark, store):
    benchmark(store.commit, ROWS)


def test_store_lookup_per_10000(benchmark, store):
    store.commit(ROWS)
    found = benchmark(store.lookup, KEYS)
    assert all(value is not None for value in found)


def test_store_lookup_and_unpickle_per_10000(benchmark, store):
    store.commit(ROWS)
    benchmark(lambda: [loads(data) for data in store.lookup(KEYS)])


def test_store_commit_with_fsync_off_per_10000(benchmark, tmp_path):
    store = LmdbStore(str(tmp_path / "nosync"), sync=False)
    benchmark(store.commit, ROWS)
    store.close()
    assert os.path.exists(tmp_path / "nosync" / "data.mdb")


def fanout_expression():
    return total([inc(i) for i in range(10_000)])


def test_build_a_fanout_per_10000(benchmark):
    """Building the expressions (the user's side: 10,000 task calls and their list)."""
    benchmark(fanout_expression)


def test_hash_tree_of_a_fanout_per_10000(benchmark):
    """Hashing a fresh 10,000-call fan-out (what a run's root job needs first)."""
    benchmark.pedantic(lambda expr: expr.__redun_hash__(),
                       setup=lambda: ((fanout_expression(),), {}), rounds=20)


def test_graph_core_replays_a_cached_fanout_per_10000(benchmark):
    """The ready queue and dependency counting: 10,000 cached jobs through the graph core
    (nodes started, jobs replayed from an in-memory store, parents told, `total` run)."""
    scheduler = Scheduler(executor="inline", store=MemoryStore(), progress=False)
    scheduler.logger.setLevel(logging.WARNING)
    scheduler.run(fanout_expression())
    result = benchmark.pedantic(scheduler.run, setup=lambda: ((fanout_expression(),), {}),
                                rounds=20)
    assert result == sum(range(1, 10_001))
