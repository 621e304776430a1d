"""Micro-benchmarks of the hot path: `python -m pytest benchmarks/test_micro.py`.

Not part of the test suite (testpaths is tests/); figures are per call unless the name says
per 10,000 (one batch).
"""
import os
import pickle

import pytest

from redun_fast._core import eval_digest, hash_value, value_digest
from redun_fast.cache.lmdb_store import LmdbStore

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
    benchmark(lambda: [pickle.loads(data) for data in store.lookup(KEYS)])


def test_store_commit_with_fsync_off_per_10000(benchmark, tmp_path):
    store = LmdbStore(str(tmp_path / "nosync"), sync=False)
    benchmark(store.commit, ROWS)
    store.close()
    assert os.path.exists(tmp_path / "nosync" / "data.mdb")
