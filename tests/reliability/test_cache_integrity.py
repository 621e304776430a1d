"""What a damaged or unusable cache does: a stored value that cannot be read is a miss with a
warning naming the task, and is computed again; a store that cannot be used is a clear error
that leaves it as it was. Real files, real permissions, real full disks."""
import os
import pickle
import resource
import shutil
import signal
import subprocess
import sys

import lmdb
import pytest

from redun_fast.cache.base import CacheError
from redun_fast.cache.lmdb_store import LmdbStore

from redun_fast._core import eval_digest

from . import harness
from .workflow import expected, work

LIBRARY = """
class Reads:
    def __init__(self, n):
        self.n = n

def make(n):
    return Reads(n)
"""

PIPELINE = """
import logging, sys
from redun_fast import Scheduler, task
import reads_lib

redun_namespace = "integrity"

@task
def load(i):
    return reads_lib.make(i)  # the class is reads_lib's business: this source never changes

@task
def count(reads):
    return reads.n

@task
def main(n):
    return [count(load(i)) for i in range(n)]

if __name__ == "__main__":
    scheduler = Scheduler(cache_dir=sys.argv[1], executor="inline")
    logging.getLogger("redun_fast").setLevel(logging.WARNING)
    print(sum(scheduler.run(main(int(sys.argv[2])))), scheduler.job_counts.get("integrity.load"))
"""


def run_pipeline(folder, cache, n=20):
    out = subprocess.run([sys.executable, str(folder / "pipeline.py"), str(cache), str(n)],
                         cwd=folder, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    total, counts = out.stdout.split(" ", 1)
    return int(total), eval(counts), out.stderr


@pytest.mark.parametrize("change", ["renamed", "removed"])
def test_cached_value_whose_class_changed_is_recomputed(tmp_path, change):
    (tmp_path / "reads_lib.py").write_text(LIBRARY)
    (tmp_path / "pipeline.py").write_text(PIPELINE)
    cache = tmp_path / "cache"
    total, counts, _ = run_pipeline(tmp_path, cache)
    assert total == sum(range(20)) and counts["DONE"] == 20
    if change == "renamed":
        library = LIBRARY.replace("Reads", "ReadSet")
    else:  # the class is gone; the library now returns a namedtuple with the same field
        library = "import collections\nRecord = collections.namedtuple('Record', 'n')\n" \
                  "def make(n):\n    return Record(n)\n"
    (tmp_path / "reads_lib.py").write_text(library)
    total, counts, stderr = run_pipeline(tmp_path, cache)
    assert total == sum(range(20))  # never a crash, never a wrong value
    assert counts["DONE"] == 20 and counts["CACHED"] == 0
    assert stderr.count("cached result of integrity.load cannot be read") == 20
    assert "AttributeError" in stderr and "running it again" in stderr
    # The recomputed values replaced the unreadable ones.
    total, counts, stderr = run_pipeline(tmp_path, cache)
    assert total == sum(range(20)) and counts["CACHED"] == 20 and "cannot be read" not in stderr


def damage(cache, keys, how):
    """Damage the stored results of `keys`; return how many were damaged."""
    env = lmdb.open(str(cache), max_dbs=8, map_size=1 << 30)
    damaged = 0
    with env.begin(write=True) as txn:
        results, values = env.open_db(b"results", txn=txn), env.open_db(b"values", txn=txn)
        for key in keys:
            row = txn.get(key, db=results)
            if row[:1] == b"i":  # an inline result: its pickle, cut short
                if how == "truncated":
                    txn.put(key, row[: 1 + (len(row) - 1) // 2], db=results)
                    damaged += 1
                continue
            value_key = row[1:]
            stored = txn.get(value_key, db=values)
            if how == "truncated":
                txn.put(value_key, stored[: len(stored) // 2], db=values)
            else:  # the value a result points to is gone
                txn.delete(value_key, db=values)
            damaged += 1
    env.close()
    return damaged


@pytest.mark.parametrize("how, size", [("truncated", 0), ("truncated", 40_000),
                                       ("missing", 40_000)])
def test_damaged_stored_values_are_misses_with_a_warning(tmp_path, how, size):
    cache, n = tmp_path / "cache", 200
    first = harness.run(cache, n, executor="inline", size=size)
    assert first["done"] == n
    keys = [eval_digest(work.digest, (i, size, 0.0), {}) for i in range(n)]
    assert damage(cache, keys, how) == n
    proc = harness.start(cache, n, executor="inline", size=size)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    again = harness.finish_output(out)
    assert again["result"] == expected(0, n, size)
    assert again["done"] == n and again["cached"] == 0
    assert err.count("cached result of wf.work cannot be read") == n
    assert ("pickle data was truncated" if how == "truncated" else
            "that a result refers to is missing") in err
    third = harness.run(cache, n, executor="inline", size=size)
    assert third["cached"] == n and third["result"] == expected(0, n, size)


def test_compressed_value_that_does_not_decompress_is_reported_not_raised(tmp_path):
    store = LmdbStore(str(tmp_path / "cache"))
    key, data = b"k" * 16, pickle.dumps("ACGT" * 50_000)
    store.commit([(key, data)])
    assert store.lookup([key]) == [data]
    with store.env.begin(write=True) as txn:
        values = store._db["values"]
        value_key, stored = next(iter(txn.cursor(db=values)))
        assert stored[:1] == b"z"  # compressed
        txn.put(value_key, stored[:-100], db=values)
    [found] = store.lookup([key])
    assert isinstance(found, CacheError) and "is damaged" in str(found)
    store.close()


@pytest.mark.parametrize("keep", [0.5, 3 * 4096 / 1e9])
def test_truncated_store_file_is_refused_not_a_crash(tmp_path, keep):
    cache = tmp_path / "cache"
    harness.run(cache, 300, executor="inline", size=3000)
    data = cache / "data.mdb"
    full = data.read_bytes()
    data.write_bytes(full[: max(3 * 4096, int(len(full) * keep)) if keep < 1 else len(full)])
    out = subprocess.run(harness.command(cache, 300, executor="inline", size=3000),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, "the scheduler must refuse the store, not crash on it (SIGBUS)"
    assert "is truncated: data.mdb holds" in out.stderr and "restore a complete copy" in out.stderr
    assert data.stat().st_size < len(full)  # left as it was, for the user to restore


def test_a_file_that_is_not_lmdb_is_refused_and_kept(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    text = b"these are my lab notes, not a cache\n" * 200
    (cache / "data.mdb").write_bytes(text)
    with pytest.raises(CacheError, match=r"cannot open the cache at .*MDB_INVALID.*choose "
                                         r"another cache_dir"):
        LmdbStore(str(cache))
    assert (cache / "data.mdb").read_bytes() == text


def test_read_only_store_is_a_clear_error_and_stays_intact(tmp_path):
    cache = tmp_path / "cache"
    if os.geteuid() == 0:  # root writes anywhere: put the store on a filesystem mounted read-only
        mount_small_tmpfs(cache, "64m")
    try:
        first = harness.run(cache, 100, executor="inline")
        data = (cache / "data.mdb").read_bytes()
        if os.geteuid() == 0:
            remount(cache, "ro")
        else:
            for path in (cache / "data.mdb", cache / "lock.mdb", cache):
                path.chmod(0o555 if path.is_dir() else 0o444)
        out = subprocess.run(harness.command(cache, 100, executor="inline"), capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 1
        assert "is read-only" in out.stderr
        assert "fix its permissions, or choose another cache_dir" in out.stderr
        if os.geteuid() == 0:
            remount(cache, "rw")
        else:
            for path in (cache, cache / "data.mdb", cache / "lock.mdb"):
                path.chmod(0o755 if path.is_dir() else 0o644)
        assert (cache / "data.mdb").read_bytes() == data
        assert harness.run(cache, 100, executor="inline") == {**first, "done": 0, "cached": 100}
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(cache)], capture_output=True)


def remount(path, mode):
    subprocess.run(["mount", "-o", f"remount,{mode}", str(path)], check=True)


def limit_file_size(limit):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG, not a signal, past the limit
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def mount_small_tmpfs(path, size):
    path.mkdir()
    # mode=0700: a tmpfs is world-writable (1777) by default, and a cache others can write is
    # refused (README: Security).
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                          str(path)], capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here ({out.stderr.strip()}); the "
                    "RLIMIT_FSIZE variant covers a full disk")


@pytest.mark.parametrize("disk", ["rlimit_fsize", "small_tmpfs"])
def test_full_disk_is_a_clear_error_and_a_rerun_resumes(tmp_path, disk):
    n, size = 400, 10_000  # 4 MB of incompressible results, on room for about 3 MB
    cache = tmp_path / "cache"
    if disk == "small_tmpfs":
        mount_small_tmpfs(cache, "3500k")
        preexec = None
    else:
        harness.run(cache, 1, executor="inline")  # create the store, then cap its growth
        preexec = limit_file_size((cache / "data.mdb").stat().st_size + 3_000_000)
    try:
        # Results arrive (and are committed) a few dozen at a time until the disk is full.
        proc = harness.start(cache, n, size=size, spin=0.002,
                             preexec_fn=preexec)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 1
        assert "cannot write the cache at" in err
        assert "is full; results committed so far are intact and a rerun reuses them" in err
        kept = harness.committed(cache, n, size=size, spin=0.002)  # the store opens cleanly
        assert 0 < len(kept) < n
        if disk == "small_tmpfs":  # give it room: copy the store to a roomy disk
            roomy = tmp_path / "roomy"
            shutil.copytree(cache, roomy)
        else:
            roomy = cache
        rerun = harness.run(roomy, n, executor="inline", size=size, spin=0.002)
        assert rerun["result"] == expected(0, n, size)
        assert rerun["cached"] == len(kept) and rerun["done"] == n - len(kept)
    finally:
        if disk == "small_tmpfs":
            subprocess.run(["umount", str(cache)], capture_output=True)
