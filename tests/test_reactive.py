"""Reactive caching, redun's key promise, on the threads and process-pool executors: a task
re-runs when an argument File changed, and a cached result holding a File replays only while
that file is as it was."""
import os

import pytest

from redun_fast import Dir, File, Scheduler, task
from redun_fast.cache.lmdb_store import LmdbStore
from redun_fast.errors import FileMissingError, SerializationError

redun_namespace = "reactivetest"

EXECUTORS = ["threads", "processes"]


@task()
def count_words(f):
    return len(f.read().split())


@task()
def shout(f, out_path):
    out = File(out_path)
    out.write(f.read().upper())
    return out


@task()
def listing(d):
    return sorted(f.basename() for f in d)


@task()
def pipeline(in_path, out_path):
    shouted = shout(File(in_path), out_path)
    return [count_words(File(in_path)), count_words(shouted)]


@task()
def writes_into(folder):
    out = Dir(folder)
    out.file("a.txt").write("a")
    out.file("b/c.txt").write("c")
    return out


@task()
def returns_a_folder_as_a_file(folder):
    return File(folder)


def ran(scheduler, expr):
    """The value, and the jobs that ran (not replayed), by task name."""
    before = {name: row[:] for name, row in scheduler.job_counts.rows.items()}
    value = scheduler.run(expr)
    done = {}
    for name, row in scheduler.job_counts.rows.items():
        was = before.get(name, [0] * len(row))
        if row[-1] - was[-1]:
            done[name.split(".")[-1]] = row[-1] - was[-1]
    return value, done


@pytest.fixture(params=EXECUTORS)
def scheduler(request, tmp_path):
    scheduler = Scheduler(executor=request.param, store=LmdbStore(str(tmp_path / "cache")))
    yield scheduler
    scheduler.close()


def test_a_changed_argument_file_runs_its_task_again(scheduler, tmp_path):
    data = tmp_path / "reads.txt"
    data.write_text("a b c")
    assert ran(scheduler, count_words(File(str(data)))) == (3, {"count_words": 1})
    assert ran(scheduler, count_words(File(str(data)))) == (3, {})
    data.write_text("a b c d")
    assert ran(scheduler, count_words(File(str(data)))) == (4, {"count_words": 1})


def test_a_chain_reruns_only_what_a_change_reaches(scheduler, tmp_path):
    data, out = tmp_path / "in.txt", tmp_path / "out.txt"
    data.write_text("a b")
    expr = lambda: pipeline(str(data), str(out))  # noqa: E731
    assert ran(scheduler, expr()) == ([2, 2], {"pipeline": 1, "shout": 1, "count_words": 2})
    assert ran(scheduler, expr()) == ([2, 2], {})  # fully cached
    assert out.read_text() == "A B"

    out.unlink()  # deleting an output re-runs the job that made it, and what read it
    assert ran(scheduler, expr())[1] == {"shout": 1, "count_words": 1}
    assert out.read_text() == "A B"

    data.write_text("a b c")  # a changed input re-runs the whole chain below it
    assert ran(scheduler, expr()) == ([3, 3], {"pipeline": 1, "shout": 1, "count_words": 2})


def test_a_file_is_hashed_where_it_was_written(scheduler, tmp_path):
    out = ran(scheduler, shout(File(_write(tmp_path / "a.txt", "x")), str(tmp_path / "o")))[0]
    assert isinstance(out, File) and out.read() == "X"
    assert out.hash == File(out.path).hash  # the worker's hash is the file's


def test_a_dir_result_is_checked_on_replay(scheduler, tmp_path):
    folder = str(tmp_path / "made")
    value, done = ran(scheduler, writes_into(folder))
    assert done == {"writes_into": 1} and ran(scheduler, listing(value))[0] == ["a.txt", "c.txt"]
    assert ran(scheduler, writes_into(folder))[1] == {}
    os.remove(os.path.join(folder, "b", "c.txt"))
    assert ran(scheduler, writes_into(folder))[1] == {"writes_into": 1}


def test_a_file_that_does_not_exist_when_read_fails_and_caches_nothing(scheduler, tmp_path):
    missing = File(str(tmp_path / "missing.txt"))
    with pytest.raises(FileMissingError, match="missing.txt: it does not exist"):
        scheduler.run(count_words(missing))
    _write(tmp_path / "missing.txt", "now here")
    assert ran(scheduler, count_words(File(missing.path))) == (2, {"count_words": 1})


def test_a_folder_returned_as_a_file_is_a_clear_error(scheduler, tmp_path):
    with pytest.raises(SerializationError, match="it is a directory.*use Dir"):
        scheduler.run(returns_a_folder_as_a_file(str(tmp_path)))


def test_a_file_kept_between_runs_is_hashed_again(tmp_path):
    scheduler = Scheduler(store=LmdbStore(str(tmp_path / "cache")))
    data = tmp_path / "reads.txt"
    data.write_text("a b")
    kept = File(str(data))
    assert ran(scheduler, count_words(kept)) == (2, {"count_words": 1})
    data.write_text("a b c")
    assert ran(scheduler, count_words(kept)) == (3, {"count_words": 1})


def _write(path, text):
    path.write_text(text)
    return str(path)
