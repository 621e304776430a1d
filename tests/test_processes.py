"""The process pool: batching, notebook-style tasks, and faults, all with real processes."""
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import psutil
import pytest

from redun_fast import Scheduler, catch, task
from unloadable import maybe_unloadable
from redun_fast.cache.lmdb_store import LmdbStore
from redun_fast.cache.serialize import SerializationError
from redun_fast.executors import ProcessExecutor
from redun_fast.executors.processes import RemoteTraceback, WorkerDiedError, usable_cores

pytestmark = pytest.mark.timeout(120)

redun_namespace = "procs"


@task
def inc(x):
    return x + 1


@task
def pid_of(x):
    return os.getpid()


@task
def fail_with(message):
    raise KeyError(message)


@task
def die(how):
    if how == "exit":
        os._exit(1)
    if how == "segfault":
        import ctypes
        ctypes.string_at(0)
    if how == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    return how


@task
def identity(x):
    return x


@task
def constant(value, error):
    return value


@task
def returns_lock():
    return threading.Lock()


@task(executor="processes")
def elsewhere():
    return os.getpid()


class Unshippable:
    """Hashable (it says how) but not picklable."""

    def __init__(self):
        self.lock = threading.Lock()

    def __redun_hash__(self):
        return "unshippable"


@pytest.fixture
def scheduler():
    with Scheduler(executor="processes", max_workers=2) as scheduler:
        yield scheduler


def test_jobs_run_in_worker_processes_in_batches(scheduler):
    assert scheduler.run([inc(i) for i in range(5000)]) == list(range(1, 5001))
    pool = scheduler.executors["default"]
    assert pool.jobs_sent == 5000
    assert pool.batches_sent <= 500  # tiny jobs travel in batches, not one message each
    pids = set(scheduler.run([pid_of(i) for i in range(200)]))
    assert os.getpid() not in pids and 1 <= len(pids) <= 2


def test_default_worker_count_and_start_method():
    assert ProcessExecutor().max_workers == usable_cores() == len(psutil.Process().cpu_affinity())
    with pytest.raises(ValueError, match="start_method='nope' is not available here"):
        ProcessExecutor(start_method="nope")


def test_executor_chosen_per_task():
    with Scheduler() as scheduler:
        assert scheduler.run(elsewhere()) != os.getpid()


def test_task_defined_in_a_function_runs_in_the_pool(scheduler):
    offset = 100

    @task
    def shifted(x):
        return x + offset

    @task
    def shift_all(values):
        return [shifted(v) for v in values]  # a notebook-style task calling another

    assert scheduler.run(shift_all([1, 2])) == [101, 102]


def test_task_defined_in_main_of_an_unguarded_script(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent("""
        import os
        from redun_fast import Scheduler, task

        redun_namespace = "script"

        class Point:
            def __init__(self, x):
                self.x = x

        @task
        def make(x):
            return Point(x * 10)

        @task
        def main(n):
            return [make(i) for i in range(n)]

        # No `if __name__ == "__main__":` guard: workers must not re-run this file.
        points = Scheduler(executor="processes", max_workers=2).run(main(3))
        print([p.x for p in points], type(points[0]).__module__)
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "[0, 10, 20] __main__\n"


def test_task_exception_keeps_its_type_and_the_worker_traceback(scheduler):
    with pytest.raises(KeyError, match="'no such sample'") as info:
        scheduler.run(fail_with("no such sample"))
    cause = info.value.__cause__
    assert isinstance(cause, RemoteTraceback)
    assert 'in fail_with\n    raise KeyError(message)' in cause.text


@pytest.mark.parametrize("how, described", [
    ("exit", "exit code 1"),
    ("segfault", "killed by signal SIGSEGV"),
    ("sigkill", "killed by signal SIGKILL"),
])
def test_a_dying_worker_fails_only_its_job_and_is_replaced(tmp_path, how, described):
    store = LmdbStore(str(tmp_path / "cache"))
    with Scheduler(executor="processes", max_workers=2, store=store) as scheduler:
        scheduler.logger.setLevel("WARNING")
        with pytest.raises(WorkerDiedError, match=rf"the worker process \(pid \d+\) running "
                                                  rf"procs.die died: {described}"):
            scheduler.run([inc(i) for i in range(10)] + [die(how)])
        # The other jobs of the dead worker's batch are retried one by one and succeed.
        caught = catch(die(how), WorkerDiedError, constant.partial("caught"))
        assert scheduler.run([inc(i) for i in range(50)] + [caught]) == (
            list(range(1, 51)) + ["caught"])
        assert scheduler.job_counts.get("procs.inc")["FAILED"] == 0
        assert scheduler.run([inc(i) for i in range(50)]) == list(range(1, 51))
        assert scheduler.job_counts.get("procs.inc")["CACHED"] >= 50
        assert len(set(scheduler.run([pid_of(i) for i in range(100)]))) <= 2


def test_unpicklable_argument_names_the_task_and_type(scheduler):
    with pytest.raises(TypeError, match=r"argument 'x' of procs.identity is a "
                                        r"test_processes.Unshippable, which cannot be sent"):
        scheduler.run([identity(Unshippable()), inc(1)])
    assert scheduler.run(inc(1)) == 2


def test_unpicklable_result_names_the_task_and_type(scheduler):
    with pytest.raises(SerializationError, match=r"result of procs.returns_lock is not "
                                                 r"picklable: _thread.lock"):
        scheduler.run(returns_lock())


def test_prints_reach_the_schedulers_stdout(scheduler, capsys):
    @task
    def chatty(x):
        print(f"out {x}")
        print(f"err {x}", file=sys.stderr)
        return x

    assert scheduler.run([chatty(1), chatty(2)]) == [1, 2]
    captured = capsys.readouterr()
    assert sorted(captured.out.splitlines()) == ["out 1", "out 2"]
    assert sorted(captured.err.splitlines()) == ["err 1", "err 2"]


def test_ctrl_c_stops_workers_and_keeps_the_cache(tmp_path):
    script = tmp_path / "long.py"
    script.write_text(textwrap.dedent("""
        import sys, time
        from redun_fast import Scheduler, task

        redun_namespace = "long"

        @task
        def slow(x):
            time.sleep(0.05)
            return x

        if __name__ == "__main__":
            scheduler = Scheduler(executor="processes", max_workers=2, cache_dir=sys.argv[1])
            scheduler.logger.setLevel("WARNING")
            counts = scheduler.job_counts
            result = scheduler.run([slow(i) for i in range(400)])
            print(sum(result), counts.get("long.slow")["CACHED"])
    """))
    cache = tmp_path / "cache"
    proc = subprocess.Popen([sys.executable, str(script), str(cache)], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    committed, deadline = 0, time.time() + 60
    while committed < 40 and time.time() < deadline:
        time.sleep(0.1)
        if (cache / "data.mdb").exists():
            reader = LmdbStore(str(cache))
            committed = reader.stats()["results"]
            reader.close()
    workers = psutil.Process(proc.pid).children(recursive=True)
    assert proc.poll() is None and committed >= 40
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    start = time.time()
    _, err = proc.communicate(timeout=30)
    assert time.time() - start < 10
    assert "KeyboardInterrupt" in err
    time.sleep(0.5)
    assert not [p for p in workers if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    out = subprocess.run([sys.executable, str(script), str(cache)], capture_output=True,
                         text=True, timeout=120)
    total, cached = map(int, out.stdout.split())
    assert total == sum(range(400)) and cached >= committed - 1


def test_large_arguments_and_results_travel_through_shared_memory(scheduler):
    from redun_fast.executors.transport import LARGE

    @task
    def reverse(blob):
        return blob[::-1]

    blob = os.urandom(LARGE + 1000)
    before = set(os.listdir("/dev/shm"))
    assert scheduler.run(reverse(blob)) == blob[::-1]
    assert set(os.listdir("/dev/shm")) == before  # spill files are removed once read


def test_a_result_the_scheduler_cannot_unpickle_fails_only_its_job(tmp_path):
    # It used to raise in the pool's thread: ExecutorError for every job the pool held.
    store = LmdbStore(str(tmp_path / "cache"))
    with Scheduler(executor="processes", max_workers=2, store=store) as scheduler:
        with pytest.raises(SerializationError, match=r"the result of unloadable.maybe_unloadable "
                                                     r"cannot be unpickled in the scheduler "
                                                     r"\(RuntimeError: this value cannot be"):
            scheduler.run([maybe_unloadable(i, 7) for i in range(300)])
        # The run ends at the first failure, so jobs still running are abandoned: only the
        # one job failed, and its neighbours in the batch went on.
        assert scheduler.job_counts.get("unloadable.maybe_unloadable")["FAILED"] == 1
        assert scheduler.run([maybe_unloadable(i, 7) for i in range(300) if i != 7]) == [
            i for i in range(300) if i != 7]


@task
def big_later(i):
    time.sleep(0.3)
    return bytes(9 << 20)  # over transport.LARGE: travels through a file in /dev/shm


def our_spill_files():
    from redun_fast.executors.transport import SPILL_DIR

    return [name for name in os.listdir(SPILL_DIR) if name.startswith(f"redun_fast-{os.getpid()}-")]


def test_no_spill_file_outlives_a_failed_run(tmp_path):
    # The run fails at once; the big results come back after it ended, and used to stay in
    # /dev/shm (9 MiB each) once the scheduler stopped its workers.
    with Scheduler(executor="processes", max_workers=2) as scheduler:
        with pytest.raises(KeyError):
            scheduler.run([big_later(1), big_later(2), fail_with("now")])
    assert our_spill_files() == []


def test_spill_files_of_a_killed_scheduler_are_removed_by_the_next_pool(tmp_path):
    from redun_fast.executors.transport import SPILL_DIR

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    orphan = os.path.join(SPILL_DIR, f"redun_fast-{gone.pid}-0badc0de-x1y2z3")
    mine = os.path.join(SPILL_DIR, f"redun_fast-{os.getpid()}-0badc0de-x1y2z3")
    for path in (orphan, mine):
        with open(path, "wb") as spill:
            spill.write(b"left behind")
    try:
        with Scheduler(executor="processes", max_workers=1) as scheduler:
            assert scheduler.run(inc(1)) == 2
        assert not os.path.exists(orphan)  # its scheduler is gone
        assert os.path.exists(mine)  # a live scheduler's (another pool of this process)
    finally:
        for path in (orphan, mine):
            if os.path.exists(path):
                os.unlink(path)


EDITED_WORKFLOW = """
from redun_fast import task

@task(namespace="edited")
def value_of(x):
    return x + {value}
"""


def test_a_module_saved_during_a_run_does_not_change_what_workers_run(tmp_path, monkeypatch):
    # The scheduler imported (and hashed) one version; the user then saved another. Workers
    # that import the module by name used to run the new code, whose result was cached under
    # the old code's hash. They must run the code the scheduler hashed.
    import importlib

    path = tmp_path / "edited_workflow.py"
    path.write_text(EDITED_WORKFLOW.format(value=1))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "edited_workflow", raising=False)
    workflow = importlib.import_module("edited_workflow")
    path.write_text(EDITED_WORKFLOW.format(value=1000))  # saved during the run
    try:
        with Scheduler(executor="processes", max_workers=1) as scheduler:
            assert scheduler.run([workflow.value_of(1), workflow.value_of(2)]) == [2, 3]
    finally:
        sys.modules.pop("edited_workflow", None)


NOTEBOOK = """
from redun_fast import Scheduler, task

FACTOR = 10

@task(cache=False)
def scaled(x):
    return x * FACTOR

if __name__ == "__main__":
    with Scheduler(executor="processes", max_workers=2) as scheduler:
        first = scheduler.run(scaled(1))
        FACTOR = 100  # a notebook cell changes a global the task uses
        second = scheduler.run(scaled(1))
        fan_out = scheduler.run([scaled(i) for i in range(1, 9)])
        FACTOR = 10  # and back: workers hold the last function they were sent, not this one
        back = scheduler.run([scaled(i) for i in range(1, 3)])
    print(first, second, fan_out, back)
"""


def test_workers_run_a_notebook_task_with_its_globals_as_they_are_now(tmp_path):
    # Workers kept the function they were first sent, with its globals then: 10 and a fan-out
    # mixing old and new values, where inline and threads give 100 and 100, 200, ...
    script = tmp_path / "notebook.py"
    script.write_text(NOTEBOOK)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split("\n")[-2] == ("10 100 [100, 200, 300, 400, 500, 600, 700, 800] "
                                          "[10, 20]")


MUTATED_MODULE = """
from redun_fast import task

redun_namespace = "mutated"
FACTOR = 10
NAMES = ["a"]


@task(cache=False)
def scaled(x):
    return x * FACTOR


@task(cache=False)
def names():
    return list(NAMES)
"""


def test_workers_see_the_globals_of_an_imported_module_as_the_scheduler_has_them(
        tmp_path, monkeypatch):
    # Workers import the module by name: they saw FACTOR = 10 and ["a"] after the scheduler's
    # program set it to 100 and appended "b" (inline and threads see the new values).
    import importlib

    (tmp_path / "mutated_workflow.py").write_text(MUTATED_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "mutated_workflow", raising=False)
    workflow = importlib.import_module("mutated_workflow")
    try:
        with Scheduler(executor="processes", max_workers=2) as scheduler:
            assert scheduler.run([workflow.scaled(1), workflow.names()]) == [10, ["a"]]
            workflow.FACTOR = 100
            workflow.NAMES.append("b")
            expected = [100 * x for x in range(1, 9)] + [["a", "b"]]
            assert scheduler.run([workflow.scaled(x) for x in range(1, 9)]
                                 + [workflow.names()]) == expected
            workflow.FACTOR = 10  # back as imported: the workers' own module is right again
            assert scheduler.run(workflow.scaled(3)) == 30
    finally:
        sys.modules.pop("mutated_workflow", None)


@task
def opened(path):
    return open(path)


@task
def a_module(x):
    return os


@pytest.mark.parametrize("make, kind", [(lambda path: opened(path), "_io.TextIOWrapper"),
                                        (lambda path: a_module(1), "builtins.module")])
def test_a_result_that_pickle_refuses_is_refused_on_the_pool_too(tmp_path, make, kind):
    # cloudpickle turned an open file into a StringIO of its contents, and that was cached.
    path = tmp_path / "data.txt"
    path.write_text("contents")
    for executor in ("threads", "processes"):
        with Scheduler(executor=executor, max_workers=1) as scheduler:
            with pytest.raises(SerializationError, match=rf"result of procs.\w+ is not "
                                                         rf"picklable: {kind}"):
                scheduler.run(make(str(path)))
            assert scheduler.store.stats()["results"] == 0  # nothing cached


ORPHANED = """
import sys, time
from redun_fast import Scheduler, task

@task
def busy(seconds):
    end = time.time() + seconds
    while time.time() < end:
        pass
    return seconds

with Scheduler(executor="processes", max_workers=2) as scheduler:
    print("started", flush=True)
    scheduler.run([busy(30), busy(31)])
"""


def test_workers_of_a_killed_scheduler_exit_at_once(tmp_path):
    # They used to finish their job (spinning a core) and then print a BrokenPipeError.
    script = tmp_path / "orphaned.py"
    script.write_text(ORPHANED)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    busy = []
    try:
        assert proc.stdout.readline().strip() == "started"
        deadline = time.time() + 30
        while time.time() < deadline:  # until both workers run a job
            busy = [p for p in psutil.Process(proc.pid).children(recursive=True)
                    if p.cpu_percent(interval=0.1) > 50]
            if len(busy) >= 2:
                break
        assert len(busy) >= 2
        proc.kill()
        proc.wait()
        deadline = time.time() + 5
        while time.time() < deadline and any(p.is_running() and p.status() != "zombie"
                                             for p in busy):
            time.sleep(0.1)
        assert not any(p.is_running() and p.status() != "zombie" for p in busy)
        assert "BrokenPipeError" not in proc.stderr.read()
    finally:
        proc.kill()
        for process in busy:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass


def _load_in(pid):
    if os.getpid() != pid:
        raise RuntimeError("this argument loads only where it was made")
    return LoadsOnlyHere()


class LoadsOnlyHere:
    """Pickles in the scheduler; unpickling it anywhere else (a worker) raises."""

    def __reduce__(self):
        return (_load_in, (os.getpid(),))


def test_an_argument_a_worker_cannot_unpickle_fails_its_own_job():
    # The worker used to die unpickling the batch, and the error named another job's task.
    with Scheduler(executor="processes", max_workers=1) as scheduler:
        with pytest.raises(TypeError, match=r"the arguments of procs.pid_of cannot be unpickled "
                                            r"in the worker process \(pid \d+\) \(RuntimeError: "
                                            r"this argument loads only where it was made\)"):
            scheduler.run([inc(i) for i in range(40)] + [pid_of(LoadsOnlyHere())])
        assert scheduler.job_counts.get("procs.inc")["FAILED"] == 0
        assert scheduler.run([inc(i) for i in range(40)]) == list(range(1, 41))


def test_the_log_names_the_executor_that_ran_each_job(caplog):
    # Jobs on the pool were logged "on default", as if on redun's default (threads).
    from redun_fast.executors import ThreadExecutor

    caplog.set_level("INFO", logger="redun_fast")
    for executor, shown in (("processes", "processes"), ("inline", "inline"),
                            ("threads", "default")):
        with Scheduler(executor=executor, executors={"io": ThreadExecutor(2)}) as scheduler:
            caplog.clear()
            scheduler.run([inc(1), inc.options(executor="io")(2)])
        runs = [r.getMessage() for r in caplog.records if "Run    Job" in r.getMessage()]
        assert any(line.endswith(f"procs.inc(x=1) on {shown}") for line in runs), runs
        assert any(line.endswith("procs.inc(x=2) on io") for line in runs), runs
