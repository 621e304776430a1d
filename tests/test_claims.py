"""One computation per job across schedulers on one store (cache/claims.py): a job another
scheduler is computing is waited for, not computed again; its claim is taken over when that
scheduler dies, and released when the job fails. A run alone on the store claims nothing."""
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from redun_fast import Scheduler, task
from redun_fast.cache.claims import CLAIMED, Session
from redun_fast.cache.lmdb_store import LmdbStore
from redun_fast.pids import HOST

redun_namespace = "claimstest"

WORKFLOW = textwrap.dedent("""
    import os, sys, time
    from redun_fast import Scheduler, catch, task

    redun_namespace = "claimsrun"

    @task()
    def slow(i: int, seconds: float) -> int:
        with open(os.environ["RUNLOG"], "a") as log:
            log.write(f"{os.environ['WHO']} {i}\\n")
        time.sleep(seconds)
        return i * i

    @task()
    def fails(seconds: float) -> int:
        with open(os.environ["RUNLOG"], "a") as log:
            log.write(f"{os.environ['WHO']} fails\\n")
        time.sleep(seconds)
        raise ValueError("bad sample")

    @task()
    def many(n: int, seconds: float) -> list:
        return [slow(i, seconds) for i in range(n)]

    @task()
    def recover(error: Exception) -> int:
        return -1

    @task()
    def failing_then_long(seconds: float) -> list:
        return [catch(fails(0.5), ValueError, recover), slow(99, seconds)]

    if __name__ == "__main__":
        what, cache = sys.argv[1], sys.argv[2]
        args = [float(a) if "." in a else int(a) for a in sys.argv[3:]]
        scheduler = Scheduler(executor="threads", max_workers=8, cache_dir=cache)
        scheduler.logger.setLevel("WARNING")
        try:
            print(scheduler.run(globals()[what](*args)))
        except ValueError as error:
            print("failed:", error)
""")


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "wf.py").write_text(WORKFLOW)
    return tmp_path


def start(folder, who, *args):
    env = {**os.environ, "RUNLOG": str(folder / "ran.log"), "WHO": who}
    return subprocess.Popen([sys.executable, str(folder / "wf.py"), *map(str, args)],
                            cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def ran(folder):
    path = folder / "ran.log"
    return path.read_text().splitlines() if path.exists() else []


def wait_for(condition, timeout=60.0):
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.02)


def test_two_schedulers_at_the_same_moment_compute_each_job_once(folder):
    cache = folder / "cache"
    first = start(folder, "a", "many", cache, 24, 0.3)
    wait_for(lambda: len(ran(folder)) >= 1)  # the first is computing: the second joins now
    second = start(folder, "b", "many", cache, 24, 0.3)
    outs = [proc.communicate(timeout=120) for proc in (first, second)]
    expected = str([i * i for i in range(24)])
    assert [out.strip() for out, _ in outs] == [expected, expected], outs
    jobs = [line.split()[1] for line in ran(folder)]
    assert sorted(jobs, key=int) == [str(i) for i in range(24)]  # each job once, by either
    assert {line.split()[0] for line in ran(folder)} == {"a"}  # the second only waited


def test_a_claim_of_a_killed_scheduler_is_taken_over(folder):
    cache = folder / "cache"
    first = start(folder, "a", "many", cache, 4, 30.0)  # its jobs would take 30 s
    wait_for(lambda: len(ran(folder)) == 4)
    second = start(folder, "b", "many", cache, 4, 0.1)  # same jobs? no: another argument
    assert second.communicate(timeout=60)[0].strip() == str([0, 1, 4, 9])
    waiting = start(folder, "c", "many", cache, 4, 30.0)  # the same calls as the first's
    time.sleep(1.0)  # it looked them up, found them claimed, and waits
    assert waiting.poll() is None and not [line for line in ran(folder) if line[0] == "c"]
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    # The owner is gone: the waiting scheduler computes the jobs itself (and they take 30 s,
    # so it is enough to see them start).
    wait_for(lambda: len([line for line in ran(folder) if line[0] == "c"]) == 4)
    os.killpg(waiting.pid, signal.SIGKILL)
    waiting.wait(timeout=30)


def test_a_failed_job_releases_its_claim_before_its_run_ends(folder):
    cache = folder / "cache"
    first = start(folder, "a", "failing_then_long", cache, 20.0)
    wait_for(lambda: "a fails" in ran(folder))
    second = start(folder, "b", "fails", cache, 0.5)
    out, _ = second.communicate(timeout=60)
    assert out.strip() == "failed: bad sample"
    assert first.poll() is None  # the first still runs its long job: the claim was released
    assert ran(folder).count("b fails") == 1  # the second ran it itself (a failure is not cached)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=30)


def test_a_run_alone_on_the_store_claims_nothing(tmp_path):
    store = LmdbStore(str(tmp_path / "cache"))
    seen = []

    @task(namespace="claimstest")
    def peek(x):
        seen.append(store.claiming)
        return x

    with Scheduler(store=store, executor="inline") as scheduler:
        assert scheduler.run([peek(i) for i in range(3)]) == [0, 1, 2]
        assert seen == [False, False, False]
        with store.env.begin() as txn:
            assert txn.stat(store._db["claims"])["entries"] == 0
            # the epoch, and no session: it closed with the run
            assert list(txn.cursor(store._db["sessions"]).iternext(values=False)) == [b"epoch"]


def test_a_lookup_claims_what_no_live_session_claims(tmp_path):
    store = LmdbStore(str(tmp_path / "cache"))
    store.open_session()
    sessions, claims = store._db["sessions"], store._db["claims"]
    gone = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout)
    dead, live, reused = Session(), Session(), Session()
    started = psutil.Process().create_time()
    with store.env.begin(write=True) as txn:
        txn.put(dead.id, pickle.dumps((HOST, gone, time.time(), 0)), db=sessions)
        live.put(txn, sessions, 0)  # this process: alive
        # this process's pid, but its last heartbeat is older than this process: pid reused
        txn.put(reused.id, pickle.dumps((HOST, os.getpid(), started - 60, 0)), db=sessions)
        txn.put(b"D" * 16, dead.id, db=claims)  # its owner's pid is dead
        txn.put(b"L" * 16, live.id, db=claims)
        txn.put(b"U" * 16, b"S" * 16, db=claims)  # a session that is not open
        txn.put(b"R" * 16, reused.id, db=claims)
    store._session.claiming = True
    found = store.lookup([b"D" * 16, b"L" * 16, b"U" * 16, b"N" * 16, b"R" * 16])
    assert found == [None, CLAIMED, None, None, None]
    assert store.lookup([b"Q" * 16, b"L" * 16], claim=False) == [None, None]  # (a catch's)
    with store.env.begin() as txn:
        assert [txn.get(key * 16, db=claims) for key in (b"D", b"U", b"N", b"R")] == [
            store._session.id] * 4
        assert txn.get(b"Q" * 16, db=claims) is None
    store.close_session()
    with store.env.begin() as txn:
        assert txn.get(b"D" * 16, db=claims) is None  # released when the session closed
        assert txn.get(b"L" * 16, db=claims) == live.id  # not its own: kept
    store.close()
