"""The persistent LMDB cache: replay across processes, crash safety, concurrency, growth, errors."""
import os
import pickle
import re
import signal
import subprocess
import sys
import textwrap
import time

import lmdb
import pytest

from redun_fast import Scheduler, task
from redun_fast._core import eval_digest
from redun_fast.cache.base import CacheError
from redun_fast.cache.lmdb_store import INLINE_MAX, LmdbStore

redun_namespace = "lmdbtest"

WORKFLOW = """
import logging, sys, time
from redun_fast import Scheduler, task

redun_namespace = "wf"

@task(version=VERSION)
def inc(x, tags):
    return x + len(tags)

@task
def total(values):
    return sum(values)

@task
def main(lo, hi):
    tags = {"a": {"x", "y"}, "b": {"z"}}  # dicts and sets: PYTHONHASHSEED must not matter
    return total([inc(i, tags) for i in range(lo, hi)])

if __name__ == "__main__":
    lo, hi = int(sys.argv[2]), int(sys.argv[3])
    scheduler = Scheduler(cache_dir=sys.argv[1], executor="EXECUTOR")
    scheduler.logger.setLevel(logging.WARNING)
    result = scheduler.run(main(lo, hi))
    counts = scheduler.job_counts.get("wf.inc")
    print(result, counts["DONE"], counts["CACHED"])
"""


def write_workflow(tmp_path, version=None, body="x + len(tags)", executor="inline",
                   name="workflow.py"):
    source = WORKFLOW.replace("VERSION", repr(version)).replace("EXECUTOR", executor)
    source = source.replace("return x + len(tags)", f"return {body}")
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


def run_workflow(script, cache_dir, lo, hi, seed="0"):
    out = subprocess.run(
        [sys.executable, str(script), str(cache_dir), str(lo), str(hi)],
        env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    result, done, cached = map(int, out.stdout.split())
    return result, done, cached


def expected_total(lo, hi):
    return sum(range(lo, hi)) + 2 * (hi - lo)


def test_second_process_is_fully_cached_with_another_hash_seed(tmp_path):
    script, cache = write_workflow(tmp_path), tmp_path / "cache"
    assert run_workflow(script, cache, 0, 500, seed="1") == (expected_total(0, 500), 500, 0)
    assert run_workflow(script, cache, 0, 500, seed="2") == (expected_total(0, 500), 0, 500)


def test_status_table_of_a_replayed_run(tmp_path):
    script = tmp_path / "table.py"
    script.write_text(textwrap.dedent("""
        import sys
        from redun_fast import Scheduler, task
        redun_namespace = "tbl"

        @task
        def inc(x):
            return x + 1

        print(Scheduler(cache_dir=sys.argv[1]).run([inc(i) for i in range(3)]))
    """))
    runs = [subprocess.run([sys.executable, str(script), str(tmp_path / "c")],
                           capture_output=True, text=True, check=True) for _ in range(2)]
    assert runs[1].stdout == "[1, 2, 3]\n"
    assert len(re.findall(r"Cached Job [0-9a-f]{8}:  tbl.inc", runs[1].stderr)) == 3
    assert "| ALL                   0       0       0       4       0       4" in runs[1].stderr


def test_changed_body_misses_and_version_pins(tmp_path):
    cache = tmp_path / "cache"
    plain = write_workflow(tmp_path, name="a.py")
    assert run_workflow(plain, cache, 0, 50)[1:] == (50, 0)
    changed = write_workflow(tmp_path, body="x + len(tags) + 0", name="b.py")
    assert run_workflow(changed, cache, 0, 50)[1:] == (50, 0)  # new body: every job runs again
    v1 = write_workflow(tmp_path, version="1", name="c.py")
    assert run_workflow(v1, cache, 0, 50)[1:] == (50, 0)
    v1_changed = write_workflow(tmp_path, version="1", body="x + len(tags) + 0", name="d.py")
    assert run_workflow(v1_changed, cache, 0, 50)[1:] == (0, 50)  # version pins the hash


def test_kill_9_loses_at_most_the_last_batch(tmp_path):
    script = write_workflow(tmp_path, body="(time.sleep(0.01), x + len(tags))[1]",
                            executor="threads")
    cache = tmp_path / "cache"
    proc = subprocess.Popen([sys.executable, str(script), str(cache), "0", "3000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    committed = 0
    while time.time() < deadline and committed < 300:
        time.sleep(0.05)
        if (cache / "data.mdb").exists():
            reader = LmdbStore(str(cache))
            committed = reader.stats()["results"]
            reader.close()
    assert proc.poll() is None, "the workflow finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = LmdbStore(str(cache))  # opens cleanly after the kill
    survived = store.stats()["results"]
    store.close()
    assert survived >= committed >= 300
    result, done, cached = run_workflow(script, cache, 0, 3000)
    assert result == expected_total(0, 3000)
    # Every inc result committed before the kill is replayed (2 of the results are root and main).
    assert cached >= committed - 2 and done + cached == 3000


def test_two_schedulers_on_one_store(tmp_path):
    script, cache = write_workflow(tmp_path, executor="threads"), tmp_path / "cache"
    procs = [subprocess.Popen([sys.executable, str(script), str(cache), lo, hi],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for lo, hi in [("0", "2000"), ("1000", "3000")]]
    outputs = [proc.communicate(timeout=300) for proc in procs]
    for (out, err), (lo, hi) in zip(outputs, [(0, 2000), (1000, 3000)]):
        assert out.split()[0] == str(expected_total(lo, hi)), err
    assert run_workflow(script, cache, 0, 3000)[1:] == (0, 3000)


def test_map_grows_when_full(tmp_path):
    store = LmdbStore(str(tmp_path / "cache"), map_size=1 << 16)
    scheduler = Scheduler(store=store, executor="inline")

    @task
    def big(i):
        return str(i) * 5000 + os.urandom(2000).hex()

    values = scheduler.run([big(i) for i in range(300)])
    assert store.env.info()["map_size"] > 1 << 16
    assert Scheduler(store=store).run([big(i) for i in range(300)]) == values


def test_large_values_are_shared_and_compressed(tmp_path):
    store = LmdbStore(str(tmp_path / "cache"))
    scheduler = Scheduler(store=store, executor="inline")

    @task
    def blob(kind, n):
        return "x" * n

    small, large_a, large_b = scheduler.run([blob("s", 10), blob("a", 100_000), blob("b", 100_000)])
    stats = store.stats()
    assert stats["results"] == 4 and stats["values"] == 1  # two equal large results, one value
    assert os.path.getsize(tmp_path / "cache" / "data.mdb") < 100_000  # compressed
    assert Scheduler(store=store).run(blob("a", 100_000)) == large_a and len(small) == 10
    assert INLINE_MAX < 100_000


def test_unreadable_cached_result_is_a_miss_with_a_warning(tmp_path, caplog):
    store = LmdbStore(str(tmp_path / "cache"))
    calls = []

    @task
    def fragile(x):
        calls.append(x)
        return x * 2

    assert Scheduler(store=store).run(fragile(4)) == 8
    store.commit([(eval_digest(fragile.digest, (4,), {}), b"not a pickle")])
    assert Scheduler(store=store).run(fragile(4)) == 8
    assert calls == [4, 4]
    assert "cached result of lmdbtest.fragile cannot be read" in caplog.text


def test_newer_schema_is_refused(tmp_path):
    LmdbStore(str(tmp_path / "cache")).close()
    env = lmdb.open(str(tmp_path / "cache"), max_dbs=8)
    with env.begin(write=True) as txn:
        txn.put(b"schema", b"99", db=env.open_db(b"meta", txn=txn))
    env.close()
    with pytest.raises(CacheError, match=r"cache at .*cache was written by a newer redun_fast "
                                         r"\(schema 99, this one reads 1\)"):
        LmdbStore(str(tmp_path / "cache"))


def test_a_path_that_is_not_a_store_is_a_clear_error(tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("hello")
    with pytest.raises(CacheError, match=rf"cannot open the cache at {re.escape(str(not_a_dir))}"):
        Scheduler(cache_dir=str(not_a_dir))
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "data.mdb").write_bytes(os.urandom(64 * 1024))
    with pytest.raises(CacheError, match=rf"cannot open the cache at {re.escape(str(garbage))}.*LMDB"):
        Scheduler(cache_dir=str(garbage))


def test_cache_false_still_writes_and_failures_are_not_stored(tmp_path):
    store = LmdbStore(str(tmp_path / "cache"))
    runs = []

    @task(cache=False)
    def fresh(x):
        runs.append(x)
        return x + 1

    @task
    def fails(x):
        runs.append(("fail", x))
        raise KeyError(x)

    assert Scheduler(store=store).run(fresh(1)) == 2
    assert Scheduler(store=store).run(fresh(1)) == 2
    assert Scheduler(store=store).run(fresh.options(cache=True)(1)) == 2
    assert runs == [1, 1]
    for _ in range(2):
        with pytest.raises(KeyError):
            Scheduler(store=store).run(fails(1))
    assert runs.count(("fail", 1)) == 2


def test_prune_keeps_what_newer_runs_used(tmp_path):
    store = LmdbStore(str(tmp_path / "cache"))
    counted = []

    @task
    def square(x):
        counted.append(x)
        return x * x

    @task
    def big(x):
        return str(x) * 3000

    Scheduler(store=store).run([square(1), square(2), big(1), big(2)])
    time.sleep(0.05)
    cutoff = time.time()
    Scheduler(store=store).run([square(2), square(3), big(2)])
    removed = store.prune(cutoff)
    assert removed == {"results": 3, "values": 1, "runs": 1}  # square(1), big(1), old root
    stats = store.stats()
    assert (stats["results"], stats["values"], stats["runs"]) == (4, 1, 1)
    counted.clear()
    assert Scheduler(store=store).run([square(1), square(2), square(3)]) == [1, 4, 9]
    assert counted == [1]


def test_two_schedulers_in_one_process_share_the_store(tmp_path):
    @task
    def double(x):
        return 2 * x

    first = Scheduler(cache_dir=str(tmp_path / "cache"))
    assert first.run(double(1)) == 2
    second = Scheduler(cache_dir=str(tmp_path / "cache"))  # e.g. a notebook cell run again
    assert second.run(double(1)) == 2
    assert second.job_counts.get("lmdbtest.double")["CACHED"] == 1
    first.close()
    assert second.run(double(2)) == 4  # still open for the other one
    second.close()


def test_job_records_of_a_run_are_kept(tmp_path):
    # Records are stored column by column (_records.pyx); read back, they are the run's jobs.
    @task
    def halve(x):
        if x % 2:
            raise ValueError(f"{x} is odd")
        return x // 2

    store = LmdbStore(str(tmp_path / "cache"))
    Scheduler(store=store).run([halve(2), halve(4)])
    with pytest.raises(ValueError):
        Scheduler(store=store).run([halve(2), halve(3)])
    first, second = sorted(store.executions(), key=lambda e: e.start)
    before = time.time()
    records = {r.eval_hash: r for r in store.job_records(second.id)}
    assert sorted((r.task_name, r.status) for r in records.values()) == [
        ("lmdbtest.halve", "CACHED"), ("lmdbtest.halve", "FAILED"), ("redun.root_task", "FAILED")]
    failed = records[eval_digest(halve.digest, (3,), {})]
    assert failed.status == "FAILED" and "ValueError: 3 is odd" in failed.error
    cached = records[eval_digest(halve.digest, (2,), {})]
    assert cached.error is None and first.start <= cached.start <= cached.end <= before
    assert 0 <= cached.job_id < 2 ** 64
    assert [r.status for r in store.job_records(first.id)].count("DONE") == 3


def test_job_records_written_as_pickled_tuples_are_still_read(tmp_path):
    # Stores written before the column format hold pickled lists of tuples.
    import pickle
    import uuid

    store = LmdbStore(str(tmp_path / "cache"))
    Scheduler(store=store).run([])  # an execution to attach the old batch to
    execution = store.executions()[0]
    old = [(7, "wf.inc", b"h" * 16, "DONE", 1.0, 2.0, None),
           (8, "wf.inc", b"k" * 16, "FAILED", 1.5, 2.5, "KeyError: 1")]
    key = uuid.UUID(execution.id).bytes + (1000).to_bytes(4, "big")
    with store.env.begin(write=True) as txn:
        txn.put(key, pickle.dumps(old, protocol=4), db=store._db["jobs"])
    read = [tuple(r) for r in store.job_records(execution.id)]
    assert read[-2:] == [row + UNKNOWN_PROVENANCE for row in old]


def test_job_records_written_in_the_first_column_format_are_still_read(tmp_path):
    # The first column format ("RFJ1") coded statuses 0 DONE, 1 CACHED, 2 FAILED; batches are
    # now coded by JobStatus ("RFJ2"). A store written before must read the same records.
    import pickle
    import struct
    import uuid

    store = LmdbStore(str(tmp_path / "cache"))
    Scheduler(store=store).run([])
    execution = store.executions()[0]
    meta = pickle.dumps((["wf.inc", "wf.sum"], {2: "KeyError: 1"}), protocol=5)
    columns = [struct.pack("<3Q", 7, 8, 9), struct.pack("<3I", 0, 1, 0),
               b"a" * 16 + b"b" * 16 + b"c" * 16, bytes([0, 1, 2]),
               struct.pack("<3d", 1.0, 2.0, 3.0), struct.pack("<3d", 1.5, 2.5, 3.5)]
    batch = struct.pack("<4sII", b"RFJ1", 3, len(meta)) + meta + b"".join(columns)
    key = uuid.UUID(execution.id).bytes + (1000).to_bytes(4, "big")
    with store.env.begin(write=True) as txn:
        txn.put(key, batch, db=store._db["jobs"])
    read = [tuple(r) for r in store.job_records(execution.id)]
    assert read[-3:] == [(7, "wf.inc", b"a" * 16, "DONE", 1.0, 1.5, None) + UNKNOWN_PROVENANCE,
                         (8, "wf.sum", b"b" * 16, "CACHED", 2.0, 2.5, None) + UNKNOWN_PROVENANCE,
                         (9, "wf.inc", b"c" * 16, "FAILED", 3.0, 3.5, "KeyError: 1")
                         + UNKNOWN_PROVENANCE]


# What a record written before parents, result hashes and usage were kept says of them.
UNKNOWN_PROVENANCE = (0, 0, None, None, None, None, None, None)


def test_opening_a_store_that_another_process_grew_adopts_its_size(tmp_path):
    # This process keeps the environment open (a first store) with a small map; another
    # process then grows the map. Opening a second store here used to fail with
    # MDB_MAP_RESIZED and a message saying to remove the (healthy) cache.
    path = str(tmp_path / "cache")
    first = LmdbStore(path, map_size=1 << 20)
    first.commit([(b"k" * 16, pickle.dumps(1))])
    grow = textwrap.dedent(f"""
        from redun_fast.cache.lmdb_store import LmdbStore
        store = LmdbStore({path!r}, map_size=1 << 20)
        store.commit([(i.to_bytes(2, "big") * 8, i.to_bytes(2, "big") * 1000) for i in range(3000)])
    """)
    subprocess.run([sys.executable, "-c", grow], check=True, timeout=120)
    with pytest.raises(lmdb.MapResizedError):  # what a reader of the grown store meets
        first.env.begin().abort()
    second = LmdbStore(path, map_size=1 << 20)
    assert second.stats()["results"] == 3001
    assert first.lookup([b"k" * 16]) == [pickle.dumps(1)]
    second.close()
    first.close()


def test_a_new_cache_is_private_and_a_cache_others_can_write_is_refused(tmp_path):
    # A data.mdb crafted by another user, in a cache folder they own, ran its payload as
    # root on `redun_fast log`: results are pickles.
    from redun_fast.errors import SecurityError

    mine = tmp_path / "mine"
    LmdbStore(str(mine)).close()
    assert [oct(os.stat(path).st_mode & 0o777) for path in
            (mine, mine / "data.mdb", mine / "lock.mdb")] == ["0o700", "0o600", "0o600"]
    open_to_all = tmp_path / "open"
    open_to_all.mkdir()
    open_to_all.chmod(0o775)
    with pytest.raises(SecurityError, match=r"cache folder .*open can be written by its group "
                                            r"or by others \(mode 775\)"):
        Scheduler(cache_dir=str(open_to_all))
    LmdbStore(str(open_to_all), shared=True).close()  # shared on purpose: accepted
    if os.getuid() == 0:  # only root can give a folder away
        theirs = tmp_path / "theirs"
        LmdbStore(str(theirs)).close()
        for path in (theirs, theirs / "data.mdb", theirs / "lock.mdb"):
            os.chown(path, 65534, 65534)
        with pytest.raises(SecurityError, match=r"belongs to .*uid 65534.*not to you"):
            LmdbStore(str(theirs))
        out = subprocess.run([sys.executable, "-m", "redun_fast", "--cache-dir", str(theirs),
                              "log"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 2 and "belongs to" in out.stderr
